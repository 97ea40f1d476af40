package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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
