package engine_test

import (
	"context"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// The 7-day reverse window is a rule of the engine: past t0 + 7 days (less the margin) no
// reverse is sent, REVERSE_EXPIRE means "query to learn the state" (never "paid"), money
// goes back by refund only when a query says paid, and an order WeChat says is not paid
// past the window is settled with no money and no loop.
func TestReverseWindow(t *testing.T) {
	notPaid := func(int) wxpay.Order { return enginetest.NotPaid() }
	for _, tc := range []struct {
		name      string
		cancel    bool
		restartAt time.Duration // posd was off from t0+2s until this long after t0 (0: stays up)
		query     func(n int) wxpay.Order
		reverse   func(n int) wxpay.ReverseResult
		state     engine.AttemptState
		sale      engine.SaleState
		reverses  int
		refunds   int
		maxQuery  int
	}{
		{name: "open sale, 8 days off, NOTPAY: settled not paid", restartAt: 8 * 24 * time.Hour, query: notPaid,
			state: engine.AttemptFailed, sale: engine.SaleAwaitingScan, maxQuery: 2},
		{name: "cancelled sale, 8 days off, NOTPAY: no refund", cancel: true, restartAt: 8 * 24 * time.Hour, query: notPaid,
			state: engine.AttemptReversed, sale: engine.SaleCancelled, maxQuery: 2},
		{name: "cancelled sale, 8 days off, CLOSED", cancel: true, restartAt: 8 * 24 * time.Hour,
			query: func(int) wxpay.Order { return wxpay.Order{Outcome: wxpay.Reversed, TradeState: "CLOSED"} },
			state: engine.AttemptReversed, sale: engine.SaleCancelled, maxQuery: 2},
		{name: "open sale, 8 days off, not found: settled not paid", restartAt: 8 * 24 * time.Hour,
			query: func(int) wxpay.Order { return enginetest.NotFound() },
			state: engine.AttemptFailed, sale: engine.SaleAwaitingScan, maxQuery: 2},
		{name: "cancelled sale, 8 days off, paid: refund", cancel: true, restartAt: 8 * 24 * time.Hour,
			query: func(int) wxpay.Order { return enginetest.Paid() },
			state: engine.AttemptReversed, sale: engine.SaleCancelled, refunds: 1, maxQuery: 2},
		{name: "open sale, 8 days off, paid", restartAt: 8 * 24 * time.Hour,
			query: func(int) wxpay.Order { return enginetest.Paid() },
			state: engine.AttemptPaid, sale: engine.SalePaid, maxQuery: 1},
		// WeChat's clock says the order is too old although ours does not: one reverse,
		// then queries decide; no second reverse and no refund of an unpaid order.
		{name: "cancelled sale, REVERSE_EXPIRE, NOTPAY: no refund", cancel: true, query: notPaid,
			reverse: func(int) wxpay.ReverseResult { return enginetest.ReverseExpired() },
			state:   engine.AttemptReversed, sale: engine.SaleCancelled, reverses: 1, maxQuery: 20},
		{name: "open sale, REVERSE_EXPIRE, NOTPAY: settled not paid", query: notPaid,
			reverse: func(int) wxpay.ReverseResult { return enginetest.ReverseExpired() },
			state:   engine.AttemptFailed, sale: engine.SaleAwaitingScan, reverses: 1, maxQuery: 40},
		{name: "cancelled sale, REVERSE_EXPIRE, paid: refund", cancel: true,
			query:   func(n int) wxpay.Order { return enginetest.Paid() },
			reverse: func(int) wxpay.ReverseResult { return enginetest.ReverseExpired() },
			state:   engine.AttemptReversed, sale: engine.SaleCancelled, reverses: 1, refunds: 1, maxQuery: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.runQueue()
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
			h.wx.OnQuery = func(_ string, n int) wxpay.Order { return enginetest.Pending() }
			if tc.restartAt == 0 {
				h.wx.OnQuery = func(_ string, n int) wxpay.Order { return tc.query(n) }
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReverseExpired() }
			if tc.reverse != nil {
				h.wx.OnReverse = func(_ string, n int) wxpay.ReverseResult { return tc.reverse(n) }
			}
			h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
				return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
			}
			s := h.pay(990)
			h.settle(1, nil)
			if tc.cancel {
				if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
					t.Fatal(err)
				}
			}
			if tc.restartAt > 0 {
				h.stop()
				h.clk.Advance(tc.restartAt)
				h.wx.OnQuery = func(_ string, n int) wxpay.Order { return tc.query(n) }
				h.start()
				h.runQueue()
			}
			before := len(h.wx.CallsOf("query"))
			s = h.drive(s.ID, 1, time.Hour, final)
			a := lastAttempt(s)
			if a.State != tc.state || s.State != tc.sale {
				t.Fatalf("attempt %s sale %s, want %s %s (%+v)", a.State, s.State, tc.state, tc.sale, a.Error)
			}
			if n := len(h.wx.CallsOf("reverse")); n != tc.reverses {
				t.Fatalf("%d reverses, want %d", n, tc.reverses)
			}
			if n := len(h.wx.CallsOf("refund")); n != tc.refunds {
				t.Fatalf("%d refunds, want %d", n, tc.refunds)
			}
			if n := len(h.wx.CallsOf("query")) - before; n > tc.maxQuery {
				t.Fatalf("%d queries to settle, want at most %d", n, tc.maxQuery)
			}
			checkQuerySpacing(t, h.wx.Calls())
		})
	}
}

// USERPAYING for an order past the window (WeChat would have closed it long ago): no
// reverse, and queries slow down in the durable queue instead of one a second forever.
func TestReverseWindowStillPaying(t *testing.T) {
	h := newHarness(t)
	h.runQueue()
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
	h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReverseExpired() }
	s := h.pay(990)
	h.settle(1, nil)
	h.stop()
	h.clk.Advance(8 * 24 * time.Hour)
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Pending() }
	h.start()
	h.runQueue()
	start := h.clk.Now()
	for h.clk.Now().Sub(start) < time.Hour {
		h.settle(1, nil)
		if _, ok := h.clk.AdvanceToNext(); !ok {
			t.Fatal("nothing waits")
		}
	}
	if n := len(h.wx.CallsOf("reverse")); n != 0 {
		t.Fatalf("%d reverses past the window", n)
	}
	if n := len(h.wx.CallsOf("query")); n > 40 {
		t.Fatalf("%d queries in an hour for an order past the window: a loop", n)
	}
	if a := lastAttempt(h.sale(s.ID)); a.State.Final() {
		t.Fatalf("attempt %s: USERPAYING is not an outcome", a.State)
	}
}
