package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// A slow uplink: the micropay takes `link` to reach WeChat (and its answer comes back at
// once), and the cashier cancels right after. WeChat counts its 15 s from when it
// created the order, no earlier than the end of the call (t1): the first reverse must not
// come before t1 + 15 s, whatever t0 says. The deadline the customer sees stays t0-based.
func TestSlowUplinkReverseFloorFromT1(t *testing.T) {
	for _, tc := range []struct {
		name   string
		link   time.Duration
		answer wxpay.Order
	}{
		{"fast link, pending", 0, enginetest.Pending()},
		{"slow link 3s, pending", 3 * time.Second, enginetest.Pending()},
		{"slow link 9s, pending", 9 * time.Second, enginetest.Pending()},
		{"slow link 14.9s, pending", 14900 * time.Millisecond, enginetest.Pending()},
		{"slow link 19s, no answer", 19 * time.Second, enginetest.Silent()},
		{"slow link 6s, system error", 6 * time.Second, enginetest.SystemError()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order {
				h.clk.Advance(tc.link) // time passes while the request travels
				return tc.answer
			}
			var reversed atomic.Bool
			h.wx.OnQuery = func(string, int) wxpay.Order {
				if reversed.Load() {
					return enginetest.Revoked()
				}
				return enginetest.Pending()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult { reversed.Store(true); return enginetest.ReverseOK() }
			s := h.pay(1200)
			t0 := lastAttempt(s).StartedAt
			h.settle(1, nil)
			a := lastAttempt(h.sale(s.ID))
			t1 := t0.Add(tc.link)
			if !a.MicroPayEndedAt.Equal(t1) {
				t.Fatalf("journaled t1 %v, want t0+%v", a.MicroPayEndedAt.Sub(t0), tc.link)
			}
			if !a.Deadline.Equal(t0.Add(30 * time.Second)) {
				t.Fatalf("deadline t0+%v, want t0+30s", a.Deadline.Sub(t0))
			}
			if a.ReverseAfter.Before(t1.Add(15 * time.Second)) {
				t.Fatalf("reverse_after t0+%v is before t1+15s", a.ReverseAfter.Sub(t0))
			}
			if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			s = h.drive(s.ID, 1, 2*time.Minute, final)
			if a := lastAttempt(s); a.State != engine.AttemptReversed {
				t.Fatalf("attempt %s", a.State)
			}
			rev := h.wx.CallsOf("reverse")
			if len(rev) == 0 || rev[0].At.Sub(t1) < 15*time.Second {
				t.Fatalf("first reverse at t1+%v, want >= t1+15s", rev[0].At.Sub(t1))
			}
			if rev[0].At.Sub(t1) > 17*time.Second {
				t.Fatalf("first reverse at t1+%v: the margin should be small", rev[0].At.Sub(t1))
			}
		})
	}
}
