package wxpaytest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The worked examples of docs/wxpay-v2.md §3.3 pin the simulator's v2 signing.
func TestV2SignWorkedExamples(t *testing.T) {
	key := "192006250b4c09247ec02edce69f6a2d"
	a := map[string]string{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
	if got := v2Sign(a, key, signMD5); got != "9A0A8659F005D6984697E2CA0A9CF3B7" {
		t.Errorf("A MD5 %s", got)
	}
	if got := v2Sign(a, key, signHMAC); got != "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6" {
		t.Errorf("A HMAC %s", got)
	}
	b := map[string]string{"appid": "wx8888888888888888", "mch_id": "1900000109", "sub_mch_id": "1900000110",
		"nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "body": "Shop Till 01-Grocery", "out_trade_no": "T01202501150001",
		"total_fee": "1050", "fee_type": "HKD", "spbill_create_ip": "192.168.1.20", "auth_code": "134567890123456789",
		"device_info": "TILL01", "attach": "", "sign_type": "MD5"}
	if got := v2Sign(b, key, signMD5); got != "CF92466B2179B82D6DA0094EFF7998EE" {
		t.Errorf("B MD5 %s", got)
	}
	b["sign_type"] = "HMAC-SHA256"
	if got := v2Sign(b, key, signHMAC); got != "41B6E9146A4A047824DFE4B2D5E4CB411C73F7F90FFE55D56C0EC22A6C869034" {
		t.Errorf("B HMAC %s", got)
	}
	c := map[string]string{"return_code": "SUCCESS", "return_msg": "OK", "appid": "wx8888888888888888", "mch_id": "1900000109",
		"sub_mch_id": "1900000110", "nonce_str": "aBcD1234eFgH5678", "result_code": "FAIL", "err_code": "USERPAYING",
		"err_code_des": "需要用户输入支付密码"}
	if got := v2Sign(c, key, signMD5); got != "ACC033A14BB2FDE25D271584ACA3367B" {
		t.Errorf("C MD5 %s", got)
	}
	c["sign"] = "ACC033A14BB2FDE25D271584ACA3367B"
	if !v2Verify(c, key, signMD5) {
		t.Error("verify C")
	}
	c["sign"] = "acc033a14bb2fde25d271584aca3367b"
	if v2Verify(c, key, signMD5) {
		t.Error("lower-case sign accepted")
	}
}

func TestV2BadSignature(t *testing.T) {
	for _, st := range []string{signMD5, signHMAC} {
		s, _ := newSim(t, Options{})
		c := newV2(t, s, st, true)
		c.key = strings.Repeat("x", 32)
		r := c.pay("T-bad", newCode(), 100)
		if r.fields["return_code"] != "FAIL" || r.fields["return_msg"] != "签名错误" {
			t.Fatalf("%s: %s", st, r.body)
		}
		if _, ok := s.Order("T-bad"); ok || !hasViolation(s, RuleBadSignature) {
			t.Fatalf("%s: processed or not recorded", st)
		}
		// Signed with MD5 but claiming HMAC-SHA256.
		c.key = s.Credentials().APIKey
		c.signType = signMD5
		cr := s.Credentials()
		f := map[string]string{"appid": cr.AppID, "mch_id": cr.MchID, "nonce_str": "n", "out_trade_no": "x", "sign_type": signHMAC}
		f["sign"] = v2Sign(f, cr.APIKey, signMD5)
		resp, err := c.hc.Post(s.URL()+"/pay/orderquery", "text/xml", bytes.NewReader(v2XML(f)))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if !strings.Contains(buf.String(), "签名错误") {
			t.Fatalf("sign_type mismatch accepted: %s", buf.String())
		}
	}
}

func TestV2AnswerSignedWithRequestSignType(t *testing.T) {
	for _, st := range []string{signMD5, signHMAC} {
		s, _ := newSim(t, Options{})
		c := newV2(t, s, st, false)
		r := c.pay("T-st", newCode(), 100)
		if !r.signOK || len(r.fields["sign"]) != map[string]int{signMD5: 32, signHMAC: 64}[st] {
			t.Fatalf("%s: %s", st, r.body)
		}
		if _, has := r.fields["sign_type"]; has {
			t.Fatal("answers carry no sign_type")
		}
		if !bytes.Contains(r.body, []byte("<return_code><![CDATA[SUCCESS]]></return_code>")) || !bytes.Contains(r.body, []byte("<total_fee>100</total_fee>")) {
			t.Fatalf("format: %s", r.body)
		}
	}
}

func TestV2SecapiNeedsClientCert(t *testing.T) {
	s, _ := newSim(t, Options{})
	with := newV2(t, s, signHMAC, true)
	without := newV2(t, s, signHMAC, false)
	with.pay("T-c", newCode(), 100)
	r := without.reverse("T-c")
	if r.status != 400 || !strings.Contains(string(r.body), "No required SSL certificate") {
		t.Fatalf("reverse without cert: %d %s", r.status, r.body)
	}
	if r := without.refund("T-c", "R", 1, 100); r.status != 400 {
		t.Fatalf("refund without cert: %d", r.status)
	}
	if !hasViolation(s, RuleNoClientCert) {
		t.Fatal("not recorded")
	}
	if o := mustOrder(t, s, "T-c"); o.State != StateSuccess || o.Refunded != 0 {
		t.Fatalf("order changed: %+v", o)
	}
	// Non-/secapi/ calls work without a certificate.
	if r := without.query("T-c"); r.fields["trade_state"] != "SUCCESS" {
		t.Fatalf("query: %s", r.body)
	}
}

func TestV2ProtocolErrors(t *testing.T) {
	s, _ := newSim(t, Options{})
	hc := httpClient(t, s, false, 5*time.Second)
	post := func(body string) string {
		resp, err := hc.Post(s.URL()+"/pay/micropay", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String()
	}
	for _, body := range []string{"", "not xml", `<!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>`, "<xml><a><b>1</b></a></xml>", "<xml></xml><xml></xml>"} {
		if got := post(body); !strings.Contains(got, "<return_code><![CDATA[FAIL]]></return_code>") {
			t.Errorf("%q: %s", body, got)
		}
	}
	resp, err := hc.Get(s.URL() + "/pay/micropay")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(s.Orders()) != 0 {
		t.Fatal("orders from garbage")
	}
}

func TestCertificatesEndpoint(t *testing.T) {
	for _, prefix := range []string{"/v3/global", "/hk/v3"} {
		s, _ := newSim(t, Options{})
		c := newV3(t, s, prefix, false)
		r := c.do("GET", "/certificates", nil)
		if r.status != 200 || c.verify(r, nil) != nil {
			t.Fatalf("%s: %d %s", prefix, r.status, r.body)
		}
		e := r.json["data"].([]any)[0].(map[string]any)
		enc := e["encrypt_certificate"].(map[string]any)
		if e["serial_no"] != s.Credentials().PlatformSerial || enc["algorithm"] != "AEAD_AES_256_GCM" || enc["associated_data"] != "certificate" {
			t.Fatalf("entry %v", e)
		}
		ct, _ := base64.StdEncoding.DecodeString(enc["ciphertext"].(string))
		blk, _ := aes.NewCipher([]byte(s.Credentials().APIv3Key))
		gcm, _ := cipher.NewGCM(blk)
		pt, err := gcm.Open(nil, []byte(enc["nonce"].(string)), ct, []byte("certificate"))
		if err != nil || !bytes.Equal(pt, s.Credentials().PlatformCertPEM) {
			t.Fatalf("decrypt: %v", err)
		}
	}
}

func TestAEADVector(t *testing.T) {
	// certificates_response.json (docs/wxpay-v3.md §6.6): same key, nonce and AAD must give the
	// same ciphertext byte for byte.
	var v struct {
		Data []struct {
			EncryptCertificate struct {
				Nonce, Ciphertext string
			} `json:"encrypt_certificate"`
		} `json:"data"`
	}
	if err := json.Unmarshal(mustReadTestdata(t, "certificates_response.json"), &v); err != nil {
		t.Fatal(err)
	}
	got, err := aeadSeal(DefaultAPIv3Key, v.Data[0].EncryptCertificate.Nonce, "certificate", mustReadTestdata(t, "platform_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if got != v.Data[0].EncryptCertificate.Ciphertext {
		t.Fatal("ciphertext differs from the vector")
	}
}

func TestPublicKeyMode(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	r := c.pay("T-pk0", newCode(), 100)
	if r.header.Get("Wechatpay-Serial") != s.Credentials().PlatformSerial {
		t.Fatal("default answers use the platform certificate")
	}
	c.serial = s.Credentials().PublicKeyID
	r = c.pay("T-pk1", newCode(), 100)
	if r.header.Get("Wechatpay-Serial") != s.Credentials().PublicKeyID || c.verify(r, nil) != nil {
		t.Fatalf("public-key answer: %v", r.header)
	}
	s2, _ := newSim(t, Options{PublicKeyMode: true})
	c2 := newV3(t, s2, "/v3/global", false)
	r = c2.pay("T-pk2", newCode(), 100)
	if r.header.Get("Wechatpay-Serial") != s2.Credentials().PublicKeyID || c2.verify(r, nil) != nil {
		t.Fatal("PublicKeyMode option")
	}
}

func TestV3ErrorBodiesAndRoutes(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	if r := c.do("GET", "/nope", nil); r.status != 404 {
		t.Fatalf("%d", r.status)
	}
	r := c.do("POST", "/micropay/transactions/pay", map[string]any{"mchid": s.Credentials().MchID, "appid": s.Credentials().AppID})
	if r.status != 400 || r.str("code") != "PARAM_ERROR" || r.str("message") == "" || c.verify(r, nil) != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// Reverse by transaction id on both paths.
	c.pay("T-id", newCode(), 100)
	id := mustOrder(t, s, "T-id").TransactionID
	q := c.do("GET", "/transactions/id/"+id+"?mchid="+s.Credentials().MchID, nil)
	if q.str("out_trade_no") != "T-id" {
		t.Fatalf("query by id %s", q.body)
	}
	if r := c.do("POST", "/micropay/transactions/id/"+id+"/reverse", map[string]any{"mchid": s.Credentials().MchID}); r.status != 204 {
		t.Fatalf("reverse by id %d %s", r.status, r.body)
	}
	hk := newV3(t, s, "/hk/v3", false)
	hk.pay("T-id2", newCode(), 100)
	id2 := mustOrder(t, s, "T-id2").TransactionID
	if r := hk.do("POST", "/transactions/id/"+id2+"/reverse", map[string]any{"mchid": s.Credentials().MchID}); r.status != 204 {
		t.Fatalf("hk reverse by id %d %s", r.status, r.body)
	}
	// Global micropay path is not served under /hk/v3 and vice versa.
	if r := hk.do("POST", "/micropay/transactions/pay", map[string]any{}); r.status != 404 {
		t.Fatalf("hk with global path: %d", r.status)
	}
}

func TestDirectAndInstitutionalAnswers(t *testing.T) {
	s, _ := newSim(t, Options{})
	inst := newV3(t, s, "/v3/global", true)
	r := inst.pay("T-inst", newCode(), 100)
	if r.str("sp_mchid") != s.Credentials().MchID || r.str("sub_mchid") != s.Credentials().SubMchID || r.str("mchid") != "" {
		t.Fatalf("institutional answer %s", r.body)
	}
	if p := r.json["payer"].(map[string]any); p["sp_openid"] == nil {
		t.Fatalf("payer %v", p)
	}
	direct := newV3(t, s, "/v3/global", false)
	r = direct.pay("T-dir", newCode(), 100)
	if r.str("mchid") != s.Credentials().MchID || r.str("appid") != s.Credentials().AppID || r.str("sp_mchid") != "" {
		t.Fatalf("direct answer %s", r.body)
	}
	if r.str("success_time") == "" || !strings.HasSuffix(r.str("success_time"), "+08:00") {
		t.Fatalf("success_time %q", r.str("success_time"))
	}
}

func TestRequestsLogHTTPStatus(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever})
	c.pay("T-log", code, 100)
	c.reverse("T-log")
	rs := s.Requests()
	if len(rs) != 2 || rs[0].Status != 202 || rs[0].Outcome != "USERPAYING" || rs[1].Status != http.StatusNoContent || rs[1].Endpoint != EPReverse {
		t.Fatalf("%+v", rs)
	}
}

func TestV2ForeignClientCertRefused(t *testing.T) {
	s, _ := newSim(t, Options{})
	// A certificate the simulator's CA never issued (the server's own leaf will do).
	other := New(Options{})
	defer other.Close()
	leaf := other.srv.TLS.Certificates[0]
	// GetClientCertificate sends it even though the server's CA list does not name its issuer.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &leaf, nil }}}
	defer tr.CloseIdleConnections()
	c := &v2client{t: t, s: s, hc: &http.Client{Transport: tr, Timeout: 5 * time.Second}, signType: signMD5, key: s.Credentials().APIKey}
	if r := c.reverse("T-x"); r.err == nil {
		t.Fatalf("foreign client certificate accepted: %d %s", r.status, r.body)
	}
}
