package wxpaytest_test

// Drives the real wxpay clients against the simulator: two independent implementations of
// the protocol checking each other.

import (
	"context"
	"sync"
	"testing"
	"time"

	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

type safeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *safeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *safeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRealClientAgainstSim(t *testing.T) {
	for _, tc := range []struct {
		api  string
		inst bool
	}{
		{wxpay.APIv3Global, false}, {wxpay.APIv3HK, true}, {wxpay.APIv2, false}, {wxpay.APIv2, true},
	} {
		name := tc.api
		if tc.inst {
			name += "-inst"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("HKT", 8*3600))}
			s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
			defer s.Close()
			cfg := s.ClientConfig(tc.api)
			if tc.inst {
				cfg.SubMchID = s.Credentials().SubMchID
			}
			c, err := wxpay.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			pay := func(no, code string, amount int64) wxpay.Order {
				t.Helper()
				o, err := c.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: no, AuthCode: code, Amount: amount, Currency: "HKD", Description: "Demo-Goods"})
				if err != nil {
					t.Fatalf("micropay %s: %v", no, err)
				}
				return o
			}

			// Paid at once.
			if o := pay("A-1", "134567890123450001", 3800); o.Outcome != wxpay.Paid || o.Amount != 3800 || o.TransactionID == "" {
				t.Fatalf("paid: %+v", o)
			}

			// USERPAYING, then paid, seen by a query.
			s.Script(wxpaytest.Match{AuthCode: "134567890123450002"}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPaying, For: 3 * time.Second})
			if o := pay("A-2", "134567890123450002", 1000); o.Outcome != wxpay.Pending {
				t.Fatalf("pending: %+v (%v)", o, o.Error)
			}
			clk.Advance(4 * time.Second)
			if o, err := c.QueryOrder(ctx, "A-2"); err != nil || o.Outcome != wxpay.Paid {
				t.Fatalf("query: %+v %v", o, err)
			}

			// USERPAYING forever, reversed after 20 s.
			s.Script(wxpaytest.Match{AuthCode: "134567890123450003"}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPayingForever},
				wxpaytest.Fault{Kind: wxpaytest.FaultReverseRetry})
			pay("A-3", "134567890123450003", 500)
			clk.Advance(20 * time.Second)
			rv, err := c.Reverse(ctx, "A-3")
			if err != nil || rv.Outcome != wxpay.Unknown {
				t.Fatalf("reverse to retry: %+v %v", rv, err)
			}
			clk.Advance(2 * time.Second)
			if rv, err := c.Reverse(ctx, "A-3"); err != nil || rv.Outcome != wxpay.Reversed {
				t.Fatalf("reverse: %+v %v", rv, err)
			}
			if o, _ := c.QueryOrder(ctx, "A-3"); o.Outcome != wxpay.Reversed {
				t.Fatalf("query reversed: %+v", o)
			}

			// A final refusal.
			s.Script(wxpaytest.Match{AuthCode: "134567890123450004"}, wxpaytest.Fault{Kind: wxpaytest.FaultFail, Code: "NOTENOUGH"})
			if o := pay("A-4", "134567890123450004", 100); o.Outcome != wxpay.Failed || o.Error == nil {
				t.Fatalf("notenough: %+v", o)
			}

			// A forged success is not trusted.
			s.Script(wxpaytest.Match{AuthCode: "134567890123450005"}, wxpaytest.Fault{Kind: wxpaytest.FaultForged})
			if o := pay("A-5", "134567890123450005", 100); o.Outcome != wxpay.Unknown {
				t.Fatalf("forged: %+v", o)
			}

			// Refund, idempotent, and its query.
			rr := wxpay.RefundRequest{OutTradeNo: "A-1", OutRefundNo: "R-1", Amount: 800, Total: 3800, Currency: "HKD", Reason: "test"}
			if rf, err := c.Refund(ctx, rr); err != nil || rf.Outcome != wxpay.Paid {
				t.Fatalf("refund: %+v %v", rf, err)
			}
			if rf, err := c.Refund(ctx, rr); err != nil || rf.Outcome != wxpay.Paid {
				t.Fatalf("refund again: %+v %v", rf, err)
			}
			if rf, err := c.QueryRefund(ctx, "R-1"); err != nil || rf.State != wxpay.RefundSuccess || rf.Amount != 800 {
				t.Fatalf("refund query: %+v %v", rf, err)
			}
			if got, want := s.Captured(), int64(3800-800+1000); got != want {
				t.Fatalf("captured %d, want %d", got, want)
			}

			// Statement: not ready today, ready tomorrow morning.
			date := clk.Now().Format("20060102")
			st, err := c.Statement(ctx, date)
			if err != nil {
				t.Fatalf("statement: %v", err)
			}
			if tc.api != wxpay.APIv2 && !st.NotReady {
				t.Fatalf("statement before 09:00 next day: %+v", st)
			}
			clk.Advance(24 * time.Hour)
			st, err = c.Statement(ctx, date)
			if err != nil || st.NotReady {
				t.Fatalf("statement: %+v %v", st, err)
			}
			paid := map[string]int64{}
			for _, r := range st.Rows {
				if r.TradeState == "SUCCESS" {
					paid[r.OutTradeNo] = r.Amount
				}
			}
			if paid["A-1"] != 3800 || paid["A-2"] != 1000 || len(paid) != 2 {
				t.Fatalf("statement rows: %+v", st.Rows)
			}
			if v := s.Violations(); len(v) != 0 {
				t.Fatalf("the client broke rules: %v", v)
			}
		})
	}
}
