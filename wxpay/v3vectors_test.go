package wxpay

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The official-style vectors in testdata/v3vectors (copied from the shared test vectors;
// throwaway keys) must be reproduced byte for byte.

type vectorFile struct {
	Method        string            `json:"method"`
	CanonicalURL  string            `json:"canonical_url"`
	Timestamp     string            `json:"timestamp"`
	Nonce         string            `json:"nonce"`
	BodyFile      string            `json:"body_file"`
	MessageFile   string            `json:"message_file"`
	MessageSHA256 string            `json:"message_sha256"`
	Signature     string            `json:"signature"`
	Authorization string            `json:"authorization"`
	HTTPStatus    int               `json:"http_status"`
	Headers       map[string]string `json:"headers"`
	APIv3Key      string            `json:"apiv3_key"`
	PlaintextSHA  string            `json:"plaintext_sha256"`
}

func vec(t testing.TB, name string) vectorFile {
	t.Helper()
	var all map[string]vectorFile
	if err := json.Unmarshal(readVec(t, "vectors.json"), &all); err != nil {
		t.Fatal(err)
	}
	v, ok := all[name]
	if !ok {
		t.Fatalf("no vector %s", name)
	}
	return v
}

func readVec(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "v3vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func merchantKey(t testing.TB) *rsa.PrivateKey {
	k, err := ParsePrivateKey(readVec(t, "merchant_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func platformKey(t testing.TB) *rsa.PrivateKey {
	k, err := ParsePrivateKey(readVec(t, "platform_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func platformCert(t testing.TB) *x509.Certificate {
	c, err := ParseCertificates(readVec(t, "platform_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return c[0]
}

const (
	merchantSerial = "3775B6A45ACD588826D15E583A95F5DD00000001"
	platformSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
)

func TestV3Vectors_RequestSignatures(t *testing.T) {
	key := merchantKey(t)
	mc, err := ParseCertificates(readVec(t, "merchant_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if got := CertificateSerial(mc[0]); got != merchantSerial {
		t.Fatalf("merchant serial %s", got)
	}
	for _, name := range []string{"req1_post_micropay", "req2_get_query", "req3_post_global_micropay"} {
		t.Run(name, func(t *testing.T) {
			v := vec(t, name)
			var body []byte
			if v.BodyFile != "" {
				body = readVec(t, v.BodyFile)
			}
			msg := v3RequestMessage(v.Method, v.CanonicalURL, v.Timestamp, v.Nonce, body)
			if want := readVec(t, v.MessageFile); string(msg) != string(want) {
				t.Fatalf("message differs:\n%q\n%q", msg, want)
			}
			if sum := sha256.Sum256(msg); hex.EncodeToString(sum[:]) != v.MessageSHA256 {
				t.Fatalf("message sha256 %x", sum)
			}
			sig, err := v3Sign(key, msg)
			if err != nil {
				t.Fatal(err)
			}
			if sig != v.Signature {
				t.Fatalf("signature differs:\n got %s\nwant %s", sig, v.Signature)
			}
			if v.Authorization != "" {
				if got := v3Authorization("1900000100", v.Nonce, v.Timestamp, merchantSerial, sig); got != v.Authorization {
					t.Fatalf("authorization:\n got %s\nwant %s", got, v.Authorization)
				}
			}
		})
	}
}

func TestV3Vectors_ResponseSignatures(t *testing.T) {
	pub := platformCert(t).PublicKey.(*rsa.PublicKey)
	pub2, err := ParsePublicKey(readVec(t, "platform_pub.pem"))
	if err != nil || !pub2.Equal(pub) {
		t.Fatalf("platform_pub.pem: %v", err)
	}
	if s := CertificateSerial(platformCert(t)); s != platformSerial {
		t.Fatalf("platform serial %s", s)
	}
	cases := []struct {
		name   string
		signed []byte
	}{
		{"resp1_micropay_success", readVec(t, "resp1_body.json")},
		{"resp2_reverse_204", nil},
		{"resp3_statement", []byte(`{"sha1":"9ecb504d7ec369dbaf74910c8f5af017c0a40264"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := vec(t, c.name)
			msg := v3ResponseMessage(v.Headers["Wechatpay-Timestamp"], v.Headers["Wechatpay-Nonce"], c.signed)
			if want := readVec(t, v.MessageFile); string(msg) != string(want) {
				t.Fatalf("message differs:\n%q\n%q", msg, want)
			}
			if err := v3Verify(pub, msg, v.Headers["Wechatpay-Signature"]); err != nil {
				t.Fatal(err)
			}
			// one flipped byte must fail
			bad := append([]byte(nil), msg...)
			bad[len(bad)-2] ^= 1
			if err := v3Verify(pub, bad, v.Headers["Wechatpay-Signature"]); err == nil {
				t.Fatal("tampered message verified")
			}
		})
	}
}

func TestV3Vectors_AEADCertificate(t *testing.T) {
	v := vec(t, "aead_certificate")
	now := platformCert(t).NotBefore.Add(time.Hour)
	certs, err := parseCertificateList(readVec(t, "certificates_response.json"), v.APIv3Key, now)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := certs[platformSerial]
	if !ok || len(certs) != 1 {
		t.Fatalf("certs %v", certs)
	}
	if !c.Equal(platformCert(t)) {
		t.Fatal("decrypted certificate differs from platform_cert.pem")
	}
	var list certificateList
	json.Unmarshal(readVec(t, "certificates_response.json"), &list)
	e := list.Data[0].EncryptCertificate
	pt, err := decryptAEAD(v.APIv3Key, e.Nonce, e.AssociatedData, e.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(pt); hex.EncodeToString(sum[:]) != v.PlaintextSHA || string(pt) != string(readVec(t, "platform_cert.pem")) {
		t.Fatal("plaintext differs from platform_cert.pem")
	}
	if _, err := decryptAEAD("TESTONLYapiv3key0123456789abcdeX", e.Nonce, e.AssociatedData, e.Ciphertext); err == nil {
		t.Fatal("wrong key decrypted")
	}
	if _, err := parseCertificateList(readVec(t, "certificates_response.json"), v.APIv3Key, c.NotAfter.Add(time.Hour)); err == nil {
		t.Fatal("expired certificate accepted")
	}
}

// vectorServer answers one request with a vector's status, headers and body, and records
// what it received.
type vectorServer struct {
	srv    *httptest.Server
	method string
	uri    string
	auth   string
	body   []byte
}

func newVectorServer(t *testing.T, status int, headers map[string]string, body []byte) *vectorServer {
	vs := &vectorServer{}
	vs.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vs.method, vs.uri, vs.auth = r.Method, r.URL.RequestURI(), r.Header.Get("Authorization")
		vs.body, _ = io.ReadAll(r.Body)
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(vs.srv.Close)
	return vs
}

// vectorConfig is the institutional merchant of the vectors, with a clock at ts.
func vectorConfig(t *testing.T, api string, vs *vectorServer, ts int64, nonce string) Config {
	return Config{
		API: api, BaseURL: vs.srv.URL, RootCAs: poolOf(vs.srv),
		AppID: "wx8888888888888888", MchID: "1900000100", SubMchID: "1900000109",
		MerchantCategoryCode: "5812", Currency: "HKD",
		PrivateKey: merchantKey(t), MerchantSerialNo: merchantSerial,
		PlatformCerts: []*x509.Certificate{platformCert(t)},
		DeviceID:      "TILL01", ClientIP: "192.168.1.20", StoreID: "0001", StoreName: "Demo Shop Central",
		StoreAddress: "1 Queen's Road Central, Hong Kong",
		Now:          func() time.Time { return time.Unix(ts, 0) },
		Nonce:        func() string { return nonce },
	}
}

var vectorPay = PayRequest{
	OutTradeNo: "TILL01-20240101-000001", AuthCode: "134567890123456789", Amount: 3800, Currency: "HKD",
	Description: "Demo Shop-HK Central-Coffee",
}

func TestV3Vectors_ClientEndToEnd(t *testing.T) {
	ctx := context.Background()
	resp1 := vec(t, "resp1_micropay_success")
	t.Run("MicroPayHK", func(t *testing.T) {
		r1 := vec(t, "req1_post_micropay")
		vs := newVectorServer(t, 200, resp1.Headers, readVec(t, "resp1_body.json"))
		c, err := New(vectorConfig(t, APIv3HK, vs, 1554208460, r1.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.MicroPay(ctx, vectorPay)
		if err != nil {
			t.Fatal(err)
		}
		if vs.method != "POST" || vs.uri != r1.CanonicalURL || string(vs.body) != string(readVec(t, "req1_body.json")) || vs.auth != r1.Authorization {
			t.Fatalf("request differs from vector R1:\n%s %s\n%s\n%s", vs.method, vs.uri, vs.body, vs.auth)
		}
		if o.Outcome != Paid || o.TransactionID != "4200000000002104083200000488" || o.Amount != 3800 || o.PayerCurrency != "HKD" ||
			o.ExchangeRate != 100000000 || o.OpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" || o.SuccessTime.Unix() != 1554208461 {
			t.Fatalf("order %+v", o)
		}
	})
	t.Run("MicroPayGlobal", func(t *testing.T) {
		r3 := vec(t, "req3_post_global_micropay")
		vs := newVectorServer(t, 200, resp1.Headers, readVec(t, "resp1_body.json"))
		c, err := New(vectorConfig(t, APIv3Global, vs, 1554208460, r3.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		if o, err := c.MicroPay(ctx, vectorPay); err != nil || o.Outcome != Paid {
			t.Fatalf("%v %+v", err, o)
		}
		if vs.uri != r3.CanonicalURL || !contains(vs.auth, `signature="`+r3.Signature+`"`) {
			t.Fatalf("request differs from vector R3: %s %s", vs.uri, vs.auth)
		}
	})
	t.Run("QueryHK", func(t *testing.T) {
		r2 := vec(t, "req2_get_query")
		vs := newVectorServer(t, 200, resp1.Headers, readVec(t, "resp1_body.json"))
		c, err := New(vectorConfig(t, APIv3HK, vs, 1554208520, r2.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.QueryOrder(ctx, vectorPay.OutTradeNo)
		if err != nil || o.Outcome != Paid {
			t.Fatalf("%v %+v", err, o)
		}
		if vs.method != "GET" || vs.uri != r2.CanonicalURL || vs.auth != r2.Authorization || len(vs.body) != 0 {
			t.Fatalf("request differs from vector R2: %s %s %s", vs.method, vs.uri, vs.auth)
		}
	})
	t.Run("Reverse204", func(t *testing.T) {
		v := vec(t, "resp2_reverse_204")
		vs := newVectorServer(t, 204, v.Headers, nil)
		c, err := New(vectorConfig(t, APIv3Global, vs, 1554208480, "N1"))
		if err != nil {
			t.Fatal(err)
		}
		rr, err := c.Reverse(ctx, vectorPay.OutTradeNo)
		if err != nil || rr.Outcome != Reversed {
			t.Fatalf("%v %+v", err, rr)
		}
		if vs.uri != "/v3/global/micropay/transactions/out-trade-no/TILL01-20240101-000001/reverse" ||
			string(vs.body) != `{"sp_mchid":"1900000100","sub_mchid":"1900000109"}` {
			t.Fatalf("reverse request %s %s", vs.uri, vs.body)
		}
	})
	t.Run("Statement", func(t *testing.T) {
		v := vec(t, "resp3_statement")
		vs := newVectorServer(t, 200, v.Headers, readVec(t, "resp3_statement.csv"))
		c, err := New(vectorConfig(t, APIv3HK, vs, 1554300000, "N2"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Statement(ctx, "20190402")
		if err != nil {
			t.Fatal(err)
		}
		if vs.uri != "/hk/v3/statements?date=20190402&sp_mchid=1900000100&sub_mchid=1900000109" {
			t.Fatalf("statement uri %s", vs.uri)
		}
		if len(st.Rows) != 1 || st.Rows[0].OutTradeNo != "TILL01-20240101-000001" || st.Rows[0].DeviceID != "TILL01" ||
			st.Rows[0].TransactionID != "4200000000002104083200000488" || st.Rows[0].TradeTime.Unix() != 1554208461 {
			t.Fatalf("rows %+v", st.Rows)
		}
	})
	t.Run("StatementTampered", func(t *testing.T) {
		v := vec(t, "resp3_statement")
		body := readVec(t, "resp3_statement.csv")
		body[len(body)-3] = 'X'
		vs := newVectorServer(t, 200, v.Headers, body)
		c, _ := New(vectorConfig(t, APIv3HK, vs, 1554300000, "N2"))
		if _, err := c.Statement(ctx, "20190402"); err == nil {
			t.Fatal("tampered statement accepted")
		}
	})
	t.Run("SkewRejected", func(t *testing.T) {
		vs := newVectorServer(t, 200, resp1.Headers, readVec(t, "resp1_body.json"))
		c, _ := New(vectorConfig(t, APIv3HK, vs, 1554208461+300, "N3"))
		o, err := c.MicroPay(ctx, vectorPay)
		if err != nil || o.Outcome != Unknown || o.Error.Code != CodeBadSignature {
			t.Fatalf("%v %+v", err, o)
		}
	})
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
