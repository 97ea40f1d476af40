package engine_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// A cancelled sale's payment is being refunded (refund accepted, PROCESSING) when posd
// restarts. The resumed runner must carry on where it was: confirm the refund with
// refund queries, never reverse an order WeChat reports as REFUND, never send the refund
// twice.
func TestRestartMidCancelRefund(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accepted bool // the refund was accepted before the restart
	}{
		{"refund accepted", true},
		{"refund sent, no answer", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			var paid, refunded atomic.Bool
			h.wx.OnQuery = func(string, int) wxpay.Order {
				switch {
				case refunded.Load():
					return wxpay.Order{Outcome: wxpay.Refunded, TradeState: "REFUND", TransactionID: "4200000000000000001", Amount: 1500, Currency: "HKD"}
				case paid.Load():
					o := enginetest.Paid()
					o.Amount, o.Currency = 1500, "HKD"
					return o
				}
				return enginetest.Pending()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReversePaid() }
			var done atomic.Bool
			h.wx.OnRefund = func(req wxpay.RefundRequest, n int) wxpay.Refund {
				refunded.Store(true)
				if !tc.accepted && !done.Load() {
					return wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "SYSTEM_ERROR", HTTP: 500}}
				}
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundProcessing}
			}
			h.wx.OnQueryRefund = func(no string, n int) wxpay.Refund {
				if done.Load() {
					return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
				}
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundProcessing}
			}
			s := h.pay(1500)
			h.settle(1, nil)
			if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			paid.Store(true)
			for len(h.wx.CallsOf("refund")) == 0 {
				h.settle(1, nil)
				if _, ok := h.clk.AdvanceToNext(); !ok {
					t.Fatal("nothing waits")
				}
			}
			h.settle(1, nil)
			reverses := len(h.wx.CallsOf("reverse"))
			h.stop()
			h.clk.Advance(3 * time.Second)
			done.Store(true)
			h.start()
			s = h.drive(s.ID, 1, 10*time.Minute, final)
			if a := lastAttempt(s); a.State != engine.AttemptReversed || s.State != engine.SaleCancelled {
				t.Fatalf("sale %s attempt %s %+v", s.State, a.State, a.Error)
			}
			if n := len(h.wx.CallsOf("reverse")); n != reverses {
				t.Fatalf("%d reverses after the restart", n-reverses)
			}
			if n := len(h.wx.CallsOf("refund")); n != 1 && tc.accepted {
				t.Fatalf("%d refunds of an accepted refund, want 1", n)
			}
			for _, c := range h.wx.CallsOf("refund") {
				if c.RefundNo != lastAttempt(s).OutTradeNo+"C" {
					t.Fatalf("refund number %s", c.RefundNo)
				}
			}
		})
	}
}

// The refund of a cancelled sale's payment was accepted; then WeChat refuses the refund
// *query* (401 SIGN_ERROR, 403 NO_AUTH, an unknown 4xx). That says nothing about the
// refund, which may be paying out: it is not "failed", and nobody is told to give the
// money back another way.
func TestCancelRefundQueryRefused(t *testing.T) {
	for _, refusal := range []wxpay.Refund{
		{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "SIGN_ERROR", Message: "bad signature", HTTP: 401}},
		{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "NO_AUTH", Message: "no permission", HTTP: 403}},
		{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "SOMETHING_NEW", Message: "?", HTTP: 400}},
	} {
		t.Run(refusal.Error.Code, func(t *testing.T) {
			h := newHarness(t)
			h.runQueue()
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			var paid atomic.Bool
			h.wx.OnQuery = func(string, int) wxpay.Order {
				if paid.Load() {
					o := enginetest.Paid()
					o.Amount, o.Currency = 1500, "HKD"
					return o
				}
				return enginetest.Pending()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReversePaid() }
			h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundProcessing}
			}
			var refused atomic.Int64
			h.wx.OnQueryRefund = func(no string, n int) wxpay.Refund {
				if refused.Add(1) <= 3 {
					return refusal
				}
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
			}
			s := h.pay(1500)
			h.settle(1, nil)
			if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			paid.Store(true)
			for refused.Load() == 0 {
				h.settle(1, nil)
				if _, ok := h.clk.AdvanceToNext(); !ok {
					t.Fatal("nothing waits")
				}
			}
			h.settle(1, nil)
			jobs, _ := h.e.Jobs()
			for _, j := range jobs {
				if strings.Contains(j.Advice, "another way") {
					t.Fatalf("a refused refund query became advice to pay back another way: %+v", j)
				}
			}
			s = h.drive(s.ID, 1, time.Hour, final)
			if a := lastAttempt(s); a.State != engine.AttemptReversed {
				t.Fatalf("attempt %s %+v", a.State, a.Error)
			}
			if n := len(h.wx.CallsOf("refund")); n != 1 {
				t.Fatalf("%d refunds, want 1", n)
			}
		})
	}
}
