package wxpay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is an injected clock; tests move it instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// v3Answer is what a test handler wants sent back.
type v3Answer struct {
	status int
	body   string
	// signing: by default the answer is signed correctly with the platform key.
	unsigned  bool
	forge     bool   // sign, then corrupt the signature
	serial    string // Wechatpay-Serial override
	skew      time.Duration
	extraHdrs map[string]string
	signOver  string // sign this instead of the body
}

// v3Server is a TLS test server that checks request signatures and signs answers.
type v3Server struct {
	t        *testing.T
	srv      *httptest.Server
	clock    *testClock
	platform *rsa.PrivateKey
	merchant *rsa.PublicKey
	handle   func(r *http.Request, body []byte) v3Answer
	hits     map[string]*atomic.Int32
	mu       sync.Mutex
	last     *http.Request
	lastBody []byte
}

func newV3Server(t *testing.T, clock *testClock, handle func(r *http.Request, body []byte) v3Answer) *v3Server {
	s := &v3Server{t: t, clock: clock, platform: platformKey(t), merchant: &merchantKey(t).PublicKey, handle: handle, hits: map[string]*atomic.Int32{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *v3Server) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hits[path]; h != nil {
		return int(h.Load())
	}
	return 0
}

func (s *v3Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	if s.hits[r.URL.Path] == nil {
		s.hits[r.URL.Path] = &atomic.Int32{}
	}
	s.hits[r.URL.Path].Add(1)
	s.last, s.lastBody = r, body
	s.mu.Unlock()
	// Check the request signature like WeChat does.
	auth := r.Header.Get("Authorization")
	params := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, v3AuthScheme+" "), ",") {
		k, v, _ := strings.Cut(kv, "=")
		params[k] = strings.Trim(v, `"`)
	}
	msg := v3RequestMessage(r.Method, r.RequestURI, params["timestamp"], params["nonce_str"], body)
	if err := v3Verify(s.merchant, msg, params["signature"]); err != nil || params["serial_no"] != merchantSerial {
		s.t.Errorf("request signature: %v (auth %q)", err, auth)
	}
	a := s.handle(r, body)
	s.write(w, a)
}

func (s *v3Server) write(w http.ResponseWriter, a v3Answer) {
	ts := unixString(s.clock.Now().Add(a.skew).Unix())
	nonce := "SRVNONCE0123456789"
	signed := a.body
	if a.signOver != "" {
		signed = a.signOver
	}
	if !a.unsigned {
		sig, err := v3Sign(s.platform, v3ResponseMessage(ts, nonce, []byte(signed)))
		if err != nil {
			s.t.Fatal(err)
		}
		if a.forge {
			sig = "A" + sig[1:]
			if sig[0] == sig[1] {
				sig = "B" + sig[1:]
			}
		}
		serial := platformSerial
		if a.serial != "" {
			serial = a.serial
		}
		w.Header().Set("Wechatpay-Timestamp", ts)
		w.Header().Set("Wechatpay-Nonce", nonce)
		w.Header().Set("Wechatpay-Signature", sig)
		w.Header().Set("Wechatpay-Serial", serial)
	}
	w.Header().Set("Request-ID", "req-1")
	for k, v := range a.extraHdrs {
		w.Header().Set(k, v)
	}
	if a.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2027, 3, 1, 10, 0, 0, 0, hongKong)}
}

func v3TestConfig(t *testing.T, s *v3Server) Config {
	return Config{
		API: APIv3Global, BaseURL: s.srv.URL, RootCAs: poolOf(s.srv),
		AppID: "wx8888888888888888", MchID: "1900000109", MerchantCategoryCode: "5411",
		PrivateKey: merchantKey(t), MerchantSerialNo: merchantSerial,
		PlatformCerts: []*x509.Certificate{platformCert(t)},
		Now:           s.clock.Now,
		Timeouts:      Timeouts{MicroPay: 3 * time.Second, Query: 3 * time.Second, Reverse: 3 * time.Second, Refund: 3 * time.Second},
	}
}

func newV3Test(t *testing.T, s *v3Server, mod func(*Config)) Client {
	cfg := v3TestConfig(t, s)
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var testPay = PayRequest{OutTradeNo: "T1-0001", AuthCode: "134567890123456789", Amount: 1050, Currency: "HKD", Description: "Shop-Grocery"}

func orderJSON(state string, amount int64) string {
	return fmt.Sprintf(`{"id":"4200000001","mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"T1-0001","trade_type":"MICROPAY","trade_state":%q,"trade_state_desc":"x","bank_type":"OTHERS","success_time":"2027-03-01T10:00:01+08:00","payer":{"openid":"o1"},"amount":{"total":%d,"currency":"HKD","payer_total":851,"payer_currency":"CNY","exchange_rate":{"type":"SETTLEMENT_RATE","rate":81000000}}}`, state, amount)
}

func TestV3_MicroPayDirectMode(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050)}
	})
	c := newV3Test(t, s, func(c *Config) { c.DeviceID = "TILL01" })
	o, err := c.MicroPay(context.Background(), testPay)
	if err != nil {
		t.Fatal(err)
	}
	if o.Outcome != Paid || o.PayerAmount != 851 || o.PayerCurrency != "CNY" || o.RequestID != "req-1" || o.OpenID != "o1" {
		t.Fatalf("order %+v", o)
	}
	var got map[string]any
	json.Unmarshal(s.lastBody, &got)
	if got["appid"] != "wx8888888888888888" || got["mchid"] != "1900000109" || got["sp_mchid"] != nil || got["sub_mchid"] != nil ||
		got["merchant_category_code"] != "5411" || got["trade_type"] != "MICROPAY" {
		t.Fatalf("direct-mode body %s", s.lastBody)
	}
	if s.last.URL.Path != "/v3/global/micropay/transactions/pay" {
		t.Fatalf("path %s", s.last.URL.Path)
	}
	// query string per mode
	c.QueryOrder(context.Background(), "T1-0001")
	if s.last.URL.RequestURI() != "/v3/global/transactions/out-trade-no/T1-0001?mchid=1900000109" {
		t.Fatalf("query uri %s", s.last.URL.RequestURI())
	}
}

func TestV3_BaseURLWithPathRefused(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer { return v3Answer{status: 204} })
	cfg := v3TestConfig(t, s)
	cfg.BaseURL += "/hk"
	if _, err := New(cfg); err == nil {
		t.Fatal("v3 base url with a path accepted")
	}
}

func TestV3_PathPrefixOverride(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer { return v3Answer{status: 204} })
	c := newV3Test(t, s, func(c *Config) { c.PathPrefix = "/global/v3/" })
	if rr, err := c.Reverse(context.Background(), "T1-0001"); err != nil || rr.Outcome != Reversed {
		t.Fatalf("%v %+v", err, rr)
	}
	if s.last.URL.Path != "/global/v3/micropay/transactions/out-trade-no/T1-0001/reverse" || string(s.lastBody) != `{"mchid":"1900000109"}` {
		t.Fatalf("reverse %s %s", s.last.URL.Path, s.lastBody)
	}
}

// TestV3_TradeStates covers every row of docs/wxpay-v3.md §4 and the §0.3 USERPAYING forms.
func TestV3_TradeStates(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   Outcome
	}{
		{"SUCCESS", 200, orderJSON("SUCCESS", 1050), Paid},
		{"REFUND", 200, orderJSON("REFUND", 1050), Refunded},
		{"NOTPAY", 200, orderJSON("NOTPAY", 1050), NotPaid},
		{"CLOSED", 200, orderJSON("CLOSED", 1050), Reversed},
		{"REVOKED", 200, orderJSON("REVOKED", 1050), Reversed},
		{"USERPAYING", 200, orderJSON("USERPAYING", 1050), Pending},
		{"PAYERROR", 200, orderJSON("PAYERROR", 1050), Failed},
		{"USERPAYING200Minimal", 200, `{"trade_state":"USERPAYING"}`, Pending},
		{"USERPAYING202Minimal", 202, `{"trade_state":"USERPAYING"}`, Pending},
		{"Accepted202Empty", 202, ``, Pending},
		{"UnknownState", 200, orderJSON("WHATEVER", 1050), Unknown},
		{"NoState200", 200, `{}`, Unknown},
		{"OtherOrder", 200, strings.Replace(orderJSON("SUCCESS", 1050), "T1-0001", "T1-0002", 1), Unknown},
		{"OtherAmount", 200, orderJSON("SUCCESS", 1), Unknown},
		{"Garbage", 200, `{"trade_state":`, Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer { return v3Answer{status: tc.status, body: tc.body} })
			c := newV3Test(t, s, nil)
			o, err := c.MicroPay(context.Background(), testPay)
			if err != nil {
				t.Fatal(err)
			}
			if o.Outcome != tc.want {
				t.Fatalf("outcome %v, want %v (%+v)", o.Outcome, tc.want, o.Error)
			}
			if (o.Outcome == Failed || o.Outcome == Unknown) && (o.Error == nil || o.Error.Message == "") {
				t.Fatalf("no cashier sentence: %+v", o)
			}
		})
	}
}

// TestV3_ErrorAnswers covers every row of docs/wxpay-v3.md §3.1 and §3.3, per call.
func TestV3_ErrorAnswers(t *testing.T) {
	type call int
	const (
		pay call = iota
		query
		reverse
		refund
	)
	cases := []struct {
		status int
		code   string
		call   call
		want   Outcome
		msg    string // substring of the cashier sentence
	}{
		{400, "PARAM_ERROR", pay, Failed, "setup problem"},
		{400, "INVALID_REQUEST", pay, Failed, "setup problem"},
		{401, "SIGN_ERROR", pay, Failed, "signature"},
		{403, "NO_AUTH", pay, Failed, "not allowed"},
		{404, "ORDER_NOT_EXIST", query, NotFound, "no such order"},
		{404, "", query, NotFound, "no such order"},
		{405, "", query, Failed, "setup problem"},
		{429, "RATELIMIT_EXCEEDED", pay, Unknown, "busy"},
		{429, "RATE_LIMITED", refund, Unknown, "busy"},
		{429, "", query, Unknown, "busy"},
		{500, "SYSTEM_ERROR", pay, Unknown, "did not finish"},
		{502, "", pay, Unknown, "did not finish"},
		{503, "SERVICE_UNAVAILABLE", pay, Unknown, "did not finish"},
		{500, "SYSTEM_ERROR", query, Unknown, "did not finish"},
		// §3.3 business codes
		{200, "USERPAYING", pay, Pending, "confirm"},
		{400, "ORDER_PAID", reverse, Paid, ""},
		{400, "ORDER_CLOSED", reverse, Reversed, "closed"},
		{404, "NOT_FOUND", reverse, NotFound, "no such order"},
		{403, "NOT_ENOUGH", pay, Failed, "balance is not enough"},
		{403, "NOT_ENOUGH", refund, Failed, "too low for this refund"},
		{400, "AUTH_CODE_INVALID", pay, Failed, "refresh the code"},
		{400, "AUTH_CODE_ERROR", pay, Failed, "refresh the code"},
		{400, "AUTHCODE_EXPIRE", pay, Failed, "refresh the code"},
		{403, "TRADE_ERROR", pay, Failed, "another payment method"},
		{500, "BANK_ERROR", pay, Unknown, "did not finish"},
		{400, "ORDER_REVERSED", pay, Reversed, "cancelled"},
		{400, "ORDER_CLOSED", pay, Reversed, "closed"},
		{403, "FREQUENCY_LIMITED", pay, Failed, "wait a moment"},
		{400, "OUT_TRADE_NO_USED", pay, Unknown, "already used"},
		{403, "SOMETHING_NEW", pay, Unknown, "checking"},
		{400, "PARAM_ERROR", query, Unknown, "checking"},
		{400, "REVERSE_EXPIRE", reverse, Unknown, "refund it instead"}, // too old to reverse: a query tells,
		// unverified 5xx / 429 never carry a final answer, whatever their code says
		{500, "ORDER_PAID", reverse, Unknown, "did not finish"},
		{503, "NOT_ENOUGH", pay, Unknown, "did not finish"},
		{429, "ORDER_NOT_EXIST", query, Unknown, "busy"},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%d_%s_%d", tc.status, tc.code, tc.call)
		t.Run(name, func(t *testing.T) {
			clock := newTestClock()
			status := tc.status
			if tc.code == "USERPAYING" {
				status = 403 // a USERPAYING error body, as some gateways answer
			}
			s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
				b := ""
				if tc.code != "" {
					b = fmt.Sprintf(`{"code":%q,"message":"raw text"}`, tc.code)
				}
				return v3Answer{status: status, body: b}
			})
			c := newV3Test(t, s, nil)
			ctx := context.Background()
			var got Outcome
			var e *Error
			switch tc.call {
			case pay:
				o, err := c.MicroPay(ctx, testPay)
				if err != nil {
					t.Fatal(err)
				}
				got, e = o.Outcome, o.Error
			case query:
				o, err := c.QueryOrder(ctx, "T1-0001")
				if err != nil {
					t.Fatal(err)
				}
				got, e = o.Outcome, o.Error
			case reverse:
				rr, err := c.Reverse(ctx, "T1-0001")
				if err != nil {
					t.Fatal(err)
				}
				got, e = rr.Outcome, rr.Error
			case refund:
				rf, err := c.Refund(ctx, RefundRequest{OutTradeNo: "T1-0001", OutRefundNo: "R1", Amount: 100, Total: 1050})
				if err != nil {
					t.Fatal(err)
				}
				got, e = rf.Outcome, rf.Error
			}
			if got != tc.want {
				t.Fatalf("outcome %v, want %v (%+v)", got, tc.want, e)
			}
			if e == nil || e.HTTP != status || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("error %+v, want sentence with %q", e, tc.msg)
			}
			if tc.code != "" && e.Code != tc.code {
				t.Fatalf("code %q", e.Code)
			}
		})
	}
}

// TestV3_ForgedAnswers: an answer whose signature does not verify is never trusted,
// whichever way it points.
func TestV3_ForgedAnswers(t *testing.T) {
	cases := map[string]v3Answer{
		"ForgedSuccess":        {status: 200, body: orderJSON("SUCCESS", 1050), forge: true},
		"UnsignedSuccess":      {status: 200, body: orderJSON("SUCCESS", 1050), unsigned: true},
		"ForgedFailure":        {status: 403, body: `{"code":"NOT_ENOUGH","message":"x"}`, forge: true},
		"UnsignedFailure":      {status: 400, body: `{"code":"AUTH_CODE_INVALID","message":"x"}`, unsigned: true},
		"UnknownSerial":        {status: 200, body: orderJSON("SUCCESS", 1050), serial: "0123456789ABCDEF"},
		"OldTimestamp":         {status: 200, body: orderJSON("SUCCESS", 1050), skew: -300 * time.Second},
		"FutureTimestamp":      {status: 200, body: orderJSON("SUCCESS", 1050), skew: 301 * time.Second},
		"SignedOverOtherBody":  {status: 200, body: orderJSON("SUCCESS", 1050), signOver: orderJSON("NOTPAY", 1050)},
		"ForgedUSERPAYING202":  {status: 202, body: `{"trade_state":"USERPAYING"}`, forge: true},
		"UnsignedNotFound404":  {status: 404, body: `{"code":"ORDER_NOT_EXIST","message":"x"}`, unsigned: true},
		"ForgedReverseFailure": {status: 400, body: `{"code":"ORDER_PAID","message":"x"}`, forge: true},
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			clock := newTestClock()
			s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer { return a })
			c := newV3Test(t, s, nil)
			o, err := c.MicroPay(context.Background(), testPay)
			if err != nil {
				t.Fatal(err)
			}
			if o.Outcome != Unknown || o.Error.Code != CodeBadSignature {
				t.Fatalf("outcome %v %+v", o.Outcome, o.Error)
			}
			rr, _ := c.Reverse(context.Background(), "T1-0001")
			if rr.Outcome != Unknown {
				t.Fatalf("reverse trusted a forged answer: %+v", rr)
			}
		})
	}
	t.Run("SerialSpelledDifferently", func(t *testing.T) {
		clock := newTestClock()
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050), serial: "00" + strings.ToLower(platformSerial)}
		})
		if o, _ := newV3Test(t, s, nil).MicroPay(context.Background(), testPay); o.Outcome != Paid {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("SkewWithinLimit", func(t *testing.T) {
		clock := newTestClock()
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050), skew: 299 * time.Second}
		})
		if o, _ := newV3Test(t, s, nil).MicroPay(context.Background(), testPay); o.Outcome != Paid {
			t.Fatalf("%+v", o)
		}
	})
}

func TestV3_TransportFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("Timeout", func(t *testing.T) {
		clock := newTestClock()
		release := make(chan struct{})
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050)}
		})
		defer close(release)
		c := newV3Test(t, s, func(c *Config) { c.Timeouts.MicroPay = 150 * time.Millisecond })
		o, err := c.MicroPay(ctx, testPay)
		if err != nil || o.Outcome != Unknown || o.Error.Code != CodeTimeout {
			t.Fatalf("%v %+v", err, o.Error)
		}
	})
	t.Run("LostResponse", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}))
		defer srv.Close()
		cfg := v3TestConfig(t, &v3Server{srv: srv, clock: newTestClock()})
		c, _ := New(cfg)
		o, err := c.MicroPay(ctx, testPay)
		if err != nil || o.Outcome != Unknown || o.Error.Code != CodeNetwork {
			t.Fatalf("%v %+v", err, o.Error)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		clock := newTestClock()
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			return v3Answer{status: 200, body: `{"trade_state":"SUCCESS","pad":"` + strings.Repeat("x", 4096) + `"}`}
		})
		c := newV3Test(t, s, func(c *Config) { c.MaxResponseBytes = 1024 })
		o, err := c.MicroPay(ctx, testPay)
		if err != nil || o.Outcome != Unknown || o.Error.Code != CodeTooLarge {
			t.Fatalf("%v %+v", err, o.Error)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		cfg := v3TestConfig(t, &v3Server{srv: &httptest.Server{URL: "https://" + closedAddr(t)}, clock: newTestClock()})
		c, _ := New(cfg)
		_, err := c.MicroPay(ctx, testPay)
		if !errors.Is(err, ErrNotSent) {
			t.Fatalf("want ErrNotSent, got %v", err)
		}
	})
	t.Run("BadInputNotSent", func(t *testing.T) {
		clock := newTestClock()
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer { return v3Answer{status: 500} })
		c := newV3Test(t, s, nil)
		bad := testPay
		bad.AuthCode = "280000000000000000"
		if _, err := c.MicroPay(ctx, bad); err == nil {
			t.Fatal("alipay code sent")
		}
		bad = testPay
		bad.Description = strings.Repeat("x", 128)
		if _, err := c.MicroPay(ctx, bad); err == nil {
			t.Fatal("128-character description sent")
		}
		if n := s.count("/v3/global/micropay/transactions/pay"); n != 0 {
			t.Fatalf("%d requests sent", n)
		}
		// the Multi-Wallet 160 prefix is a payment code on v3
		mw := testPay
		mw.AuthCode = "160456789012345678"
		if _, err := c.MicroPay(ctx, mw); err != nil {
			t.Fatalf("160 code refused on v3: %v", err)
		}
	})
}

func TestV3_Refunds(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		switch {
		case r.Method == "POST":
			return v3Answer{status: 200, body: `{"id":"5000001","out_refund_no":"R1","create_time":"2027-03-01T10:00:00+08:00","amount":{"refund":100,"currency":"HKD","payer_refund":81,"payer_currency":"CNY"}}`}
		case strings.HasSuffix(r.URL.Path, "/R1"):
			return v3Answer{status: 200, body: `{"id":"5000001","out_refund_no":"R1","status":"SUCCESS","amount":{"refund":100,"currency":"HKD","payer_refund":81,"payer_currency":"CNY"}}`}
		default:
			return v3Answer{status: 404, body: `{"code":"RESOURCE_NOT_EXISTS","message":"no"}`}
		}
	})
	c := newV3Test(t, s, func(c *Config) { c.SubMchID = "1900000110"; c.SubAppID = "wxsub" })
	ctx := context.Background()
	rf, err := c.Refund(ctx, RefundRequest{OutTradeNo: "T1-0001", OutRefundNo: "R1", Amount: 100, Total: 1050, Reason: "broken"})
	if err != nil || rf.Outcome != Paid || rf.State != RefundProcessing || rf.RefundID != "5000001" || rf.PayerAmount != 81 {
		t.Fatalf("%v %+v", err, rf)
	}
	var body map[string]any
	json.Unmarshal(s.lastBody, &body)
	if body["sp_mchid"] != "1900000109" || body["sub_mchid"] != "1900000110" || body["sub_appid"] != "wxsub" || body["mchid"] != nil || body["out_trade_no"] != "T1-0001" {
		t.Fatalf("refund body %s", s.lastBody)
	}
	rf, err = c.QueryRefund(ctx, "R1")
	if err != nil || rf.Outcome != Paid || rf.State != RefundSuccess {
		t.Fatalf("%v %+v", err, rf)
	}
	if s.last.URL.RequestURI() != "/v3/global/refunds/out-refund-no/R1?sub_mchid=1900000110&sp_mchid=1900000109" {
		t.Fatalf("refund query uri %s", s.last.URL.RequestURI())
	}
	rf, _ = c.QueryRefund(ctx, "R2")
	if rf.Outcome != NotFound {
		t.Fatalf("%+v", rf)
	}
	if _, err := c.Refund(ctx, RefundRequest{OutTradeNo: "T1-0001", OutRefundNo: "R3", Amount: 2000, Total: 1050}); err == nil {
		t.Fatal("refund above the total sent")
	}
}

func TestV3_StatementNotReady(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		return v3Answer{status: 400, body: `{"code":"NO_STATEMENT_EXIST","message":"no statement"}`}
	})
	st, err := newV3Test(t, s, nil).Statement(context.Background(), "20270228")
	if err != nil || !st.NotReady || st.Date != "20270228" {
		t.Fatalf("%v %+v", err, st)
	}
	if _, err := newV3Test(t, s, nil).Statement(context.Background(), "2027-02-28"); err == nil {
		t.Fatal("bad date accepted")
	}
}

// certServer serves /v3/global/certificates from the AEAD vector, signed by the platform key.
func certServer(t *testing.T, clock *testClock, other func(r *http.Request) v3Answer) *v3Server {
	list := string(readVec(t, "certificates_response.json"))
	return newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		if r.URL.Path == "/v3/global/certificates" {
			return v3Answer{status: 200, body: list}
		}
		return other(r)
	})
}

func TestV3_CertificateDownloadAndRefresh(t *testing.T) {
	clock := newTestClock()
	serial := platformSerial
	s := certServer(t, clock, func(r *http.Request) v3Answer {
		return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050), serial: serial}
	})
	c := newV3Test(t, s, func(c *Config) {
		c.PlatformCerts = nil
		c.APIv3Key = vec(t, "aead_certificate").APIv3Key
	})
	ctx := context.Background()
	if exp := c.(CertificateExpirer).CertificateExpiry(); !exp.IsZero() {
		t.Fatalf("expiry before download %v", exp)
	}
	o, err := c.MicroPay(ctx, testPay)
	if err != nil || o.Outcome != Paid {
		t.Fatalf("%v %+v", err, o)
	}
	if n := s.count("/v3/global/certificates"); n != 1 {
		t.Fatalf("bootstrap downloads %d", n)
	}
	if exp := c.(CertificateExpirer).CertificateExpiry(); !exp.Equal(platformCert(t).NotAfter) {
		t.Fatalf("expiry %v", exp)
	}
	// fresh keys: no download
	c.QueryOrder(ctx, "T1-0001")
	if n := s.count("/v3/global/certificates"); n != 1 {
		t.Fatalf("downloads %d", n)
	}
	// 12 h later: the next non-payment call refreshes
	clock.Add(12 * time.Hour)
	c.QueryOrder(ctx, "T1-0001")
	if n := s.count("/v3/global/certificates"); n != 2 {
		t.Fatalf("downloads after 12h %d", n)
	}
	// an unknown serial triggers one refresh, rate-limited
	clock.Add(2 * time.Minute)
	serial = "ABCDEF0123456789"
	o, _ = c.QueryOrder(ctx, "T1-0001")
	o2, _ := c.QueryOrder(ctx, "T1-0001")
	if o.Outcome != Unknown || o2.Outcome != Unknown {
		t.Fatalf("unknown serial trusted: %v %v", o.Outcome, o2.Outcome)
	}
	if n := s.count("/v3/global/certificates"); n != 3 {
		t.Fatalf("downloads after unknown serials %d (want exactly one more)", n)
	}
}

func TestV3_CertificateBootstrapFailureNotSent(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		if r.URL.Path == "/v3/global/certificates" {
			return v3Answer{status: 200, body: string(readVec(t, "certificates_response.json")), forge: true}
		}
		return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050)}
	})
	c := newV3Test(t, s, func(c *Config) {
		c.PlatformCerts = nil
		c.APIv3Key = vec(t, "aead_certificate").APIv3Key
	})
	_, err := c.MicroPay(context.Background(), testPay)
	if !errors.Is(err, ErrNotSent) {
		t.Fatalf("want ErrNotSent with a forged certificate list, got %v", err)
	}
	if n := s.count("/v3/global/micropay/transactions/pay"); n != 0 {
		t.Fatalf("payment sent without a verifiable key")
	}
}

func TestV3_PublicKeyMode(t *testing.T) {
	clock := newTestClock()
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		if r.Header.Get("Wechatpay-Serial") != "PUB_KEY_ID_0114" {
			t.Errorf("request Wechatpay-Serial %q", r.Header.Get("Wechatpay-Serial"))
		}
		return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050), serial: "PUB_KEY_ID_0114"}
	})
	c := newV3Test(t, s, func(c *Config) {
		c.PlatformCerts = nil
		c.PublicKey = &platformKey(t).PublicKey
		c.PublicKeyID = "PUB_KEY_ID_0114"
	})
	if o, err := c.MicroPay(context.Background(), testPay); err != nil || o.Outcome != Paid {
		t.Fatalf("%v %+v", err, o)
	}
	if !c.(CertificateExpirer).CertificateExpiry().IsZero() {
		t.Fatal("public-key mode has no certificate expiry")
	}
}

func TestV3_ConcurrentCallsShareOneBootstrap(t *testing.T) {
	clock := newTestClock()
	s := certServer(t, clock, func(r *http.Request) v3Answer {
		return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050)}
	})
	c := newV3Test(t, s, func(c *Config) {
		c.PlatformCerts = nil
		c.APIv3Key = vec(t, "aead_certificate").APIv3Key
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := c.QueryOrder(context.Background(), "T1-0001")
			if err != nil || o.Outcome != Paid {
				errs <- fmt.Errorf("%v %+v", err, o)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.count("/v3/global/certificates"); n != 1 {
		t.Fatalf("%d certificate downloads for one bootstrap", n)
	}
}

// TestV3_EscapedOrderNumberSignedAsSent: out_trade_no may hold |, * and @; the signed
// canonical URL must be byte for byte the request line WeChat receives.
func TestV3_EscapedOrderNumberSignedAsSent(t *testing.T) {
	clock := newTestClock()
	var got string
	s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
		got = r.URL.RequestURI()
		return v3Answer{status: 404, body: `{"code":"ORDER_NOT_EXIST","message":"no"}`}
	})
	c := newV3Test(t, s, nil)
	for _, no := range []string{"T1|A*B@C", "T1-_x"} {
		o, err := c.QueryOrder(context.Background(), no)
		if err != nil || o.Outcome != NotFound {
			t.Fatalf("%s: %v %+v (sent %s)", no, err, o, got)
		}
		rr, err := c.Reverse(context.Background(), no)
		if err != nil || rr.Outcome != NotFound {
			t.Fatalf("%s: reverse %v %+v (sent %s)", no, err, rr, got)
		}
	}
}
