package wxpay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http"
	"testing"
	"time"
)

// roundTripFunc is an in-memory http.RoundTripper: benchmarks measure the client's own
// cost (build, sign, encode, decode, verify), not the network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func cannedResponse(status int, header http.Header, body []byte) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode:    status,
			Header:        header,
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       r,
		}, nil
	}
}

func benchV2Client(b *testing.B, signType string) Client {
	f := append(fieldsOf("return_code", "SUCCESS", "return_msg", "OK", "appid", "wx8888888888888888", "mch_id", "1900000109", "nonce_str", "srvnonce123"), paidFields()...)
	f[len(f)-3].V = "T1-0001"
	f = append(f, v2Field{"sign", v2Sign(f, testAPIKey, signType)})
	var body bytes.Buffer
	encodeV2XML(&body, f)
	rt := cannedResponse(200, http.Header{"Content-Type": {"text/xml"}}, body.Bytes())
	c, err := New(Config{
		API: APIv2, BaseURL: "https://apihk.mch.weixin.qq.com", AppID: "wx8888888888888888", MchID: "1900000109",
		APIKey: testAPIKey, SignType: signType, RoundTripper: rt, SecRoundTripper: rt,
	})
	if err != nil {
		b.Fatal(err)
	}
	o, err := c.MicroPay(context.Background(), testPay)
	if err != nil || o.Outcome != Paid {
		b.Fatalf("%v %+v", err, o)
	}
	return c
}

// BenchmarkV2MicroPay is one v2 micropay round trip without the network. Target for
// HMAC-SHA256: ≤ 30 µs and ≤ 60 allocations.
func BenchmarkV2MicroPay(b *testing.B) {
	for _, st := range []string{SignTypeHMACSHA256, SignTypeMD5} {
		b.Run(st, func(b *testing.B) {
			c := benchV2Client(b, st)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := c.MicroPay(ctx, testPay); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0)
		})
	}
}

// reportCPU adds the process CPU time per operation (GC included): on a loaded machine it
// is the better estimate of the cost on an idle till.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := processCPU(); cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkV3MicroPay is one v3 micropay round trip without the network: build, sign
// (RSA-2048), encode, decode, verify (RSA-2048). It must stay within 1.2× of
// BenchmarkRSASignVerifyBaseline.
func BenchmarkV3MicroPay(b *testing.B) {
	c := benchV3Client(b)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := c.MicroPay(ctx, testPay); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// BenchmarkV3MicroPayVsBaseline interleaves one client round trip with one bare
// sign+verify per iteration, so machine load hits both alike, and reports the ratio
// (the target is ≤ 1.2).
func BenchmarkV3MicroPayVsBaseline(b *testing.B) {
	c := benchV3Client(b)
	ctx := context.Background()
	base := rsaBaseline(b)
	var tc, tb time.Duration
	for b.Loop() {
		t0 := time.Now()
		base()
		t1 := time.Now()
		if _, err := c.MicroPay(ctx, testPay); err != nil {
			b.Fatal(err)
		}
		tb += t1.Sub(t0)
		tc += time.Since(t1)
	}
	b.ReportMetric(float64(tc)/float64(tb), "x-baseline")
}

func benchV3Client(b *testing.B) Client {
	now := time.Unix(1800000000, 0)
	body := []byte(orderJSON("SUCCESS", 1050))
	ts, nonce := unixString(now.Unix()), "SRVNONCE0123456789"
	sig, err := v3Sign(platformKey(b), v3ResponseMessage(ts, nonce, body))
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", platformSerial)
	h.Set("Content-Type", "application/json")
	c, err := New(Config{
		API: APIv3Global, BaseURL: "https://apihk.mch.weixin.qq.com", AppID: "wx8888888888888888", MchID: "1900000109",
		MerchantCategoryCode: "5411", PrivateKey: merchantKey(b), MerchantSerialNo: merchantSerial,
		PlatformCerts: []*x509.Certificate{platformCert(b)}, Now: func() time.Time { return now },
		RoundTripper: cannedResponse(200, h, body),
	})
	if err != nil {
		b.Fatal(err)
	}
	if o, err := c.MicroPay(context.Background(), testPay); err != nil || o.Outcome != Paid {
		b.Fatalf("%v %+v", err, o)
	}
	return c
}

// BenchmarkRSASignVerifyBaseline is the floor for v3: one bare RSA-2048 PKCS#1 v1.5
// SHA-256 sign plus one verify, with the same keys.
func BenchmarkRSASignVerifyBaseline(b *testing.B) {
	base := rsaBaseline(b)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		base()
	}
	reportCPU(b, cpu0)
}

func rsaBaseline(b *testing.B) func() {
	mk, pk := merchantKey(b), &platformKey(b).PublicKey
	msg := readVec(b, "req1_message.bin")
	rmsg := readVec(b, "resp1_message.bin")
	rsig, err := rsa.SignPKCS1v15(nil, platformKey(b), crypto.SHA256, sha256Of(rmsg))
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		s := sha256.Sum256(msg)
		if _, err := rsa.SignPKCS1v15(nil, mk, crypto.SHA256, s[:]); err != nil {
			b.Fatal(err)
		}
		v := sha256.Sum256(rmsg)
		if err := rsa.VerifyPKCS1v15(pk, crypto.SHA256, v[:], rsig); err != nil {
			b.Fatal(err)
		}
	}
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func BenchmarkV2Sign(b *testing.B) {
	f := fieldsOf("appid", "wx8888888888888888", "mch_id", "1900000109", "nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"body", "Shop Till 01-Grocery", "out_trade_no", "T01202501150001", "total_fee", "1050", "fee_type", "HKD",
		"spbill_create_ip", "192.168.1.20", "auth_code", "134567890123456789", "sign_type", "HMAC-SHA256")
	b.ReportAllocs()
	for b.Loop() {
		v2Sign(f, testAPIKey, SignTypeHMACSHA256)
	}
}
