package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue"
	"posd/queue/engine"
	"posd/wxpay"
)

type countingRefresher struct {
	wxpay.Client
	n atomic.Int32
}

func (c *countingRefresher) RefreshCertificates(ctx context.Context) error {
	c.n.Add(1)
	return nil
}

// TestRefreshCertificatesOnATimer: the v3 platform certificates are downloaded again on a
// timer, not only when an unknown serial shows up.
func TestRefreshCertificatesOnATimer(t *testing.T) {
	old := certRefreshEvery
	certRefreshEvery = 5 * time.Millisecond
	defer func() { certRefreshEvery = old }()
	rf := &countingRefresher{}
	d := &Daemon{gw: rf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.refreshCertificates(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for rf.n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("refreshed %d times in 5 s", rf.n.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A v2 client has no certificates to refresh: the task ends at once.
	if err := (&Daemon{gw: struct{ wxpay.Client }{}}).refreshCertificates(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSaleByOutTradeNo: the reconciliation's lookup of older sales reads the journal, and a
// number the journal never had is engine.ErrNotFound (the reconciler skips those).
func TestSaleByOutTradeNo(t *testing.T) {
	db, err := queue.Open(filepath.Join(t.TempDir(), "posd.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	err = db.Update(func(tx engine.Tx) error {
		return tx.PutSale(&engine.Sale{ID: "s1", Amount: 100, Currency: "HKD", State: engine.SalePaid, CreatedAt: now,
			Attempts: []engine.Attempt{{OutTradeNo: "HK001_T01_261126000001", State: engine.AttemptPaid, StartedAt: now}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	look := saleByOutTradeNo(db)
	if s, err := look("HK001_T01_261126000001"); err != nil || s.ID != "s1" {
		t.Fatalf("found %v, %v", s, err)
	}
	if _, err := look("HK001_T01_261126000009"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing number: %v", err)
	}
}
