package wxpay

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testNotifyURL = "https://shop.example.com/wxpay/notify"

// testNative expires 10 minutes after the test clock's start (2027-03-01 10:00 HKT).
var testNative = NativeRequest{OutTradeNo: "T1-Q0001", Amount: 1050, Currency: "HKD", Description: "Shop-Grocery",
	TimeExpire: time.Date(2027, 3, 1, 10, 10, 0, 0, hongKong)}

const testCodeURL = "weixin://wxpay/bizpayurl?pr=Abc123x"

func nativeClient(t *testing.T, c Client) NativeClient {
	t.Helper()
	n, ok := c.(NativeClient)
	if !ok {
		t.Fatalf("%T does not implement NativeClient", c)
	}
	return n
}

func TestV3_NativeRequest(t *testing.T) {
	for _, api := range []string{APIv3Global, APIv3HK} {
		for _, inst := range []bool{false, true} {
			clock := newTestClock()
			s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
				return v3Answer{status: 200, body: `{"code_url":"` + testCodeURL + `"}`}
			})
			c := nativeClient(t, newV3Test(t, s, func(c *Config) {
				c.API, c.NotifyURL, c.DeviceID = api, testNotifyURL, "TILL01"
				if inst {
					c.SubMchID = "1900000110"
				}
			}))
			// An expiry given in UTC is sent in UTC+8.
			req := testNative
			req.TimeExpire = req.TimeExpire.UTC()
			n, err := c.NativeOrder(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if n.Outcome != NotPaid || n.CodeURL != testCodeURL || n.Error != nil {
				t.Fatalf("%s inst=%v: %+v", api, inst, n)
			}
			want := map[string]string{APIv3Global: "/v3/global/transactions/native", APIv3HK: "/hk/v3/transactions/native"}[api]
			if s.last.URL.Path != want || s.last.Method != http.MethodPost {
				t.Fatalf("%s %s", s.last.Method, s.last.URL.Path)
			}
			var got map[string]any
			if err := json.Unmarshal(s.lastBody, &got); err != nil {
				t.Fatal(err)
			}
			if got["trade_type"] != "NATIVE" || got["notify_url"] != testNotifyURL || got["time_expire"] != "2027-03-01T10:10:00+08:00" ||
				got["out_trade_no"] != "T1-Q0001" || got["merchant_category_code"] != "5411" || got["description"] != "Shop-Grocery" {
				t.Fatalf("body %s", s.lastBody)
			}
			if amt := got["amount"].(map[string]any); amt["total"] != 1050.0 || amt["currency"] != "HKD" {
				t.Fatalf("amount %v", amt)
			}
			if _, hasCode := got["payer"]; hasCode {
				t.Fatalf("a native order carries no payer: %s", s.lastBody)
			}
			if inst && (got["sp_mchid"] != "1900000109" || got["sub_mchid"] != "1900000110" || got["mchid"] != nil) ||
				!inst && (got["mchid"] != "1900000109" || got["appid"] != "wx8888888888888888" || got["sub_mchid"] != nil) {
				t.Fatalf("mode fields inst=%v: %s", inst, s.lastBody)
			}
		}
	}
}

func TestV3_NativeAnswers(t *testing.T) {
	cases := []struct {
		name string
		a    v3Answer
		want Outcome
		code string
	}{
		{"code_url", v3Answer{status: 200, body: `{"code_url":"` + testCodeURL + `"}`}, NotPaid, ""},
		{"no code_url", v3Answer{status: 200, body: `{}`}, Unknown, CodeBadResponse},
		{"not a weixin url", v3Answer{status: 200, body: `{"code_url":"https://evil.example/pay"}`}, Unknown, CodeBadResponse},
		{"not JSON", v3Answer{status: 200, body: `<html>`}, Unknown, CodeBadResponse},
		{"forged", v3Answer{status: 200, body: `{"code_url":"` + testCodeURL + `"}`, forge: true}, Unknown, CodeBadSignature},
		{"unsigned", v3Answer{status: 200, body: `{"code_url":"` + testCodeURL + `"}`, unsigned: true}, Unknown, CodeBadSignature},
		{"already paid", v3Answer{status: 403, body: `{"code":"ORDER_PAID","message":"paid"}`}, Paid, "ORDER_PAID"},
		{"closed", v3Answer{status: 403, body: `{"code":"ORDER_CLOSED","message":"closed"}`}, Reversed, "ORDER_CLOSED"},
		{"param error", v3Answer{status: 400, body: `{"code":"PARAM_ERROR","message":"bad"}`}, Failed, "PARAM_ERROR"},
		{"no auth", v3Answer{status: 403, body: `{"code":"NO_AUTH","message":"no"}`}, Failed, "NO_AUTH"},
		{"used", v3Answer{status: 400, body: `{"code":"OUT_TRADE_NO_USED","message":"used"}`}, Unknown, "OUT_TRADE_NO_USED"},
		{"unknown refusal", v3Answer{status: 403, body: `{"code":"SOMETHING_NEW","message":"?"}`}, Unknown, "SOMETHING_NEW"},
		{"system error", v3Answer{status: 500, body: `{"code":"SYSTEM_ERROR","message":"x"}`}, Unknown, "SYSTEM_ERROR"},
		{"rate limited", v3Answer{status: 429, body: `{"code":"RATELIMIT_EXCEEDED","message":"x"}`}, Unknown, "RATELIMIT_EXCEEDED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newV3Server(t, newTestClock(), func(*http.Request, []byte) v3Answer { return tc.a })
			c := nativeClient(t, newV3Test(t, s, func(c *Config) { c.NotifyURL = testNotifyURL }))
			n, err := c.NativeOrder(context.Background(), testNative)
			if err != nil {
				t.Fatal(err)
			}
			if n.Outcome != tc.want || (tc.code != "" && (n.Error == nil || n.Error.Code != tc.code)) || (tc.want != NotPaid && n.CodeURL != "") {
				t.Fatalf("got %v %+v, want %v %s", n.Outcome, n.Error, tc.want, tc.code)
			}
			if n.Error != nil && n.Error.Message == "" {
				t.Fatal("no cashier sentence")
			}
		})
	}
}

func TestNative_NotSent(t *testing.T) {
	s := newV3Server(t, newTestClock(), func(*http.Request, []byte) v3Answer {
		return v3Answer{status: 200, body: `{"code_url":"` + testCodeURL + `"}`}
	})
	cases := []struct {
		name   string
		notify string
		mod    func(*NativeRequest)
	}{
		{"no notify_url", "", nil},
		{"no time_expire", testNotifyURL, func(r *NativeRequest) { r.TimeExpire = time.Time{} }},
		{"time_expire too close", testNotifyURL, func(r *NativeRequest) { r.TimeExpire = time.Date(2027, 3, 1, 10, 0, 30, 0, hongKong) }},
		{"time_expire past", testNotifyURL, func(r *NativeRequest) { r.TimeExpire = time.Date(2027, 3, 1, 9, 0, 0, 0, hongKong) }},
		{"no amount", testNotifyURL, func(r *NativeRequest) { r.Amount = 0 }},
		{"bad out_trade_no", testNotifyURL, func(r *NativeRequest) { r.OutTradeNo = "a b" }},
		{"no description", testNotifyURL, func(r *NativeRequest) { r.Description = "" }},
	}
	for _, tc := range cases {
		c := nativeClient(t, newV3Test(t, s, func(c *Config) { c.NotifyURL = tc.notify }))
		req := testNative
		if tc.mod != nil {
			tc.mod(&req)
		}
		if _, err := c.NativeOrder(context.Background(), req); err == nil {
			t.Errorf("%s: sent", tc.name)
		}
	}
	if n := s.count("/v3/global/transactions/native"); n != 0 {
		t.Fatalf("%d requests left the till", n)
	}
}

func TestCheckNotifyURL(t *testing.T) {
	good := []string{testNotifyURL, "http://shop.example.com/n", "https://203.0.113.7/pay/notify"}
	bad := []string{"", "shop.example.com/n", "ftp://shop.example.com/n", "https://shop.example.com", "https://shop.example.com/",
		"https://shop.example.com/n?till=1", "http://127.0.0.1/notify", "http://localhost/notify", "http://192.168.1.5/notify",
		"http://10.0.0.1/notify", "./PayNotify.aspx", "https:///path"}
	for _, u := range good {
		if err := CheckNotifyURL(u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := CheckNotifyURL(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestV3_Close(t *testing.T) {
	cases := []struct {
		name string
		a    v3Answer
		want Outcome
	}{
		{"closed", v3Answer{status: 204}, Reversed},
		{"forged", v3Answer{status: 204, forge: true}, Unknown},
		{"paid", v3Answer{status: 403, body: `{"code":"ORDER_PAID","message":"paid"}`}, Paid},
		{"paid v2 spelling", v3Answer{status: 400, body: `{"code":"ORDERPAID","message":"paid"}`}, Paid},
		{"already closed", v3Answer{status: 403, body: `{"code":"ORDER_CLOSED","message":"closed"}`}, Reversed},
		{"not found", v3Answer{status: 404, body: `{"code":"ORDER_NOT_EXIST","message":"none"}`}, NotFound},
		{"not found, no code", v3Answer{status: 404, body: `{}`}, NotFound},
		{"system error", v3Answer{status: 500, body: `{"code":"SYSTEM_ERROR","message":"x"}`}, Unknown},
		{"bad request", v3Answer{status: 400, body: `{"code":"INVALID_REQUEST","message":"x"}`}, Failed},
	}
	for _, api := range []string{APIv3Global, APIv3HK} {
		for _, tc := range cases {
			s := newV3Server(t, newTestClock(), func(*http.Request, []byte) v3Answer { return tc.a })
			c := nativeClient(t, newV3Test(t, s, func(c *Config) { c.API = api }))
			cr, err := c.CloseOrder(context.Background(), "T1-Q0001")
			if err != nil {
				t.Fatal(err)
			}
			if cr.Outcome != tc.want {
				t.Errorf("%s %s: %v %+v, want %v", api, tc.name, cr.Outcome, cr.Error, tc.want)
			}
			want := map[string]string{APIv3Global: "/v3/global/transactions/out-trade-no/T1-Q0001/close", APIv3HK: "/hk/v3/transactions/out-trade-no/T1-Q0001/close"}[api]
			if s.last.URL.Path != want || string(s.lastBody) != `{"mchid":"1900000109"}` {
				t.Fatalf("%s %s", s.last.URL.Path, s.lastBody)
			}
		}
	}
}

func TestV2_Native(t *testing.T) {
	ok := fieldsOf("result_code", "SUCCESS", "trade_type", "NATIVE", "prepay_id", "wx2016", "code_url", testCodeURL)
	cases := []struct {
		name string
		a    v2Answer
		want Outcome
	}{
		{"code_url", v2Answer{fields: ok}, NotPaid},
		{"forged", v2Answer{fields: ok, forge: true}, Unknown},
		{"unsigned", v2Answer{fields: ok, nosign: true}, Unknown},
		{"no code_url", v2Answer{fields: fieldsOf("result_code", "SUCCESS", "trade_type", "NATIVE")}, Unknown},
		{"other trade type", v2Answer{fields: fieldsOf("result_code", "SUCCESS", "trade_type", "JSAPI", "code_url", testCodeURL)}, Unknown},
		{"paid", v2Answer{fields: failFields("ORDERPAID")}, Paid},
		{"closed", v2Answer{fields: failFields("ORDERCLOSED")}, Reversed},
		{"system error", v2Answer{fields: failFields("SYSTEMERROR")}, Unknown},
		{"used", v2Answer{fields: failFields("OUT_TRADE_NO_USED")}, Unknown},
		{"no auth", v2Answer{fields: failFields("NOAUTH")}, Failed},
		{"param", v2Answer{fields: failFields("PARAM_ERROR")}, Failed},
		{"unknown code", v2Answer{fields: failFields("WHATEVER")}, Unknown},
		{"http 502", v2Answer{status: 502, raw: []byte("bad gateway")}, Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newV2Server(t, func(path string, req v2Fields) v2Answer { return tc.a })
			c := nativeClient(t, newV2Test(t, s, func(c *Config) { c.NotifyURL = testNotifyURL; c.SubMchID = "1900000110" }))
			n, err := c.NativeOrder(context.Background(), testNative)
			if err != nil {
				t.Fatal(err)
			}
			if n.Outcome != tc.want || (tc.want == NotPaid) != (n.CodeURL == testCodeURL) {
				t.Fatalf("%v %q %+v, want %v", n.Outcome, n.CodeURL, n.Error, tc.want)
			}
			r := s.last
			if s.paths["/pay/unifiedorder"] != 1 || r.get("trade_type") != "NATIVE" || r.get("notify_url") != testNotifyURL ||
				r.get("time_expire") != "20270301101000" || r.get("product_id") != "T1-Q0001" || r.get("total_fee") != "1050" ||
				r.get("fee_type") != "HKD" || r.get("spbill_create_ip") == "" || r.get("sub_mch_id") != "1900000110" || r.get("auth_code") != "" {
				t.Fatalf("request %v", r)
			}
			if s.certs["/pay/unifiedorder"] != 0 {
				t.Fatal("client certificate sent to unifiedorder")
			}
		})
	}
}

func TestV2_Close(t *testing.T) {
	cases := []struct {
		a    v2Answer
		want Outcome
	}{
		{v2Answer{fields: fieldsOf("result_code", "SUCCESS")}, Reversed},
		{v2Answer{fields: fieldsOf("result_code", "SUCCESS"), forge: true}, Unknown},
		{v2Answer{fields: failFields("ORDERPAID")}, Paid},
		{v2Answer{fields: failFields("ORDERCLOSED")}, Reversed},
		{v2Answer{fields: failFields("ORDERNOTEXIST")}, NotFound},
		{v2Answer{fields: failFields("SYSTEMERROR")}, Unknown},
		{v2Answer{fields: failFields("SIGNERROR")}, Failed},
		{v2Answer{fields: failFields("UNDOCUMENTED")}, Unknown},
	}
	for _, tc := range cases {
		s := newV2Server(t, func(path string, req v2Fields) v2Answer { return tc.a })
		c := nativeClient(t, newV2Test(t, s, nil))
		cr, err := c.CloseOrder(context.Background(), "T1-Q0001")
		if err != nil {
			t.Fatal(err)
		}
		if cr.Outcome != tc.want || s.paths["/pay/closeorder"] != 1 || s.last.get("out_trade_no") != "T1-Q0001" {
			t.Errorf("%v: got %v %+v, want %v", tc.a.fields, cr.Outcome, cr.Error, tc.want)
		}
	}
}

// FuzzNativeAnswer: no answer body panics either parser, and a code_url only comes out
// of an answer that carries a weixin:// URL (v3) or a NATIVE success (v2).
func FuzzNativeAnswer(f *testing.F) {
	f.Add([]byte(`{"code_url":"`+testCodeURL+`"}`), []byte(`<xml><result_code>SUCCESS</result_code><trade_type>NATIVE</trade_type><code_url><![CDATA[`+testCodeURL+`]]></code_url></xml>`))
	f.Add([]byte(`{"code_url":"weixin://x y"}`), []byte(`<xml><result_code>FAIL</result_code><err_code>ORDERPAID</err_code></xml>`))
	f.Add([]byte(`{"code_url":123}`), []byte(`<xml><result_code>SUCCESS</result_code></xml>`))
	f.Fuzz(func(t *testing.T, v3body, v2body []byte) {
		n := parseV3Native(NativeOrder{}, v3body, 200)
		if n.Outcome == NotPaid && !strings.HasPrefix(n.CodeURL, "weixin://") || n.Outcome != NotPaid && n.CodeURL != "" {
			t.Fatalf("v3 %q: %+v", v3body, n)
		}
		if n.Outcome != NotPaid && (n.Error == nil || n.Error.Message == "") {
			t.Fatalf("v3 %q: no cashier sentence", v3body)
		}
		fields, err := decodeV2XML(v2body)
		if err != nil {
			return
		}
		m := v2NativeAnswer(fields, nil)
		if m.Outcome == NotPaid && (fields.get("result_code") != "SUCCESS" || !validCodeURL(m.CodeURL)) || m.Outcome != NotPaid && m.CodeURL != "" {
			t.Fatalf("v2 %q: %+v", v2body, m)
		}
		c := v2CloseAnswer(fields, nil)
		if c.Outcome == Reversed && fields.get("result_code") != "SUCCESS" && fields.get("err_code") != "ORDERCLOSED" {
			t.Fatalf("v2 close %q: closed", v2body)
		}
	})
}
