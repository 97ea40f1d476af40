package engine_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// t0 of the fake clock: a Thursday morning in Hong Kong.
var epoch = time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("HKT", 8*3600))

type harness struct {
	t   *testing.T
	clk *enginetest.FakeClock
	st  *enginetest.MemStore
	wx  *enginetest.FakeWx
	gw  wxpay.Client // when set, used instead of wx (the real client against the simulator)
	e   *engine.Engine
	cfg engine.Config
	run context.CancelFunc
	ran chan struct{}
}

func testConfig() engine.Config {
	return engine.Config{StoreID: "HK001", TillID: "T01", Description: "Example Store",
		Location: time.FixedZone("HKT", 8*3600)}
}

func newHarness(t *testing.T, mod ...func(*engine.Config)) *harness {
	t.Helper()
	clk := enginetest.NewFakeClock(epoch)
	h := &harness{t: t, clk: clk, st: enginetest.NewMemStore(nil), wx: enginetest.NewFakeWx(clk), cfg: testConfig()}
	for _, m := range mod {
		m(&h.cfg)
	}
	h.start()
	return h
}

// start builds the engine on the harness's store and recovers it (a (re)start of posd).
func (h *harness) start() {
	h.t.Helper()
	var gw wxpay.Client = h.wx
	if h.gw != nil {
		gw = h.gw
	}
	e, err := engine.New(h.cfg, gw, h.st, h.clk, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := e.Recover(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.e = e
	h.t.Cleanup(h.stop)
}

// runQueue starts the durable-queue worker.
func (h *harness) runQueue() {
	ctx, cancel := context.WithCancel(context.Background())
	h.run, h.ran = cancel, make(chan struct{})
	go func() {
		defer close(h.ran)
		if err := h.e.Run(ctx); err != nil {
			h.t.Error(err)
		}
	}()
	for !h.e.QueueRunning() {
		time.Sleep(10 * time.Microsecond)
	}
}

func (h *harness) stop() {
	if h.run != nil {
		h.run()
		<-h.ran
		h.run = nil
	}
	h.e.Close()
}

var codeSeq atomic.Int64

// newCode returns a fresh, valid WeChat payment code.
func newCode() string { return fmt.Sprintf("134%015d", codeSeq.Add(1)) }

func (h *harness) open(amount int64) *engine.Sale {
	h.t.Helper()
	s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: amount, Reference: "R-1"})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) pay(amount int64) *engine.Sale {
	h.t.Helper()
	s := h.open(amount)
	s, err := h.e.Pay(context.Background(), s.ID, newCode())
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) sale(id string) *engine.Sale {
	h.t.Helper()
	s, err := h.e.Sale(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func lastAttempt(s *engine.Sale) engine.Attempt { return s.Attempts[len(s.Attempts)-1] }

// settle waits (in real time) until the engine is idle: every goroutine of it waits for
// the fake clock (Engine.Busy counts exactly with a hooked clock), or cond holds.
// n is ignored (kept for readability at call sites: the timers expected).
func (h *harness) settle(n int, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.e.Busy() != 0 {
		if cond != nil && cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("engine did not settle: busy %d", h.e.Busy())
		}
		runtime.Gosched()
		time.Sleep(20 * time.Microsecond)
	}
}

// waitState waits until the sale's newest attempt satisfies pred.
func (h *harness) waitAttempt(id string, pred func(engine.Attempt) bool) *engine.Sale {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := h.sale(id)
		if len(s.Attempts) > 0 && pred(lastAttempt(s)) {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("attempt never reached the state: %+v", lastAttempt(s))
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func final(a engine.Attempt) bool { return a.State.Final() }

func unresolved(a engine.Attempt) bool { return a.State == engine.AttemptUnresolved }

// drive advances the fake clock timer by timer until the newest attempt of the sale
// satisfies pred, with `timers` goroutines expected to wait when idle. It fails after
// limit of fake time.
func (h *harness) drive(id string, timers int, limit time.Duration, pred func(engine.Attempt) bool) *engine.Sale {
	h.t.Helper()
	start := h.clk.Now()
	for {
		s := h.sale(id)
		if pred(lastAttempt(s)) {
			return s
		}
		h.settle(timers, nil)
		if pred(lastAttempt(h.sale(id))) {
			continue
		}
		if _, ok := h.clk.AdvanceToNext(); !ok {
			h.t.Fatal("no timer to advance to")
		}
		if h.clk.Now().Sub(start) > limit {
			h.t.Fatalf("not done after %v of fake time: %+v", limit, lastAttempt(h.sale(id)))
		}
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Code != code {
		t.Fatalf("error %v, want *engine.Error with code %q", err, code)
	}
}

// callsAfter returns the offsets from t0 of the calls of a method.
func offsets(calls []enginetest.Call, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, c := range calls {
		out = append(out, c.At.Sub(t0))
	}
	return out
}

// waitStatus waits until the engine's counters (updated right after each commit) satisfy pred.
func (h *harness) waitStatus(pred func(engine.Status) bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !pred(h.e.Status()) {
		if time.Now().After(deadline) {
			h.t.Fatalf("status %+v", h.e.Status())
		}
		time.Sleep(50 * time.Microsecond)
	}
}
