package engine_test

import (
	"strings"
	"testing"

	"posd/queue/engine"
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

// A journal written before sales had their own numbers (-1, -3, -5 for the day) goes on
// from the day's highest: the next sale is -6, never an id already taken.
func TestSaleIDsAfterOldJournal(t *testing.T) {
	h := newHarness(t)
	err := h.st.Update(func(tx engine.Tx) error {
		for _, n := range []string{"1", "3", "5"} {
			s := &engine.Sale{ID: "HK001-T01-261126-" + n, Amount: 100, Currency: "HKD", State: engine.SaleCancelled,
				StoreID: "HK001", TillID: "T01", CreatedAt: epoch, UpdatedAt: epoch, Attempts: []engine.Attempt{}}
			if err := tx.PutSale(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.open(500); s.ID != "HK001-T01-261126-6" {
		t.Fatalf("next sale %s, want HK001-T01-261126-6", s.ID)
	}
	if s := h.open(500); s.ID != "HK001-T01-261126-7" {
		t.Fatalf("then %s, want HK001-T01-261126-7", s.ID)
	}
}
