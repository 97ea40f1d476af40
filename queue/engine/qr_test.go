package engine_test

import (
	"context"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

func qrConfig(c *engine.Config) { c.QRCodePayment = true }

// showQR opens a sale and shows its QR code.
func (h *harness) showQR(amount int64) *engine.Sale {
	h.t.Helper()
	s := h.open(amount)
	s, err := h.e.ShowQR(context.Background(), s.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// queriesSpaced fails when two queries of one order are less than a second apart.
func queriesSpaced(t *testing.T, calls []enginetest.Call) {
	t.Helper()
	last := map[string]time.Time{}
	for _, c := range calls {
		if c.Method != "query" {
			continue
		}
		if l, ok := last[c.OutTradeNo]; ok && c.At.Sub(l) < time.Second {
			t.Fatalf("queries of %s %v apart", c.OutTradeNo, c.At.Sub(l))
		}
		last[c.OutTradeNo] = c.At
	}
}

// Every answer to the native order: the state right after it, and the next call.
func TestQRTransitionsNative(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    wxpay.NativeOrder
		state     engine.AttemptState
		sale      engine.SaleState
		phase     engine.Phase
		code      bool
		nextCall  string
		nextAfter time.Duration
	}{
		{"created", enginetest.NativeOK(), engine.AttemptPaying, engine.SalePaying, engine.PhaseShowingQR, true, "query", time.Second},
		{"already paid", wxpay.NativeOrder{Outcome: wxpay.Paid, Error: &wxpay.Error{Code: "ORDERPAID", HTTP: 200}}, engine.AttemptPaying, engine.SalePaying, engine.PhaseCreatingQR, false, "query", time.Second},
		{"already closed", wxpay.NativeOrder{Outcome: wxpay.Reversed, Error: &wxpay.Error{Code: "ORDERCLOSED", HTTP: 200}}, engine.AttemptPaying, engine.SalePaying, engine.PhaseCreatingQR, false, "query", time.Second},
		{"refused", wxpay.NativeOrder{Outcome: wxpay.Failed, Error: &wxpay.Error{Code: "NOAUTH", Message: "not allowed", HTTP: 200}}, engine.AttemptFailed, engine.SaleAwaitingScan, "", false, "", 0},
		{"system error", wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "SYSTEMERROR", HTTP: 200}}, engine.AttemptPaying, engine.SalePaying, engine.PhaseCreatingQR, false, "query", 5 * time.Second},
		{"no answer", wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}, engine.AttemptPaying, engine.SalePaying, engine.PhaseCreatingQR, false, "query", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, qrConfig)
			h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return tc.answer }
			h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.NotPaid() }
			s := h.showQR(100)
			a := lastAttempt(s)
			if a.Kind != engine.AttemptKindQR || !a.ExpiresAt.Equal(a.StartedAt.Add(engine.QRLifetime).Truncate(time.Second)) {
				t.Fatalf("journaled intent %+v", a)
			}
			t0 := a.StartedAt
			h.settle(1, nil)
			s = h.sale(s.ID)
			a = lastAttempt(s)
			if a.State != tc.state || s.State != tc.sale || a.Phase != tc.phase || (a.CodeURL != "") != tc.code {
				t.Fatalf("after native: attempt %s/%q code %q sale %s, want %s/%q %s", a.State, a.Phase, a.CodeURL, s.State, tc.state, tc.phase, tc.sale)
			}
			if tc.nextCall == "" {
				if h.clk.Waiters() != 0 {
					t.Fatal("a final attempt still waits for something")
				}
				return
			}
			h.clk.AdvanceToNext()
			h.settle(1, nil)
			if c := h.wx.Calls()[1]; c.Method != tc.nextCall || c.At.Sub(t0) != tc.nextAfter {
				t.Fatalf("next call %s at +%v, want %s at +%v", c.Method, c.At.Sub(t0), tc.nextCall, tc.nextAfter)
			}
		})
	}
}

// The customer scans and pays: paid, no close, queries a second apart.
func TestQRPaidByCustomer(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(r wxpay.NativeRequest, _ int) wxpay.NativeOrder {
		if r.Amount != 2500 || r.TimeExpire.IsZero() || r.Description != "Example Store" {
			t.Errorf("native request %+v", r)
		}
		return enginetest.NativeOK()
	}
	h.wx.OnQuery = func(_ string, n int) wxpay.Order {
		if n < 20 {
			return enginetest.NotPaid()
		}
		o := enginetest.Paid()
		o.Amount = 2500
		return o
	}
	s := h.showQR(2500)
	s = h.drive(s.ID, 1, time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptPaid || s.State != engine.SalePaid || a.TransactionID == "" {
		t.Fatalf("%+v %s", a, s.State)
	}
	if n := len(h.wx.CallsOf("close")); n != 0 {
		t.Fatalf("%d closes of a paid order", n)
	}
	queriesSpaced(t, h.wx.Calls())
}

// Nobody pays: queried until WeChat takes a close (t0 + 5 min 30 s), closed, confirmed;
// the sale waits for another payment.
func TestQRExpiresAndCloses(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
	closed := false
	h.wx.OnClose = func(string, int) wxpay.CloseResult { closed = true; return enginetest.CloseOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if closed {
			return enginetest.Closed()
		}
		return enginetest.NotPaid()
	}
	s := h.showQR(100)
	t0 := lastAttempt(s).StartedAt
	s = h.drive(s.ID, 1, 10*time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptReversed || a.Error == nil || a.Error.Code != "QR_EXPIRED" || s.State != engine.SaleAwaitingScan {
		t.Fatalf("%+v %s", a, s.State)
	}
	closes := h.wx.CallsOf("close")
	if len(closes) != 1 || closes[0].At.Sub(t0) < 5*time.Minute+30*time.Second {
		t.Fatalf("closes at %v", offsets(closes, t0))
	}
	queriesSpaced(t, h.wx.Calls())
	// A new attempt may follow: the sale takes a scan again.
	if _, err := h.e.Pay(context.Background(), s.ID, newCode()); err != nil {
		t.Fatal(err)
	}
}

// The cashier gives up; the customer pays anyway before the close: refunded, the sale
// stays cancelled.
func TestQRCancelledThenPaidIsRefunded(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
	paidAt := epoch.Add(2 * time.Minute)
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if h.clk.Now().Before(paidAt) {
			return enginetest.NotPaid()
		}
		o := enginetest.Paid()
		o.Amount = 100
		return o
	}
	h.wx.OnRefund = func(r wxpay.RefundRequest, _ int) wxpay.Refund {
		if r.Amount != 100 || r.TransactionID == "" {
			t.Errorf("refund %+v", r)
		}
		return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
	}
	s := h.showQR(100)
	h.settle(1, nil)
	h.clk.Advance(10 * time.Second)
	h.settle(1, nil)
	if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	s = h.drive(s.ID, 1, 10*time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptReversed || s.State != engine.SaleCancelled || len(h.wx.CallsOf("refund")) != 1 {
		t.Fatalf("%+v %s refunds %d", a, s.State, len(h.wx.CallsOf("refund")))
	}
	if n := len(h.wx.CallsOf("reverse")); n != 0 {
		t.Fatalf("%d reverses of a QR order", n)
	}
	queriesSpaced(t, h.wx.Calls())
}

// Cancelled and never paid: closed at the floor, no refund.
func TestQRCancelledClosedAtFloor(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
	closed := false
	h.wx.OnClose = func(string, int) wxpay.CloseResult { closed = true; return enginetest.CloseOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if closed {
			return enginetest.Closed()
		}
		return enginetest.NotPaid()
	}
	s := h.showQR(100)
	t0 := lastAttempt(s).StartedAt
	h.settle(1, nil)
	if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	// The till is free for the next sale at once.
	h.open(200)
	s = h.drive(s.ID, 1, 10*time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptReversed || a.Error.Code != "CANCELLED" || len(h.wx.CallsOf("refund")) != 0 {
		t.Fatalf("%+v", a)
	}
	if c := h.wx.CallsOf("close"); len(c) != 1 || c[0].At.Sub(t0) < 5*time.Minute+30*time.Second {
		t.Fatalf("closes at %v", offsets(c, t0))
	}
}

// The close is refused because the customer paid at the last moment.
func TestQRClosePaid(t *testing.T) {
	for _, cancelled := range []bool{false, true} {
		h := newHarness(t, qrConfig)
		h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
		paid := false
		h.wx.OnClose = func(string, int) wxpay.CloseResult {
			paid = true
			return wxpay.CloseResult{Outcome: wxpay.Paid, Error: &wxpay.Error{Code: "ORDERPAID", HTTP: 200}}
		}
		h.wx.OnQuery = func(string, int) wxpay.Order {
			if paid {
				o := enginetest.Paid()
				o.Amount = 100
				return o
			}
			return enginetest.NotPaid()
		}
		h.wx.OnRefund = func(wxpay.RefundRequest, int) wxpay.Refund {
			return wxpay.Refund{Outcome: wxpay.Paid, State: wxpay.RefundSuccess}
		}
		s := h.showQR(100)
		h.settle(1, nil)
		if cancelled {
			h.e.Cancel(context.Background(), s.ID)
		}
		s = h.drive(s.ID, 1, 10*time.Minute, final)
		a := lastAttempt(s)
		want, sale, refunds := engine.AttemptPaid, engine.SalePaid, 0
		if cancelled {
			want, sale, refunds = engine.AttemptReversed, engine.SaleCancelled, 1
		}
		if a.State != want || s.State != sale || len(h.wx.CallsOf("refund")) != refunds {
			t.Fatalf("cancelled=%v: %+v %s", cancelled, a, s.State)
		}
	}
}

// The native order's answer is lost: a query finds no order, the same order is sent
// again (same time_expire) and the code is shown.
func TestQRLostAnswerResent(t *testing.T) {
	h := newHarness(t, qrConfig)
	var expires []time.Time
	h.wx.OnNative = func(r wxpay.NativeRequest, n int) wxpay.NativeOrder {
		expires = append(expires, r.TimeExpire)
		if n == 1 {
			return wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}
		}
		return enginetest.NativeOK()
	}
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.NotFound() }
	s := h.showQR(100)
	s = h.drive(s.ID, 1, time.Minute, func(a engine.Attempt) bool { return a.CodeURL != "" })
	if len(expires) != 2 || !expires[0].Equal(expires[1]) || !expires[0].Equal(lastAttempt(s).ExpiresAt) {
		t.Fatalf("time_expire sent %v, journaled %v", expires, lastAttempt(s).ExpiresAt)
	}
	calls := h.wx.Calls()
	if calls[0].Method != "native" || calls[1].Method != "query" || calls[2].Method != "native" {
		t.Fatalf("calls %+v", calls)
	}
}

// A restart while the code is shown resumes it from the journal: a query first, the same
// code still shown, then paid.
func TestQRRestartWhileShown(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.NotPaid() }
	s := h.showQR(100)
	h.settle(1, nil)
	h.clk.Advance(3 * time.Second)
	h.settle(1, nil)
	h.stop()
	before := len(h.wx.Calls())
	h.wx.OnQuery = func(_ string, n int) wxpay.Order {
		o := enginetest.Paid()
		o.Amount = 100
		return o
	}
	h.start()
	s = h.drive(s.ID, 1, time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptPaid || a.CodeURL != enginetest.CodeURL {
		t.Fatalf("%+v", a)
	}
	if c := h.wx.Calls()[before]; c.Method != "query" {
		t.Fatalf("first call after the restart: %s", c.Method)
	}
	if n := len(h.wx.CallsOf("native")); n != 1 {
		t.Fatalf("%d native orders", n)
	}
}

// A crash between journaling the QR attempt and learning its code: the resumed runner
// queries, then sends the same order again to show the code.
func TestQRRestartBeforeCode(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(r wxpay.NativeRequest, n int) wxpay.NativeOrder {
		if n == 1 {
			return wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}
		}
		return enginetest.NativeOK()
	}
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.NotPaid() }
	s := h.showQR(100)
	h.settle(1, nil)
	h.stop()
	h.start()
	s = h.drive(s.ID, 1, time.Minute, func(a engine.Attempt) bool { return a.CodeURL != "" })
	if lastAttempt(s).Phase != engine.PhaseShowingQR {
		t.Fatalf("%+v", lastAttempt(s))
	}
}

// Silence: the durable queue takes the attempt at time_expire; its first call is a query.
func TestQRSilenceGoesToQueue(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
	silentAfter := epoch.Add(time.Minute)
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if h.clk.Now().Before(silentAfter) {
			return enginetest.NotPaid()
		}
		return enginetest.Silent()
	}
	s := h.showQR(100)
	s = h.drive(s.ID, 1, 10*time.Minute, unresolved)
	if st := h.e.Status(); st.QueueDepth != 1 {
		t.Fatalf("status %+v", st)
	}
	before := len(h.wx.Calls())
	closed := false
	h.wx.OnClose = func(string, int) wxpay.CloseResult { closed = true; return enginetest.CloseOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if closed {
			return enginetest.Closed()
		}
		return enginetest.NotPaid()
	}
	h.runQueue()
	s = h.drive(s.ID, 1, 30*time.Minute, final)
	if c := h.wx.Calls()[before]; c.Method != "query" {
		t.Fatalf("the queue's first call: %s", c.Method)
	}
	if a := lastAttempt(s); a.State != engine.AttemptReversed {
		t.Fatalf("%+v", a)
	}
}

// One open payment per till: a scan while the code is shown is refused, and so is a
// second QR code.
func TestQRRefusesScanWhileShown(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.NotPaid() }
	s := h.showQR(100)
	h.settle(1, nil)
	_, err := h.e.Scan(context.Background(), newCode())
	wantCode(t, err, "sale_busy")
	_, err = h.e.Pay(context.Background(), s.ID, newCode())
	wantCode(t, err, "sale_busy")
	_, err = h.e.ShowQR(context.Background(), s.ID)
	wantCode(t, err, "sale_busy")
	if n := len(h.wx.CallsOf("micropay")); n != 0 {
		t.Fatalf("%d micropays", n)
	}
}

func TestQRDisabled(t *testing.T) {
	h := newHarness(t)
	if h.e.QREnabled() {
		t.Fatal("enabled without the config")
	}
	s := h.open(100)
	_, err := h.e.ShowQR(context.Background(), s.ID)
	wantCode(t, err, "qr_disabled")
}

// WeChat counts the close floor from when it created the order, which may be the last of
// several sends of the native order: the close waits 5 min 30 s from the last send
// (found by the property test).
func TestQRCloseWaitsForTheLastSend(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(_ wxpay.NativeRequest, n int) wxpay.NativeOrder {
		if n < 4 {
			return wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "SYSTEMERROR", HTTP: 500}}
		}
		return enginetest.NativeOK()
	}
	closed := false
	h.wx.OnClose = func(string, int) wxpay.CloseResult { closed = true; return enginetest.CloseOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		switch {
		case closed:
			return enginetest.Closed()
		case len(h.wx.CallsOf("native")) < 4:
			return enginetest.NotFound()
		}
		return enginetest.NotPaid()
	}
	s := h.showQR(100)
	s = h.drive(s.ID, 1, 10*time.Minute, final)
	natives, closes := h.wx.CallsOf("native"), h.wx.CallsOf("close")
	if len(natives) != 4 || len(closes) != 1 {
		t.Fatalf("%d natives, %d closes", len(natives), len(closes))
	}
	if gap := closes[0].At.Sub(natives[3].At); gap < 5*time.Minute+30*time.Second {
		t.Fatalf("close %v after the last native order", gap)
	}
	if a := lastAttempt(s); a.State != engine.AttemptReversed {
		t.Fatalf("%+v", a)
	}
}

// A restart with the code never learnt: the close still waits 5 min 30 s from the
// restart (a send may have left just before it).
func TestQRRestartCloseFloor(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder {
		return wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}
	}
	closed := false
	h.wx.OnClose = func(string, int) wxpay.CloseResult { closed = true; return enginetest.CloseOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if closed {
			return enginetest.Closed()
		}
		return enginetest.NotPaid()
	}
	s := h.showQR(100)
	h.settle(1, nil)
	h.clk.Advance(2 * time.Minute)
	h.stop()
	restart := h.clk.Now()
	h.start()
	h.runQueue()
	h.drive(s.ID, 1, 30*time.Minute, final)
	if c := h.wx.CallsOf("close"); len(c) == 0 || c[0].At.Sub(restart) < 5*time.Minute+30*time.Second {
		t.Fatalf("closes %v after the restart", offsets(c, restart))
	}
}

// A reboot during a shown QR code while the wall clock steps a week forward (a till
// with a dead RTC, then NTP): the order is as young as it was, and WeChat refuses a
// close within 5 minutes of creating it. The close waits 5 min 30 s of real time after
// the restart, not after the wall clock's idea of the order's age. (Found by the random
// fault schedules: a close 1m27s after the order.)
func TestQRRebootWithWallJumpCloseFloor(t *testing.T) {
	for _, reboot := range []bool{false, true} {
		t.Run(map[bool]string{false: "same boot", true: "reboot"}[reboot], func(t *testing.T) {
			h := newHarness(t, qrConfig)
			h.wx.OnNative = func(wxpay.NativeRequest, int) wxpay.NativeOrder { return enginetest.NativeOK() }
			closed := false
			var firstClose time.Duration // real time (the fake clock's Elapsed) of the first close
			h.wx.OnClose = func(string, int) wxpay.CloseResult {
				if !closed {
					firstClose = h.clk.Elapsed()
				}
				closed = true
				return enginetest.CloseOK()
			}
			h.wx.OnQuery = func(string, int) wxpay.Order {
				if closed {
					return enginetest.Closed()
				}
				return enginetest.NotPaid()
			}
			s := h.showQR(100)
			h.settle(1, nil)
			m0 := h.clk.Elapsed()
			h.clk.Advance(time.Minute)
			h.settle(1, nil)
			h.stop()
			if reboot {
				h.clk.Reboot()
			}
			h.clk.Jump(8 * 24 * time.Hour)
			h.start()
			mRestart := h.clk.Elapsed()
			if _, err := h.e.Cancel(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			h.runQueue()
			s = h.drive(s.ID, 1, 30*time.Minute, final)
			if len(h.wx.CallsOf("close")) == 0 {
				t.Fatalf("never closed: %+v", lastAttempt(s))
			}
			// Real time from the native order to the first close, on the clock that does
			// not jump (after a reboot, counted from the restart: the order's age is unknown).
			from := m0
			if reboot {
				from = mRestart
			}
			if got := firstClose - from; got < 5*time.Minute+30*time.Second {
				t.Fatalf("first close %v after the order (real time)", got)
			}
		})
	}
}

// The wall clock steps a week forward between journaling a QR attempt and the native
// order that got its code (the first send had no answer), then posd restarts on the same
// boot. The close is due 5 min 30 s after the order was created in real time, not after
// t0 plus the wall clock's idea of when it was sent (a week later, past the reverse
// window): the attempt closes and settles within minutes. (Found by the random fault
// schedules: an order queried once a second for a week, never closed.)
func TestQRWallJumpBeforeNativeRestartCloses(t *testing.T) {
	h := newHarness(t, qrConfig)
	h.wx.OnNative = func(_ wxpay.NativeRequest, n int) wxpay.NativeOrder {
		if n == 1 {
			return wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "TIMEOUT"}}
		}
		return enginetest.NativeOK()
	}
	closed := false
	h.wx.OnClose = func(string, int) wxpay.CloseResult { closed = true; return enginetest.CloseOK() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if closed {
			return enginetest.Closed()
		}
		return enginetest.NotPaid()
	}
	s := h.showQR(100)
	h.settle(1, nil)
	m0 := h.clk.Elapsed()
	h.clk.Jump(8 * 24 * time.Hour)
	s = h.drive(s.ID, 1, time.Minute, func(a engine.Attempt) bool { return a.CodeURL != "" })
	h.stop()
	h.start()
	h.runQueue()
	s = h.drive(s.ID, 1, 30*time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptReversed || len(h.wx.CallsOf("close")) == 0 {
		t.Fatalf("not closed: %+v", a)
	}
	// Real time from the start to the settlement: the 5-minute QR lifetime and the close
	// floor, not a week.
	if got := h.clk.Elapsed() - m0; got > 15*time.Minute {
		t.Fatalf("settled %v after the order (real time)", got)
	}
}
