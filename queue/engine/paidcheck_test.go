package engine_test

import (
	"strings"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// Every paid answer, from the micropay or a query, is checked against the sale: amount
// and currency must match; a paid answer without an amount is asked again; a mismatch is
// a job for a person with advice, never a paid sale.
func TestPaidAnswersChecked(t *testing.T) {
	paidWith := func(amount int64, currency string) wxpay.Order {
		o := enginetest.Paid()
		o.Amount, o.Currency = amount, currency
		return o
	}
	for _, tc := range []struct {
		name     string
		micropay wxpay.Order
		query    func(n int) wxpay.Order
		state    engine.AttemptState
		advice   string // in the attention job's advice
		queries  int    // at least this many queries
	}{
		{name: "micropay paid, matches", micropay: paidWith(1500, "HKD"), state: engine.AttemptPaid},
		{name: "micropay paid, currency omitted", micropay: paidWith(1500, ""), state: engine.AttemptPaid},
		{name: "micropay paid without amount: ask again", micropay: paidWith(enginetest.NoAmount, "HKD"),
			query: func(int) wxpay.Order { return paidWith(1500, "HKD") }, state: engine.AttemptPaid, queries: 1},
		{name: "micropay paid, other amount", micropay: paidWith(150, "HKD"), state: engine.AttemptUnresolved, advice: "different amount"},
		{name: "micropay paid, other currency", micropay: paidWith(1500, "CNY"), state: engine.AttemptUnresolved, advice: "CNY"},
		{name: "query paid without amount, then with", micropay: enginetest.Pending(),
			query: func(n int) wxpay.Order {
				if n <= 2 {
					return paidWith(enginetest.NoAmount, "")
				}
				return paidWith(1500, "HKD")
			}, state: engine.AttemptPaid, queries: 3},
		{name: "query paid, other currency", micropay: enginetest.Pending(),
			query: func(int) wxpay.Order { return paidWith(1500, "USD") }, state: engine.AttemptUnresolved, advice: "USD"},
		{name: "query paid, other amount", micropay: enginetest.Pending(),
			query: func(int) wxpay.Order { return paidWith(1501, "HKD") }, state: engine.AttemptUnresolved, advice: "different amount"},
		{name: "query refund state, other currency", micropay: enginetest.Pending(),
			query: func(int) wxpay.Order {
				return wxpay.Order{Outcome: wxpay.Refunded, TradeState: "REFUND", TransactionID: "42", Amount: 1500, Currency: "CNY"}
			}, state: engine.AttemptUnresolved, advice: "CNY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return tc.micropay }
			h.wx.OnQuery = func(_ string, n int) wxpay.Order {
				if tc.query == nil {
					return enginetest.Pending()
				}
				return tc.query(n)
			}
			h.wx.OnReverse = func(string, int) wxpay.ReverseResult { return enginetest.ReverseOK() }
			s := h.pay(1500)
			s = h.drive(s.ID, 1, time.Minute, func(a engine.Attempt) bool { return a.State.Final() || a.State == engine.AttemptUnresolved })
			a := lastAttempt(s)
			if a.State != tc.state {
				t.Fatalf("attempt %s, want %s (%+v)", a.State, tc.state, a.Error)
			}
			if (s.State == engine.SalePaid) != (tc.state == engine.AttemptPaid) {
				t.Fatalf("sale %s", s.State)
			}
			if n := len(h.wx.CallsOf("query")); n < tc.queries {
				t.Fatalf("%d queries, want at least %d", n, tc.queries)
			}
			if tc.advice != "" {
				jobs, _ := h.e.Jobs()
				if len(jobs) != 1 || !jobs[0].Attention || !strings.Contains(jobs[0].Advice, tc.advice) || !strings.Contains(jobs[0].Advice, "do not hand over the goods") {
					t.Fatalf("jobs %+v, want one attention job whose advice names %q", jobs, tc.advice)
				}
			}
			checkQuerySpacing(t, h.wx.Calls())
		})
	}
}
