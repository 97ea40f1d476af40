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

// monoSince is the real time (the fake clock's, across reboots) since a reading m0.
func monoSince(clk *enginetest.FakeClock, m0 time.Duration) time.Duration {
	return clk.Elapsed() - m0
}

// Wall-clock jumps (NTP stepping a clock a dead RTC left wrong), during a live attempt and
// across a restart of posd (same boot, or a reboot). The customer keeps confirming; the
// engine must reverse at the deadline counted on a clock that did not jump, never before
// WeChat's floor (t1 + 15 s) in real elapsed time, and not an hour late either.
func TestWallClockJumps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		jump    time.Duration // the wall clock's step, 2 s after the micropay
		restart bool          // posd stops before the step and starts after it
		reboot  bool          // ... on a new boot of the machine
		cancel  bool          // the cashier cancels right after the step
		// first reverse, in real (monotonic) time since t0
		min, max time.Duration
	}{
		{name: "forward 1h live", jump: time.Hour, min: 30 * time.Second, max: 31 * time.Second},
		{name: "back 1h live", jump: -time.Hour, min: 30 * time.Second, max: 31 * time.Second},
		{name: "forward 1h live, cancelled", jump: time.Hour, cancel: true, min: 16 * time.Second, max: 17 * time.Second},
		{name: "back 1h live, cancelled", jump: -time.Hour, cancel: true, min: 16 * time.Second, max: 17 * time.Second},
		{name: "forward 1h across a restart", jump: time.Hour, restart: true, min: 30 * time.Second, max: 32 * time.Second},
		{name: "back 1h across a restart", jump: -time.Hour, restart: true, min: 30 * time.Second, max: 32 * time.Second},
		{name: "forward 10 days across a restart", jump: 10 * 24 * time.Hour, restart: true, min: 30 * time.Second, max: 32 * time.Second},
		// A reboot loses the monotonic reading: the floor then counts from the restart.
		{name: "forward 1h across a reboot", jump: time.Hour, restart: true, reboot: true, min: 2*time.Second + 16*time.Second, max: 2*time.Second + 17*time.Second},
		{name: "back 1h across a reboot", jump: -time.Hour, restart: true, reboot: true, min: 2*time.Second + 16*time.Second, max: 32 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			var reversed atomic.Bool
			var firstReverse atomic.Int64
			m0 := h.clk.Elapsed()
			h.wx.OnQuery = func(string, int) wxpay.Order {
				if reversed.Load() {
					return enginetest.Revoked()
				}
				return enginetest.Pending()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult {
				firstReverse.CompareAndSwap(0, int64(monoSince(h.clk, m0)))
				reversed.Store(true)
				return enginetest.ReverseOK()
			}
			s := h.pay(1200)
			h.settle(1, nil)
			h.clk.Advance(2 * time.Second)
			h.settle(1, nil)
			if tc.restart {
				h.stop()
				if tc.reboot {
					h.clk.Reboot()
				}
			}
			h.clk.Jump(tc.jump)
			if tc.restart {
				h.start()
			}
			if tc.cancel {
				if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
					t.Fatal(err)
				}
			}
			s = h.drive(s.ID, 1, 3*time.Minute, final)
			if a := lastAttempt(s); a.State != engine.AttemptReversed {
				t.Fatalf("attempt %s", a.State)
			}
			got := time.Duration(firstReverse.Load())
			if got < tc.min || got > tc.max {
				t.Fatalf("first reverse %v after t0 (real time), want within [%v, %v]", got, tc.min, tc.max)
			}
			checkQuerySpacing(t, h.wx.Calls())
		})
	}
}
