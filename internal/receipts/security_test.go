package receipts

import (
	"bytes"
	"strings"
	"testing"

	"posd/printer"
	"posd/queue/engine"
)

// A WeChat error text that echoes the auth_code sent, or an attempt whose code was never
// masked (a bug upstream), must not put the full 18-digit code on paper.
func TestReceipt_NeverPrintsFullCode(t *testing.T) {
	const full = "134567890123456789"
	s := &engine.Sale{
		ID: "s1", Amount: 1000, Currency: "HKD", State: engine.SaleCancelled, UpdatedAt: saleTime,
		Attempts: []engine.Attempt{
			{OutTradeNo: "o1", State: engine.AttemptReversed, Code: full,
				Error: &engine.ErrorInfo{Code: "AUTH_CODE_INVALID", Message: "auth_code " + full + " invalid"}},
			{OutTradeNo: "o2", State: engine.AttemptPaid, TransactionID: "4200000000202611260000000001", Code: full},
		},
	}
	for _, kind := range []printer.Kind{printer.KindReversal, printer.KindSale} {
		r, err := FromSale(s, Till{MerchantName: "Shop"}, kind)
		if err != nil {
			t.Fatal(kind, err)
		}
		if strings.Contains(r.Code, full) || strings.Contains(r.Note, full) {
			t.Fatalf("%s receipt carries the full code: code %q note %q", kind, r.Code, r.Note)
		}
		if kind == printer.KindReversal && !strings.Contains(r.Note, "13************6789") {
			t.Errorf("note %q: want the masked code kept for the cashier", r.Note)
		}
		b, err := printer.Render(r, printer.Format{Encoding: "ascii", Columns: 64})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(full)) || bytes.Contains(b, []byte(full[:12])) {
			t.Fatalf("%s receipt bytes carry the full code", kind)
		}
		if kind == printer.KindSale && !bytes.Contains(b, []byte("4200000000202611260000000001")) {
			t.Error("the 28-digit transaction id must still print")
		}
	}
}
