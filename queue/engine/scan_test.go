package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// A scanned code goes to a sale only when exactly one sale of the till waits for a code
// and no payment is in progress; otherwise it is refused with a sentence, and the POS
// can still pay a named sale (Pay, POST /api/v1/sales/{id}/pay).
func TestScanRouting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		awaiting int  // sales waiting for a code
		paying   bool // another sale has a payment in progress
		code     string
	}{
		{"none open", 0, false, "no_open_sale"},
		{"one awaiting", 1, false, ""},
		{"two awaiting", 2, false, "scan_ambiguous"},
		{"one paying, none awaiting", 0, true, "sale_busy"},
		{"one paying, one awaiting", 1, true, "sale_busy"},
		{"one paying, two awaiting", 2, true, "sale_busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
			h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Pending() }
			if tc.paying {
				h.pay(500)
				h.settle(1, nil)
			}
			var open []*engine.Sale
			for i := 0; i < tc.awaiting; i++ {
				open = append(open, h.open(int64(100+i)))
			}
			s, err := h.e.Scan(context.Background(), newCode())
			if tc.code == "" {
				if err != nil || s.ID != open[0].ID || s.State != engine.SalePaying {
					t.Fatalf("scan: %v %+v", err, s)
				}
				return
			}
			wantCode(t, err, tc.code)
			var ee *engine.Error
			if errors.As(err, &ee); !strings.HasSuffix(ee.Message, ".") && !strings.Contains(ee.Message, ":") {
				t.Fatalf("not a sentence: %q", ee.Message)
			}
			for _, o := range open {
				if got := h.sale(o.ID); got.State != engine.SaleAwaitingScan || len(got.Attempts) != 0 {
					t.Fatalf("a refused scan touched sale %s: %+v", o.ID, got)
				}
			}
			// The POS names the sale: that always works (while no payment of it is open).
			if len(open) > 0 {
				if s, err := h.e.Pay(context.Background(), open[len(open)-1].ID, newCode()); err != nil || s.State != engine.SalePaying {
					t.Fatalf("pay a named sale: %v", err)
				}
			}
		})
	}
}
