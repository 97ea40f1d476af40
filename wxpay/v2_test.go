package wxpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testAPIKey = "192006250b4c09247ec02edce69f6a2d"

func fieldsOf(kv ...string) v2Fields {
	var f v2Fields
	for i := 0; i < len(kv); i += 2 {
		f = append(f, v2Field{kv[i], kv[i+1]})
	}
	return f
}

// TestV2Sign_WorkedExamples reproduces docs/wxpay-v2.md §3.3.
func TestV2Sign_WorkedExamples(t *testing.T) {
	a := fieldsOf("appid", "wxd930ea5d5a258f4f", "mch_id", "10000100", "device_info", "1000", "body", "test", "nonce_str", "ibuaiVcKdpRxkhJA")
	if got := string(v2SignString(nil, a, testAPIKey)); got != "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key="+testAPIKey {
		t.Fatalf("stringSignTemp %s", got)
	}
	b := func(signType string) v2Fields {
		return fieldsOf("appid", "wx8888888888888888", "mch_id", "1900000109", "sub_mch_id", "1900000110",
			"nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "body", "Shop Till 01-Grocery",
			"out_trade_no", "T01202501150001", "total_fee", "1050", "fee_type", "HKD",
			"spbill_create_ip", "192.168.1.20", "auth_code", "134567890123456789",
			"device_info", "TILL01", "attach", "", "sign_type", signType)
	}
	cResp := fieldsOf("return_code", "SUCCESS", "return_msg", "OK", "appid", "wx8888888888888888", "mch_id", "1900000109",
		"sub_mch_id", "1900000110", "nonce_str", "aBcD1234eFgH5678", "result_code", "FAIL",
		"err_code", "USERPAYING", "err_code_des", "需要用户输入支付密码")
	cases := []struct {
		name, signType, want string
		f                    v2Fields
	}{
		{"A_MD5", SignTypeMD5, "9A0A8659F005D6984697E2CA0A9CF3B7", a},
		{"A_HMAC", SignTypeHMACSHA256, "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6", a},
		{"B_MD5", SignTypeMD5, "CF92466B2179B82D6DA0094EFF7998EE", b("MD5")},
		{"B_HMAC", SignTypeHMACSHA256, "41B6E9146A4A047824DFE4B2D5E4CB411C73F7F90FFE55D56C0EC22A6C869034", b("HMAC-SHA256")},
		{"C_Response", SignTypeMD5, "ACC033A14BB2FDE25D271584ACA3367B", cResp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := v2Sign(tc.f, testAPIKey, tc.signType); got != tc.want {
				t.Fatalf("sign %s, want %s", got, tc.want)
			}
			signed := append(append(v2Fields(nil), tc.f...), v2Field{"sign", tc.want})
			if !v2Verify(signed, testAPIKey, tc.signType) {
				t.Fatal("verify failed")
			}
			signed[len(signed)-1].V = strings.ToLower(tc.want) // case of the hex does not matter
			if !v2Verify(signed, testAPIKey, tc.signType) {
				t.Fatal("lower-case sign refused")
			}
			signed[0].V += "x"
			if v2Verify(signed, testAPIKey, tc.signType) {
				t.Fatal("tampered fields verified")
			}
		})
	}
	// The response of example C decoded from XML (CDATA, UTF-8) verifies too.
	var buf bytes.Buffer
	encodeV2XML(&buf, append(cResp, v2Field{"sign", "ACC033A14BB2FDE25D271584ACA3367B"}))
	f, err := decodeV2XML(buf.Bytes())
	if err != nil || !v2Verify(f, testAPIKey, SignTypeMD5) {
		t.Fatalf("decoded C: %v", err)
	}
}

func TestV2XML_Decode(t *testing.T) {
	good := []struct {
		name, in string
		want     v2Fields
	}{
		{"CDATA", `<xml><a><![CDATA[x<y>&z]]></a><b>12</b></xml>`, fieldsOf("a", "x<y>&z", "b", "12")},
		{"Prolog", "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n <a>1</a>\n</xml>\n", fieldsOf("a", "1")},
		{"Entities", `<xml><a>a&lt;b&amp;c&#20013;&#x6587;</a></xml>`, fieldsOf("a", "a<b&c中文")},
		{"Mixed", `<xml><a>x<![CDATA[]]]]><![CDATA[>]]>y</a></xml>`, fieldsOf("a", "x]]>y")},
		{"Empty", `<xml><a></a><b/></xml>`, fieldsOf("a", "", "b", "")},
		{"Comment", `<xml><!-- c --><a>1</a></xml>`, fieldsOf("a", "1")},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeV2XML([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(f) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v want %v", f, tc.want)
			}
		})
	}
	bad := map[string]string{
		"BillionLaughs":   `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><a>&lol2;</a></xml>`,
		"ExternalEntity":  `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>`,
		"UndefinedEntity": `<xml><a>&xxe;</a></xml>`,
		"Nested":          `<xml><a><b>1</b></a></xml>`,
		"Duplicate":       `<xml><a>1</a><a>2</a></xml>`,
		"Attributes":      `<xml><a x="1">1</a></xml>`,
		"Unclosed":        `<xml><a>1</a>`,
		"Mismatch":        `<xml><a>1</b></xml>`,
		"Trailing":        `<xml></xml><xml></xml>`,
		"PIInside":        `<xml><?evil?><a>1</a></xml>`,
		"Empty":           ``,
		"BadCharRef":      `<xml><a>&#0;</a></xml>`,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if f, err := decodeV2XML([]byte(in)); err == nil {
				t.Fatalf("accepted: %v", f)
			}
		})
	}
}

func TestV2XML_RoundTrip(t *testing.T) {
	in := fieldsOf("a", "plain", "b", "with ]]> inside", "c", "中文 & <tags>", "d", "")
	var buf bytes.Buffer
	encodeV2XML(&buf, in)
	out, err := decodeV2XML(buf.Bytes())
	if err != nil || fmt.Sprint(out) != fmt.Sprint(in) {
		t.Fatalf("%v: %v -> %s -> %v", err, in, buf.String(), out)
	}
}

// v2Answer is what a v2 test handler sends back.
type v2Answer struct {
	fields  v2Fields
	forge   bool // corrupt the signature
	nosign  bool
	status  int
	raw     []byte // sent as is
	gzipped bool
}

type v2Server struct {
	t      *testing.T
	srv    *httptest.Server
	handle func(path string, req v2Fields) v2Answer
	mu     sync.Mutex
	last   v2Fields
	certs  map[string]int // path -> requests that presented a client certificate
	paths  map[string]int
}

// clientCert is the merchant's API client certificate (the throwaway vector pair).
func clientCert(t testing.TB) (*tls.Certificate, *x509.CertPool) {
	c, err := tls.X509KeyPair(readVec(t, "merchant_cert.pem"), readVec(t, "merchant_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readVec(t, "merchant_cert.pem"))
	return &c, pool
}

func newV2Server(t *testing.T, handle func(path string, req v2Fields) v2Answer) *v2Server {
	s := &v2Server{t: t, handle: handle, certs: map[string]int{}, paths: map[string]int{}}
	_, pool := clientCert(t)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *v2Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := decodeV2XML(body)
	if err != nil {
		s.t.Errorf("request XML: %v", err)
	}
	signType := req.get("sign_type")
	if signType == "" {
		signType = SignTypeMD5
	}
	if !v2Verify(req, testAPIKey, signType) {
		s.t.Errorf("request signature does not verify: %s", body)
	}
	s.mu.Lock()
	s.last = req
	s.paths[r.URL.Path]++
	hasCert := r.TLS != nil && len(r.TLS.PeerCertificates) > 0
	if hasCert {
		s.certs[r.URL.Path]++
	}
	s.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/secapi/") && !hasCert {
		// WeChat refuses /secapi/ without the merchant certificate.
		io.WriteString(w, `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[certificate required]]></return_msg></xml>`)
		return
	}
	a := s.handle(r.URL.Path, req)
	if a.status != 0 {
		w.WriteHeader(a.status)
	}
	if a.raw != nil {
		if a.gzipped {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			zw.Write(a.raw)
			zw.Close()
			w.Write(zb.Bytes())
			return
		}
		w.Write(a.raw)
		return
	}
	f := append(fieldsOf("return_code", "SUCCESS", "return_msg", "OK", "appid", req.get("appid"), "mch_id", req.get("mch_id"), "nonce_str", "srvnonce123"), a.fields...)
	if !a.nosign {
		sig := v2Sign(f, testAPIKey, signType) // answers carry no sign_type
		if a.forge {
			sig = strings.Repeat("0", len(sig))
		}
		f = append(f, v2Field{"sign", sig})
	}
	var buf bytes.Buffer
	encodeV2XML(&buf, f)
	w.Write(buf.Bytes())
}

func newV2Test(t *testing.T, s *v2Server, mod func(*Config)) Client {
	cert, _ := clientCert(t)
	cfg := Config{
		API: APIv2, BaseURL: s.srv.URL, RootCAs: poolOf(s.srv),
		AppID: "wx8888888888888888", MchID: "1900000109", APIKey: testAPIKey, ClientCert: cert,
		Now:      newTestClock().Now,
		Timeouts: Timeouts{MicroPay: 3 * time.Second, Query: 3 * time.Second, Reverse: 3 * time.Second, Refund: 3 * time.Second},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func paidFields() v2Fields {
	return fieldsOf("result_code", "SUCCESS", "openid", "o1", "trade_type", "MICROPAY", "bank_type", "OTHERS",
		"fee_type", "HKD", "total_fee", "1050", "cash_fee_type", "CNY", "cash_fee", "851",
		"transaction_id", "4200000002", "out_trade_no", "T1-0001", "time_end", "20270301100001", "rate", "81000000")
}

func failFields(code string) v2Fields {
	return fieldsOf("result_code", "FAIL", "err_code", code, "err_code_des", "描述 "+code)
}

func TestV2_MicroPayPaid(t *testing.T) {
	for _, st := range []string{SignTypeHMACSHA256, SignTypeMD5} {
		t.Run(st, func(t *testing.T) {
			s := newV2Server(t, func(path string, req v2Fields) v2Answer { return v2Answer{fields: paidFields()} })
			c := newV2Test(t, s, func(c *Config) { c.SignType = st; c.SubMchID = "1900000110"; c.DeviceID = "TILL01" })
			o, err := c.MicroPay(context.Background(), testPay)
			if err != nil {
				t.Fatal(err)
			}
			if o.Outcome != Paid || o.TransactionID != "4200000002" || o.PayerAmount != 851 || o.PayerCurrency != "CNY" ||
				o.ExchangeRate != 81000000 || o.SuccessTime.Unix() != time.Date(2027, 3, 1, 2, 0, 1, 0, time.UTC).Unix() {
				t.Fatalf("%+v", o)
			}
			r := s.last
			if r.get("sign_type") != st || r.get("sub_mch_id") != "1900000110" || r.get("total_fee") != "1050" ||
				r.get("fee_type") != "HKD" || r.get("auth_code") != testPay.AuthCode || r.get("device_info") != "TILL01" ||
				r.get("body") != testPay.Description || len(r.get("nonce_str")) != 32 {
				t.Fatalf("request %v", r)
			}
			if s.certs["/pay/micropay"] != 0 {
				t.Fatal("client certificate sent on a non-/secapi/ call")
			}
		})
	}
}

// TestV2_MicroPayErrCodes: every row of docs/wxpay-v2.md §5.2.
func TestV2_MicroPayErrCodes(t *testing.T) {
	cases := []struct {
		code string
		want Outcome
		msg  string
	}{
		{"SYSTEMERROR", Unknown, "did not finish"},
		{"BANKERROR", Unknown, "did not finish"},
		{"USERPAYING", Pending, ""},
		{"AUTHCODEEXPIRE", Failed, "refresh the code"},
		{"AUTH_CODE_ERROR", Failed, "refresh the code"},
		{"AUTH_CODE_INVALID", Failed, "refresh the code"},
		{"NOTENOUGH", Failed, "Customer's balance is not enough: ask for another payment method"},
		{"NOTSUPORTCARD", Failed, "another card"},
		{"ORDERPAID", Paid, ""},
		{"ORDERCLOSED", Reversed, "closed"},
		{"ORDERREVERSED", Reversed, "cancelled"},
		{"BUYER_MISMATCH", Unknown, "already used"},
		{"OUT_TRADE_NO_USED", Unknown, "already used"},
		{"INVALID_REQUEST", Unknown, "checking"},
		{"TRADE_ERROR", Failed, "another payment method"},
		{"NOAUTH", Failed, "not allowed"},
		{"PARAM_ERROR", Failed, "setup problem"},
		{"SIGNERROR", Failed, "signature"},
		{"LACK_PARAMS", Failed, "setup problem"},
		{"XML_FORMAT_ERROR", Failed, "setup problem"},
		{"REQUIRE_POST_METHOD", Failed, "setup problem"},
		{"POST_DATA_EMPTY", Failed, "setup problem"},
		{"NOT_UTF8", Failed, "setup problem"},
		{"APPID_NOT_EXIST", Failed, "appid"},
		{"MCHID_NOT_EXIST", Failed, "appid"},
		{"APPID_MCHID_NOT_MATCH", Failed, "appid"},
		{"SOMETHING_NEW", Unknown, "checking"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			s := newV2Server(t, func(path string, req v2Fields) v2Answer { return v2Answer{fields: failFields(tc.code)} })
			o, err := newV2Test(t, s, nil).MicroPay(context.Background(), testPay)
			if err != nil {
				t.Fatal(err)
			}
			if o.Outcome != tc.want || o.TradeState != tc.code {
				t.Fatalf("outcome %v (%s), want %v", o.Outcome, o.TradeState, tc.want)
			}
			if tc.msg != "" && (o.Error == nil || !strings.Contains(o.Error.Message, tc.msg) || o.Error.Code != tc.code || o.Error.Raw != "描述 "+tc.code) {
				t.Fatalf("error %+v, want sentence with %q", o.Error, tc.msg)
			}
		})
	}
}

func TestV2_UntrustedAnswers(t *testing.T) {
	cases := map[string]v2Answer{
		"ForgedSuccess":    {fields: paidFields(), forge: true},
		"UnsignedSuccess":  {fields: paidFields(), nosign: true},
		"ForgedFailure":    {fields: failFields("NOTENOUGH"), forge: true},
		"UnsignedFailure":  {fields: failFields("AUTHCODEEXPIRE"), nosign: true},
		"ReturnFail":       {raw: []byte(`<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg></xml>`)},
		"HTTP500":          {status: 500, raw: []byte("oops")},
		"HTTP502":          {status: 502, raw: []byte("")},
		"HTTP429":          {status: 429, raw: []byte("slow down")},
		"Garbage":          {raw: []byte("<html>proxy error</html>")},
		"DOCTYPE":          {raw: []byte(`<!DOCTYPE x [<!ENTITY a "b">]><xml><return_code>SUCCESS</return_code></xml>`)},
		"OtherOrderPaid":   {fields: append(paidFields()[:9], v2Field{"out_trade_no", "T1-0002"})},
		"OtherAmountPaid":  {fields: fieldsOf("result_code", "SUCCESS", "total_fee", "1", "fee_type", "HKD", "out_trade_no", "T1-0001")},
		"OtherCurrencyPay": {fields: fieldsOf("result_code", "SUCCESS", "total_fee", "1050", "fee_type", "USD", "out_trade_no", "T1-0001")},
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			s := newV2Server(t, func(path string, req v2Fields) v2Answer { return a })
			o, err := newV2Test(t, s, nil).MicroPay(context.Background(), testPay)
			if err != nil {
				t.Fatal(err)
			}
			if o.Outcome != Unknown || o.Error == nil || o.Error.Message == "" {
				t.Fatalf("outcome %v %+v", o.Outcome, o.Error)
			}
		})
	}
	t.Run("HMACAnswerNotCheckedWithMD5", func(t *testing.T) {
		// The server signs with MD5 although HMAC-SHA256 was requested: refused.
		s := newV2Server(t, func(path string, req v2Fields) v2Answer { return v2Answer{raw: md5Signed(paidFields())} })
		o, _ := newV2Test(t, s, nil).MicroPay(context.Background(), testPay)
		if o.Outcome != Unknown || o.Error.Code != CodeBadSignature {
			t.Fatalf("%v %+v", o.Outcome, o.Error)
		}
	})
}

func TestV2_Timeout(t *testing.T) {
	s := newV2Server(t, func(path string, req v2Fields) v2Answer {
		time.Sleep(300 * time.Millisecond)
		return v2Answer{fields: paidFields()}
	})
	c := newV2Test(t, s, func(c *Config) {
		c.Timeouts.MicroPay = 50 * time.Millisecond
		c.Timeouts.Reverse = 50 * time.Millisecond
	})
	o, err := c.MicroPay(context.Background(), testPay)
	if err != nil || o.Outcome != Unknown || o.Error.Code != CodeTimeout {
		t.Fatalf("%v %+v", err, o.Error)
	}
	rr, err := c.Reverse(context.Background(), "T1-0001")
	if err != nil || rr.Outcome != Unknown || rr.Error.Code != CodeTimeout {
		t.Fatalf("%v %+v", err, rr.Error)
	}
}

func md5Signed(f v2Fields) []byte {
	f = append(fieldsOf("return_code", "SUCCESS"), f...)
	f = append(f, v2Field{"sign", v2Sign(f, testAPIKey, SignTypeMD5)})
	var b bytes.Buffer
	encodeV2XML(&b, f)
	return b.Bytes()
}

// TestV2_Query: every trade_state of docs/wxpay-v2.md §5.3 and the orderquery err_codes.
func TestV2_Query(t *testing.T) {
	cases := []struct {
		name string
		f    v2Fields
		want Outcome
	}{
		{"SUCCESS", append(paidFields(), v2Field{"trade_state", "SUCCESS"}), Paid},
		{"REFUND", append(paidFields(), v2Field{"trade_state", "REFUND"}), Refunded},
		{"NOTPAY", fieldsOf("result_code", "SUCCESS", "trade_state", "NOTPAY", "out_trade_no", "T1-0001"), NotPaid},
		{"CLOSED", fieldsOf("result_code", "SUCCESS", "trade_state", "CLOSED"), Reversed},
		{"REVOKED", fieldsOf("result_code", "SUCCESS", "trade_state", "REVOKED"), Reversed},
		{"USERPAYING", fieldsOf("result_code", "SUCCESS", "trade_state", "USERPAYING"), Pending},
		{"PAYERROR", fieldsOf("result_code", "SUCCESS", "trade_state", "PAYERROR", "trade_state_desc", "支付失败,请撤销订单"), Failed},
		{"ACCEPT", fieldsOf("result_code", "SUCCESS", "trade_state", "ACCEPT"), Pending},
		{"UnknownState", fieldsOf("result_code", "SUCCESS", "trade_state", "NEW"), Unknown},
		{"OtherOrder", fieldsOf("result_code", "SUCCESS", "trade_state", "SUCCESS", "out_trade_no", "X"), Unknown},
		{"ORDERNOTEXIST", failFields("ORDERNOTEXIST"), NotFound},
		{"SYSTEMERROR", failFields("SYSTEMERROR"), Unknown},
		{"PARAM_ERROR", failFields("PARAM_ERROR"), Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newV2Server(t, func(path string, req v2Fields) v2Answer { return v2Answer{fields: tc.f} })
			o, err := newV2Test(t, s, nil).QueryOrder(context.Background(), "T1-0001")
			if err != nil || o.Outcome != tc.want {
				t.Fatalf("%v outcome %v want %v (%+v)", err, o.Outcome, tc.want, o.Error)
			}
			if (o.Outcome == Failed || o.Outcome == Unknown) && (o.Error == nil || o.Error.Message == "") {
				t.Fatalf("no sentence %+v", o)
			}
			if s.last.get("out_trade_no") != "T1-0001" {
				t.Fatalf("request %v", s.last)
			}
		})
	}
}

// TestV2_Reverse: docs/wxpay-v2.md §5.4 with recall, over mutual TLS.
func TestV2_Reverse(t *testing.T) {
	cases := []struct {
		name   string
		f      v2Fields
		want   Outcome
		recall bool
	}{
		{"SUCCESS", fieldsOf("result_code", "SUCCESS", "recall", "N"), Reversed, false},
		{"RecallY", fieldsOf("result_code", "FAIL", "err_code", "SYSTEMERROR", "recall", "Y"), Unknown, true},
		{"SYSTEMERROR_N", fieldsOf("result_code", "FAIL", "err_code", "SYSTEMERROR", "recall", "N"), Unknown, false},
		{"INVALID_TRANSACTIONID", fieldsOf("result_code", "FAIL", "err_code", "INVALID_TRANSACTIONID", "recall", "N"), Failed, false},
		{"PARAM_ERROR", fieldsOf("result_code", "FAIL", "err_code", "PARAM_ERROR", "recall", "N"), Failed, false},
		{"REQUIRE_POST_METHOD", fieldsOf("result_code", "FAIL", "err_code", "REQUIRE_POST_METHOD", "recall", "N"), Failed, false},
		{"SIGNERROR", fieldsOf("result_code", "FAIL", "err_code", "SIGNERROR", "recall", "N"), Failed, false},
		{"REVERSE_EXPIRE", fieldsOf("result_code", "FAIL", "err_code", "REVERSE_EXPIRE", "recall", "N"), Unknown, false},
		{"INVALID_REQUEST", fieldsOf("result_code", "FAIL", "err_code", "INVALID_REQUEST", "recall", "N"), Failed, false},
		{"TRADE_ERROR", fieldsOf("result_code", "FAIL", "err_code", "TRADE_ERROR", "recall", "N"), Failed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newV2Server(t, func(path string, req v2Fields) v2Answer { return v2Answer{fields: tc.f} })
			rr, err := newV2Test(t, s, nil).Reverse(context.Background(), "T1-0001")
			if err != nil || rr.Outcome != tc.want || rr.Recall != tc.recall {
				t.Fatalf("%v %+v", err, rr)
			}
			if s.certs["/secapi/pay/reverse"] != 1 {
				t.Fatal("reverse sent without the client certificate")
			}
			if rr.Outcome != Reversed && (rr.Error == nil || rr.Error.Message == "") {
				t.Fatalf("no sentence %+v", rr)
			}
		})
	}
	t.Run("WrongCertificate", func(t *testing.T) {
		s := newV2Server(t, func(path string, req v2Fields) v2Answer { return v2Answer{fields: fieldsOf("result_code", "SUCCESS")} })
		c := newV2Test(t, s, func(c *Config) {
			// a certificate the server does not trust: the handshake fails; outcome unknown
			other := httptest.NewTLSServer(nil)
			defer other.Close()
			c.ClientCert = &other.TLS.Certificates[0]
		})
		rr, err := c.Reverse(context.Background(), "T1-0001")
		if err != nil || rr.Outcome != Unknown {
			t.Fatalf("%v %+v", err, rr)
		}
	})
	t.Run("CertificateRequired", func(t *testing.T) {
		if _, err := New(Config{API: APIv2, BaseURL: "https://x", AppID: "a", MchID: "m", APIKey: testAPIKey}); err == nil {
			t.Fatal("v2 without a client certificate accepted")
		}
	})
}

// TestV2_Refund: the refund err_codes of docs/wxpay-v2.md §7 and refundquery states.
func TestV2_Refund(t *testing.T) {
	codes := []struct {
		code string
		want Outcome
		msg  string
	}{
		{"SYSTEMERROR", Unknown, "same refund number"},
		{"BIZERR_NEED_RETRY", Unknown, "same refund number"},
		{"TRADE_OVERDUE", Failed, "too old"},
		{"ERROR", Failed, "refused the refund"},
		{"USER_ACCOUNT_ABNORMAL", Failed, "account is closed"},
		{"NOTENOUGH", Failed, "too low for this refund"},
		{"INVALID_TRANSACTIONID", Failed, "does not know"},
		{"PARAM_ERROR", Failed, "refused the refund"},
		{"APPID_NOT_EXIST", Failed, "appid"},
		{"MCHID_NOT_EXIST", Failed, "appid"},
		{"APPID_MCHID_NOT_MATCH", Failed, "appid"},
		{"REQUIRE_POST_METHOD", Failed, "setup"},
		{"SIGNERROR", Failed, "signature"},
		{"XML_FORMAT_ERROR", Failed, "setup"},
		{"FREQUENCY_LIMITED", Unknown, "busy"},
	}
	req := RefundRequest{OutTradeNo: "T1-0001", OutRefundNo: "R1", Amount: 100, Total: 1050, Reason: "damaged"}
	for _, tc := range codes {
		t.Run(tc.code, func(t *testing.T) {
			s := newV2Server(t, func(path string, r v2Fields) v2Answer { return v2Answer{fields: failFields(tc.code)} })
			rf, err := newV2Test(t, s, nil).Refund(context.Background(), req)
			if err != nil || rf.Outcome != tc.want || !strings.Contains(rf.Error.Message, tc.msg) {
				t.Fatalf("%v %v %+v", err, rf.Outcome, rf.Error)
			}
		})
	}
	t.Run("Accepted", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer {
			return v2Answer{fields: fieldsOf("result_code", "SUCCESS", "out_refund_no", "R1", "refund_id", "50001", "refund_fee", "100", "fee_type", "HKD")}
		})
		rf, err := newV2Test(t, s, nil).Refund(context.Background(), req)
		if err != nil || rf.Outcome != Paid || rf.State != RefundProcessing || rf.RefundID != "50001" || rf.Amount != 100 {
			t.Fatalf("%v %+v", err, rf)
		}
		l := s.last
		if s.certs["/secapi/pay/refund"] != 1 || l.get("refund_fee") != "100" || l.get("total_fee") != "1050" || l.get("out_refund_no") != "R1" || l.get("refund_fee_type") != "HKD" {
			t.Fatalf("request %v", l)
		}
	})
	states := map[string]RefundState{"SUCCESS": RefundSuccess, "PROCESSING": RefundProcessing, "REFUNDCLOSE": RefundClosed, "CHANGE": RefundAbnormal, "FAIL": RefundClosed}
	for st, want := range states {
		t.Run("Query"+st, func(t *testing.T) {
			s := newV2Server(t, func(path string, r v2Fields) v2Answer {
				return v2Answer{fields: fieldsOf("result_code", "SUCCESS", "refund_count", "2", "out_refund_no_0", "R0", "refund_status_0", "SUCCESS",
					"out_refund_no_1", "R1", "refund_id_1", "50001", "refund_fee_1", "100", "refund_status_1", st, "fee_type", "HKD")}
			})
			rf, err := newV2Test(t, s, nil).QueryRefund(context.Background(), "R1")
			if err != nil || rf.Outcome != Paid || rf.State != want || rf.RefundID != "50001" {
				t.Fatalf("%v %+v", err, rf)
			}
		})
	}
	t.Run("QueryNotExist", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer { return v2Answer{fields: failFields("REFUNDNOTEXIST")} })
		rf, _ := newV2Test(t, s, nil).QueryRefund(context.Background(), "R9")
		if rf.Outcome != NotFound {
			t.Fatalf("%+v", rf)
		}
	})
}

const v2BillCSV = "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\r\n" +
	"`2027-02-28 12:00:01,`wx8888888888888888,`1900000109,`0,`TILL01,`4200000002,`T1-0001,`o1,`MICROPAY,`SUCCESS,`OTHERS,`HKD,`10.50,`0.00,`0,`0,`0,`0,`,`,`Coffee, large,`,`0.06,`0.60%\r\n" +
	"`2027-02-28 12:05:00,`wx8888888888888888,`1900000109,`0,`TILL01,`4200000003,`T1-0002,`o2,`MICROPAY,`REFUND,`OTHERS,`HKD,`20.00,`0.00,`50001,`R1,`1.00,`0.00,`ORIGINAL,`SUCCESS,`Tea,`,`0.12,`0.60%\r\n" +
	"总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额\r\n" +
	"`2,`30.50,`1.00,`0.00,`0.18\r\n"

func TestV2_Statement(t *testing.T) {
	ctx := context.Background()
	t.Run("Gzip", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer { return v2Answer{raw: []byte(v2BillCSV), gzipped: true} })
		st, err := newV2Test(t, s, nil).Statement(ctx, "20270228")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Rows) != 2 || st.NotReady {
			t.Fatalf("%+v", st)
		}
		r0, r1 := st.Rows[0], st.Rows[1]
		if r0.OutTradeNo != "T1-0001" || r0.Amount != 1050 || r0.Currency != "HKD" || r0.TradeState != "SUCCESS" || r0.Raw["商品名称"] != "Coffee, large" ||
			r1.RefundAmount != 100 || r1.OutRefundNo != "R1" || r1.RefundState != "SUCCESS" || r1.Amount != 2000 {
			t.Fatalf("rows %+v", st.Rows)
		}
		if s.last.get("bill_date") != "20270228" || s.last.get("tar_type") != "GZIP" || s.last.get("bill_type") != "ALL" {
			t.Fatalf("request %v", s.last)
		}
	})
	noBill := []byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[No Bill Exist]]></return_msg><error_code><![CDATA[20002]]></error_code></xml>`)
	t.Run("NoBillEmptyDay", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer { return v2Answer{raw: noBill} })
		// clock: 2027-03-01 10:00 HKT; the bill of 02-27 is due
		st, err := newV2Test(t, s, nil).Statement(ctx, "20270227")
		if err != nil || st.NotReady || len(st.Rows) != 0 {
			t.Fatalf("%v %+v", err, st)
		}
	})
	t.Run("NoBillBeforeDue", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer { return v2Answer{raw: noBill} })
		st, err := newV2Test(t, s, nil).Statement(ctx, "20270301")
		if err != nil || !st.NotReady {
			t.Fatalf("%v %+v", err, st)
		}
	})
	t.Run("NotReady", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer {
			return v2Answer{raw: []byte(`<xml><return_code>FAIL</return_code><return_msg>该日期订单未生成</return_msg></xml>`)}
		})
		st, err := newV2Test(t, s, nil).Statement(ctx, "20270227")
		if err != nil || !st.NotReady {
			t.Fatalf("%v %+v", err, st)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer {
			return v2Answer{raw: []byte(`<xml><return_code>FAIL</return_code><return_msg>签名失败</return_msg></xml>`)}
		})
		_, err := newV2Test(t, s, nil).Statement(ctx, "20270227")
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("GzipBomb", func(t *testing.T) {
		s := newV2Server(t, func(path string, r v2Fields) v2Answer {
			return v2Answer{raw: append([]byte(v2BillCSV[:strings.Index(v2BillCSV, "\r\n")+2]), bytes.Repeat([]byte("\n"), 1<<16)...), gzipped: true}
		})
		_, err := newV2Test(t, s, func(c *Config) { c.MaxStatementBytes = 4096 }).Statement(ctx, "20270228")
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("%v", err)
		}
	})
}

func TestParseMajorAmount(t *testing.T) {
	cases := []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"10.50", "HKD", 1050, true}, {"10.5", "HKD", 1050, true}, {"0", "HKD", 0, true}, {"", "HKD", 0, true},
		{"-1.00", "CNY", -100, true}, {"100", "JPY", 100, true}, {"1.001", "HKD", 0, false}, {"1.5", "JPY", 0, false},
		{"abc", "HKD", 0, false}, {"1.", "HKD", 0, false}, {".5", "HKD", 0, false}, {"1e5", "HKD", 0, false},
	}
	for _, c := range cases {
		got, err := parseMajorAmount(c.in, c.cur)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseMajorAmount(%q,%s) = %d, %v", c.in, c.cur, got, err)
		}
	}
}
