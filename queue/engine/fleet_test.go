package engine_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// A chain's tills after an outage, simulated: N engines (each with its own in-memory
// journal and real wxpay v2 client) against ONE WeChat Pay simulator that enforces the
// merchant's per-second limits, all on one fake clock. Every till takes `perTill`
// payments as WeChat goes away; half of them WeChat carried out (the answer was lost), half
// never arrived. They go unresolved into each till's durable queue and wait out the
// outage. When WeChat is back, the test measures the aggregate request rate per second,
// the requests refused as too frequent, and how long until every attempt settled.

// fleetRun is one simulation's parameters.
type fleetRun struct {
	tills, perTill int
	outage         time.Duration
	limits         map[wxpaytest.Endpoint]int
	queueRate      float64 // engine.Config.QueueRate of every till (0: the default)
}

// fleetResult is what a run measured (times on the fake clock, from the end of the outage).
type fleetResult struct {
	attempts      int
	drain         time.Duration // outage end → the last attempt final
	peakQPS       int           // most requests in one second, all endpoints
	peakByEP      map[wxpaytest.Endpoint]int
	limited       int // requests answered "too many requests"
	requests      int // requests after the outage
	paid, settled int
	maxLimitedRun int           // most rate-limited answers in a row for one order
	minAfterLimit time.Duration // shortest gap before an order's next request after a limited one
	wall          time.Duration
}

func runFleet(t *testing.T, p fleetRun) fleetResult {
	t.Helper()
	start := time.Now()
	clk := enginetest.NewFakeClock(epoch)
	outageFrom, outageUntil := epoch.Add(time.Millisecond), epoch.Add(p.outage)
	sim := wxpaytest.New(wxpaytest.Options{Now: clk.Now, RateLimits: p.limits})
	t.Cleanup(sim.Close)
	// The micropays at epoch reach WeChat (processed, or dropped by script); everything
	// after is lost in the outage.
	sim.AddOutage(wxpaytest.Outage{From: outageFrom, Until: outageUntil})

	type till struct {
		e    *engine.Engine
		st   *enginetest.MemStore
		sale []string
	}
	tills := make([]*till, p.tills)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, tl := range tills {
			if tl != nil {
				tl.e.Close()
			}
		}
	})
	for i := range tills {
		cfg := testConfig()
		cfg.StoreID, cfg.TillID = fmt.Sprintf("S%03d", i/20), fmt.Sprintf("T%04d", i)
		cfg.QueueRate = p.queueRate
		st := enginetest.NewMemStore(nil)
		e, err := engine.New(cfg, simClient(t, sim, wxpay.APIv2, clk), st, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		tills[i] = &till{e: e, st: st}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Run(ctx)
		}()
	}
	busy := func() int64 {
		var n int64
		for _, tl := range tills {
			n += tl.e.Busy()
		}
		return n
	}
	settle := func() {
		deadline := time.Now().Add(2 * time.Minute)
		for i := 0; busy() != 0; i++ {
			if i%1000 == 999 && time.Now().After(deadline) {
				t.Fatalf("fleet never idle: busy %d", busy())
			}
			runtime.Gosched()
			if i > 100 {
				time.Sleep(20 * time.Microsecond) // the workers need the CPU more than this loop
			}
		}
	}
	for _, tl := range tills {
		for !tl.e.QueueRunning() {
			runtime.Gosched()
		}
	}
	// Every till takes its payments at the moment the outage starts.
	for i, tl := range tills {
		for k := range p.perTill {
			code := newCode()
			kind := wxpaytest.FaultDrop
			if k%2 == 0 {
				kind = wxpaytest.FaultLost // carried out: the customer paid
			}
			sim.Script(wxpaytest.Match{AuthCode: code}, wxpaytest.Fault{Kind: kind})
			s, err := tl.e.OpenSale(ctx, engine.OpenSaleRequest{Amount: int64(1000 + i), Reference: "fleet"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tl.e.Pay(ctx, s.ID, code); err != nil {
				t.Fatal(err)
			}
			tl.sale = append(tl.sale, s.ID)
		}
	}
	attempts := p.tills * p.perTill
	unresolved := func() int {
		n := 0
		for _, tl := range tills {
			n += tl.e.Status().Unresolved
		}
		return n
	}
	// Drive the fake clock. Steps of at least 10 ms (1 s while WeChat is away and every
	// request is dropped): thousands of jittered timers would otherwise each be a step of
	// their own; 10 ms is far below every rule (1 s between queries of an order).
	var lastFinal time.Time
	limit := outageUntil.Add(2 * time.Hour)
	for {
		settle()
		if clk.Now().After(outageUntil) && unresolved() == 0 {
			lastFinal = clk.Now()
			break
		}
		if clk.Now().After(limit) {
			t.Fatalf("%d of %d attempts still unresolved 2 h after the outage", unresolved(), attempts)
		}
		d, ok := clk.NextTimer()
		if !ok {
			t.Fatal("no timer left and attempts unresolved")
		}
		quantum := 10 * time.Millisecond
		if clk.Now().Before(outageUntil.Add(-time.Minute)) {
			quantum = time.Second
		}
		clk.Advance(max(d, quantum))
	}
	// Every attempt settled; the money adds up; WeChat's rules were kept.
	r := fleetResult{attempts: attempts, peakByEP: map[wxpaytest.Endpoint]int{}, wall: time.Since(start)}
	var paidAmount int64
	for _, tl := range tills {
		for _, id := range tl.sale {
			s, err := tl.e.Sale(id)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range s.Attempts {
				if !a.State.Final() {
					t.Fatalf("attempt %s not final: %s", a.OutTradeNo, a.State)
				}
				r.settled++
				if a.State == engine.AttemptPaid {
					r.paid++
					paidAmount += s.Amount
				}
			}
		}
	}
	if got := sim.Captured(); got != paidAmount {
		t.Errorf("WeChat kept %d, the tills' journals say %d", got, paidAmount)
	}
	if r.paid != (p.perTill+1)/2*p.tills {
		t.Errorf("%d paid attempts, want %d (the ones WeChat carried out)", r.paid, (p.perTill+1)/2*p.tills)
	}
	for _, v := range sim.Violations() {
		t.Errorf("violation: %+v", v)
	}
	// The request rate after the outage, per second of the sim clock.
	perSec := map[int64]int{}
	perSecEP := map[wxpaytest.Endpoint]map[int64]int{}
	lastByOrder := map[string]wxpaytest.Request{}
	limitedRun := map[string]int{}
	r.minAfterLimit = time.Hour
	for _, q := range sim.Requests() {
		if q.Time.Before(outageUntil) {
			continue
		}
		r.requests++
		sec := q.Time.Unix()
		perSec[sec]++
		if perSecEP[q.Endpoint] == nil {
			perSecEP[q.Endpoint] = map[int64]int{}
		}
		perSecEP[q.Endpoint][sec]++
		if prev, ok := lastByOrder[q.OutTradeNo]; ok && strings.HasPrefix(prev.Fault, "ratelimit@") {
			r.minAfterLimit = min(r.minAfterLimit, q.Time.Sub(prev.Time))
		}
		lastByOrder[q.OutTradeNo] = q
		if strings.HasPrefix(q.Fault, "ratelimit@") {
			r.limited++
			limitedRun[q.OutTradeNo]++
			r.maxLimitedRun = max(r.maxLimitedRun, limitedRun[q.OutTradeNo])
		} else {
			limitedRun[q.OutTradeNo] = 0
		}
	}
	for _, n := range perSec {
		r.peakQPS = max(r.peakQPS, n)
	}
	for ep, m := range perSecEP {
		for _, n := range m {
			r.peakByEP[ep] = max(r.peakByEP[ep], n)
		}
	}
	r.drain = lastFinal.Sub(outageUntil)
	return r
}

func (r fleetResult) String() string {
	var eps []string
	for ep, n := range r.peakByEP {
		eps = append(eps, fmt.Sprintf("%s %d", ep, n))
	}
	sort.Strings(eps)
	return fmt.Sprintf("attempts %d (paid %d), requests %d, peak %d/s (%s), rate-limited %d, drain %v, wall %v",
		r.attempts, r.paid, r.requests, r.peakQPS, strings.Join(eps, ", "), r.limited, r.drain.Round(time.Second), r.wall.Round(time.Millisecond))
}

// fleetSize is the number of tills: 60 in CI, POSD_FLEET_TILLS to choose, 1,000 under
// make soak (POSD_SOAK set).
func fleetSize() int {
	if v, err := strconv.Atoi(os.Getenv("POSD_FLEET_TILLS")); err == nil && v > 0 {
		return v
	}
	if os.Getenv("POSD_SOAK") != "" {
		return 1000
	}
	return 60
}

// drainLimits are WeChat's published limits for the calls of a drain. The micropay limit
// is left out: the simulation sends every till's payments in the same instant before the
// outage (a real chain's are spread over the day), and no micropay follows the outage.
func drainLimits() map[wxpaytest.Endpoint]int {
	m := map[wxpaytest.Endpoint]int{}
	for ep, n := range wxpaytest.WeChatRateLimits {
		if ep != wxpaytest.EPMicroPay {
			m[ep] = n
		}
	}
	return m
}

// fleetEnv reads an optional number from the environment (POSD_FLEET_PER_TILL,
// POSD_FLEET_QUEUE_RATE, POSD_FLEET_OUTAGE_MIN), for the README's table.
func fleetEnv(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// TestFleetAfterOutage: a chain's tills come back from a 2-hour outage under WeChat's
// published limits. The aggregate rate stays under every endpoint's limit (nothing is
// refused as too frequent), every attempt settles with the money right.
func TestFleetAfterOutage(t *testing.T) {
	n := fleetSize()
	per := int(fleetEnv("POSD_FLEET_PER_TILL", 3))
	outage := time.Duration(fleetEnv("POSD_FLEET_OUTAGE_MIN", 120)) * time.Minute
	r := runFleet(t, fleetRun{tills: n, perTill: per, outage: outage, limits: drainLimits(),
		queueRate: fleetEnv("POSD_FLEET_QUEUE_RATE", 0)})
	t.Logf("N=%d, %d attempts per till, outage %v: %v", n, per, outage, r)
	for ep, peak := range r.peakByEP {
		if lim, ok := wxpaytest.WeChatRateLimits[ep]; ok && peak > lim {
			t.Errorf("%s peaked at %d/s, over the merchant's %d/s", ep, peak, lim)
		}
	}
	if r.limited != 0 {
		t.Errorf("%d requests refused as too frequent under WeChat's limits", r.limited)
	}
	// Tills retry jobs flagged for a person every 10 min ±20 %: all settle within that.
	if r.drain > 13*time.Minute {
		t.Errorf("drain took %v", r.drain)
	}
}

// TestFleetRateLimited: merchant limits below what the tills offer at their peak (query
// N/100 per second, reverse N/200, at least 2 and 1: 10 and 5 for 1,000 tills). WeChat refuses the excess; no till
// spins on the refusals: an order refused as too frequent is not asked again for seconds
// (backoff with jitter), never refused many times in a row, and everything still settles.
func TestFleetRateLimited(t *testing.T) {
	n := fleetSize()
	limits := map[wxpaytest.Endpoint]int{wxpaytest.EPQuery: max(2, n/100), wxpaytest.EPReverse: max(1, n/200)}
	r := runFleet(t, fleetRun{tills: n, perTill: 3, outage: 2 * time.Hour, limits: limits})
	t.Logf("N=%d, query %d/s, reverse %d/s: %v; after a refusal the order waited ≥ %v; at most %d refusals in a row",
		n, limits[wxpaytest.EPQuery], limits[wxpaytest.EPReverse], r, r.minAfterLimit, r.maxLimitedRun)
	if r.limited == 0 {
		t.Fatal("the merchant limits were never reached: the test proves nothing")
	}
	if r.minAfterLimit < time.Second {
		t.Errorf("an order was asked again %v after a too-frequent refusal", r.minAfterLimit)
	}
	if r.maxLimitedRun > 4 {
		t.Errorf("an order was refused %d times in a row", r.maxLimitedRun)
	}
	if r.limited > r.requests/2 {
		t.Errorf("%d of %d requests refused: the tills keep pushing", r.limited, r.requests)
	}
}
