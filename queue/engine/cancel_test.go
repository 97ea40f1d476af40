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

// Cancel while the customer is still confirming: the sale is cancelled at once, the
// attempt is reversed at t1+15s plus the 1 s margin (t1 = t0 here: the micropay answered
// at once), not earlier, confirmed, and ends reversed.
func TestCancelDuringUserPaying(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
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
	h.clk.Advance(3 * time.Second)
	h.settle(1, nil)
	c, err := h.e.Cancel(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	a := lastAttempt(c)
	if c.State != engine.SaleCancelled || a.State != engine.AttemptPaying || a.Phase != engine.PhaseReversing ||
		!a.ReverseAfter.Equal(t0.Add(16*time.Second)) {
		t.Fatalf("after cancel: sale %s attempt %s/%s reverse after %v", c.State, a.State, a.Phase, a.ReverseAfter)
	}
	s = h.drive(s.ID, 1, time.Minute, final)
	a = lastAttempt(s)
	if s.State != engine.SaleCancelled || a.State != engine.AttemptReversed {
		t.Fatalf("sale %s attempt %s", s.State, a.State)
	}
	rev := h.wx.CallsOf("reverse")
	if len(rev) != 1 || rev[0].At.Sub(t0) != 16*time.Second {
		t.Fatalf("reverse at %v, want exactly t1+15s+1s", offsets(rev, t0))
	}
	checkQuerySpacing(t, h.wx.Calls())
	// Cancel again: idempotent.
	if again, err := h.e.Cancel(context.Background(), s.ID); err != nil || again.State != engine.SaleCancelled {
		t.Fatalf("second cancel: %v", err)
	}
}

// The customer pays after the cashier cancelled: the payment is found and given back by a
// reverse (within 7 days); a reverse refused as "paid" falls back to a refund.
func TestCancelledThenFoundPaid(t *testing.T) {
	for _, refundPath := range []bool{false, true} {
		name := map[bool]string{false: "reverse", true: "refund"}[refundPath]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			var paid, undone atomic.Bool
			h.wx.OnQuery = func(string, int) wxpay.Order {
				switch {
				case undone.Load():
					return enginetest.Revoked()
				case paid.Load():
					return enginetest.Paid()
				}
				return enginetest.Pending()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult {
				if refundPath {
					return enginetest.ReversePaid()
				}
				undone.Store(true)
				return enginetest.ReverseOK()
			}
			h.wx.OnRefund = func(req wxpay.RefundRequest, n int) wxpay.Refund {
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundProcessing}
			}
			h.wx.OnQueryRefund = func(no string, n int) wxpay.Refund {
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
			}
			s := h.pay(1500)
			t0 := lastAttempt(s).StartedAt
			h.settle(1, nil)
			if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			paid.Store(true) // the customer confirms on the phone anyway
			s = h.drive(s.ID, 1, time.Minute, final)
			a := lastAttempt(s)
			if s.State != engine.SaleCancelled || a.State != engine.AttemptReversed || a.TransactionID == "" {
				t.Fatalf("sale %s attempt %+v", s.State, a)
			}
			rev := h.wx.CallsOf("reverse")
			if len(rev) == 0 || rev[0].At.Sub(t0) < 15*time.Second {
				t.Fatalf("reverse at %v: before the 15 s floor", offsets(rev, t0))
			}
			refunds := h.wx.CallsOf("refund")
			if refundPath != (len(refunds) == 1) {
				t.Fatalf("refund calls %+v", refunds)
			}
			if refundPath && (refunds[0].Amount != 1500 || refunds[0].RefundNo != a.OutTradeNo+"C") {
				t.Fatalf("refund %+v", refunds[0])
			}
		})
	}
}

func TestCancelStates(t *testing.T) {
	h := newHarness(t)
	s := h.open(100)
	c, err := h.e.Cancel(context.Background(), s.ID)
	if err != nil || c.State != engine.SaleCancelled {
		t.Fatalf("cancel of an awaiting sale: %v %v", c, err)
	}
	_, err = h.e.Pay(context.Background(), s.ID, newCode())
	wantCode(t, err, "bad_request")
	_, err = h.e.Cancel(context.Background(), "nope")
	wantCode(t, err, "not_found")

	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Paid() }
	p := h.pay(100)
	h.waitAttempt(p.ID, final)
	_, err = h.e.Cancel(context.Background(), p.ID)
	wantCode(t, err, "bad_request")
}

// Past 7 days a reverse is no longer allowed: a paid attempt of a cancelled sale is refunded.
func TestPaidAfterSevenDaysIsRefunded(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
	s := h.pay(990)
	h.settle(1, nil)
	if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	h.stop() // posd was off for 8 days with this attempt in its journal
	h.clk.Advance(8 * 24 * time.Hour)
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Paid() }
	h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
		return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
	}
	h.start()
	s = h.drive(s.ID, 1, time.Minute, final)
	if a := lastAttempt(s); a.State != engine.AttemptReversed {
		t.Fatalf("attempt %+v", a)
	}
	if n := len(h.wx.CallsOf("reverse")); n != 0 {
		t.Fatalf("%d reverses of an order older than 7 days", n)
	}
	if n := len(h.wx.CallsOf("refund")); n != 1 {
		t.Fatalf("%d refunds, want 1", n)
	}
}
