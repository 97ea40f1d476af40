package engine_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue"
	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// The engine on the real bbolt journal: an attempt in flight survives closing the file
// and a restart, the code index refuses a code used before the restart, and the engine's
// writes keep the store's indexes (open sales, jobs) right.
func TestOnBoltJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := enginetest.NewFakeClock(epoch)
	wx := enginetest.NewFakeWx(clk)
	var paid atomic.Bool
	wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return enginetest.Pending() }
	wx.OnQuery = func(string, int) wxpay.Order {
		if paid.Load() {
			return enginetest.Paid()
		}
		return enginetest.Pending()
	}
	h := &harness{t: t, clk: clk, wx: wx, cfg: testConfig()}
	start := func() {
		e, err := engine.New(h.cfg, wx, db, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Recover(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.e = e
	}
	start()
	code := newCode()
	s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: 4200, AuthCode: code})
	if err != nil {
		t.Fatal(err)
	}
	h.settle(1, nil)
	h.clk.Advance(2 * time.Second)
	h.settle(1, nil)
	h.e.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the file.
	if db, err = queue.Open(path, queue.Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	paid.Store(true)
	start()
	defer h.e.Close()
	if st := h.e.Status(); !st.Ready || st.Unresolved != 1 {
		t.Fatalf("status after restart %+v", st)
	}
	s = h.drive(s.ID, 1, time.Minute, final)
	if s.State != engine.SalePaid || s.Version < 3 {
		t.Fatalf("sale %s version %d", s.State, s.Version)
	}
	other := h.open(100)
	_, err = h.e.Pay(context.Background(), other.ID, code)
	wantCode(t, err, "code_used")
	list, err := h.e.Sales("2026-11-26")
	if err != nil || len(list) != 2 || list[0].ID != other.ID {
		t.Fatalf("day list %v %v", len(list), err)
	}
	var open []*engine.Sale
	_ = db.View(func(tx engine.ReadTx) error { open, err = tx.OpenSales(); return err })
	if len(open) != 1 || open[0].ID != other.ID {
		t.Fatalf("open sales %d", len(open))
	}
}
