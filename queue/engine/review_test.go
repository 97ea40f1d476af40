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

// A reverse refused because the order is paid means it is paid (docs/payment-policy.md §2).
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

// Crash between the journal's fsync and the micropay: the attempt is journaled paying and
// WeChat never heard of it. After the restart (and a cancel at once) the first request is a
// query no sooner than a second after recovery, "no such order" is not taken as final, no
// reverse goes before t0+15s, and the sale ends cancelled with no micropay sent again.
func TestRecoverAttemptNeverSent(t *testing.T) {
	h := newHarness(t)
	var disk *enginetest.MemStore
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order {
		disk = h.st.Clone() // what the disk holds at the crash: the intent, nothing after
		return enginetest.Silent()
	}
	s := h.pay(700)
	t0 := lastAttempt(s).StartedAt
	h.settle(1, nil)
	h.stop()
	if disk == nil {
		t.Fatal("micropay never called")
	}
	h.st = disk
	h.clk.Advance(time.Second)
	h.wx = enginetest.NewFakeWx(h.clk)
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.NotFound() }
	h.wx.OnReverse = func(string, int) wxpay.ReverseResult {
		return wxpay.ReverseResult{Outcome: wxpay.NotFound, Error: &wxpay.Error{Code: "ORDERNOTEXIST", HTTP: 200}}
	}
	restart := h.clk.Now()
	h.start()
	if _, err := h.e.Cancel(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	s = h.drive(s.ID, 1, 2*time.Minute, final)
	calls := h.wx.Calls()
	if len(calls) == 0 || calls[0].Method != "query" || calls[0].At.Sub(restart) < time.Second {
		t.Fatalf("first call after restart %+v (restart %v) events %+v", calls[0], restart, lastAttempt(h.sale(s.ID)).Events)
	}
	if n := len(h.wx.CallsOf("micropay")); n != 0 {
		t.Fatalf("%d micropays after restart", n)
	}
	rev := h.wx.CallsOf("reverse")
	if len(rev) == 0 || rev[0].At.Sub(t0) < 15*time.Second {
		t.Fatalf("reverses at %v after t0", offsets(rev, t0))
	}
	if a := lastAttempt(s); a.State != engine.AttemptReversed || s.State != engine.SaleCancelled {
		t.Fatalf("attempt %s sale %s", a.State, s.State)
	}
	checkQuerySpacing(t, calls)
}

// The "paid" refusal of a reverse survives the handoff to the durable queue: WeChat goes
// silent right after it, the attempt is queued, and the queue's unclear answers lead to
// more queries, not to a reverse that would refund a paid sale.
func TestReversePaidSurvivesQueueHandoff(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	var reversed atomic.Bool
	var after atomic.Int32
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if !reversed.Load() {
			return enginetest.Pending()
		}
		switch n := after.Add(1); {
		case n <= 2:
			return enginetest.Silent()
		case n <= 5:
			return enginetest.SystemError()
		}
		return enginetest.Paid()
	}
	h.wx.OnReverse = func(string, int) wxpay.ReverseResult {
		if reversed.Swap(true) {
			return enginetest.ReverseOK()
		}
		return enginetest.ReversePaid()
	}
	s := h.pay(100)
	s = h.drive(s.ID, 1, 5*time.Minute, unresolved)
	h.runQueue()
	s = h.drive(s.ID, 1, 10*time.Minute, final)
	if a := lastAttempt(s); a.State != engine.AttemptPaid || s.State != engine.SalePaid {
		t.Fatalf("attempt %s sale %s, want paid", a.State, s.State)
	}
	if n := len(h.wx.CallsOf("reverse")); n != 1 {
		t.Fatalf("%d reverses after WeChat said paid, want 1", n)
	}
	checkQuerySpacing(t, h.wx.Calls())
}

// A refund query that WeChat refuses (v3 401 SIGN_ERROR: the till's clock or key) says
// nothing about the refund, which WeChat may well be paying out. The queue must not mark
// the refund failed: a failed refund no longer counts against the sale, so the cashier
// could refund the same money a second time.
func TestRefundQueryRefusedIsNotRefundFailed(t *testing.T) {
	h := newHarness(t)
	s := paidSale(t, h, 1000)
	h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
		return wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}
	}
	h.wx.OnQueryRefund = func(string, int) wxpay.Refund {
		return wxpay.Refund{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "SIGN_ERROR", Message: "signature", HTTP: 401}}
	}
	ctx := context.Background()
	s, err := h.e.Refund(ctx, s.ID, 600, "")
	if err != nil {
		t.Fatal(err)
	}
	h.runQueue()
	for i := 0; i < 5 && len(h.wx.CallsOf("refundquery")) < 2; i++ {
		h.settle(0, nil)
		h.clk.AdvanceToNext()
		h.settle(0, nil)
	}
	if n := len(h.wx.CallsOf("refundquery")); n == 0 {
		t.Fatal("the queue never asked about the refund")
	}
	if st := h.sale(s.ID).Refunds[0].State; st == engine.RefundFailed {
		t.Fatalf("refund %s after a refused refund query, want it still open", st)
	}
	if _, err := h.e.Refund(ctx, s.ID, 600, ""); err == nil {
		t.Fatal("the same 600 refunded twice")
	}
}

// "Already paid" in answer to a brand-new micropay (v2 ORDERPAID, v3 ORDER_PAID) carries
// no amount: the engine queries, and a number paid with another amount (a reissued number
// after a journal restored from an old backup) is not this sale's payment.
func TestOrderPaidAnswerIsCheckedByQuery(t *testing.T) {
	for _, amount := range []int64{100, 999} {
		h := newHarness(t)
		h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order {
			return wxpay.Order{Outcome: wxpay.Paid, TradeState: "ORDERPAID"}
		}
		h.wx.OnQuery = func(string, int) wxpay.Order {
			o := enginetest.Paid()
			o.Amount = amount
			return o
		}
		s := h.pay(100)
		s = h.drive(s.ID, 1, time.Minute, func(a engine.Attempt) bool { return a.State.Final() || a.State == engine.AttemptUnresolved })
		a := lastAttempt(s)
		if len(h.wx.CallsOf("query")) == 0 {
			t.Fatal("no query after an answer without order data")
		}
		if amount == 100 && (a.State != engine.AttemptPaid || a.TransactionID == "") {
			t.Fatalf("attempt %+v, want paid with the queried transaction", a)
		}
		if amount != 100 {
			jobs, _ := h.e.Jobs()
			if s.State == engine.SalePaid || a.State != engine.AttemptUnresolved || len(jobs) != 1 || !jobs[0].Attention {
				t.Fatalf("sale %s attempt %s jobs %+v: another amount must not pay the sale", s.State, a.State, jobs)
			}
		}
		checkQuerySpacing(t, h.wx.Calls())
		h.stop()
	}
}
