package engine_test

import (
	"strings"
	"testing"
)

// Sale numbers run 1, 2, 3 within a day even when attempts (which take numbers from the
// same store sequence for their out_trade_no) come in between: a manager reading -1,
// -3, -5 looks for sales that do not exist.
func TestSaleIDsConsecutive(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for range 3 {
		s := h.pay(1000) // opens a sale and starts an attempt
		ids = append(ids, s.ID)
	}
	for i, id := range ids {
		want := "-" + string(rune('1'+i))
		if !strings.HasSuffix(id, want) {
			t.Fatalf("sale ids %v: want them numbered -1, -2, -3", ids)
		}
	}
}
