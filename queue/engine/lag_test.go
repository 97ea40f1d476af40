package engine_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// A customer confirming on the phone is seen quickly: median lag from the moment the
// simulator marks the order paid to the attempt being journaled paid ≤ 1.5 s (it is
// bounded by the one-query-per-second rule), over confirmations spread across the
// polling phase.
func TestConfirmationLag(t *testing.T) {
	clk := enginetest.NewFakeClock(epoch)
	sim := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
	defer sim.Close()
	h := &harness{t: t, clk: clk, st: enginetest.NewMemStore(nil), cfg: testConfig()}
	h.gw = simClient(t, sim, wxpay.APIv2, clk)
	h.start()
	var lags []time.Duration
	for i := 0; i < 40; i++ {
		code := newCode()
		confirm := time.Duration(300+i*370) * time.Millisecond // 0.3 s … 14.7 s, off the polling grid
		sim.Script(wxpaytest.Match{AuthCode: code}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPaying, For: confirm})
		s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: 100, AuthCode: code})
		if err != nil {
			t.Fatal(err)
		}
		s = h.drive(s.ID, 1, time.Minute, final)
		a := lastAttempt(s)
		if a.State != engine.AttemptPaid {
			t.Fatalf("attempt %d: %s", i, a.State)
		}
		o, ok := sim.Order(a.OutTradeNo)
		if !ok {
			t.Fatal("order missing at the simulator")
		}
		var paidAt time.Time
		for _, ev := range a.Events {
			if ev.Call == "state" && ev.Outcome == string(engine.AttemptPaid) {
				paidAt = ev.At
			}
		}
		lags = append(lags, paidAt.Sub(o.PaidAt))
	}
	if v := sim.Violations(); len(v) > 0 {
		t.Fatalf("violations %v", v)
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	median, worst := lags[len(lags)/2], lags[len(lags)-1]
	t.Logf("confirmation lag: median %v, worst %v", median, worst)
	if median > 1500*time.Millisecond || worst > 2*time.Second || lags[0] < 0 {
		t.Fatalf("lag median %v worst %v (all %v)", median, worst, lags)
	}
}
