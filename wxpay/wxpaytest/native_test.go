package wxpaytest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// TestNativeAgainstSim drives the real clients' QR Code Payment calls against the
// simulator in every dialect: create, re-create, pay by scanning, close, expiry, the
// 5-minute close rule, the query rate and the statement.
func TestNativeAgainstSim(t *testing.T) {
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
			hkt := time.FixedZone("HKT", 8*3600)
			clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, hkt)}
			s := wxpaytest.New(wxpaytest.Options{Now: clk.Now, StatementDelay: time.Hour})
			defer s.Close()
			cfg := s.ClientConfig(tc.api)
			if tc.inst {
				cfg.SubMchID = s.Credentials().SubMchID
			}
			c, err := wxpay.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			nc := c.(wxpay.NativeClient)
			ctx := context.Background()
			create := func(no string, amount int64, expire time.Time) wxpay.NativeOrder {
				t.Helper()
				n, err := nc.NativeOrder(ctx, wxpay.NativeRequest{OutTradeNo: no, Amount: amount, Currency: "HKD", Description: "Demo-Goods", TimeExpire: expire})
				if err != nil {
					t.Fatalf("native %s: %v", no, err)
				}
				return n
			}
			query := func(no string) wxpay.Order {
				t.Helper()
				clk.Advance(time.Second) // one query per second per order
				o, err := c.QueryOrder(ctx, no)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			expire := clk.Now().Add(10 * time.Minute)

			// Created unpaid; the same request again gives the same code.
			n := create("Q-1", 3800, expire)
			if n.Outcome != wxpay.NotPaid || n.CodeURL == "" {
				t.Fatalf("create: %+v %v", n, n.Error)
			}
			if again := create("Q-1", 3800, expire); again.Outcome != wxpay.NotPaid || again.CodeURL != n.CodeURL {
				t.Fatalf("re-create: %+v, first %q", again, n.CodeURL)
			}
			if o := query("Q-1"); o.Outcome != wxpay.NotPaid || o.TradeState != "NOTPAY" {
				t.Fatalf("query unpaid: %+v", o)
			}
			so, _ := s.Order("Q-1")
			if so.TradeType != wxpaytest.TradeNative || !so.TimeExpire.Equal(expire) {
				t.Fatalf("ledger %+v", so)
			}

			// The customer scans and pays.
			if _, err := s.PayCodeURL(n.CodeURL); err != nil {
				t.Fatal(err)
			}
			if _, err := s.PayCodeURL(n.CodeURL); !errors.Is(err, wxpaytest.ErrNotPayable) {
				t.Fatalf("paid twice: %v", err)
			}
			if o := query("Q-1"); o.Outcome != wxpay.Paid || o.Amount != 3800 || o.TransactionID == "" || o.OpenID == "" {
				t.Fatalf("query paid: %+v", o)
			}
			if again := create("Q-1", 3800, expire); again.Outcome != wxpay.Paid {
				t.Fatalf("re-create a paid order: %+v", again)
			}

			// Close: refused inside 5 minutes (a violation), then closed; a closed code cannot be paid.
			n2 := create("Q-2", 1200, expire)
			if cr, err := nc.CloseOrder(ctx, "Q-2"); err != nil || cr.Outcome == wxpay.Reversed || cr.Outcome == wxpay.Paid {
				t.Fatalf("early close: %+v %v", cr, err)
			}
			if v := s.Violations(); len(v) != 1 || v[0].Rule != wxpaytest.RuleCloseTooEarly {
				t.Fatalf("violations %v", v)
			}
			clk.Advance(5 * time.Minute)
			if cr, err := nc.CloseOrder(ctx, "Q-2"); err != nil || cr.Outcome != wxpay.Reversed {
				t.Fatalf("close: %+v %v", cr, err)
			}
			if cr, _ := nc.CloseOrder(ctx, "Q-2"); cr.Outcome != wxpay.Reversed {
				t.Fatalf("close again: %+v", cr)
			}
			if _, err := s.PayCodeURL(n2.CodeURL); !errors.Is(err, wxpaytest.ErrNotPayable) {
				t.Fatalf("paid a closed order: %v", err)
			}
			if o := query("Q-2"); o.Outcome != wxpay.Reversed || o.TradeState != "CLOSED" {
				t.Fatalf("query closed: %+v", o)
			}
			if cr, _ := nc.CloseOrder(ctx, "Q-1"); cr.Outcome != wxpay.Paid {
				t.Fatalf("close of a paid order: %+v", cr)
			}

			// Expiry: past time_expire nobody can pay.
			n3 := create("Q-3", 500, clk.Now().Add(2*time.Minute))
			clk.Advance(2 * time.Minute)
			if _, err := s.PayCodeURL(n3.CodeURL); !errors.Is(err, wxpaytest.ErrNotPayable) {
				t.Fatalf("paid an expired order: %v", err)
			}

			// A refund of a paid QR order.
			if rf, err := c.Refund(ctx, wxpay.RefundRequest{OutTradeNo: "Q-1", OutRefundNo: "Q-1-R1", Amount: 800, Total: 3800, Currency: "HKD"}); err != nil || rf.Outcome != wxpay.Paid {
				t.Fatalf("refund: %+v %v", rf, err)
			}
			if got := s.Captured(); got != 3000 {
				t.Fatalf("captured %d", got)
			}

			// The same number as a Quick Pay is a reuse.
			if o, _ := c.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: "Q-3", AuthCode: "134567890123450009", Amount: 500, Currency: "HKD", Description: "x"}); o.Outcome == wxpay.Paid {
				t.Fatalf("micropay on a native number: %+v", o)
			}

			// Two queries within a second are a violation.
			c.QueryOrder(ctx, "Q-3")
			c.QueryOrder(ctx, "Q-3")
			rules := map[string]int{}
			for _, v := range s.Violations() {
				rules[v.Rule]++
			}
			if rules[wxpaytest.RuleQueryRate] != 1 || rules[wxpaytest.RuleOutTradeNoReused] != 1 {
				t.Fatalf("violations %v", s.Violations())
			}

			// The statement lists the paid QR order as NATIVE.
			clk.Advance(24 * time.Hour)
			st, err := c.Statement(ctx, "20261126")
			if err != nil || st.NotReady {
				t.Fatalf("statement: %+v %v", st, err)
			}
			var native int
			for _, r := range st.Rows {
				if r.OutTradeNo == "Q-1" && r.Raw["交易类型"] == "NATIVE" {
					native++
				}
			}
			if native != 2 { // the payment and the refund
				t.Fatalf("statement rows %+v", st.Rows)
			}
		})
	}
}

// TestNativeClientNeedsNotifyURL: WeChat requires notify_url, so the client does not send a
// QR order without one (nothing reaches the simulator).
func TestNativeClientNeedsNotifyURL(t *testing.T) {
	s := wxpaytest.New(wxpaytest.Options{})
	defer s.Close()
	cfg := s.ClientConfig(wxpay.APIv3Global)
	cfg.NotifyURL = ""
	c, err := wxpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.(wxpay.NativeClient).NativeOrder(context.Background(), wxpay.NativeRequest{OutTradeNo: "Q-9", Amount: 100, Description: "x", TimeExpire: time.Now().Add(time.Hour)})
	if err == nil {
		t.Fatal("sent without notify_url")
	}
	if len(s.Requests()) != 0 || !bytes.Contains([]byte(err.Error()), []byte("notify_url")) {
		t.Fatalf("%v %v", err, s.Requests())
	}
}
