package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"posd/wxpay"
)

// limiter spaces the durable queue's WeChat calls (Config.QueueRate per second) on the
// engine's clock. All tills of a merchant share WeChat's limits (query 300/s, reverse
// 150/s), so the default stays far below them. Live attempts are not limited: a cashier
// is waiting, and each is already held to one query per second.
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	burst time.Duration
	next  time.Time // the next free slot
	seen  time.Time // the clock at the last call, to notice it being set back
}

func (l *limiter) init(rate float64) {
	l.every = time.Duration(float64(time.Second) / rate)
	l.burst = l.every * time.Duration(math.Max(1, math.Ceil(rate/4)))
}

// wait blocks until the next call may go; false when ctx ended first.
func (l *limiter) wait(ctx context.Context, e *Engine) bool {
	l.mu.Lock()
	now := e.mono() // spacing is real time, whatever the wall clock does
	t := l.next
	if min := now.Add(-l.burst); t.Before(min) {
		t = min
	}
	if now.Before(l.seen.Add(-time.Second)) {
		t = now // the wall clock was set back: do not wait for the old schedule
	}
	l.seen = now
	l.next = t.Add(l.every)
	l.mu.Unlock()
	_, ok := e.wait(ctx, t.Sub(now), nil)
	return ok
}

// hold keeps this till's durable queue quiet for d: WeChat answered "too many requests",
// and the limit is the merchant's, shared with every other till of the chain.
func (l *limiter) hold(now time.Time, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := now.Add(d); t.After(l.next) { // now: e.mono(), the axis wait uses
		l.next = t
	}
}

// frequencyLimited reports WeChat's "too many requests" answer (v2 FREQUENCY_LIMITED,
// v3 HTTP 429 RATELIMIT_EXCEEDED): the request was not carried out.
func frequencyLimited(err *wxpay.Error) bool {
	if err == nil {
		return false
	}
	switch err.Code {
	case "FREQUENCY_LIMITED", "RATELIMIT_EXCEEDED", "RATE_LIMITED":
		return true
	}
	return err.HTTP == http.StatusTooManyRequests
}

// limitedHold is how long a till's durable queue pauses after a "too many requests"
// answer (with jitter, so the tills that were refused in the same second spread out).
const limitedHold = 2 * time.Second

// limited ends a durable-queue runner that WeChat answered "too many requests": the
// attempt goes back to the queue with the job's backoff and jitter, and the till's queue
// pauses, instead of asking again in 2 s (or reversing) and feeding the merchant's limit.
func (r *runner) limited(err *wxpay.Error) bool {
	r.lastErr = describe(err)
	r.e.limiter.hold(r.e.mono(), backoff(limitedHold, limitedHold, 0))
	r.unresolve()
	return true
}

// wakeQueue tells the queue worker to look for work now. Only when Run is working: the
// token then counts as busy until Run takes it.
func (e *Engine) wakeQueue() {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if !e.qrun {
		return
	}
	e.busy.Add(1) // before the send: Run may take the token at once
	select {
	case e.qwake <- struct{}{}:
	default:
		e.busy.Add(-1)
	}
}

// wait blocks for d on the engine's clock, until a token arrives on wake, or until ctx
// ends. It reports whether a token woke it and whether ctx is still live. It keeps busy
// exact: the caller stops counting while it waits and is counted again by what wakes it.
func (e *Engine) wait(ctx context.Context, d time.Duration, wake <-chan struct{}) (woken, ok bool) {
	if d <= 0 {
		select {
		case <-wake:
			e.busy.Add(-1) // the token counted this goroutine, which was counted already
			return true, ctx.Err() == nil
		default:
			return false, ctx.Err() == nil
		}
	}
	var c <-chan time.Time
	var stop func() bool
	hooked := false
	if hc, ok := e.clk.(HookedClock); ok {
		c, stop = hc.NewHookedTimer(d, func() { e.busy.Add(1) })
		hooked = true
	} else {
		c, stop = newTimer(e.clk, d)
	}
	e.busy.Add(-1)
	select {
	case <-c:
		if !hooked {
			e.busy.Add(1)
		}
		return false, true
	case <-wake:
		if !stop() && hooked {
			e.busy.Add(-1) // the timer fired as well and counted us twice
		}
		return true, ctx.Err() == nil
	case <-ctx.Done():
		if !stop() && hooked {
			e.busy.Add(-1)
		}
		e.busy.Add(1)
		return false, false
	}
}

// Run works the durable queue until ctx is done: unresolved attempts (query first, then
// the same rules as a live attempt) and refunds to confirm. It waits for the jobs it
// started before returning.
func (e *Engine) Run(ctx context.Context) error {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAfter := context.AfterFunc(e.ctx, cancel)
	defer stopAfter()
	e.markQueueRunning()
	defer e.markQueueStopped()

	f := &inflightJobs{ids: map[string]bool{}}
	defer f.wg.Wait()
	// notBefore holds jobs that could not start (their attempt's live runner is still
	// leaving, an unreadable sale): tried again a second later, not in a busy loop.
	notBefore := map[string]time.Time{}
	// ready: due jobs not started yet, oldest first. Refilled from the in-memory copy of
	// the queue (e.jobs mirrors every committed job) when it runs dry, when a job is
	// added, or when a timer wakes us; a finished job only frees a slot. This keeps
	// draining thousands of jobs linear.
	var ready []Job
	var nextDue time.Time // when the earliest job not in ready or in flight is due
	refresh := true

	for {
		if qctx.Err() != nil {
			return nil
		}
		now := e.now()
		f.mu.Lock()
		n := len(f.ids)
		f.mu.Unlock()
		if e.jobsAdded.Swap(false) || !now.Before(nextDue) {
			refresh = true
		}
		if refresh {
			// One pass over the queue: what is due now, and when the rest is.
			refresh = false
			f.mu.Lock()
			ready, nextDue = e.dueJobs(now, notBefore, f.ids)
			f.mu.Unlock()
		}
		ready, nextDue = e.startReady(qctx, now, e.cfg.QueueWorkers-n, ready, nextDue, f, notBefore)
		if !e.sleepQueue(qctx, now, len(ready), nextDue) {
			return nil
		}
	}
}

// inflightJobs are the jobs Run has started and not yet seen finish.
type inflightJobs struct {
	mu  sync.Mutex
	ids map[string]bool // guarded by mu
	wg  sync.WaitGroup  // Run waits for every job it started
}

// markQueueRunning counts Run as busy and flags the queue as worked, so that
// wakeQueue signals it.
func (e *Engine) markQueueRunning() {
	e.busy.Add(1)
	e.qmu.Lock()
	e.qrun = true
	e.qmu.Unlock()
}

// markQueueStopped undoes markQueueRunning, dropping a wake-up nobody will
// take (and the busy count it carried).
func (e *Engine) markQueueStopped() {
	e.qmu.Lock()
	e.qrun = false
	select {
	case <-e.qwake:
		e.busy.Add(-1)
	default:
	}
	e.qmu.Unlock()
	e.busy.Add(-1)
}

// startReady starts jobs from the head of ready into the free worker slots,
// skipping any already in flight; a job that cannot start yet is held back a
// second in notBefore. It returns what is left of ready and the (possibly
// earlier) time the next job is due.
func (e *Engine) startReady(ctx context.Context, now time.Time, free int, ready []Job, nextDue time.Time, f *inflightJobs, notBefore map[string]time.Time) ([]Job, time.Time) {
	for free > 0 && len(ready) > 0 {
		j := ready[0]
		ready = ready[1:]
		f.mu.Lock()
		busy := f.ids[j.ID]
		if !busy {
			f.ids[j.ID] = true
		}
		f.mu.Unlock()
		if busy {
			continue
		}
		free--
		id := j.ID
		f.wg.Add(1)
		done := func() {
			f.mu.Lock()
			delete(f.ids, id)
			f.mu.Unlock()
			e.wakeQueue()
			f.wg.Done()
		}
		if !e.startJob(ctx, j, done) {
			notBefore[id] = now.Add(time.Second)
			if nextDue.After(notBefore[id]) {
				nextDue = notBefore[id]
			}
			f.mu.Lock()
			delete(f.ids, id)
			f.mu.Unlock()
			f.wg.Done()
		}
	}
	return ready, nextDue
}

// sleepQueue sleeps until the next job is due; a finished or new job wakes it
// sooner. false: ctx is done.
func (e *Engine) sleepQueue(ctx context.Context, now time.Time, ready int, nextDue time.Time) bool {
	wait := nextDue.Sub(now)
	if ready > 0 || wait > queueIdleWait {
		wait = queueIdleWait // full: a finished job wakes us
	}
	if wait <= 0 {
		wait = time.Millisecond
	}
	_, ok := e.wait(ctx, wait, e.qwake)
	return ok
}

// dueJobs lists the jobs due at now that are not in flight (including those flagged for
// a person: they are still retried, slowly), oldest first, and when the next of the
// others is due (in a minute at most: the queue also looks around now and then).
func (e *Engine) dueJobs(now time.Time, notBefore map[string]time.Time, inflight map[string]bool) ([]Job, time.Time) {
	e.mu.Lock()
	var out []Job
	next := now.Add(queueIdleWait)
	for id, j := range e.jobs {
		if inflight[id] {
			continue
		}
		due := later(j.Due, notBefore[id])
		if !due.After(now) {
			out = append(out, j)
		} else if due.Before(next) {
			next = due
		}
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, k int) bool { return out[i].Due.Before(out[k].Due) })
	return out, next
}

// queueIdleWait bounds the queue worker's sleep: it also notices jobs written by
// someone else (a restart's Recover) or a clock set back.
const queueIdleWait = time.Minute

// startJob starts the work of one due job; false when it cannot start now.
func (e *Engine) startJob(ctx context.Context, j Job, done func()) bool {
	var s *Sale
	err := e.st.View(func(tx ReadTx) error {
		var err error
		s, err = tx.Sale(j.SaleID)
		return err
	})
	if err != nil {
		e.log.WithError(err).WithField("job", j.ID).Error("durable queue: job's sale unreadable")
		if errors.Is(err, ErrNotFound) {
			e.dropStaleJob(j)
		}
		return false
	}
	switch j.Kind {
	case "resolve":
		a := findAttempt(s, j.OutTradeNo)
		if a == nil || a.State.Final() {
			e.dropStaleJob(j)
			return false
		}
		r := e.newRunner(s, a, true)
		r.job = j
		return e.launchCtx(ctx, r, done)
	case "refund":
		e.busy.Add(1)
		ok := e.track(func() {
			defer e.busy.Add(-1)
			defer done()
			e.workRefund(ctx, j)
		})
		if !ok {
			e.busy.Add(-1)
		}
		return ok
	default:
		e.log.WithField("job", j.ID).Errorf("durable queue: unknown job kind %q", j.Kind)
		return false
	}
}

func (e *Engine) dropStaleJob(j Job) {
	if err := e.update(func(tx *wtx) error { return tx.dropJob(j.ID) }); err != nil {
		e.log.WithError(err).WithField("job", j.ID).Error("durable queue: cannot drop a finished job")
	}
}

// launchCtx is launch with the runner's work bounded by ctx too.
func (e *Engine) launchCtx(ctx context.Context, r *runner, done func()) bool {
	rctx, cancel := context.WithCancel(e.ctx)
	stop := context.AfterFunc(ctx, cancel)
	ok := e.launchWith(rctx, r, func() {
		stop()
		cancel()
		done()
	})
	if !ok {
		stop()
		cancel()
	}
	return ok
}

// Recover resumes every unfinished attempt from the journal, with the deadlines of its
// journaled t0, and loads the queue's counters. Call it before reporting ready.
func (e *Engine) Recover(ctx context.Context) error {
	var open []*Sale
	var jobs []Job
	err := e.st.View(func(tx ReadTx) error {
		var err error
		if open, err = tx.OpenSales(); err != nil {
			return err
		}
		jobs, err = tx.Jobs()
		return err
	})
	if err != nil {
		return fmt.Errorf("recover: reading the journal: %w", err)
	}
	have := map[string]bool{}
	now := e.now()
	e.mu.Lock()
	e.recovered = e.mono()
	for _, j := range jobs {
		have[j.ID] = true
		e.setJob(j)
	}
	e.mu.Unlock()
	for _, s := range open {
		if err := ctx.Err(); err != nil {
			return err
		}
		anyOpen := false
		for i := range s.Attempts {
			a := &s.Attempts[i]
			if a.State.Final() {
				continue
			}
			anyOpen = true
			e.mu.Lock()
			e.open[a.OutTradeNo] = a.State
			e.mu.Unlock()
			switch {
			case a.State == AttemptPaying:
				e.log.WithField("out_trade_no", a.OutTradeNo).Info("resuming an attempt from the journal")
				e.launch(e.newRunner(s, a, false), nil)
			case !have[resolveJobID(a.OutTradeNo)]:
				// An unresolved attempt always has its job; recreate one if it is gone.
				otn, saleID := a.OutTradeNo, s.ID
				if err := e.update(func(tx *wtx) error {
					return tx.putJob(Job{ID: resolveJobID(otn), Kind: "resolve", SaleID: saleID, OutTradeNo: otn, Due: now, CreatedAt: now})
				}); err != nil {
					return fmt.Errorf("recover: re-queueing %s: %w", otn, err)
				}
			}
		}
		if !anyOpen && s.State == SalePaying {
			// Paying without an open attempt cannot be written by this engine; repair it
			// so the sale can take a code again.
			id := s.ID
			if err := e.update(func(tx *wtx) error {
				s, err := tx.Sale(id)
				if err != nil {
					return err
				}
				s.State = SaleAwaitingScan
				s.UpdatedAt = now
				return tx.put(s)
			}); err != nil {
				return fmt.Errorf("recover: repairing sale %s: %w", id, err)
			}
		}
	}
	e.mu.Lock()
	e.ready = true
	e.mu.Unlock()
	e.jobsAdded.Store(true) // a queue worker already running looks at the loaded jobs
	e.wakeQueue()
	return nil
}
