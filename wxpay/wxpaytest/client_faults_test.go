package wxpaytest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// Every simulator fault, seen through the real client, lands in the outcome class
// docs/payment-policy.md §1 gives it.
func TestRealClientClassifiesFaults(t *testing.T) {
	F := func(k wxpaytest.FaultKind) wxpaytest.Fault { return wxpaytest.Fault{Kind: k} }
	cases := []struct {
		name  string
		f     wxpaytest.Fault
		want  wxpay.Outcome
		money bool // the payment took place
	}{
		{"systemerror", F(wxpaytest.FaultSystemError), wxpay.Unknown, false},
		{"systemerror-processed", wxpaytest.Fault{Kind: wxpaytest.FaultSystemError, Processed: true}, wxpay.Unknown, true},
		{"bankerror-processed", wxpaytest.Fault{Kind: wxpaytest.FaultBankError, Processed: true}, wxpay.Unknown, true},
		{"lost", F(wxpaytest.FaultLost), wxpay.Unknown, true},
		{"drop", F(wxpaytest.FaultDrop), wxpay.Unknown, false},
		{"hang-processed", wxpaytest.Fault{Kind: wxpaytest.FaultHang, Processed: true}, wxpay.Unknown, true},
		{"http-500", wxpaytest.Fault{Kind: wxpaytest.FaultHTTP, Status: 500}, wxpay.Unknown, false},
		{"http-503-processed", wxpaytest.Fault{Kind: wxpaytest.FaultHTTP, Status: 503, Processed: true}, wxpay.Unknown, true},
		{"forged", F(wxpaytest.FaultForged), wxpay.Unknown, false},
		{"forged-processed", wxpaytest.Fault{Kind: wxpaytest.FaultForged, Processed: true}, wxpay.Unknown, true},
		{"userpaying-forever", F(wxpaytest.FaultUserPayingForever), wxpay.Pending, false},
		{"mainland-wallet", F(wxpaytest.FaultMainlandWallet), wxpay.Paid, true},
	}
	for _, code := range wxpaytest.FinalFailCodes {
		cases = append(cases, struct {
			name  string
			f     wxpaytest.Fault
			want  wxpay.Outcome
			money bool
		}{"fail-" + code, wxpaytest.Fault{Kind: wxpaytest.FaultFail, Code: code}, wxpay.Failed, false})
	}
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv3HK, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
			s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
			defer s.Close()
			cfg := s.ClientConfig(api)
			cfg.Timeouts.MicroPay = 500 * time.Millisecond // the hang cases
			c, err := wxpay.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i, tc := range cases {
				code := fmt.Sprintf("1345678901234%05d", i)
				no := fmt.Sprintf("F-%02d", i)
				s.Script(wxpaytest.Match{AuthCode: code}, tc.f)
				o, err := c.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: no, AuthCode: code, Amount: 1000, Currency: "HKD", Description: "Shop-Goods"})
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				also := map[string]wxpay.Outcome{
					// No money moved either way; the client may say so more precisely.
					"fail-ORDERREVERSED": wxpay.Reversed, "fail-ORDERCLOSED": wxpay.Reversed,
					// A bug guard: the client checks with a query first, which is safe.
					"fail-BUYER_MISMATCH": wxpay.Unknown,
				}
				alt, hasAlt := also[tc.name]
				if o.Outcome != tc.want && !(hasAlt && o.Outcome == alt) {
					t.Errorf("%s: outcome %v (%v), want %v", tc.name, o.Outcome, o.Error, tc.want)
				}
				if o.Outcome == wxpay.Failed && (o.Error == nil || o.Error.Message == "") {
					t.Errorf("%s: a refusal needs a cashier sentence: %+v", tc.name, o.Error)
				}
				if tc.name == "mainland-wallet" && (o.PayerCurrency != "CNY" || o.PayerAmount == 0) {
					t.Errorf("mainland wallet: %+v", o)
				}
				clk.Advance(2 * time.Second)
				q, err := c.QueryOrder(ctx, no)
				if err != nil {
					t.Fatalf("%s query: %v", tc.name, err)
				}
				if paid := q.Outcome == wxpay.Paid; paid != tc.money {
					t.Errorf("%s: query says %v (%v), payment happened=%v", tc.name, q.Outcome, q.Error, tc.money)
				}
			}
			if v := s.Violations(); len(v) != 0 {
				t.Errorf("violations: %v", v)
			}
		})
	}
}
