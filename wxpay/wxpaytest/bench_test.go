package wxpaytest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchCode is the i-th distinct valid payment code.
func benchCode(i int) string { return fmt.Sprintf("14%016d", i) }

// BenchmarkServeV3MicroPay measures the simulator's own cost of one v3 micropay (verify the
// request's RSA signature, run the ledger, sign the answer), without network or client.
func BenchmarkServeV3MicroPay(b *testing.B) {
	s, _ := newSim(b, Options{})
	key, _ := parseRSAKey(s.Credentials().MerchantKeyPEM)
	cr := s.Credentials()
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		body, _ := json.Marshal(map[string]any{"mchid": cr.MchID, "appid": cr.AppID, "description": "Shop-Goods",
			"out_trade_no": fmt.Sprintf("B-%d", i), "trade_type": "MICROPAY", "merchant_category_code": "5411",
			"payer": map[string]any{"auth_code": benchCode(i)}, "amount": map[string]any{"total": 100, "currency": "HKD"}})
		uri := "/v3/global/micropay/transactions/pay"
		ts := s.Now().Unix()
		h := sha256.Sum256(v3RequestMessage("POST", uri, ts, "NONCE", body))
		sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
		r := httptest.NewRequest("POST", uri, bytes.NewReader(body))
		r.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="NONCE",timestamp="%d",serial_no="%s",signature="%s"`,
			cr.MchID, ts, cr.MerchantSerial, base64.StdEncoding.EncodeToString(sig)))
		reqs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, reqs[i])
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkServeV2MicroPay is the same for a v2 HMAC-SHA256 micropay.
func BenchmarkServeV2MicroPay(b *testing.B) {
	s, _ := newSim(b, Options{})
	cr := s.Credentials()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		f := map[string]string{"appid": cr.AppID, "mch_id": cr.MchID, "nonce_str": "NONCE", "sign_type": signHMAC, "body": "Shop-Goods",
			"out_trade_no": fmt.Sprintf("B-%d", i), "total_fee": "100", "fee_type": "HKD", "spbill_create_ip": "127.0.0.1", "auth_code": benchCode(i)}
		f["sign"] = v2Sign(f, cr.APIKey, signHMAC)
		bodies[i] = v2XML(f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("POST", "/pay/micropay", bytes.NewReader(bodies[i])))
		if !bytes.Contains(w.Body.Bytes(), []byte("<result_code><![CDATA[SUCCESS]]>")) {
			b.Fatalf("answer %s", w.Body)
		}
	}
}

// BenchmarkRoundTripV3MicroPay is a whole micropay over HTTPS (keep-alive) through the
// test client: client signing + TLS + server + client verification.
func BenchmarkRoundTripV3MicroPay(b *testing.B) {
	s, _ := newSim(b, Options{})
	c := newV3(b, s, "/v3/global", false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := c.pay(fmt.Sprintf("B-%d", i), benchCode(i), 100)
		if r.status != 200 {
			b.Fatalf("status %d %s", r.status, r.body)
		}
		if err := c.verify(r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSASignVerify is the floor of a v3 call on the server: one RSA-2048 verify (the
// request) plus one sign (the answer). Compare ServeV3MicroPay with it in the same run.
func BenchmarkRSASignVerify(b *testing.B) {
	mk, _ := parseRSAKey(DefaultCredentials().MerchantKeyPEM)
	pk, _ := parseRSAKey(DefaultCredentials().PlatformKeyPEM)
	msg := []byte("POST\n/v3/global/micropay/transactions/pay\n1554208460\nNONCE\n{}\n")
	sig := rsaSign(mk, msg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rsaVerify(&mk.PublicKey, msg, sig); err != nil {
			b.Fatal(err)
		}
		rsaSign(pk, msg)
	}
}
