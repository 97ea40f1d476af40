package wxpaytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMicroPayPaid(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		r := d.pay("T01-1", newCode(), 3800)
		if r.err != nil || r.outcome != "SUCCESS" || !r.signOK {
			t.Fatalf("pay: %+v", r)
		}
		o := mustOrder(t, s, "T01-1")
		if o.State != StateSuccess || !o.WasPaid || o.Amount != 3800 || o.Currency != "HKD" || o.PayerCurrency != "HKD" {
			t.Fatalf("order: %+v", o)
		}
		if got := s.Captured(); got != 3800 {
			t.Fatalf("captured %d, want 3800", got)
		}
		clk.Advance(2 * time.Second)
		if q := d.query("T01-1"); q.outcome != "SUCCESS" || !q.signOK {
			t.Fatalf("query: %+v", q)
		}
		if v := s.Violations(); len(v) != 0 {
			t.Fatalf("violations: %v", v)
		}
		reqs := s.Requests()
		if len(reqs) != 2 || reqs[0].Endpoint != EPMicroPay || reqs[1].Endpoint != EPQuery || reqs[0].OutTradeNo != "T01-1" {
			t.Fatalf("requests: %+v", reqs)
		}
	})
}

func TestQueryUnknownOrder(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		if r := d.query("nope"); r.outcome != d.code("ORDERNOTEXIST") {
			t.Fatalf("query: %+v", r)
		}
	})
}

func TestUserPayingThenPaid(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPaying, For: 5 * time.Second})
		if r := d.pay("T-up", code, 1000); r.outcome != "USERPAYING" || !r.signOK {
			t.Fatalf("pay: %+v", r)
		}
		if _, ok := d.(v3driver); ok {
			if rs := s.Requests(); rs[0].Status != 202 {
				t.Fatalf("v3 USERPAYING status %d, want 202", rs[0].Status)
			}
		}
		clk.Advance(2 * time.Second)
		if r := d.query("T-up"); r.outcome != "USERPAYING" {
			t.Fatalf("query at 2s: %+v", r)
		}
		clk.Advance(3 * time.Second)
		if r := d.query("T-up"); r.outcome != "SUCCESS" {
			t.Fatalf("query at 5s: %+v", r)
		}
		if s.Captured() != 1000 {
			t.Fatalf("captured %d", s.Captured())
		}
	})
}

func TestUserPayingThenCancelled(t *testing.T) {
	for _, then := range []string{StatePayError, StateNotPay} {
		t.Run(then, func(t *testing.T) {
			forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
				code := newCode()
				s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPaying, For: 3 * time.Second, Then: then})
				d.pay("T-c", code, 1000)
				clk.Advance(4 * time.Second)
				if r := d.query("T-c"); r.outcome != then {
					t.Fatalf("query: %+v", r)
				}
				if s.Captured() != 0 {
					t.Fatal("money kept for a cancelled payment")
				}
			})
		})
	}
}

func TestUserPaying200Option(t *testing.T) {
	s, _ := newSim(t, Options{UserPaying200: true})
	c := newV3(t, s, "/v3/global", false)
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever})
	r := c.pay("T-200", code, 500)
	if r.status != 200 || r.str("trade_state") != "USERPAYING" || r.str("out_trade_no") != "T-200" {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	s2, _ := newSim(t, Options{})
	c2 := newV3(t, s2, "/v3/global", false)
	s2.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever})
	r = c2.pay("T-202", code, 500)
	if r.status != 202 || string(r.body) != `{"trade_state":"USERPAYING"}` {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
}

func TestUserPayingForeverReversed(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever})
		d.pay("T-f", code, 1000)
		clk.Advance(time.Hour)
		if r := d.query("T-f"); r.outcome != "USERPAYING" {
			t.Fatalf("query: %+v", r)
		}
		if r := d.reverse("T-f"); r.outcome != "REVOKED" || !r.signOK {
			t.Fatalf("reverse: %+v", r)
		}
		clk.Advance(time.Second)
		if r := d.query("T-f"); r.outcome != StateRevoked {
			t.Fatalf("query after reverse: %+v", r)
		}
		if hasViolation(s, RuleReverseTooEarly) {
			t.Fatal("a reverse after an hour is not early")
		}
		// Reverse is idempotent.
		if r := d.reverse("T-f"); r.outcome != "REVOKED" {
			t.Fatalf("second reverse: %+v", r)
		}
	})
}

func TestReverseOfPaidOrderGivesMoneyBack(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		d.pay("T-p", newCode(), 2500)
		clk.Advance(20 * time.Second)
		if r := d.reverse("T-p"); r.outcome != "REVOKED" {
			t.Fatalf("reverse: %+v", r)
		}
		if o := mustOrder(t, s, "T-p"); o.State != StateRevoked || !o.WasPaid || o.Kept() != 0 {
			t.Fatalf("order %+v", o)
		}
		if s.Captured() != 0 {
			t.Fatalf("captured %d", s.Captured())
		}
	})
}

func TestRuleReverseTooEarly(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever})
		d.pay("T-e", code, 1000)
		clk.Advance(14 * time.Second)
		d.reverse("T-e")
		if !hasViolation(s, RuleReverseTooEarly) {
			t.Fatalf("no violation: %v", s.Violations())
		}
	})
}

func TestRuleReverseExpired(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		d.pay("T-x", newCode(), 1000)
		clk.Advance(8 * 24 * time.Hour)
		r := d.reverse("T-x")
		if r.outcome != d.code("REVERSE_EXPIRE") {
			t.Fatalf("reverse: %+v", r)
		}
		if _, ok := d.(v2driver); ok {
			if r.recall != "N" {
				t.Fatalf("recall %q", r.recall)
			}
		} else if r.status != 400 {
			t.Fatalf("status %d", r.status)
		}
		if !hasViolation(s, RuleReverseExpired) || mustOrder(t, s, "T-x").State != StateSuccess {
			t.Fatal("expired reverse must be refused and recorded")
		}
	})
}

func TestRuleOutTradeNoReused(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		d.pay("T-r", code, 1000)
		// Same number, same code: an idempotent resubmission, not a violation.
		r := d.pay("T-r", code, 1000)
		if _, v2 := d.(v2driver); v2 && r.outcome != "ORDERPAID" || !v2 && r.outcome != "SUCCESS" {
			t.Fatalf("resubmit: %+v", r)
		}
		if len(s.Violations()) != 0 {
			t.Fatalf("violations: %v", s.Violations())
		}
		if r := d.pay("T-r", newCode(), 1000); r.outcome != d.code("OUT_TRADE_NO_USED") {
			t.Fatalf("other code: %+v", r)
		}
		if !hasViolation(s, RuleOutTradeNoReused) {
			t.Fatal("no violation for another code")
		}
		code2 := newCode()
		s.Script(Match{AuthCode: code2}, Fault{Kind: FaultUserPayingForever})
		d.pay("T-r2", code2, 1000)
		clk.Advance(20 * time.Second)
		d.reverse("T-r2")
		if r := d.pay("T-r2", code2, 1000); r.outcome != d.code("ORDERREVERSED") {
			t.Fatalf("after reverse: %+v", r)
		}
		code3 := newCode()
		s.Script(Match{AuthCode: code3}, Fault{Kind: FaultUserPaying, For: time.Second, Then: StateClosed})
		d.pay("T-r3", code3, 1000)
		clk.Advance(2 * time.Second)
		if r := d.pay("T-r3", code3, 1000); r.outcome != d.code("ORDERCLOSED") {
			t.Fatalf("after close: %+v", r)
		}
		n := 0
		for _, v := range s.Violations() {
			if v.Rule == RuleOutTradeNoReused {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("want 3 reuse violations: %v", s.Violations())
		}
	})
}

func TestRuleQueryRate(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		d.pay("T-q", newCode(), 100)
		d.query("T-q")
		clk.Advance(time.Second)
		d.query("T-q")
		if hasViolation(s, RuleQueryRate) {
			t.Fatal("one query per second is allowed")
		}
		clk.Advance(500 * time.Millisecond)
		d.query("T-q")
		if !hasViolation(s, RuleQueryRate) {
			t.Fatal("two queries within a second not recorded")
		}
	})
}

func TestAuthCodeSingleUse(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		d.pay("T-a1", code, 100)
		if r := d.pay("T-a2", code, 100); r.outcome != d.code("AUTH_CODE_INVALID") {
			t.Fatalf("reused code: %+v", r)
		}
		if r := d.pay("T-a3", "999", 100); r.outcome != d.code("AUTH_CODE_INVALID") {
			t.Fatalf("malformed code: %+v", r)
		}
	})
}

func TestFaultSystemError(t *testing.T) {
	for _, processed := range []bool{false, true} {
		forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
			code := newCode()
			s.Script(Match{AuthCode: code}, Fault{Kind: FaultSystemError, Processed: processed})
			r := d.pay("T-s", code, 700)
			if r.outcome != d.code("SYSTEMERROR") || !r.signOK {
				t.Fatalf("pay: %+v", r)
			}
			if _, v3 := d.(v3driver); v3 && r.status != 500 {
				t.Fatalf("status %d", r.status)
			}
			clk.Advance(5 * time.Second)
			q := d.query("T-s")
			if processed && q.outcome != "SUCCESS" || !processed && q.outcome != d.code("ORDERNOTEXIST") {
				t.Fatalf("processed=%v query: %+v", processed, q)
			}
		})
	}
}

func TestFaultBankError(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultBankError, Processed: true})
		if r := d.pay("T-b", code, 700); r.outcome != d.code("BANKERROR") {
			t.Fatalf("pay: %+v", r)
		}
		if q := d.query("T-b"); q.outcome != "SUCCESS" {
			t.Fatalf("query: %+v", q)
		}
	})
}

func TestFaultLostAndDrop(t *testing.T) {
	for _, k := range []FaultKind{FaultLost, FaultDrop} {
		forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
			code := newCode()
			s.Script(Match{AuthCode: code}, Fault{Kind: k})
			if r := d.pay("T-l", code, 700); r.err == nil {
				t.Fatalf("%s: got an answer: %+v", k, r)
			}
			_, exists := s.Order("T-l")
			if exists != (k == FaultLost) {
				t.Fatalf("%s: order exists=%v", k, exists)
			}
			// The connection is gone but the server is fine.
			if q := d.query("T-l"); q.err != nil {
				t.Fatalf("query after %s: %v", k, q.err)
			}
			if rs := s.Requests(); rs[0].Outcome != "dropped" || rs[0].Status != 0 {
				t.Fatalf("request record %+v", rs[0])
			}
		})
	}
}

func TestFaultHang(t *testing.T) {
	for _, processed := range []bool{false, true} {
		s, _ := newSim(t, Options{})
		c := newV3(t, s, "/v3/global", false)
		c.hc.Timeout = 150 * time.Millisecond
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultHang, Processed: processed})
		start := time.Now()
		r := c.pay("T-h", code, 100)
		var ne interface{ Timeout() bool }
		if r.err == nil || !errors.As(r.err, &ne) || !ne.Timeout() {
			t.Fatalf("want a client timeout, got %+v", r)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("hang did not end with the client's deadline")
		}
		_, exists := s.Order("T-h")
		if exists != processed {
			t.Fatalf("processed=%v but order exists=%v", processed, exists)
		}
	}
	// A hanging request does not block Close.
	s, _ := newSim(t, Options{})
	c := newV2(t, s, signMD5, false)
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultHang})
	done := make(chan v2resp)
	go func() { done <- c.pay("T-h2", code, 100) }()
	for !s.hanging() {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
	if r := <-done; r.err == nil {
		t.Fatalf("hung request answered: %+v", r)
	}
}

func TestFaultSlow(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV2(t, s, signHMAC, false)
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultSlow, Delay: 100 * time.Millisecond})
	start := time.Now()
	r := c.pay("T-slow", code, 100)
	if r.err != nil || r.fields["result_code"] != "SUCCESS" || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("slow answer %+v after %s", r, time.Since(start))
	}
}

func TestFaultHTTPAndRateLimit(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultHTTP, Status: 502}, Fault{Kind: FaultRateLimit, Endpoint: EPQuery})
		r := d.pay("T-5", code, 100)
		if r.status != 502 {
			t.Fatalf("pay: %+v", r)
		}
		if _, ok := s.Order("T-5"); ok {
			t.Fatal("unprocessed 502 created an order")
		}
		d.pay("T-5", code, 100) // the script's 502 is used up: this one pays
		q := d.query("T-5")
		if _, v3 := d.(v3driver); v3 {
			if q.status != 429 || q.outcome != "RATELIMIT_EXCEEDED" {
				t.Fatalf("query: %+v", q)
			}
		} else if q.outcome != "FREQUENCY_LIMITED" {
			t.Fatalf("query: %+v", q)
		}
		clk.Advance(time.Second)
		if q := d.query("T-5"); q.outcome != "SUCCESS" {
			t.Fatalf("query after the fault: %+v", q)
		}
	})
}

func TestFaultForged(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultForged})
		r := d.pay("T-forge", code, 100)
		if r.outcome != "SUCCESS" || r.signOK {
			t.Fatalf("forged answer must claim success with a bad signature: %+v", r)
		}
		if _, ok := s.Order("T-forge"); ok {
			t.Fatal("a forged success must not be a payment")
		}
		code2 := newCode()
		s.Script(Match{AuthCode: code2}, Fault{Kind: FaultForged, Processed: true})
		if r := d.pay("T-forge2", code2, 100); r.outcome != "SUCCESS" || r.signOK {
			t.Fatalf("processed forged: %+v", r)
		}
		if o := mustOrder(t, s, "T-forge2"); o.State != StateSuccess {
			t.Fatalf("order %+v", o)
		}
	})
}

func TestFaultReverseRetry(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever}, Fault{Kind: FaultReverseRetry, N: 2})
		d.pay("T-rr", code, 100)
		clk.Advance(16 * time.Second)
		for i := 0; i < 2; i++ {
			r := d.reverse("T-rr")
			if _, v2 := d.(v2driver); v2 {
				if r.outcome != "SYSTEMERROR" || r.recall != "Y" {
					t.Fatalf("try %d: %+v", i, r)
				}
			} else if r.status != 500 || r.outcome != "SYSTEM_ERROR" {
				t.Fatalf("try %d: %+v", i, r)
			}
			if o := mustOrder(t, s, "T-rr"); o.State != StateUserPaying {
				t.Fatalf("reversed too soon: %+v", o)
			}
			clk.Advance(2 * time.Second)
		}
		if r := d.reverse("T-rr"); r.outcome != "REVOKED" {
			t.Fatalf("third try: %+v", r)
		}
	})
}

func TestFaultFinalFailures(t *testing.T) {
	v3want := map[string]string{"NOTENOUGH": "NOT_ENOUGH", "AUTHCODEEXPIRE": "AUTHCODE_EXPIRE", "AUTH_CODE_INVALID": "AUTH_CODE_INVALID",
		"ORDERREVERSED": "ORDER_REVERSED", "TRADE_ERROR": "TRADE_ERROR", "NOTSUPORTCARD": "NOTSUPORTCARD"}
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		for i, code := range FinalFailCodes {
			ac := newCode()
			s.Script(Match{AuthCode: ac}, Fault{Kind: FaultFail, Code: code})
			no := "T-ff" + string(rune('a'+i))
			r := d.pay(no, ac, 100)
			want := d.code(code)
			if _, v3 := d.(v3driver); v3 && v3want[code] != "" {
				want = v3want[code]
			}
			if r.outcome != want || !r.signOK {
				t.Fatalf("%s: %+v", code, r)
			}
			if _, v3 := d.(v3driver); v3 && r.status < 400 {
				t.Fatalf("%s: status %d", code, r.status)
			}
			if o := mustOrder(t, s, no); o.State != StatePayError || o.WasPaid {
				t.Fatalf("%s: order %+v", code, o)
			}
		}
		if s.Captured() != 0 {
			t.Fatal("money moved on refusals")
		}
	})
}

func TestFaultMainlandWallet(t *testing.T) {
	forDialects(t, Options{CNYRate: 92000000}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		code := newCode()
		s.Script(Match{AuthCode: code}, Fault{Kind: FaultMainlandWallet})
		d.pay("T-cny", code, 10000)
		o := mustOrder(t, s, "T-cny")
		if o.PayerCurrency != "CNY" || o.PayerAmount != 9200 || o.ExchangeRate != 92000000 || o.Currency != "HKD" {
			t.Fatalf("order %+v", o)
		}
		if r, ok := d.(v2driver); ok {
			q := r.c.query("T-cny")
			if q.fields["cash_fee_type"] != "CNY" || q.fields["cash_fee"] != "9200" || q.fields["rate"] != "92000000" {
				t.Fatalf("v2 query %v", q.fields)
			}
		} else {
			q := d.(v3driver).c.query("T-cny")
			a := q.json["amount"].(map[string]any)
			if a["payer_currency"] != "CNY" || a["payer_total"].(float64) != 9200 {
				t.Fatalf("v3 query %s", q.body)
			}
		}
	})
}

func TestGlobalScriptAndOrderScriptByOutTradeNo(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	s.ScriptAll(Fault{Kind: FaultSystemError, N: -1})
	s.Script(Match{OutTradeNo: "T-own"}, Fault{Kind: FaultFail, Code: "NOTENOUGH"})
	if r := c.pay("T-g1", newCode(), 100); r.str("code") != "SYSTEM_ERROR" {
		t.Fatalf("global: %s", r.body)
	}
	if r := c.pay("T-g2", newCode(), 100); r.str("code") != "SYSTEM_ERROR" {
		t.Fatalf("global again: %s", r.body)
	}
	if r := c.pay("T-own", newCode(), 100); r.str("code") != "NOT_ENOUGH" {
		t.Fatalf("own script: %s", r.body)
	}
}

func TestOutage(t *testing.T) {
	for _, status := range []int{0, 503} {
		forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
			now := clk.Now()
			s.AddOutage(Outage{From: now.Add(10 * time.Second), Until: now.Add(70 * time.Second), Status: status})
			if r := d.pay("T-o1", newCode(), 100); r.outcome != "SUCCESS" {
				t.Fatalf("before the outage: %+v", r)
			}
			clk.Advance(30 * time.Second)
			r := d.pay("T-o2", newCode(), 100)
			if status == 0 && r.err == nil || status != 0 && r.status != status {
				t.Fatalf("during the outage: %+v", r)
			}
			if _, ok := s.Order("T-o2"); ok {
				t.Fatal("a request during an outage was processed")
			}
			clk.Advance(time.Minute)
			if r := d.query("T-o1"); r.outcome != "SUCCESS" {
				t.Fatalf("after the outage: %+v", r)
			}
		})
	}
}

func TestBadRequestSignatureV3(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	other, err := parseRSAKey(s.Credentials().PlatformKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c.key = other // signs with the wrong key
	r := c.pay("T-bad", newCode(), 100)
	if r.status != 401 || r.str("code") != "SIGN_ERROR" || c.verify(r, nil) != nil {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	if _, ok := s.Order("T-bad"); ok || !hasViolation(s, RuleBadSignature) {
		t.Fatal("bad signature must not be processed and must be recorded")
	}
	// Missing header, wrong scheme, tampered body.
	c.key, _ = parseRSAKey(s.Credentials().MerchantKeyPEM)
	for name, mut := range map[string]func(*http.Request){
		"missing": func(r *http.Request) { r.Header.Del("Authorization") },
		"scheme": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SHA256", 1))
		},
		"serial": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), s.Credentials().MerchantSerial, "00", 1))
		},
		"uri": func(r *http.Request) { r.URL.RawQuery = "mchid=1900000100&x=1" },
	} {
		r := c.doRaw("GET", "/v3/global/transactions/out-trade-no/T-1?mchid="+s.Credentials().MchID, nil, mut)
		if r.status != 401 || r.str("code") != "SIGN_ERROR" {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
}

func TestStaleRequestTimestamp(t *testing.T) {
	clk := newClock()
	s, _ := newSim(t, Options{Now: clk.Now, RequestSkew: 300 * time.Second})
	c := newV3(t, s, "/v3/global", false)
	uri := "/v3/global/transactions/out-trade-no/T-1?mchid=" + s.Credentials().MchID
	if r := c.doRaw("GET", uri, nil, nil); r.status != 404 {
		t.Fatalf("fresh request: %d %s", r.status, r.body)
	}
	c.tsOffset = -10 * time.Minute
	if r := c.doRaw("GET", uri, nil, nil); r.status != 401 || r.str("code") != "SIGN_ERROR" || !hasViolation(s, RuleStaleTimestamp) {
		t.Fatalf("stale request: %d %s", r.status, r.body)
	}
}

func TestV3VectorRequestAccepted(t *testing.T) {
	// The R1 vector (docs/wxpay-v3.md §6.6) signed by the vector generator: the sim must accept
	// these exact bytes on the legacy path.
	clk := &fakeClock{t: time.Unix(1554208460, 0)}
	s, _ := newSim(t, Options{Now: clk.Now, RequestSkew: 300 * time.Second})
	body := mustReadTestdata(t, "req1_body.json")
	vec := loadVectors(t)
	req, _ := http.NewRequest("POST", s.URL()+"/hk/v3/transactions/micropay", strings.NewReader(string(body)))
	req.Header.Set("Authorization", vec.Req1.Authorization)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient(t, s, false, 5*time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("vector request: %d", resp.StatusCode)
	}
	o := mustOrder(t, s, "TILL01-20240101-000001")
	if !o.Institutional || o.Amount != 3800 || o.DeviceID != "TILL01" || o.State != StateSuccess {
		t.Fatalf("order %+v", o)
	}
	// One changed byte in the body breaks it.
	req2, _ := http.NewRequest("POST", s.URL()+"/hk/v3/transactions/micropay", strings.NewReader(strings.Replace(string(body), "3800", "3801", 1)))
	req2.Header.Set("Authorization", vec.Req1.Authorization)
	resp2, err := httpClient(t, s, false, 5*time.Second).Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 401 {
		t.Fatalf("tampered vector: %d", resp2.StatusCode)
	}
}

func TestWrongMerchant(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	r := c.do("GET", "/transactions/out-trade-no/T-1?mchid=1234", nil)
	if r.status != 400 || !hasViolation(s, RuleWrongMerchant) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	v2 := newV2(t, s, signMD5, false)
	r2 := v2.call("/pay/orderquery", map[string]string{"out_trade_no": "x", "sub_mch_id": "999"})
	if r2.fields["err_code"] != "APPID_MCHID_NOT_MATCH" {
		t.Fatalf("v2 %s", r2.body)
	}
}

func TestHangingServerCloses(t *testing.T) {
	s := New(Options{})
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
	s.Close() // idempotent
}

// In memory (a RoundTripper calling ServeHTTP), a hang lasts until the request's context ends.
func TestFaultHangInMemory(t *testing.T) {
	s, _ := newSim(t, Options{})
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultHang, Processed: true})
	cr := s.Credentials()
	f := map[string]string{"appid": cr.AppID, "mch_id": cr.MchID, "nonce_str": "N", "body": "b", "out_trade_no": "T-mem",
		"total_fee": "100", "spbill_create_ip": "127.0.0.1", "auth_code": code}
	f["sign"] = v2Sign(f, cr.APIKey, signMD5)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest("POST", "/pay/micropay", bytes.NewReader(v2XML(f))).WithContext(ctx)
	w := &fuzzWriter{ResponseRecorder: httptest.NewRecorder()}
	start := time.Now()
	s.ServeHTTP(w, req)
	if d := time.Since(start); d < 90*time.Millisecond || !w.hijacked || w.Body.Len() != 0 {
		t.Fatalf("returned after %s, hijacked=%v, body %q", d, w.hijacked, w.Body)
	}
	if o := mustOrder(t, s, "T-mem"); o.State != StateSuccess {
		t.Fatalf("order %+v", o)
	}
}

// Order-shaping faults wait for the micropay that is carried out.
func TestBehaviourSurvivesUnprocessedMicroPay(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever}, Fault{Kind: FaultSystemError})
	if r := c.pay("T-bs", code, 100); r.str("code") != "SYSTEM_ERROR" {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	if r := c.pay("T-bs", code, 100); r.status != 202 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
}

// Every fault kind on every endpoint of both dialects gives an answer or a dropped
// connection: never a handler panic.
func TestEveryFaultOnEveryEndpoint(t *testing.T) {
	eps := []Endpoint{EPMicroPay, EPQuery, EPReverse, EPRefund, EPRefundQuery, EPStatement, EPCertificates}
	for _, api := range []string{"v3", "v2"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			s, clk := newSim(t, Options{})
			v3 := newV3(t, s, "/v3/global", false)
			v2 := newV2(t, s, signHMAC, true)
			i, sent := 0, 0
			for _, k := range FaultKinds() {
				for _, ep := range eps {
					i++
					// A timeout no busy machine reaches: a client that gave up before the
					// server read its request would never be recorded.
					v3.hc.Timeout, v2.hc.Timeout = 60*time.Second, 60*time.Second
					f := Fault{Kind: k, Endpoint: ep, Code: "NOTENOUGH", Delay: time.Millisecond, For: time.Second}
					no := fmt.Sprintf("T-%s-%d", api, i)
					date := clk.Now().In(hkt).Format("20060102")
					// A clean paid order, then the fault for every order without a script of
					// its own, then the one request it hits.
					s.ScriptAll()
					if api == "v3" {
						v3.pay(no, newCode(), 100)
					} else {
						v2.pay(no, newCode(), 100)
					}
					s.ScriptAll(f)
					if k == FaultHang {
						// A hung request lasts until the client gives up: this timeout only
						// bounds the test.
						v3.hc.Timeout, v2.hc.Timeout = 300*time.Millisecond, 300*time.Millisecond
					}
					sent += 2
					clk.Advance(20 * time.Second)
					switch {
					case api == "v3" && ep == EPMicroPay:
						v3.pay(no+"b", newCode(), 100)
					case api == "v3" && ep == EPQuery:
						v3.query(no)
					case api == "v3" && ep == EPReverse:
						v3.reverse(no)
					case api == "v3" && ep == EPRefund:
						v3.refund(no, "R"+no, 1, 100)
					case api == "v3" && ep == EPRefundQuery:
						v3.refund(no, "R"+no, 1, 100)
						sent++
						v3.do("GET", "/refunds/out-refund-no/R"+no+"?mchid="+s.Credentials().MchID, nil)
					case api == "v3" && ep == EPStatement:
						v3.do("GET", "/statements?date="+date+"&mchid="+s.Credentials().MchID, nil)
					case api == "v3" && ep == EPCertificates:
						v3.do("GET", "/certificates", nil)
					case ep == EPMicroPay:
						v2.pay(no+"b", newCode(), 100)
					case ep == EPQuery:
						v2.query(no)
					case ep == EPReverse:
						v2.reverse(no)
					case ep == EPRefund:
						v2.refund(no, "R"+no, 1, 100)
					case ep == EPRefundQuery:
						v2.refund(no, "R"+no, 1, 100)
						sent++
						v2.call("/pay/refundquery", map[string]string{"out_refund_no": "R" + no})
					case ep == EPStatement:
						v2.call("/pay/downloadbill", map[string]string{"bill_date": date})
					default:
						sent-- // v2 has no certificates endpoint
					}
				}
			}
			// A handler panic leaves no record: every request sent must be in the log (hung
			// ones are recorded once the server notices the client left).
			deadline := time.Now().Add(5 * time.Second)
			for len(s.Requests()) < sent && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			// Go's transport may resend an idempotent GET once after a dropped connection.
			if got := len(s.Requests()); got < sent {
				t.Fatalf("%s: %d requests recorded, %d sent", api, got, sent)
			}
			if p := s.handlerPanics(); len(p) != 0 {
				t.Fatalf("%s: handler panics: %v", api, p)
			}
			for _, r := range s.Requests() {
				if r.Status == 0 && r.Outcome != "dropped" && r.Outcome != "hung" && r.Outcome != "gave up while slow" {
					t.Fatalf("%s: %+v", api, r)
				}
			}
		})
	}
}

// A slow uplink: the micropay reaches WeChat 8 s after it was sent. The order is created
// on arrival, and the 15 s reverse rule counts from there: a reverse 15 s after the send
// is 7 s after the order (a violation); 15 s after the order is fine.
func TestFaultSlowUplink(t *testing.T) {
	for _, dialect := range []string{"v3-global", "v2-hmac"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s := New(Options{Now: clk.Now, Sleep: func(_ context.Context, d time.Duration) bool { clk.Advance(d); return true }})
			t.Cleanup(s.Close)
			var d driver = v2driver{newV2(t, s, signHMAC, true)}
			if dialect == "v3-global" {
				d = v3driver{newV3(t, s, "/v3/global", false)}
			}
			for i, tc := range []struct {
				reverseAfterSend time.Duration
				violation        bool
			}{{15 * time.Second, true}, {23 * time.Second, false}} {
				code := newCode()
				s.Script(Match{AuthCode: code}, Fault{Kind: FaultSlowUplink, Delay: 8 * time.Second}, Fault{Kind: FaultUserPayingForever})
				no := fmt.Sprintf("T-up-%d", i)
				sent := clk.Now()
				if r := d.pay(no, code, 1000); r.outcome != "USERPAYING" {
					t.Fatalf("pay: %+v", r)
				}
				if o := mustOrder(t, s, no); !o.Created.Equal(sent.Add(8 * time.Second)) {
					t.Fatalf("order created at send+%v, want +8s", o.Created.Sub(sent))
				}
				before := len(s.Violations())
				clk.Advance(tc.reverseAfterSend - clk.Now().Sub(sent))
				d.reverse(no)
				if got := len(s.Violations()) > before && hasViolation(s, RuleReverseTooEarly); got != tc.violation {
					t.Fatalf("reverse %v after the send: violation %v, want %v (%v)", tc.reverseAfterSend, got, tc.violation, s.Violations())
				}
			}
		})
	}
}

// A client that gives up while its request is on a slow uplink: the request never
// arrived, so there is no order.
func TestFaultSlowUplinkClientGivesUp(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV2(t, s, signHMAC, true)
	c.hc.Timeout = 100 * time.Millisecond
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultSlowUplink, Delay: 5 * time.Second})
	c.pay("T-up-gone", code, 1000)
	if _, ok := s.Order("T-up-gone"); ok {
		t.Fatal("an order was created for a request that never arrived")
	}
}

// Options.RateLimits: per second of the sim clock, requests over the merchant's limit are
// answered FREQUENCY_LIMITED (v3 429 RATELIMIT_EXCEEDED) and not carried out; the next
// second has a fresh budget; endpoints count separately.
func TestRateLimits(t *testing.T) {
	forDialects(t, Options{RateLimits: map[Endpoint]int{EPQuery: 2, EPMicroPay: 1}}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		limitedCode := "FREQUENCY_LIMITED"
		_, v3 := d.(v3driver)
		if v3 {
			limitedCode = "RATELIMIT_EXCEEDED"
		}
		if r := d.pay("T-rl-1", newCode(), 1000); r.outcome != "SUCCESS" {
			t.Fatalf("first pay: %+v", r)
		}
		if r := d.pay("T-rl-2", newCode(), 1000); r.outcome != limitedCode {
			t.Fatalf("second pay in the same second: %+v, want %s", r, limitedCode)
		}
		if _, ok := s.Order("T-rl-2"); ok {
			t.Fatal("a rate-limited micropay created an order")
		}
		clk.Advance(1500 * time.Millisecond)
		for i, want := range []string{"SUCCESS", d.code("ORDERNOTEXIST"), limitedCode} {
			no := "T-rl-1"
			if i == 1 {
				no = "nope"
			}
			if r := d.query(no); r.outcome != want {
				t.Fatalf("query %d: %+v, want %s", i, r, want)
			}
		}
		clk.Advance(time.Second)
		if r := d.query("nope"); r.outcome != d.code("ORDERNOTEXIST") {
			t.Fatalf("query in the next second: %+v", r)
		}
		limited := 0
		for _, r := range s.Requests() {
			if strings.HasPrefix(r.Fault, "ratelimit@") {
				limited++
				if v3 && r.Status != 429 {
					t.Errorf("v3 rate-limited answer status %d", r.Status)
				}
			}
		}
		if limited != 2 {
			t.Fatalf("%d rate-limited requests, want 2: %+v", limited, s.Requests())
		}
	})
}
