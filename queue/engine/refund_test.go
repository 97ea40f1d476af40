package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

func paidSale(t *testing.T, h *harness, amount int64) *engine.Sale {
	t.Helper()
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Paid() }
	s := h.pay(amount)
	s = h.waitAttempt(s.ID, final)
	if s.State != engine.SalePaid {
		t.Fatalf("sale %s", s.State)
	}
	return s
}

func TestRefunds(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	s := paidSale(t, h, 1000)
	h.wx.OnRefund = func(req wxpay.RefundRequest, n int) wxpay.Refund {
		return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess, RefundID: "R" + req.OutRefundNo}
	}
	before := h.st.Commits()
	s, err := h.e.Refund(ctx, s.ID, 300, "damaged")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Refunds) != 1 || s.Refunds[0].State != engine.RefundSucceeded || s.Refunds[0].OutRefundNo != lastAttempt(s).OutTradeNo+"R1" {
		t.Fatalf("refunds %+v", s.Refunds)
	}
	if n := h.st.Commits() - before; n != 2 {
		t.Fatalf("%d commits for a refund, want 2 (journaled before WeChat, then the answer)", n)
	}
	if c := h.wx.CallsOf("refund"); len(c) != 1 || c[0].Amount != 300 {
		t.Fatalf("refund calls %+v", c)
	}
	_, err = h.e.Refund(ctx, s.ID, 701, "")
	wantCode(t, err, "refund_exceeds")
	s, err = h.e.Refund(ctx, s.ID, 700, "rest")
	if err != nil || len(s.Refunds) != 2 || s.Refunds[1].OutRefundNo != lastAttempt(s).OutTradeNo+"R2" {
		t.Fatalf("second refund: %v %+v", err, s.Refunds)
	}
	_, err = h.e.Refund(ctx, s.ID, 1, "")
	wantCode(t, err, "refund_exceeds")

	open := h.open(100)
	_, err = h.e.Refund(ctx, open.ID, 50, "")
	wantCode(t, err, "not_paid")
	_, err = h.e.Refund(ctx, "nope", 50, "")
	wantCode(t, err, "not_found")

	// A refused refund does not count against the total.
	s2 := paidSale(t, h, 500)
	h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
		return wxpay.Refund{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "NOTENOUGH", Message: "The shop's balance is too low", HTTP: 200}}
	}
	s2, err = h.e.Refund(ctx, s2.ID, 500, "")
	wantCode(t, err, "wechat")
	if s2 == nil || s2.Refunds[0].State != engine.RefundFailed {
		t.Fatalf("refused refund %+v", s2)
	}
	if jobs, _ := h.e.Jobs(); len(jobs) != 0 {
		t.Fatalf("jobs %+v", jobs)
	}
}

// No answer to a refund: the durable queue asks with the same out_refund_no until it is
// known, sending it again only if WeChat never got it.
func TestRefundUnknownFinishedByQueue(t *testing.T) {
	h := newHarness(t)
	s := paidSale(t, h, 1000)
	h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
		return wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}
	}
	var up atomic.Bool
	h.wx.OnQueryRefund = func(no string, n int) wxpay.Refund {
		if !up.Load() {
			return wxpay.Refund{Outcome: wxpay.NotFound, Error: &wxpay.Error{Code: "REFUNDNOTEXIST", HTTP: 200}}
		}
		return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
	}
	s, err := h.e.Refund(context.Background(), s.ID, 400, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Refunds[0].State != engine.RefundPending {
		t.Fatalf("refund %+v", s.Refunds[0])
	}
	jobs, _ := h.e.Jobs()
	if len(jobs) != 1 || jobs[0].Kind != "refund" {
		t.Fatalf("jobs %+v", jobs)
	}
	h.runQueue()
	h.settle(0, nil)
	h.clk.AdvanceToNext()
	h.settle(0, nil)
	// WeChat had not got it: sent again with the same number.
	refunds := h.wx.CallsOf("refund")
	if len(refunds) < 2 || refunds[1].RefundNo != refunds[0].RefundNo {
		t.Fatalf("refund calls %+v", refunds)
	}
	up.Store(true)
	for i := 0; i < 100; i++ {
		if got := h.sale(s.ID); got.Refunds[0].State == engine.RefundSucceeded {
			if jobs, _ := h.e.Jobs(); len(jobs) != 0 {
				t.Fatalf("jobs left %+v", jobs)
			}
			return
		}
		h.clk.AdvanceToNext()
		h.settle(0, nil)
	}
	t.Fatalf("refund never confirmed: %+v", h.sale(s.ID).Refunds)
}

// Concurrent writes share a commit, and a write that fails does not take the others down.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	s := h.open(100)
	done := make(chan error, 20)
	for i := 0; i < 10; i++ {
		go func() { _, err := h.e.OpenSale(ctx, engine.OpenSaleRequest{Amount: 100}); done <- err }()
		go func() { _, err := h.e.Refund(ctx, s.ID, 10, ""); done <- err }() // not paid: refused
	}
	var ok, refused int
	for i := 0; i < 20; i++ {
		err := <-done
		switch {
		case err == nil:
			ok++
		default:
			wantCode(t, err, "not_paid")
			refused++
		}
	}
	if ok != 10 || refused != 10 {
		t.Fatalf("%d opened, %d refused", ok, refused)
	}
	list, _ := h.e.Sales("")
	if len(list) != 11 {
		t.Fatalf("%d sales, want 11", len(list))
	}
}
