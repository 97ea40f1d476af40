package engine_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// WeChat goes silent: the attempt becomes unresolved with a job in the durable queue, the
// cashier can cancel; when WeChat answers again the first request is a query.
func TestOutageUnresolvedThenQueueQueriesFirst(t *testing.T) {
	for _, customerPaid := range []bool{false, true} {
		t.Run(map[bool]string{false: "not paid", true: "paid"}[customerPaid], func(t *testing.T) {
			h := newHarness(t)
			var up atomic.Bool
			var reversed atomic.Bool
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
			h.wx.OnQuery = func(string, int) wxpay.Order {
				switch {
				case !up.Load():
					return enginetest.Silent()
				case reversed.Load():
					return enginetest.Revoked()
				case customerPaid:
					return enginetest.Paid()
				}
				return enginetest.NotPaid()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult {
				if !up.Load() {
					return enginetest.ReverseSilent()
				}
				reversed.Store(true)
				return enginetest.ReverseOK()
			}
			s := h.pay(700)
			t0 := lastAttempt(s).StartedAt
			s = h.drive(s.ID, 1, time.Minute, unresolved)
			a := lastAttempt(s)
			if a.Phase != engine.PhaseWaitingNetwork || s.State != engine.SalePaying {
				t.Fatalf("sale %s attempt %s/%s", s.State, a.State, a.Phase)
			}
			if n := len(h.wx.CallsOf("reverse")); n != 0 {
				t.Fatalf("%d reverses while WeChat was silent", n)
			}
			if at := h.clk.Now().Sub(t0); at < 30*time.Second {
				t.Fatalf("unresolved after %v, before the deadline", at)
			}
			jobs, _ := h.e.Jobs()
			if len(jobs) != 1 || jobs[0].Kind != "resolve" || jobs[0].OutTradeNo != a.OutTradeNo || jobs[0].Tries != 1 {
				t.Fatalf("jobs %+v", jobs)
			}
			h.waitStatus(func(st engine.Status) bool {
				return st.Unresolved == 1 && st.QueueDepth == 1 && !st.WeChatReachable
			})
			// The cashier gives up and takes cash.
			if c, err := h.e.Cancel(context.Background(), s.ID); err != nil || c.State != engine.SaleCancelled {
				t.Fatalf("cancel: %v", err)
			}
			h.runQueue()
			// Still down for a while: the queue retries (queries only) with backoff.
			h.settle(1, nil)
			for i := 0; i < 3; i++ {
				h.clk.AdvanceToNext()
				h.settle(1, nil)
			}
			up.Store(true)
			nBefore := len(h.wx.Calls())
			s = h.drive(s.ID, 1, time.Hour, final)
			after := h.wx.Calls()[nBefore:]
			if len(after) == 0 || after[0].Method != "query" {
				t.Fatalf("first call after the outage %+v, want a query", after)
			}
			for _, c := range h.wx.Calls()[:nBefore] {
				if c.Method == "reverse" {
					t.Fatal("reversed during the outage")
				}
			}
			a = lastAttempt(s)
			// The sale was cancelled: paid or not, no money is kept.
			if a.State != engine.AttemptReversed || s.State != engine.SaleCancelled {
				t.Fatalf("sale %s attempt %+v", s.State, a)
			}
			if jobs, _ := h.e.Jobs(); len(jobs) != 0 {
				t.Fatalf("jobs left: %+v", jobs)
			}
			checkQuerySpacing(t, h.wx.Calls())
			h.waitStatus(func(st engine.Status) bool {
				return st.Unresolved == 0 && st.QueueDepth == 0 && st.WeChatReachable
			})
		})
	}
}

// Without a cancel, a payment found by the queue makes the sale paid.
func TestQueueFindsPayment(t *testing.T) {
	h := newHarness(t)
	var up atomic.Bool
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if up.Load() {
			return enginetest.Paid()
		}
		return enginetest.Silent()
	}
	s := h.pay(700)
	h.drive(s.ID, 1, time.Minute, unresolved)
	h.runQueue()
	up.Store(true)
	s = h.drive(s.ID, 1, time.Hour, final)
	if s.State != engine.SalePaid || lastAttempt(s).State != engine.AttemptPaid {
		t.Fatalf("sale %s", s.State)
	}
}

// A long outage flags the job for a person, with advice, and the queue keeps trying.
func TestAttentionAfterTries(t *testing.T) {
	h := newHarness(t, func(c *engine.Config) { c.AttentionTries = 3 })
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
	var up atomic.Bool
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if up.Load() {
			return enginetest.Paid()
		}
		return enginetest.Silent()
	}
	s := h.pay(300)
	h.drive(s.ID, 1, time.Minute, unresolved)
	h.runQueue()
	var job engine.Job
	for i := 0; i < 50 && !job.Attention; i++ {
		h.settle(1, nil)
		h.clk.AdvanceToNext()
		h.settle(1, nil)
		jobs, _ := h.e.Jobs()
		if len(jobs) == 1 {
			job = jobs[0]
		}
	}
	if !job.Attention || !strings.Contains(job.Advice, lastAttempt(s).OutTradeNo) || job.Tries != 3 {
		t.Fatalf("job %+v", job)
	}
	h.waitStatus(func(st engine.Status) bool { return st.Attention == 1 })
	up.Store(true)
	s = h.drive(s.ID, 1, time.Hour, final)
	if s.State != engine.SalePaid {
		t.Fatalf("sale %s", s.State)
	}
}

// Restart: an attempt in flight is resumed from the journal before ready, with deadlines
// of its journaled t0; the first request is a query; a clock set back does not bring
// the reverse before t0 + 15 s.
func TestRecoverWithJumpedClock(t *testing.T) {
	for _, jump := range []time.Duration{0, -time.Hour, 10 * time.Second} {
		t.Run(jump.String(), func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			h.wx.OnQuery = func(string, int) wxpay.Order {
				if len(h.wx.CallsOf("reverse")) > 0 {
					return enginetest.Revoked()
				}
				return enginetest.Pending()
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReverseOK() }
			s := h.pay(600)
			t0 := lastAttempt(s).StartedAt
			h.settle(1, nil)
			h.clk.Advance(2 * time.Second) // one query, then power cut
			h.settle(1, nil)
			h.stop()
			h.st = h.st.Clone() // what the disk holds
			h.clk.Set(h.clk.Now().Add(jump))
			restart := h.clk.Now()
			n := len(h.wx.Calls())
			h.start()
			if !h.e.Status().Ready || h.e.Status().Unresolved != 1 {
				t.Fatalf("status %+v", h.e.Status())
			}
			s = h.drive(s.ID, 1, 2*time.Minute, final)
			after := h.wx.Calls()[n:]
			if after[0].Method != "query" {
				t.Fatalf("first call after restart %+v", after[0])
			}
			var rev time.Time
			for _, c := range after {
				if c.Method == "reverse" {
					rev = c.At
					break
				}
			}
			// The floor holds on the wall clock of each run, measured from t0 or, when
			// the clock went back, from the restart.
			base := t0
			if restart.Before(t0) {
				base = restart
			}
			if rev.Sub(base) < 15*time.Second {
				t.Fatalf("reverse %v after t0", rev.Sub(base))
			}
			if jump == 0 && rev.Sub(t0) != 30*time.Second {
				t.Fatalf("reverse at t0+%v, want the journaled deadline t0+30s", rev.Sub(t0))
			}
			if lastAttempt(s).State != engine.AttemptReversed {
				t.Fatalf("attempt %+v", lastAttempt(s))
			}
		})
	}
}

// A journal that cannot be written refuses the sale and sends nothing to WeChat.
func TestStorageFailureRefuses(t *testing.T) {
	h := newHarness(t)
	h.st.FailUpdates(-1, nil)
	_, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: 100})
	wantCode(t, err, "storage")
	_, err = h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: 100, AuthCode: newCode()})
	wantCode(t, err, "storage")
	h.st.FailUpdates(0, nil)
	s := h.open(100)
	h.st.FailUpdates(1, nil)
	_, err = h.e.Pay(context.Background(), s.ID, newCode())
	wantCode(t, err, "storage")
	if n := len(h.wx.Calls()); n != 0 {
		t.Fatalf("%d WeChat calls without a journal", n)
	}
	if got := h.sale(s.ID); got.State != engine.SaleAwaitingScan || len(got.Attempts) != 0 {
		t.Fatalf("sale %+v", got)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, err := h.e.Scan(ctx, newCode())
	wantCode(t, err, "no_open_sale")
	_, err = h.e.Scan(ctx, "6901234567892")
	wantCode(t, err, "invalid_code")
	_, err = h.e.OpenSale(ctx, engine.OpenSaleRequest{Amount: 0})
	wantCode(t, err, "bad_request")
	_, err = h.e.OpenSale(ctx, engine.OpenSaleRequest{Amount: 10, Currency: "USD"})
	wantCode(t, err, "bad_request")
	_, err = h.e.Sale("nope")
	wantCode(t, err, "not_found")

	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	s := h.open(100)
	code := newCode()
	if _, err := h.e.Scan(ctx, code); err != nil {
		t.Fatal(err)
	}
	_, err = h.e.Pay(ctx, s.ID, newCode())
	wantCode(t, err, "sale_busy")
	_, err = h.e.Scan(ctx, newCode())
	wantCode(t, err, "sale_busy")
	// The same code on another sale: refused (a code is charged once).
	s2 := h.open(100)
	_, err = h.e.Pay(ctx, s2.ID, code)
	wantCode(t, err, "code_used")
	h.e.Stop()
	_, err = h.e.OpenSale(ctx, engine.OpenSaleRequest{Amount: 10})
	wantCode(t, err, "stopping")
	_, err = h.e.Scan(ctx, newCode())
	wantCode(t, err, "stopping")
}

// A failed payment sends the sale back to awaiting_scan with the cashier's message; a
// new code gets a new out_trade_no.
func TestFailedThenNewCode(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(req wxpay.PayRequest) wxpay.Order {
		if len(h.wx.CallsOf("micropay")) == 1 {
			return enginetest.Failed("NOTENOUGH", "Customer's balance is not enough: ask for another payment method")
		}
		return enginetest.Paid()
	}
	s := h.pay(100)
	s = h.waitAttempt(s.ID, final)
	a := lastAttempt(s)
	if s.State != engine.SaleAwaitingScan || a.State != engine.AttemptFailed || a.Error == nil ||
		a.Error.Code != "NOTENOUGH" || !strings.Contains(a.Error.Message, "balance") {
		t.Fatalf("sale %s attempt %+v", s.State, a)
	}
	s, err := h.e.Scan(context.Background(), newCode())
	if err != nil {
		t.Fatal(err)
	}
	s = h.waitAttempt(s.ID, final)
	if s.State != engine.SalePaid || len(s.Attempts) != 2 || s.Attempts[0].OutTradeNo == s.Attempts[1].OutTradeNo {
		t.Fatalf("sale %+v", s)
	}
}

// Subscribers see every change only after it is durable; one that never reads does not
// block payments.
func TestSubscribersAfterDurability(t *testing.T) {
	h := newHarness(t)
	stuck, unsubStuck := h.e.Subscribe()
	_ = stuck
	defer unsubStuck()
	ch, unsub := h.e.Subscribe()
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Paid() }
	got := make(chan []*engine.Sale)
	go func() {
		var seen []*engine.Sale
		for s := range ch {
			// Durable: the store already holds this version (or a newer one).
			var stored *engine.Sale
			_ = h.st.View(func(tx engine.ReadTx) error { stored, _ = tx.Sale(s.ID); return nil })
			if stored == nil || stored.Version < s.Version {
				t.Errorf("published version %d before it was stored", s.Version)
			}
			seen = append(seen, s)
			if s.State == engine.SalePaid {
				break
			}
		}
		got <- seen
	}()
	for i := 0; i < 3; i++ {
		s := h.pay(100)
		h.drive(s.ID, 1, time.Minute, final)
	}
	seen := <-got
	unsub()
	if len(seen) < 2 || seen[len(seen)-1].State != engine.SalePaid {
		t.Fatalf("saw %d changes", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].ID == seen[i-1].ID && seen[i].Version <= seen[i-1].Version {
			t.Fatalf("versions out of order: %d then %d", seen[i-1].Version, seen[i].Version)
		}
	}
}

func TestSalesByDay(t *testing.T) {
	h := newHarness(t)
	a := h.open(100)
	h.clk.Advance(time.Minute)
	b := h.open(200)
	list, err := h.e.Sales("")
	if err != nil || len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("sales %v %v", list, err)
	}
	list, _ = h.e.Sales("2026-11-25")
	if len(list) != 0 {
		t.Fatalf("yesterday %v", list)
	}
	_, err = h.e.Sales("26/11/2026")
	wantCode(t, err, "bad_request")
}

// A subscriber that does not read is not waited for: changes of one sale pile up as its
// newest version only.
func TestSlowSubscriberCoalesces(t *testing.T) {
	h := newHarness(t)
	ch, unsub := h.e.Subscribe()
	defer unsub()
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Paid() }
	s := h.pay(100) // versions: opened, paying, (waiting_customer), paid
	s = h.drive(s.ID, 1, time.Minute, final)
	var got []*engine.Sale
	timeout := time.After(2 * time.Second)
	for len(got) == 0 || got[len(got)-1].Version < s.Version {
		select {
		case x := <-ch:
			got = append(got, x)
		case <-timeout:
			t.Fatalf("newest version never delivered: got %d changes", len(got))
		}
	}
	if len(got) > 2 || got[len(got)-1].State != engine.SalePaid {
		t.Fatalf("%d deliveries for %d versions: want the one in hand and the newest", len(got), s.Version)
	}
}

// After an outage WeChat answers the durable queue "too many requests" (the merchant's
// limit, shared by every till): the attempt goes back to the queue with backoff instead of
// asking again in 2 s or reversing, and settles once WeChat takes requests again.
func TestQueueBacksOffOnFrequencyLimit(t *testing.T) {
	for _, limitedErr := range []*wxpay.Error{
		{Code: "FREQUENCY_LIMITED", Message: "busy", HTTP: 200},  // v2
		{Code: "RATELIMIT_EXCEEDED", Message: "busy", HTTP: 429}, // v3
	} {
		t.Run(limitedErr.Code, func(t *testing.T) {
			h := newHarness(t)
			var mu sync.Mutex
			var limitedAt []time.Time
			var up atomic.Bool
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Silent() }
			h.wx.OnQuery = func(string, int) wxpay.Order {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case !up.Load():
					return enginetest.Silent()
				case len(limitedAt) < 3:
					limitedAt = append(limitedAt, h.clk.Now())
					return wxpay.Order{Outcome: wxpay.Unknown, Error: limitedErr}
				}
				return enginetest.Paid()
			}
			s := h.pay(700)
			h.drive(s.ID, 1, time.Minute, unresolved)
			h.runQueue()
			up.Store(true)
			s = h.drive(s.ID, 1, 2*time.Hour, final)
			if lastAttempt(s).State != engine.AttemptPaid {
				t.Fatalf("attempt %+v", lastAttempt(s))
			}
			if n := len(h.wx.CallsOf("reverse")); n != 0 {
				t.Fatalf("%d reverses after too-frequent answers", n)
			}
			if len(limitedAt) != 3 {
				t.Fatalf("the limit was answered %d times", len(limitedAt))
			}
			// Each too-frequent answer is followed by the job's backoff (≥ 4 s), never the
			// 2 s of an ordinary unknown answer.
			qs := h.wx.CallsOf("query")
			for _, at := range limitedAt {
				for _, q := range qs {
					if q.At.After(at) {
						if gap := q.At.Sub(at); gap < 4*time.Second {
							t.Errorf("asked again %v after a too-frequent answer", gap)
						}
						break
					}
				}
			}
			jobs, _ := h.e.Jobs()
			if len(jobs) != 0 {
				t.Fatalf("jobs left: %+v", jobs)
			}
		})
	}
}
