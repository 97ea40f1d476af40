package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue"
	"posd/queue/engine"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// timingGW notes when the micropay leaves and when its answer is back.
type timingGW struct {
	wxpay.Client
	mu           sync.Mutex
	sent, answer time.Time
}

func (g *timingGW) MicroPay(ctx context.Context, req wxpay.PayRequest) (wxpay.Order, error) {
	g.mu.Lock()
	g.sent = time.Now()
	g.mu.Unlock()
	o, err := g.Client.MicroPay(ctx, req)
	g.mu.Lock()
	g.answer = time.Now()
	g.mu.Unlock()
	return o, err
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func benchConfig() engine.Config {
	c := testConfig()
	c.Location = nil
	return c
}

// BenchmarkHappyPath: a paid-at-once attempt against the in-process simulator (v2 client,
// no network latency) on a real bbolt journal with fsync. Reports p50/p99 of scan
// accepted → micropay sent, and of answer → state durable and published (as a
// subscriber sees it), and journal commits per attempt (each bbolt commit is two
// fdatasyncs: pages, then meta).
func BenchmarkHappyPath(b *testing.B) {
	db, err := queue.Open(filepath.Join(b.TempDir(), "posd.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sim := wxpaytest.New(wxpaytest.Options{})
	defer sim.Close()
	clk := engine.RealClock()
	gw := &timingGW{Client: simClient(b, sim, wxpay.APIv2, clk)}
	e, err := engine.New(benchConfig(), gw, db, clk, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if err := e.Recover(context.Background()); err != nil {
		b.Fatal(err)
	}
	ch, unsub := e.Subscribe()
	defer unsub()
	ctx := context.Background()
	var toSend, toDurable []time.Duration
	var commits uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := e.OpenSale(ctx, engine.OpenSaleRequest{Amount: 1050})
		if err != nil {
			b.Fatal(err)
		}
		<-ch // the new sale
		before := db.Commits()
		b.StartTimer()
		t0 := time.Now()
		if _, err := e.Pay(ctx, s.ID, newCode()); err != nil {
			b.Fatal(err)
		}
		for got := range ch {
			if got.ID == s.ID && got.State == engine.SalePaid {
				break
			}
			if got.State != engine.SalePaying {
				b.Fatalf("sale %s", got.State)
			}
		}
		published := time.Now()
		b.StopTimer()
		commits += db.Commits() - before
		gw.mu.Lock()
		toSend = append(toSend, gw.sent.Sub(t0))
		toDurable = append(toDurable, published.Sub(gw.answer))
		gw.mu.Unlock()
		b.StartTimer()
	}
	b.StopTimer()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(percentile(toSend, 0.5)), "scan-to-send-p50-µs")
	b.ReportMetric(us(percentile(toSend, 0.99)), "scan-to-send-p99-µs")
	b.ReportMetric(us(percentile(toDurable, 0.5)), "answer-to-published-p50-µs")
	b.ReportMetric(us(percentile(toDurable, 0.99)), "answer-to-published-p99-µs")
	b.ReportMetric(float64(commits)/float64(b.N), "commits/attempt")
	if v := sim.Violations(); len(v) > 0 {
		b.Fatalf("violations %v", v)
	}
}

// BenchmarkDrainUnresolved: 10,000 attempts left unresolved by an outage (half paid,
// half still USERPAYING at WeChat) are resolved by the durable queue after WeChat is
// back: a query each, and for the unpaid half a reverse and a confirming query ≥ 1 s
// later. The rate limit is raised to its maximum for the benchmark (default 20/s).
// Real bbolt journal with fsync, in-process simulator.
func BenchmarkDrainUnresolved(b *testing.B) {
	const n = 10000
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		rate, err := drainOnce(b, n)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rate, "attempts/s")
	}
}

func drainOnce(b *testing.B, n int) (float64, error) {
	db, err := queue.Open(filepath.Join(b.TempDir(), "posd.db"), queue.Options{})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var shift atomic.Int64 // the simulator's clock runs ahead once the orders exist
	sim := wxpaytest.New(wxpaytest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }})
	defer sim.Close()
	clk := engine.RealClock()
	gw := simClient(b, sim, wxpay.APIv2, clk)
	cfg := benchConfig()
	now := time.Now()
	t0 := now.Add(-time.Minute)
	// The outage's leftovers: orders at WeChat, unresolved attempts with jobs in the journal.
	const batch = 500
	for start := 0; start < n; start += batch {
		err := db.Update(func(tx engine.Tx) error {
			for i := start; i < start+batch && i < n; i++ {
				seq, err := tx.NextSeq()
				if err != nil {
					return err
				}
				otn, err := engine.OutTradeNo(cfg.StoreID, cfg.TillID, now, seq)
				if err != nil {
					return err
				}
				code := newCode()
				if i%2 == 1 {
					sim.Script(wxpaytest.Match{AuthCode: code}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPayingForever})
				}
				if _, err := gw.MicroPay(context.Background(), wxpay.PayRequest{OutTradeNo: otn, AuthCode: code, Amount: 1050, Currency: "HKD", Description: "bench"}); err != nil {
					return err
				}
				id := fmt.Sprintf("BENCH-%d", i)
				s := &engine.Sale{ID: id, Amount: 1050, Currency: "HKD", State: engine.SalePaying, CreatedAt: t0, UpdatedAt: t0,
					Attempts: []engine.Attempt{{OutTradeNo: otn, State: engine.AttemptUnresolved, Phase: engine.PhaseWaitingNetwork,
						StartedAt: t0, Deadline: t0.Add(30 * time.Second), ReverseAfter: t0.Add(15 * time.Second), UpdatedAt: t0}}}
				if err := tx.PutSale(s); err != nil {
					return err
				}
				if err := tx.PutJob(engine.Job{ID: "resolve:" + otn, Kind: "resolve", SaleID: id, OutTradeNo: otn, Due: now, Tries: 1, CreatedAt: t0}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	shift.Store(int64(time.Minute))
	cfg.QueueRate = engine.MaxQueueRate
	cfg.QueueWorkers = 4000
	e, err := engine.New(cfg, gw, db, clk, nil)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	if err := e.Recover(context.Background()); err != nil {
		return 0, err
	}
	if st := e.Status(); st.Unresolved != n || st.QueueDepth != n {
		return 0, fmt.Errorf("before: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.StartTimer()
	start := time.Now()
	go e.Run(ctx)
	last := time.Now()
	for e.Status().Unresolved > 0 {
		if os.Getenv("POSD_BENCH_TRACE") != "" && time.Since(last) > time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "%v: %+v\n", time.Since(start).Round(time.Millisecond), e.Status())
		}
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("not drained: %+v", e.Status())
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if v := sim.Violations(); len(v) > 0 {
		return 0, fmt.Errorf("%d violations, first %v", len(v), v[0])
	}
	if got, want := sim.Captured(), int64(n/2)*1050; got != want {
		return 0, fmt.Errorf("captured %d, want %d", got, want)
	}
	return float64(n) / elapsed.Seconds(), nil
}
