package engine_test

import (
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// Every micropay outcome: the state right after it, and the next call and when.
func TestTransitionsMicroPay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    wxpay.Order
		state     engine.AttemptState
		sale      engine.SaleState
		phase     engine.Phase
		nextCall  string
		nextAfter time.Duration
	}{
		{"paid", enginetest.Paid(), engine.AttemptPaid, engine.SalePaid, "", "", 0},
		{"failed", enginetest.Failed("NOTENOUGH", "Balance too low"), engine.AttemptFailed, engine.SaleAwaitingScan, "", "", 0},
		{"pending", enginetest.Pending(), engine.AttemptPaying, engine.SalePaying, engine.PhaseWaitingCustomer, "query", time.Second},
		{"system error", enginetest.SystemError(), engine.AttemptPaying, engine.SalePaying, engine.PhaseQuerying, "query", 5 * time.Second},
		{"no answer", enginetest.Silent(), engine.AttemptPaying, engine.SalePaying, engine.PhaseQuerying, "query", 5 * time.Second},
		{"closed (odd for a new order)", enginetest.Revoked(), engine.AttemptPaying, engine.SalePaying, engine.PhaseQuerying, "query", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return tc.answer }
			h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Pending() }
			s := h.pay(100)
			t0 := lastAttempt(s).StartedAt
			h.settle(1, nil)
			s = h.sale(s.ID)
			a := lastAttempt(s)
			if a.State != tc.state || s.State != tc.sale || a.Phase != tc.phase {
				t.Fatalf("after micropay: attempt %s/%q sale %s, want %s/%q %s", a.State, a.Phase, s.State, tc.state, tc.phase, tc.sale)
			}
			if tc.state == engine.AttemptFailed && (a.Error == nil || a.Error.Message != "Balance too low") {
				t.Fatalf("error %+v", a.Error)
			}
			if tc.nextCall == "" {
				if h.clk.Waiters() != 0 {
					t.Fatal("a final attempt still waits for something")
				}
				return
			}
			h.clk.AdvanceToNext()
			h.settle(1, nil)
			calls := h.wx.Calls()
			if c := calls[1]; c.Method != tc.nextCall || c.At.Sub(t0) != tc.nextAfter {
				t.Fatalf("next call %s at +%v, want %s at +%v", c.Method, c.At.Sub(t0), tc.nextCall, tc.nextAfter)
			}
		})
	}
}

// Every query outcome while the customer confirms (before the deadline).
func TestTransitionsQuery(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    wxpay.Order
		state     engine.AttemptState
		phase     engine.Phase
		nextAfter time.Duration // after the query; 0: final
	}{
		{"paid", enginetest.Paid(), engine.AttemptPaid, "", 0},
		{"refund started (was paid)", wxpay.Order{Outcome: wxpay.Refunded, TradeState: "REFUND", TransactionID: "42"}, engine.AttemptPaid, "", 0},
		{"payerror", wxpay.Order{Outcome: wxpay.Failed, TradeState: "PAYERROR", Error: &wxpay.Error{Code: "PAYERROR", Message: "bank refused", HTTP: 200}}, engine.AttemptFailed, "", 0},
		{"revoked", enginetest.Revoked(), engine.AttemptReversed, "", 0},
		{"still paying", enginetest.Pending(), engine.AttemptPaying, engine.PhaseWaitingCustomer, time.Second},
		{"notpay", enginetest.NotPaid(), engine.AttemptPaying, engine.PhaseQuerying, time.Second},
		{"not found yet", enginetest.NotFound(), engine.AttemptPaying, engine.PhaseQuerying, time.Second},
		{"system error", enginetest.SystemError(), engine.AttemptPaying, engine.PhaseQuerying, 2 * time.Second},
		{"no answer", enginetest.Silent(), engine.AttemptPaying, engine.PhaseQuerying, 2 * time.Second},
		{"query refused (not about the payment)", enginetest.Failed("SIGN_ERROR", "bad signature"), engine.AttemptPaying, engine.PhaseQuerying, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			h.wx.OnQuery = func(otn string, n int) wxpay.Order {
				if n == 1 {
					return tc.answer
				}
				return enginetest.Pending()
			}
			s := h.pay(100)
			h.settle(1, nil)
			h.clk.AdvanceToNext() // the first query
			h.settle(1, nil)
			s = h.sale(s.ID)
			a := lastAttempt(s)
			if a.State != tc.state || a.Phase != tc.phase {
				t.Fatalf("after query: %s/%q, want %s/%q", a.State, a.Phase, tc.state, tc.phase)
			}
			if tc.nextAfter == 0 {
				return
			}
			q1 := h.wx.CallsOf("query")[0].At
			h.clk.AdvanceToNext()
			h.settle(1, nil)
			q := h.wx.CallsOf("query")
			if len(q) != 2 || q[1].At.Sub(q1) != tc.nextAfter {
				t.Fatalf("second query %v after the first, want %v", offsets(q, q1), tc.nextAfter)
			}
		})
	}
}

// Every reverse outcome at the deadline.
func TestTransitionsReverse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(n int) wxpay.ReverseResult
		query  func(reversed bool) wxpay.Order // after the first reverse
		state  engine.AttemptState
		sale   engine.SaleState
		checks func(t *testing.T, h *harness, a engine.Attempt)
	}{
		{"reversed, confirmed", func(int) wxpay.ReverseResult { return enginetest.ReverseOK() },
			func(bool) wxpay.Order { return enginetest.Revoked() }, engine.AttemptReversed, engine.SaleAwaitingScan, nil},
		{"recall=Y twice, then reversed", func(n int) wxpay.ReverseResult {
			if n <= 2 {
				return enginetest.ReverseRecall()
			}
			return enginetest.ReverseOK()
		}, func(bool) wxpay.Order { return enginetest.Revoked() }, engine.AttemptReversed, engine.SaleAwaitingScan,
			func(t *testing.T, h *harness, a engine.Attempt) {
				r := h.wx.CallsOf("reverse")
				if len(r) != 3 {
					t.Fatalf("%d reverses", len(r))
				}
				for i := 1; i < len(r); i++ {
					if gap := r[i].At.Sub(r[i-1].At); gap < time.Second || gap > 10*time.Second {
						t.Fatalf("reverse retry after %v: want a backoff of seconds", gap)
					}
				}
			}},
		{"refused because paid: it is paid", func(int) wxpay.ReverseResult { return enginetest.ReversePaid() },
			func(bool) wxpay.Order { return enginetest.Paid() }, engine.AttemptPaid, engine.SalePaid, nil},
		{"reversed but still open: reverse again", func(int) wxpay.ReverseResult { return enginetest.ReverseOK() },
			func() func(bool) wxpay.Order {
				n := 0
				return func(bool) wxpay.Order {
					n++
					if n == 1 {
						return enginetest.NotPaid()
					}
					return enginetest.Revoked()
				}
			}(), engine.AttemptReversed, engine.SaleAwaitingScan,
			func(t *testing.T, h *harness, a engine.Attempt) {
				if n := len(h.wx.CallsOf("reverse")); n != 2 {
					t.Fatalf("%d reverses, want 2", n)
				}
			}},
		{"refused for good (certificate): a person looks", func(int) wxpay.ReverseResult {
			return wxpay.ReverseResult{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "INVALID_REQUEST", Message: "cert", HTTP: 200}}
		}, func(bool) wxpay.Order { return enginetest.Pending() }, engine.AttemptUnresolved, engine.SalePaying,
			func(t *testing.T, h *harness, a engine.Attempt) {
				jobs, _ := h.e.Jobs()
				if len(jobs) != 1 || !jobs[0].Attention || jobs[0].Advice == "" {
					t.Fatalf("jobs %+v", jobs)
				}
			}},
		{"no answer five times: durable queue", func(int) wxpay.ReverseResult { return enginetest.ReverseSilent() },
			func(bool) wxpay.Order { return enginetest.Pending() }, engine.AttemptUnresolved, engine.SalePaying,
			func(t *testing.T, h *harness, a engine.Attempt) {
				if n := len(h.wx.CallsOf("reverse")); n != 5 {
					t.Fatalf("%d reverses, want 5", n)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			reversed := false
			h.wx.OnQuery = func(string, int) wxpay.Order {
				if !reversed {
					return enginetest.Pending()
				}
				return tc.query(true)
			}
			h.wx.OnReverse = func(otn string, n int) wxpay.ReverseResult { reversed = true; return tc.answer(n) }
			s := h.pay(100)
			s = h.drive(s.ID, 1, 5*time.Minute, func(a engine.Attempt) bool { return a.State.Final() || a.State == engine.AttemptUnresolved })
			a := lastAttempt(s)
			if a.State != tc.state || s.State != tc.sale {
				t.Fatalf("attempt %s sale %s, want %s %s", a.State, s.State, tc.state, tc.sale)
			}
			if r := h.wx.CallsOf("reverse"); len(r) == 0 || r[0].At.Sub(a.StartedAt) != 30*time.Second {
				t.Fatalf("first reverse at %v", offsets(r, a.StartedAt))
			}
			checkQuerySpacing(t, h.wx.Calls())
			if tc.checks != nil {
				tc.checks(t, h, a)
			}
		})
	}
}
