package engine_test

import (
	"sync/atomic"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// A reverse refused because the order is paid means it is paid (payment-policy.md §2).
// If the confirming query then gets an unclear answer (system error), the engine must keep
// querying, not send a second reverse: within 7 days that reverse would give the
// customer's money back and the cashier would be told "not paid" for a paid order.
func TestReversePaidThenUnclearQueryDoesNotReverseAgain(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	var reversed atomic.Bool
	var after atomic.Int32
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if !reversed.Load() {
			return enginetest.Pending()
		}
		if after.Add(1) <= 3 {
			return enginetest.SystemError()
		}
		return enginetest.Paid()
	}
	h.wx.OnReverse = func(string, int) wxpay.ReverseResult {
		if reversed.Swap(true) {
			return enginetest.ReverseOK() // a second reverse would succeed: the payer is refunded
		}
		return enginetest.ReversePaid()
	}
	s := h.pay(100)
	s = h.drive(s.ID, 1, 5*time.Minute, func(a engine.Attempt) bool { return a.State.Final() || a.State == engine.AttemptUnresolved })
	if a := lastAttempt(s); a.State != engine.AttemptPaid || s.State != engine.SalePaid {
		t.Fatalf("attempt %s sale %s, want paid (WeChat said the order is paid)", a.State, s.State)
	}
	if n := len(h.wx.CallsOf("reverse")); n != 1 {
		t.Fatalf("%d reverses after WeChat said paid, want 1", n)
	}
	checkQuerySpacing(t, h.wx.Calls())
}
