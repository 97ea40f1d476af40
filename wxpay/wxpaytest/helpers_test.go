package wxpaytest

// Plain net/http clients for the simulator, written here from the briefs so the simulator's
// tests do not depend on package wxpay.

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is the simulator clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, hkt)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSim(t testing.TB, opts Options) (*Server, *fakeClock) {
	t.Helper()
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s, clk
}

// httpClient trusts the simulator; withCert adds the merchant client certificate.
func httpClient(t testing.TB, s *Server, withCert bool, timeout time.Duration) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: s.CertPool()}
	if withCert {
		cr := s.Credentials()
		pair, err := tls.X509KeyPair(cr.ClientCertPEM, cr.ClientKeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// v3client signs requests like a merchant and verifies answers like a careful client.
type v3client struct {
	t        testing.TB
	s        *Server
	hc       *http.Client
	key      *rsa.PrivateKey
	prefix   string // "/v3/global" or "/hk/v3"
	inst     bool
	serial   string        // Wechatpay-Serial request header ("" = none)
	tsOffset time.Duration // added to the signing timestamp (clock-skew tests)
}

func newV3(t testing.TB, s *Server, prefix string, inst bool) *v3client {
	k, err := parseRSAKey(s.Credentials().MerchantKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &v3client{t: t, s: s, hc: httpClient(t, s, false, 5*time.Second), key: k, prefix: prefix, inst: inst}
}

type v3resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
	err    error // transport error
}

func (r v3resp) str(k string) string {
	v, _ := r.json[k].(string)
	return v
}

func (c *v3client) ids() map[string]any {
	cr := c.s.Credentials()
	if c.inst {
		return map[string]any{"sp_mchid": cr.MchID, "sp_appid": cr.AppID, "sub_mchid": cr.SubMchID}
	}
	return map[string]any{"mchid": cr.MchID, "appid": cr.AppID}
}

func (c *v3client) idQuery() string {
	cr := c.s.Credentials()
	if c.inst {
		return "?sub_mchid=" + cr.SubMchID + "&sp_mchid=" + cr.MchID
	}
	return "?mchid=" + cr.MchID
}

// do sends a signed request; uri is after the prefix.
func (c *v3client) do(method, uri string, body any) v3resp {
	c.t.Helper()
	return c.doRaw(method, c.prefix+uri, body, nil)
}

func (c *v3client) doRaw(method, uri string, body any, mutate func(*http.Request)) v3resp {
	c.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.s.URL()+uri, bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	ts := c.s.Now().Add(c.tsOffset).Unix()
	nonce := randomString(32)
	msg := fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n", method, uri, ts, nonce, b)
	h := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(nil, c.key, crypto.SHA256, h[:])
	if err != nil {
		c.t.Fatal(err)
	}
	cr := c.s.Credentials()
	req.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",timestamp="%d",serial_no="%s",signature="%s"`,
		cr.MchID, nonce, ts, cr.MerchantSerial, base64.StdEncoding.EncodeToString(sig)))
	req.Header.Set("Accept", "application/json")
	if b != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.serial != "" {
		req.Header.Set("Wechatpay-Serial", c.serial)
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return v3resp{err: err}
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return v3resp{err: err}
	}
	r := v3resp{status: resp.StatusCode, header: resp.Header, body: rb}
	if len(rb) > 0 && resp.Header.Get("Wechatpay-Statement-Sha1") == "" {
		_ = json.Unmarshal(rb, &r.json)
	}
	return r
}

// verify checks the answer's signature; signedBody overrides the body line (statements).
func (c *v3client) verify(r v3resp, signedBody []byte) error {
	cr := c.s.Credentials()
	var pub *rsa.PublicKey
	switch r.header.Get("Wechatpay-Serial") {
	case cr.PlatformSerial:
		cert, err := parseCert(cr.PlatformCertPEM)
		if err != nil {
			return err
		}
		pub = cert.PublicKey.(*rsa.PublicKey)
	case cr.PublicKeyID:
		b, _ := pem.Decode(cr.PublicKeyPEM)
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return err
		}
		pub = k.(*rsa.PublicKey)
	default:
		return fmt.Errorf("unknown serial %q", r.header.Get("Wechatpay-Serial"))
	}
	body := r.body
	if signedBody != nil {
		body = signedBody
	}
	ts, err := strconv.ParseInt(r.header.Get("Wechatpay-Timestamp"), 10, 64)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%d\n%s\n%s\n", ts, r.header.Get("Wechatpay-Nonce"), body)
	sig, err := base64.StdEncoding.DecodeString(r.header.Get("Wechatpay-Signature"))
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

func (c *v3client) pay(outTradeNo, code string, amount int64) v3resp {
	c.t.Helper()
	body := c.ids()
	body["description"] = "Demo Shop-Till-Goods"
	body["out_trade_no"] = outTradeNo
	body["trade_type"] = "MICROPAY"
	body["merchant_category_code"] = "5411"
	body["payer"] = map[string]any{"auth_code": code}
	body["amount"] = map[string]any{"total": amount, "currency": "HKD"}
	body["scene_info"] = map[string]any{"device_id": "T01"}
	path := "/micropay/transactions/pay"
	if c.prefix == "/hk/v3" {
		path = "/transactions/micropay"
	}
	return c.do("POST", path, body)
}

func (c *v3client) query(outTradeNo string) v3resp {
	c.t.Helper()
	return c.do("GET", "/transactions/out-trade-no/"+outTradeNo+c.idQuery(), nil)
}

func (c *v3client) reverse(outTradeNo string) v3resp {
	c.t.Helper()
	cr := c.s.Credentials()
	body := map[string]any{"mchid": cr.MchID}
	if c.inst {
		body = map[string]any{"sp_mchid": cr.MchID, "sub_mchid": cr.SubMchID}
	}
	path := "/micropay/transactions/out-trade-no/" + outTradeNo + "/reverse"
	if c.prefix == "/hk/v3" {
		path = "/transactions/out-trade-no/" + outTradeNo + "/reverse"
	}
	return c.do("POST", path, body)
}

func (c *v3client) refund(outTradeNo, outRefundNo string, amount, total int64) v3resp {
	c.t.Helper()
	body := c.ids()
	body["out_trade_no"] = outTradeNo
	body["out_refund_no"] = outRefundNo
	body["amount"] = map[string]any{"refund": amount, "total": total, "currency": "HKD"}
	return c.do("POST", "/refunds", body)
}

// v2client speaks the XML dialect.
type v2client struct {
	t        testing.TB
	s        *Server
	hc       *http.Client
	signType string
	key      string
	inst     bool
}

func newV2(t testing.TB, s *Server, signType string, withCert bool) *v2client {
	return &v2client{t: t, s: s, hc: httpClient(t, s, withCert, 5*time.Second), signType: signType, key: s.Credentials().APIKey}
}

type v2resp struct {
	status int
	body   []byte
	fields map[string]string
	err    error
	signOK bool
}

func (c *v2client) call(path string, f map[string]string) v2resp {
	c.t.Helper()
	cr := c.s.Credentials()
	fields := map[string]string{"appid": cr.AppID, "mch_id": cr.MchID, "nonce_str": randomString(32), "sign_type": c.signType}
	if c.inst {
		fields["sub_mch_id"] = cr.SubMchID
	}
	for k, v := range f {
		fields[k] = v
	}
	fields["sign"] = v2Sign(fields, c.key, c.signType)
	resp, err := c.hc.Post(c.s.URL()+path, "text/xml", bytes.NewReader(v2XML(fields)))
	if err != nil {
		return v2resp{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return v2resp{err: err}
	}
	r := v2resp{status: resp.StatusCode, body: b}
	if m, err := parseV2XML(b); err == nil {
		r.fields = m
		r.signOK = m["sign"] != "" && v2Verify(m, cr.APIKey, c.signType)
	}
	return r
}

func (c *v2client) pay(outTradeNo, code string, amount int64) v2resp {
	c.t.Helper()
	return c.call("/pay/micropay", map[string]string{"body": "Shop-Goods", "out_trade_no": outTradeNo,
		"total_fee": strconv.FormatInt(amount, 10), "fee_type": "HKD", "spbill_create_ip": "127.0.0.1", "auth_code": code, "device_info": "T01"})
}

func (c *v2client) query(outTradeNo string) v2resp {
	c.t.Helper()
	return c.call("/pay/orderquery", map[string]string{"out_trade_no": outTradeNo})
}

func (c *v2client) reverse(outTradeNo string) v2resp {
	c.t.Helper()
	return c.call("/secapi/pay/reverse", map[string]string{"out_trade_no": outTradeNo})
}

func (c *v2client) refund(outTradeNo, outRefundNo string, amount, total int64) v2resp {
	c.t.Helper()
	return c.call("/secapi/pay/refund", map[string]string{"out_trade_no": outTradeNo, "out_refund_no": outRefundNo,
		"total_fee": strconv.FormatInt(total, 10), "refund_fee": strconv.FormatInt(amount, 10), "refund_fee_type": "HKD", "op_user_id": "1900000100"})
}

// code returns a fresh valid payment code.
var codeSeq struct {
	sync.Mutex
	n int
}

func newCode() string {
	codeSeq.Lock()
	defer codeSeq.Unlock()
	codeSeq.n++
	return fmt.Sprintf("13%016d", codeSeq.n)
}

func hasViolation(s *Server, rule string) bool {
	for _, v := range s.Violations() {
		if v.Rule == rule {
			return true
		}
	}
	return false
}

func mustOrder(t testing.TB, s *Server, no string) Order {
	t.Helper()
	o, ok := s.Order(no)
	if !ok {
		t.Fatalf("order %s not in the ledger", no)
	}
	return o
}

// result is an answer normalized for dialect-independent tests.
type result struct {
	err     error  // transport error
	status  int    // HTTP status
	outcome string // SUCCESS, USERPAYING, REVOKED, trade_state, or the error code as sent
	signOK  bool
	recall  string // v2 reverse
	fields  map[string]string
}

// driver runs one dialect.
type driver interface {
	name() string
	code(v2code string) string // the code as this dialect spells it
	pay(no, code string, amount int64) result
	query(no string) result
	reverse(no string) result
	refund(no, rno string, amount, total int64) result
}

type v3driver struct{ c *v3client }

func (d v3driver) name() string { return d.c.prefix }
func (d v3driver) code(c string) string {
	if c == "USERPAYING" || c == "SUCCESS" || c == "REVOKED" {
		return c
	}
	_, v := v3Code(c)
	return v
}
func (d v3driver) norm(r v3resp, what string) result {
	if r.err != nil {
		return result{err: r.err}
	}
	out := result{status: r.status, signOK: d.c.verify(r, nil) == nil}
	switch {
	case r.status == 204:
		out.outcome = "REVOKED"
	case r.status == 202:
		out.outcome = r.str("trade_state")
	case r.status == 200 && what == "refund":
		out.outcome = "SUCCESS"
	case r.status == 200:
		out.outcome = r.str("trade_state")
	default:
		out.outcome = r.str("code")
	}
	return out
}
func (d v3driver) pay(no, code string, a int64) result { return d.norm(d.c.pay(no, code, a), "pay") }
func (d v3driver) query(no string) result              { return d.norm(d.c.query(no), "query") }
func (d v3driver) reverse(no string) result            { return d.norm(d.c.reverse(no), "reverse") }
func (d v3driver) refund(no, rno string, a, t int64) result {
	return d.norm(d.c.refund(no, rno, a, t), "refund")
}

type v2driver struct{ c *v2client }

func (d v2driver) name() string         { return "v2-" + d.c.signType }
func (d v2driver) code(c string) string { return c }
func (d v2driver) norm(r v2resp, what string) result {
	if r.err != nil {
		return result{err: r.err}
	}
	out := result{status: r.status, signOK: r.signOK, fields: r.fields, recall: r.fields["recall"]}
	f := r.fields
	switch {
	case f == nil:
		out.outcome = "NOT_XML"
	case f["return_code"] != "SUCCESS":
		out.outcome = "FAIL:" + f["return_msg"]
		out.signOK = true // return-level failures carry no sign
	case f["result_code"] != "SUCCESS":
		out.outcome = f["err_code"]
	case what == "query":
		out.outcome = f["trade_state"]
	case what == "reverse":
		out.outcome = "REVOKED"
	default:
		out.outcome = "SUCCESS"
	}
	return out
}
func (d v2driver) pay(no, code string, a int64) result { return d.norm(d.c.pay(no, code, a), "pay") }
func (d v2driver) query(no string) result              { return d.norm(d.c.query(no), "query") }
func (d v2driver) reverse(no string) result            { return d.norm(d.c.reverse(no), "reverse") }
func (d v2driver) refund(no, rno string, a, t int64) result {
	return d.norm(d.c.refund(no, rno, a, t), "refund")
}

// forDialects runs fn against a fresh simulator for each dialect and merchant mode.
func forDialects(t *testing.T, opts Options, fn func(t *testing.T, s *Server, clk *fakeClock, d driver)) {
	mk := []struct {
		name string
		d    func(t *testing.T, s *Server) driver
	}{
		{"v3-global", func(t *testing.T, s *Server) driver { return v3driver{newV3(t, s, "/v3/global", false)} }},
		{"v3-hk-inst", func(t *testing.T, s *Server) driver { return v3driver{newV3(t, s, "/hk/v3", true)} }},
		{"v2-hmac", func(t *testing.T, s *Server) driver { return v2driver{newV2(t, s, signHMAC, true)} }},
		{"v2-md5-inst", func(t *testing.T, s *Server) driver {
			c := newV2(t, s, signMD5, true)
			c.inst = true
			return v2driver{c}
		}},
	}
	for _, m := range mk {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s, clk := newSim(t, opts)
			fn(t, s, clk, m.d(t, s))
		})
	}
}

func mustReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type vectors struct {
	Req1 struct {
		Authorization string `json:"authorization"`
	} `json:"req1_post_micropay"`
}

func loadVectors(t testing.TB) vectors {
	var v vectors
	if err := json.Unmarshal(mustReadTestdata(t, "vectors.json"), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
