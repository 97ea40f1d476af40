package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// TestCloseWhileQueueStartsJobs: Close may come while Run is starting durable-queue jobs
// (SIGTERM during recovery after an outage). Run under -race, this caught a
// sync.WaitGroup Add racing Close's Wait (the queue engineer's crash child saw it; this
// test does not reproduce it every time). Close must also return with Run still going.
func TestCloseWhileQueueStartsJobs(t *testing.T) {
	for round := 0; round < 20; round++ {
		clk := enginetest.NewFakeClock(epoch)
		st := enginetest.NewMemStore(nil)
		err := st.Update(func(tx engine.Tx) error {
			for i := 0; i < 30; i++ {
				otn := fmt.Sprintf("HK001_T01_261126%06d", round*100+i)
				s := &engine.Sale{ID: fmt.Sprintf("s%d", i), Amount: 100, Currency: "HKD", State: engine.SalePaying,
					CreatedAt: epoch, StoreID: "HK001", TillID: "T01",
					Attempts: []engine.Attempt{{OutTradeNo: otn, State: engine.AttemptUnresolved, StartedAt: epoch.Add(-time.Hour),
						Deadline: epoch.Add(-time.Hour + 30*time.Second), ReverseAfter: epoch.Add(-time.Hour + 15*time.Second)}}}
				if err := tx.PutSale(s); err != nil {
					return err
				}
				if err := tx.PutJob(engine.Job{ID: "resolve:" + otn, Kind: "resolve", SaleID: s.ID, OutTradeNo: otn, Due: epoch, CreatedAt: epoch}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(testConfig(), enginetest.NewFakeWx(clk), st, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			_ = e.Run(ctx)
		}()
		for !e.QueueRunning() {
			time.Sleep(10 * time.Microsecond)
		}
		e.Close()
		cancel()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Close and cancel")
		}
	}
}

// TestCheckCodeFollowsTheAPI: a 160-prefixed code is a Multi-Wallet (v3) payment code; on
// the v2 API (the default check) it is refused before WeChat is called.
func TestCheckCodeFollowsTheAPI(t *testing.T) {
	const code = "160123456789012345"
	h := newHarness(t)
	s := h.open(1000)
	_, err := h.e.Pay(context.Background(), s.ID, code)
	wantCode(t, err, "invalid_code")
	if n := len(h.wx.CallsOf("micropay")); n != 0 {
		t.Fatalf("%d micropay calls for a refused code", n)
	}

	h3 := newHarness(t, func(c *engine.Config) { c.CheckCode = wxpay.CheckMultiWalletAuthCode })
	s = h3.open(1000)
	if _, err := h3.e.Pay(context.Background(), s.ID, code); err != nil {
		t.Fatalf("v3: %v", err)
	}
}
