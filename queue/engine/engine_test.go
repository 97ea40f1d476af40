package engine_test

import (
	"context"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

func TestHappyPathPaidAtOnce(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Paid() }
	before := h.st.Commits()
	s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: 1050, AuthCode: newCode()})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != engine.SalePaying || lastAttempt(s).State != engine.AttemptPaying {
		t.Fatalf("OpenSale with a code returned %s/%s, want paying/paying", s.State, lastAttempt(s).State)
	}
	s = h.waitAttempt(s.ID, final)
	a := lastAttempt(s)
	if s.State != engine.SalePaid || a.State != engine.AttemptPaid || a.TransactionID == "" || a.Wallet != "HKD" {
		t.Fatalf("got sale %s attempt %+v", s.State, a)
	}
	if n := h.st.Commits() - before; n != 2 {
		t.Fatalf("fsyncs for sale+attempt paid at once = %d, want 2 (intent, paid)", n)
	}
	if got := h.wx.Calls(); len(got) != 1 || got[0].Method != "micropay" || got[0].Amount != 1050 {
		t.Fatalf("calls %+v", got)
	}
	if a.Code != "13************0001"[:2]+a.Code[2:] || len(a.Code) != 18 || a.Code[2] != '*' {
		t.Fatalf("code not masked: %q", a.Code)
	}
	h.waitStatus(func(st engine.Status) bool { return st.Unresolved == 0 && st.Ready })
}

func TestOutTradeNo(t *testing.T) {
	got, err := engine.OutTradeNo("HK001", "T01", epoch, 42)
	if err != nil || got != "HK001_T01_261126000042" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := engine.OutTradeNo("HK-01", "T01", epoch, 1); err == nil {
		t.Fatal("a store id with '-' was accepted")
	}
	if _, err := engine.OutTradeNo("STORE0123456", "TILL0123", epoch, 1); err == nil {
		t.Fatal("ids too long for 32 characters were accepted")
	}
	long, err := engine.OutTradeNo("STORE01", "TILL0001", epoch, 1<<63)
	if err == nil || len(long) > 32 {
		// 7+8+2+6+19 digits = 42: must be refused rather than cut.
		t.Fatalf("got %q, %v", long, err)
	}
}

// A USERPAYING answer is followed by a query every second (never closer), so a customer's
// confirmation is seen within about a second; 3 fsyncs per attempt.
func TestPendingPolledEverySecond(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	h.wx.OnQuery = func(otn string, n int) wxpay.Order {
		if n < 4 {
			return enginetest.Pending()
		}
		return enginetest.Paid()
	}
	s := h.open(2000)
	before := h.st.Commits()
	s, err := h.e.Pay(context.Background(), s.ID, newCode())
	if err != nil {
		t.Fatal(err)
	}
	t0 := lastAttempt(s).StartedAt
	s = h.drive(s.ID, 1, time.Minute, final)
	if s.State != engine.SalePaid {
		t.Fatalf("sale %s", s.State)
	}
	got := offsets(h.wx.CallsOf("query"), t0)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("queries at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("queries at %v, want %v", got, want)
		}
	}
	if n := h.st.Commits() - before; n > 3 {
		t.Fatalf("fsyncs per attempt = %d, want ≤ 3", n)
	}
	if a := lastAttempt(s); a.Queries != 4 || len(a.Events) < 6 {
		t.Fatalf("attempt counters %d queries, %d events", a.Queries, len(a.Events))
	}
}

// After a system error (or no answer) the first query waits 5 s (WeChat's guidance).
func TestSystemErrorWaitsFiveSeconds(t *testing.T) {
	for name, o := range map[string]wxpay.Order{"system error": enginetest.SystemError(), "no answer": enginetest.Silent()} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return o }
			h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Paid() }
			s := h.pay(500)
			s = h.drive(s.ID, 1, time.Minute, final)
			q := h.wx.CallsOf("query")
			if len(q) != 1 || q[0].At.Sub(lastAttempt(s).StartedAt) != 5*time.Second {
				t.Fatalf("queries at %v, want one at 5s", offsets(q, lastAttempt(s).StartedAt))
			}
			if s.State != engine.SalePaid {
				t.Fatalf("sale %s", s.State)
			}
		})
	}
}

// Still USERPAYING at the deadline (30 s): reverse, confirm with a query, reversed; the
// sale waits for another code with a message.
func TestDeadlineReverses(t *testing.T) {
	h := newHarness(t)
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	reversed := false
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if reversed {
			return enginetest.Revoked()
		}
		return enginetest.Pending()
	}
	h.wx.OnReverse = func(string, int) wxpay.ReverseResult { reversed = true; return enginetest.ReverseOK() }
	s := h.pay(800)
	t0 := lastAttempt(s).StartedAt
	s = h.drive(s.ID, 1, 2*time.Minute, final)
	a := lastAttempt(s)
	if a.State != engine.AttemptReversed || s.State != engine.SaleAwaitingScan || a.Error == nil || a.Error.Message == "" {
		t.Fatalf("sale %s attempt %+v", s.State, a)
	}
	rev := h.wx.CallsOf("reverse")
	if len(rev) != 1 || rev[0].At.Sub(t0) != 30*time.Second {
		t.Fatalf("reverses at %v, want one at 30s", offsets(rev, t0))
	}
	calls := h.wx.Calls()
	if last := calls[len(calls)-1]; last.Method != "query" {
		t.Fatalf("the reverse was not confirmed by a query: %+v", h.wx.Calls()[len(h.wx.Calls())-4:])
	}
	checkQuerySpacing(t, h.wx.Calls())
}

// checkQuerySpacing: never more than one query per second per order.
func checkQuerySpacing(t *testing.T, calls []enginetest.Call) {
	t.Helper()
	// On the monotonic clock: WeChat counts real time, whatever the till's wall clock does.
	last := map[string]time.Duration{}
	for _, c := range calls {
		if c.Method != "query" {
			continue
		}
		if p, ok := last[c.OutTradeNo]; ok && c.Mono-p < time.Second {
			t.Fatalf("queries of %s %v apart", c.OutTradeNo, c.Mono-p)
		}
		last[c.OutTradeNo] = c.Mono
	}
}

func TestPollUntilConfigurable(t *testing.T) {
	h := newHarness(t, func(c *engine.Config) { c.PollUntil = 45 * time.Second })
	h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	h.wx.OnQuery = func(string, int) wxpay.Order {
		if len(h.wx.CallsOf("reverse")) > 0 {
			return enginetest.Revoked()
		}
		return enginetest.Pending()
	}
	h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReverseOK() }
	s := h.pay(800)
	s = h.drive(s.ID, 1, 2*time.Minute, final)
	if rev := h.wx.CallsOf("reverse"); len(rev) != 1 || rev[0].At.Sub(lastAttempt(s).StartedAt) != 45*time.Second {
		t.Fatalf("reverse at %v, want 45s", offsets(rev, lastAttempt(s).StartedAt))
	}
	for _, bad := range []time.Duration{46 * time.Second, 10 * time.Second} {
		cfg := testConfig()
		cfg.PollUntil = bad
		if _, err := engine.New(cfg, h.wx, h.st, h.clk, nil); err == nil {
			t.Fatalf("PollUntil %v accepted", bad)
		}
	}
	cfg := testConfig()
	cfg.ReverseFloor = 5 * time.Second
	if _, err := engine.New(cfg, h.wx, h.st, h.clk, nil); err == nil {
		t.Fatal("a reverse floor under 15s was accepted")
	}
}
