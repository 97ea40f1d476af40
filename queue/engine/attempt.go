package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"posd/wxpay"
)

// runner drives one attempt from its journaled intent to paid, failed or reversed. One
// goroutine per attempt in flight ("live", started by Pay or Recover) and one per job the
// durable queue works on ("queued": rate-limited, and silence reschedules the job).
//
// Every change is written to the journal first (one Update) and published after; queries
// that change nothing are not written (their events ride along with the next write), so
// a paid attempt costs 2–3 fsyncs.
type runner struct {
	e      *Engine
	ctx    context.Context
	saleID string
	otn    string
	code   string // the full payment code, for the micropay only; never journaled
	create bool   // a just-journaled QR attempt: the native order leaves first
	queued bool
	job    Job // the durable-queue job (queued runners)

	amount   int64
	currency string
	t0       time.Time // on the engine's monotonic axis (Engine.mono), as are all of t
	t1       time.Time // wall time the micropay call ended, for the journal
	t1Mono   time.Duration
	t1Known  bool   // t1 is known (journaled or just measured); see run
	txID     string // WeChat's transaction id once seen (needed to refund)
	// expiresAt is a QR attempt's time_expire, sent again unchanged when the native order
	// is re-sent (WeChat refuses a change of it).
	expiresAt time.Time

	t        track
	phase    Phase // as journaled
	wake     chan struct{}
	woken    atomic.Bool // Cancel happened
	pending  []Event     // events not journaled yet
	queries  int         // calls not journaled yet
	reverses int
	lastErr  string
}

// startLive starts the runner of a just-journaled attempt: the micropay leaves now.
func (e *Engine) startLive(s *Sale, otn, code string) {
	a := findAttempt(s, otn)
	r := e.newRunner(s, a, false)
	r.code = code
	e.launch(r, nil)
}

func findAttempt(s *Sale, otn string) *Attempt {
	for i := range s.Attempts {
		if s.Attempts[i].OutTradeNo == otn {
			return &s.Attempts[i]
		}
	}
	return nil
}

// newRunner builds a runner from the journal, mapping its journaled times onto the
// engine's monotonic axis (Engine.mono), on which the runner then waits:
//   - same boot as the journaled readings: the real time since t0 and t1 is known
//     exactly, whatever the wall clock did while posd was off;
//   - another boot (or an attempt journaled without them): the wall clock is all there
//     is. Set back, it is taken as no time passed (a jump can delay a reverse, never bring
//     one early); it may also have jumped forward, so the reverse floor then counts from
//     now: WeChat created the order before posd stopped, so that is always late enough.
//
// Deadlines keep their journaled t0 (payment-policy.md §4).
func (e *Engine) newRunner(s *Sale, a *Attempt, queued bool) *runner {
	now, nowM := e.now(), e.mono()
	boot, since := e.monoReading()
	sameBoot := a.Boot != "" && a.Boot == boot
	onAxis := func(wall time.Time, mono time.Duration) time.Time {
		if sameBoot {
			return nowM.Add(mono - since)
		}
		elapsed := now.Sub(wall)
		if elapsed < 0 {
			elapsed = 0
		}
		return nowM.Add(-elapsed)
	}
	t0 := onAxis(a.StartedAt, a.MonoStarted)
	pollUntil := e.cfg.PollUntil
	if !a.Deadline.IsZero() && a.Deadline.After(a.StartedAt) {
		pollUntil = a.Deadline.Sub(a.StartedAt)
	}
	deadline, reverseAfter := t0.Add(pollUntil), t0.Add(e.cfg.ReverseFloor)
	var t1 time.Time
	if !a.MicroPayEndedAt.IsZero() {
		t1 = onAxis(a.MicroPayEndedAt, a.MonoEnded)
		reverseAfter = later(reverseAfter, t1.Add(e.cfg.ReverseFloor+reverseMargin))
	}
	if !sameBoot {
		reverseAfter = later(reverseAfter, nowM.Add(e.cfg.ReverseFloor+reverseMargin))
	}
	r := &runner{
		e: e, saleID: s.ID, otn: a.OutTradeNo, queued: queued,
		amount: s.Amount, currency: s.Currency, t0: t0, txID: a.TransactionID,
		phase: a.Phase, wake: make(chan struct{}, 1),
	}
	if !t1.IsZero() {
		r.t1, r.t1Known = a.MicroPayEndedAt, true
	}
	r.t.deadline, r.t.reverseAfter = deadline, reverseAfter
	if sameBoot || a.Boot == "" {
		r.t.windowEnd = t0.Add(reverseWindow)
	}
	// else: after a reboot the real age of the order is unknown (the wall clock may have
	// jumped a week forward while the till was off), so WeChat decides: a reverse it
	// finds too old is refused with REVERSE_EXPIRE, which closes the window (see reverse).
	// Believing the wall clock instead could settle a fresh order as "too old".
	r.t.cancelled = s.State == SaleCancelled || s.State == SalePaid
	if a.Kind == AttemptKindQR {
		r.qrTimes(a, t0, now, nowM, sameBoot)
	}
	r.resumeFrom(a.Events, now, nowM)
	if r.t.undo == undoNone && r.t.cancelled && a.Phase == PhaseRefunding {
		// Found paid after the cancel, not given back yet: reverse it (next() turns that
		// into a refund past the window).
		r.t.undo = undoReverse
		if r.t.qr {
			r.t.undo, r.t.nextRefund = undoRefund, nowM // a QR order is never reversed
		}
	}
	// Queries that changed nothing are not journaled, so one may have been made just
	// before a crash: after a restart no order is queried within a second of it. Within
	// the process the engine remembers each order's last query (a wall-clock jump makes
	// the journaled times useless for this).
	e.mu.Lock()
	r.t.nextQuery = e.recovered.Add(pollEvery)
	r.t.lastQuery = later(r.t.lastQuery, e.lastQuery[r.otn])
	e.mu.Unlock()
	return r
}

// qrTimes sets what differs for a QR attempt: its deadline is time_expire and
// a close may only follow WeChat's 5 minutes from the latest time the native
// order may have been created.
func (r *runner) qrTimes(a *Attempt, t0, now, nowM time.Time, sameBoot bool) {
	// The deadline is time_expire (journaled as Deadline); a close waits for WeChat's
	// 5 minutes plus a margin.
	r.t.qr, r.t.needCode = true, a.CodeURL == ""
	r.expiresAt = a.ExpiresAt
	r.t.reverseAfter = later(r.t.reverseAfter, t0.Add(qrCloseAfter))
	for _, ev := range a.Events {
		if ev.Call == "native" {
			// Events keep wall time only. Two estimates of when the order was sent, and
			// the later one counts (a close that waits longer is always safe): its age
			// on the wall clock now (a clock set back counts as no time passed), and its
			// offset from t0 on the wall clock of then (a clock stepped forward since
			// does not age it). Neither is later than now: the event was journaled
			// before this runner was built. Without that bound a wall clock stepped
			// forward between t0 and the native call (an 8-day NTP step) put the
			// close a week out, past the reverse window, and the attempt was queried
			// once a second for a week instead of being closed and settled.
			sent := later(nowM.Add(-max(0, now.Sub(ev.At))), t0.Add(max(0, ev.At.Sub(a.StartedAt))))
			if sent.After(nowM) {
				sent = nowM
			}
			r.t.reverseAfter = later(r.t.reverseAfter, sent.Add(qrCloseAfter))
		}
	}
	if !sameBoot {
		// After a reboot the order's real age is unknown (the wall clock may have
		// jumped while the till was off): WeChat's 5 minutes count from now, as the
		// reverse floor does in newRunner.
		r.t.reverseAfter = later(r.t.reverseAfter, nowM.Add(qrCloseAfter))
	}
	if r.t.needCode {
		// A native order may have left just before the stop without its event being
		// journaled: WeChat may have created the order as late as now.
		r.t.reverseAfter = later(r.t.reverseAfter, nowM.Add(qrCloseAfter))
	}
}

// resumeFrom restores from the journaled timeline what the runner knew when it stopped,
// so a restarted (or queued) runner resumes exactly where it was: the last query, a
// "paid" refusal of the reverse, the reverses tried since the attempt last changed state
// and their backoff, and a cancel refund under way (sent, accepted, its tries).
func (r *runner) resumeFrom(evs []Event, now, nowM time.Time) {
	onAxis := func(at time.Time) time.Time {
		if at.After(now) {
			return nowM // the wall clock was set back since: take it as just now
		}
		return nowM.Add(at.Sub(now))
	}
	var lastReverse, lastRefund time.Time
	for _, ev := range evs {
		switch ev.Call {
		case "state":
			// A new state (unresolved → a queued runner) starts a fresh round of tries.
			r.t.reverseTries, lastReverse = 0, time.Time{}
		case "query":
			r.t.lastQuery = later(r.t.lastQuery, onAxis(ev.At))
		case "reverse", "close": // a QR attempt's close is its reverse
			// A "paid" refusal of the reverse survives the handoff to the durable queue
			// and a restart: the resumed runner confirms by query instead of reversing.
			r.t.paidClaimed = ev.Outcome == wxpay.Paid.String()
			r.t.reverseTries++
			lastReverse = onAxis(ev.At)
			if ev.Code == "REVERSE_EXPIRE" {
				r.t.windowEnd = lastReverse
			}
		case "refund":
			r.t.undo = undoRefund
			r.t.refundTries++
			lastRefund = onAxis(ev.At)
			r.t.refundAccepted = ev.Outcome == wxpay.Paid.String() || ev.Outcome == wxpay.Refunded.String()
		case "refundquery":
			lastRefund = onAxis(ev.At)
			if ev.Outcome == wxpay.NotFound.String() {
				r.t.refundAccepted = false // never arrived: sent again, same number
			} else if ev.Detail == string(wxpay.RefundProcessing) {
				r.t.refundAccepted = true
			}
		}
	}
	if r.t.reverseTries > 0 && !lastReverse.IsZero() {
		r.t.nextReverse = lastReverse.Add(backoff(reverseBackoff, maxReverseBackoff, r.t.reverseTries-1))
	}
	if r.t.undo == undoRefund && !lastRefund.IsZero() {
		wait := afterSystemError
		if !r.t.refundAccepted {
			wait = backoff(reverseBackoff, maxReverseBackoff, r.t.refundTries-1)
		}
		r.t.nextRefund = lastRefund.Add(wait)
	}
}

// launch registers r (one runner per attempt) and starts it; done runs after it ends.
func (e *Engine) launch(r *runner, done func()) bool { return e.launchWith(e.ctx, r, done) }

func (e *Engine) launchWith(ctx context.Context, r *runner, done func()) bool {
	e.mu.Lock()
	if _, busy := e.runners[r.otn]; busy || e.closed {
		e.mu.Unlock()
		return false
	}
	e.runners[r.otn] = r
	e.wg.Add(1)
	e.busy.Add(1)
	e.mu.Unlock()
	r.ctx = ctx
	go func() {
		defer e.wg.Done()
		defer e.busy.Add(-1)
		defer func() {
			e.mu.Lock()
			delete(e.runners, r.otn)
			// A cancel's wake token nobody will take no longer counts.
			select {
			case <-r.wake:
				e.busy.Add(-1)
			default:
			}
			e.mu.Unlock()
			if done != nil {
				done()
			}
		}()
		r.run()
	}()
	return true
}

// cancel tells the runner its sale was cancelled (the journal already says so). The
// caller holds e.mu, so the runner cannot be leaving at the same time.
func (r *runner) cancel() {
	r.woken.Store(true)
	r.e.busy.Add(1) // before the send: the runner may take the token at once
	select {
	case r.wake <- struct{}{}:
	default:
		r.e.busy.Add(-1)
	}
}

func (r *runner) run() {
	if r.code != "" {
		if r.micropay() {
			return
		}
	} else if r.create {
		if r.native() {
			return
		}
	} else {
		// Resumed (restart or durable queue): whether or not the micropay left, and
		// whatever happened since, the first request is a query.
		r.t.mustQuery = true
		if !r.t1Known {
			// The micropay's end was never journaled (posd stopped during the call): it
			// may have run until it gave up, so WeChat may have created the order as late
			// as t0 + the micropay timeout.
			r.t.reverseAfter = later(r.t.reverseAfter, r.t0.Add(microPayTimeout+r.e.cfg.ReverseFloor+reverseMargin))
		}
	}
	for {
		if r.woken.Swap(false) {
			r.t.cancelled = true
		}
		act, at := next(&r.t, r.e.mono())
		if act == actUnresolve {
			r.unresolve()
			return
		}
		if r.t.cancelled && r.phase != PhaseRefunding && act != actRefund && act != actQueryRefund {
			r.setPhase(PhaseReversing)
		}
		if !r.sleepUntil(at) {
			return
		}
		if r.woken.Load() || r.e.mono().Before(at) {
			// Cancelled while waiting: plan again. A cancel's wake token can also arrive
			// after the top of the loop already saw the cancel; it then ends the sleep
			// early, and acting now would query within a second or reverse before
			// t1+15s. So an early wake always plans again.
			continue
		}
		if r.queued && !r.e.limiter.wait(r.ctx, r.e) {
			return
		}
		var done bool
		switch act {
		case actQuery:
			done = r.query()
		case actReverse:
			done = r.reverse()
		case actRefund:
			done = r.refund()
		case actQueryRefund:
			done = r.queryRefund()
		case actNative:
			done = r.native()
		}
		if done || r.ctx.Err() != nil {
			return
		}
	}
}

// sleepUntil waits for the clock to reach at, a cancel, or the end of the engine.
func (r *runner) sleepUntil(at time.Time) bool {
	_, ok := r.e.wait(r.ctx, at.Sub(r.e.mono()), r.wake)
	return ok
}

func (r *runner) event(call string, outcome wxpay.Outcome, err *wxpay.Error, detail string) {
	ev := Event{At: r.e.now(), Call: call, Outcome: outcome.String(), Detail: detail}
	if err != nil {
		ev.Code = weChatText(err.Code)
		if ev.Detail == "" {
			ev.Detail = err.Message
		}
	}
	ev.Detail = weChatText(ev.Detail)
	r.pending = append(r.pending, ev)
	r.e.observe(!silent(outcome, err), verified(outcome, err))
}

// callErr records a non-nil error from the client: the call was not made (bad input);
// callers treat it as no answer.
func (r *runner) callErr(call string, err error) {
	r.e.log.WithError(err).WithField("out_trade_no", r.otn).Warnf("%s not sent", call)
	r.pending = append(r.pending, Event{At: r.e.now(), Call: call, Detail: weChatText("not sent: " + err.Error())})
}

// micropay sends the charge; it reports whether the attempt is finished (or the runner
// must stop).
func (r *runner) micropay() bool {
	req := wxpay.PayRequest{
		OutTradeNo: r.otn, AuthCode: r.code, Amount: r.amount, Currency: r.currency,
		Description: r.e.cfg.Description, DeviceID: r.e.cfg.TillID, StoreID: r.e.cfg.StoreID,
		StoreName: r.e.cfg.Description,
	}
	r.code = "" // the code is needed once; do not keep it around
	ctx, cancel := context.WithTimeout(r.ctx, microPayTimeout)
	o, err := r.e.gw.MicroPay(ctx, req)
	cancel()
	if err != nil && r.ctx.Err() != nil {
		return true // closing: recovery will query
	}
	// t1: WeChat created the order (if at all) no later than now. Its 15 s floor counts
	// from its own creation time, so ours counts from here, not from t0: on a slow link
	// (or a certificate download before the send) the two are seconds apart.
	r.t1, r.t1Known = r.e.now(), true
	_, r.t1Mono = r.e.monoReading()
	r.t.reverseAfter = later(r.t.reverseAfter, r.e.mono().Add(r.e.cfg.ReverseFloor+reverseMargin))
	if err != nil {
		// The client refused to send it (bad input): no money can have moved.
		r.callErr("micropay", err)
		return r.finish(AttemptFailed, &ErrorInfo{Code: InfoNotSent, Message: "The payment could not be sent to WeChat Pay: take another payment method and call support"})
	}
	now := r.e.mono()
	r.event("micropay", o.Outcome, o.Error, "")
	switch {
	case o.Outcome == wxpay.Paid && o.TransactionID == "":
		// "Already paid" (v2 ORDERPAID, v3 ORDER_PAID) carries no order data: the number
		// may be paid by another charge (a journal restored from an old backup reissues
		// numbers). WeChat's advice: query for the transaction and amount first.
		r.t.nextQuery = now.Add(pollEvery)
		r.t.mustQuery = true
		r.setPhase(PhaseQuerying)
	case o.Outcome == wxpay.Paid && r.paidMismatch(o) != "":
		return r.mismatch(o)
	case o.Outcome == wxpay.Paid && o.Amount == 0:
		// Paid, but the answer does not say how much: ask again before the sale is paid.
		r.t.nextQuery = now.Add(pollEvery)
		r.t.mustQuery = true
		r.setPhase(PhaseQuerying)
	case o.Outcome == wxpay.Paid:
		return r.paid(o)
	case o.Outcome == wxpay.Failed:
		return r.finish(AttemptFailed, errInfo(o.Error, "WeChat Pay refused the payment: ask for another payment method"))
	case o.Outcome == wxpay.Pending:
		r.t.nextQuery = now.Add(pollEvery)
		r.setPhase(PhaseWaitingCustomer)
	default:
		// System error, no answer, or an answer that does not fit a new order: only a
		// query can tell, after the pause WeChat asks for.
		r.t.nextQuery = now.Add(afterSystemError)
		r.t.silent = silent(o.Outcome, o.Error)
		r.t.mustQuery = true
		r.setPhase(PhaseQuerying)
	}
	return false
}

// query asks WeChat about the order; it reports whether the attempt is finished.
func (r *runner) query() bool {
	now := r.e.mono()
	r.t.lastQuery = now
	r.e.noteQuery(r.otn, now)
	r.queries++
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	o, err := r.e.gw.QueryOrder(ctx, r.otn)
	cancel()
	if err != nil {
		if r.ctx.Err() != nil {
			return true
		}
		r.callErr("query", err)
		r.t.silent, r.t.mustQuery, r.t.nextQuery = true, true, now.Add(unknownEvery)
		return false
	}
	now = r.e.mono()
	r.event("query", o.Outcome, o.Error, o.TradeState)
	r.t.silent = silent(o.Outcome, o.Error)
	r.t.mustQuery = r.t.silent
	if o.TransactionID != "" {
		r.txID = o.TransactionID
	}
	return r.queryAnswer(o, now)
}

// queryAnswer acts on WeChat's answer to a query (already recorded as an
// event); it reports whether the attempt is finished.
func (r *runner) queryAnswer(o wxpay.Order, now time.Time) bool {
	switch {
	case (o.Outcome == wxpay.Paid || o.Outcome == wxpay.Refunded) && r.paidMismatch(o) != "":
		return r.mismatch(o)
	case (o.Outcome == wxpay.Paid || o.Outcome == wxpay.Refunded) && o.Amount == 0:
		// Paid, but the answer does not say how much: not enough to pay the sale (or to
		// refund it). Ask again; past the deadline the durable queue keeps asking.
		r.lastErr = "paid answer without an amount"
		r.t.mustQuery = true
		r.t.nextQuery = now.Add(unknownEvery)
		if !now.Before(r.t.deadline) {
			r.unresolve()
			return true
		}
	case o.Outcome == wxpay.Paid || o.Outcome == wxpay.Refunded:
		return r.paid(o)
	case o.Outcome == wxpay.Failed && o.TradeState == "PAYERROR":
		return r.finish(AttemptFailed, errInfo(o.Error, "The payment failed at WeChat Pay: ask for another payment method"))
	case o.Outcome == wxpay.Reversed:
		return r.reversed()
	case o.Outcome == wxpay.NotFound && r.t.reverseClaimed:
		// Reversed and no such order: the number is closed and no money moved.
		return r.reversed()
	case (o.Outcome == wxpay.NotPaid || o.Outcome == wxpay.NotFound) && r.t.pastWindow(now):
		// Too old to reverse and not paid: nothing to give back and nothing to cancel
		// (WeChat closes such orders itself). Settled with no money, no loop.
		if r.t.cancelled {
			return r.reversed()
		}
		return r.finish(AttemptFailed, &ErrorInfo{Code: "NOT_PAID", Message: "WeChat Pay says this payment was never made: ask for another payment method"})
	case o.Outcome == wxpay.Pending && r.t.pastWindow(now):
		// Still "confirming" past the window: WeChat will close it. Ask again slowly from
		// the durable queue rather than once a second.
		r.lastErr = "USERPAYING past the reverse window"
		r.unresolve()
		return true
	case o.Outcome == wxpay.Pending || o.Outcome == wxpay.NotPaid || o.Outcome == wxpay.NotFound:
		r.stillOpen(o, now)
	default:
		return r.queryUnknown(o, now)
	}
	return false
}

// stillOpen handles an order WeChat reports open (waiting for the customer,
// not paid, or not found) within the reverse window: poll again, and reverse
// again if a reverse had been claimed.
func (r *runner) stillOpen(o wxpay.Order, now time.Time) {
	// WeChat's own order state outranks an earlier "paid" refusal of the reverse.
	r.t.paidClaimed = false
	if r.t.reverseClaimed {
		// WeChat said reversed but the order is still open: reverse again.
		r.t.reverseClaimed = false
		r.t.nextReverse = now.Add(backoff(reverseBackoff, maxReverseBackoff, r.t.reverseTries))
	}
	r.t.nextQuery = now.Add(pollEvery)
	switch {
	case o.Outcome == wxpay.Pending:
		r.setPhase(PhaseWaitingCustomer)
	case r.t.qr && !r.t.needCode && !r.t.cancelled && now.Before(r.t.deadline):
		r.setPhase(PhaseShowingQR) // the code is on the customer display
	default:
		r.setPhase(PhaseQuerying)
	}
}

// queryUnknown handles a query that told nothing (system error, no answer, or
// a refusal of the query itself): ask again later, or for a queued runner that
// was rate-limited, leave it to the queue. It reports whether the attempt is
// finished.
func (r *runner) queryUnknown(o wxpay.Order, now time.Time) bool {
	if r.queued && frequencyLimited(o.Error) {
		return r.limited(o.Error)
	}
	if r.t.reverseClaimed {
		r.t.mustQuery = true // the reverse is still to be confirmed
	}
	r.lastErr = describe(o.Error)
	r.t.nextQuery = now.Add(unknownEvery)
	if !r.t.cancelled {
		r.setPhase(PhaseQuerying)
	}
	return false
}

// paidMismatch says how a paid answer disagrees with the sale ("" when it does not). A
// missing amount is not a mismatch (the caller asks again); a missing currency is taken
// as the sale's, as the wxpay client does (WeChat's v2 answers may leave it out).
func (r *runner) paidMismatch(o wxpay.Order) string {
	switch {
	case o.Amount != 0 && o.Amount != r.amount:
		return fmt.Sprintf("a different amount (%s, sale %s)", formatAmount(o.Amount), formatAmount(r.amount))
	case o.Currency != "" && !strings.EqualFold(o.Currency, r.currency):
		return fmt.Sprintf("a different currency (%s %s, sale %s %s)", o.Currency, formatAmount(o.Amount), r.currency, formatAmount(r.amount))
	}
	return ""
}

// mismatch: paid, but not this sale's money: the number belongs to another charge (a
// reissued number after a journal restored from an old backup, a forged answer). Marking
// the sale paid would hand over goods for money that never came; a person decides.
func (r *runner) mismatch(o wxpay.Order) bool {
	what := r.paidMismatch(o)
	r.lastErr = fmt.Sprintf("%s: order paid with %s", wxpay.CodeMismatch, what)
	return r.unresolveAttention(fmt.Sprintf("WeChat Pay reports order %s paid with %s: do not hand over the goods; look the order up in the WeChat Pay merchant platform.",
		r.otn, what))
}

// reverse closes the order at WeChat (or, for a paid order within 7 days, gives the money
// back); every reverse is confirmed by a query.
func (r *runner) reverse() bool {
	if r.t.qr {
		return r.close()
	}
	r.reverses++
	r.t.reverseTries++
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	res, err := r.e.gw.Reverse(ctx, r.otn)
	cancel()
	if err != nil {
		if r.ctx.Err() != nil {
			return true
		}
		r.callErr("reverse", err)
		res = wxpay.ReverseResult{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: InfoNotSent, Message: err.Error()}}
	}
	now := r.e.mono()
	detail := ""
	if res.Recall {
		detail = "recall=Y"
	}
	r.event("reverse", res.Outcome, res.Error, detail)
	if res.Error != nil && res.Error.Code == "REVERSE_EXPIRE" {
		// WeChat's clock says too old to reverse. That says nothing about payment: no
		// more reverses, and a query decides (paid → refund, not paid → settled).
		r.t.windowEnd = now
		r.t.mustQuery = true
		r.lastErr = describe(res.Error)
		return false
	}
	switch res.Outcome {
	case wxpay.Reversed, wxpay.NotFound:
		r.t.reverseClaimed = true
		r.t.mustQuery = true
	case wxpay.Paid:
		// Refused because the order is paid (e.g. past the reverse window): it is paid.
		// A query confirms and fetches the transaction; if the sale was cancelled the
		// money goes back by refund.
		// Refund only what a query says is paid: paid() then refunds (paidClaimed).
		r.t.mustQuery = true
		r.t.paidClaimed = true
	case wxpay.Failed:
		// A final refusal that is not about payment (certificate, permission): a person
		// must look; the durable queue keeps the attempt.
		r.lastErr = describe(res.Error)
		return r.unresolveAttention("WeChat Pay refused to cancel the order (" + describe(res.Error) + "). Check the till's API certificate, then look the order up in the WeChat Pay merchant platform.")
	default:
		r.lastErr = describe(res.Error)
		if r.queued && frequencyLimited(res.Error) {
			return r.limited(res.Error)
		}
		if r.t.reverseTries >= reverseTries {
			r.unresolve()
			return true
		}
		r.t.nextReverse = now.Add(backoff(reverseBackoff, maxReverseBackoff, r.t.reverseTries-1))
	}
	// Journal the reverse at once: a restart resumes its tries and backoff (resumeFrom).
	if err := r.save(func(*Sale, *Attempt) {}); err != nil {
		return true
	}
	return false
}

// refundNo is the stable out_refund_no that gives back the payment of a cancelled sale.
func refundNoForCancel(otn string) string { return otn + "C" }

func (r *runner) refund() bool {
	r.t.undo = undoRefund
	r.t.refundTries++
	req := wxpay.RefundRequest{OutTradeNo: r.otn, TransactionID: r.txID, OutRefundNo: refundNoForCancel(r.otn),
		Amount: r.amount, Total: r.amount, Currency: r.currency, Reason: "sale cancelled"}
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	res, err := r.e.gw.Refund(ctx, req)
	cancel()
	if err != nil {
		if r.ctx.Err() != nil {
			return true
		}
		r.callErr("refund", err)
		res = wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: InfoNotSent, Message: err.Error()}}
	}
	now := r.e.mono()
	r.event("refund", res.Outcome, res.Error, string(res.State))
	switch res.Outcome {
	case wxpay.Paid, wxpay.Refunded:
		if res.State == wxpay.RefundSuccess {
			return r.reversed()
		}
		r.t.refundAccepted = true
		r.t.nextRefund = now.Add(afterSystemError)
	case wxpay.Failed:
		r.lastErr = describe(res.Error)
		return r.unresolveAttention("WeChat Pay refused to refund the payment of a cancelled sale (" + describe(res.Error) + "): give the customer the money back another way.")
	default:
		r.lastErr = describe(res.Error)
		if r.t.refundTries >= reverseTries {
			r.unresolve()
			return true
		}
		r.t.nextRefund = now.Add(backoff(reverseBackoff, maxReverseBackoff, r.t.refundTries-1))
	}
	// Journal the refund at once: a restart must know it was sent (and accepted) to
	// confirm it rather than reverse or send it again (resumeFrom).
	if err := r.save(func(*Sale, *Attempt) {}); err != nil {
		return true
	}
	return false
}

func (r *runner) queryRefund() bool {
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	res, err := r.e.gw.QueryRefund(ctx, refundNoForCancel(r.otn))
	cancel()
	if err != nil {
		if r.ctx.Err() != nil {
			return true
		}
		r.callErr("refundquery", err)
		res = wxpay.Refund{Outcome: wxpay.Unknown}
	}
	now := r.e.mono()
	r.event("refundquery", res.Outcome, res.Error, string(res.State))
	if res.Outcome == wxpay.Failed && res.State == "" {
		// WeChat refused the query itself (signature, permission, an unknown 4xx): that
		// says nothing about the refund, which may be paying out (as in workRefund).
		res.Outcome = wxpay.Unknown
		r.lastErr = describe(res.Error)
	}
	switch {
	case res.State == wxpay.RefundSuccess:
		return r.reversed()
	case res.Outcome == wxpay.NotFound:
		r.t.refundAccepted = false // never arrived: send it again, same number
		r.t.nextRefund = now
	case res.State == wxpay.RefundClosed || res.State == wxpay.RefundAbnormal || res.Outcome == wxpay.Failed:
		return r.unresolveAttention("The refund of a cancelled sale's payment did not go through (" + string(res.State) + "): give the customer the money back another way.")
	default:
		r.t.refundTries++
		if r.t.refundTries >= 3*reverseTries {
			r.unresolve()
			return true
		}
		r.t.nextRefund = now.Add(afterSystemError)
	}
	return false
}

// paid records a payment. If the sale can no longer take it (cancelled meanwhile), the
// attempt stays open and the money goes back: reversed within 7 days, refunded after.
func (r *runner) paid(o wxpay.Order) bool {
	now := r.e.now()
	if o.TransactionID != "" {
		r.txID = o.TransactionID
	}
	final := false
	err := r.save(func(s *Sale, a *Attempt) {
		a.TransactionID = r.txID
		if o.PayerCurrency != "" {
			a.Wallet, a.PayerAmount = o.PayerCurrency, o.PayerAmount
		}
		if s.State == SalePaying && !r.t.cancelled {
			a.State, a.Phase, a.Error = AttemptPaid, "", nil
			a.Events = appendEvents(a.Events, Event{At: now, Call: "state", Outcome: string(AttemptPaid)})
			s.State = SalePaid
			final = true
			return
		}
		// Not for this sale any more: give it back.
		r.t.cancelled = true
		if r.t.undo != undoRefund {
			// Past the window, a reverse refused as paid, or a QR order (reverse is for
			// Quick Pay): only a refund gives it back.
			if m := r.e.mono(); r.t.qr || r.t.pastWindow(m) || r.t.paidClaimed {
				r.t.undo, r.t.nextRefund = undoRefund, m
			} else {
				r.t.undo = undoReverse
			}
		}
		r.t.reverseClaimed = false
		a.Phase = PhaseRefunding
	})
	if err != nil {
		return true
	}
	if !final {
		r.phase = PhaseRefunding
	}
	return final
}

// reversed ends the attempt with no money kept.
func (r *runner) reversed() bool {
	msg := &ErrorInfo{Code: InfoReversed, Message: "Not paid: the payment was cancelled at WeChat Pay and no money was taken. Scan a fresh payment code, or take another payment method"}
	if r.t.qr {
		msg = &ErrorInfo{Code: InfoQRExpired, Message: "Not paid: the QR code expired and was closed. Show a new QR code or scan the customer's code"}
	}
	if r.t.cancelled {
		msg = &ErrorInfo{Code: InfoCancelled, Message: "Sale cancelled: no money was kept"}
	}
	return r.finish(AttemptReversed, msg)
}

// finish ends the attempt failed or reversed; a sale still paying waits for a new code.
func (r *runner) finish(state AttemptState, info *ErrorInfo) bool {
	now := r.e.now()
	r.save(func(s *Sale, a *Attempt) {
		a.State, a.Phase, a.Error = state, "", info
		a.Events = appendEvents(a.Events, Event{At: now, Call: "state", Outcome: string(state), Code: info.Code})
		if s.State == SalePaying {
			s.State = SaleAwaitingScan
		}
	})
	return true
}

// unresolve hands the attempt to the durable queue: WeChat is silent.
func (r *runner) unresolve() { r.toQueue("") }

func (r *runner) unresolveAttention(advice string) bool {
	r.toQueue(advice)
	return true
}

// toQueue journals the attempt as unresolved with its job (due after a backoff with
// jitter); advice flags the job for a person at once.
func (r *runner) toQueue(advice string) {
	now := r.e.now()
	r.save(func(s *Sale, a *Attempt) {
		a.State, a.Phase = AttemptUnresolved, PhaseWaitingNetwork
		if r.t.undo != undoNone {
			a.Phase = PhaseRefunding
		}
		a.Events = appendEvents(a.Events, Event{At: now, Call: "state", Outcome: string(AttemptUnresolved), Detail: r.lastErr})
	}, func(tx *wtx, s *Sale, a *Attempt) error {
		j := r.job
		if j.ID == "" {
			j = Job{ID: resolveJobID(r.otn), Kind: "resolve", SaleID: s.ID, OutTradeNo: r.otn, CreatedAt: now}
			if old, err := tx.job(j.ID); err != nil {
				return err
			} else if old != nil {
				j = *old
			}
		}
		j.Tries++
		j.LastError = r.lastErr
		j.Due = now.Add(backoff(jobBackoff, maxJobBackoff, j.Tries-1))
		if advice == "" && (j.Tries >= r.e.cfg.AttentionTries || now.Sub(j.CreatedAt) >= r.e.cfg.AttentionAfter) {
			advice = fmt.Sprintf("WeChat Pay has not settled order %s (sale %s, %s %s) after %d tries since %s. posd keeps checking every few minutes. Check the till's network; if the customer says they paid, look the order up in the WeChat Pay merchant platform.",
				r.otn, s.ID, s.Currency, formatAmount(s.Amount), j.Tries, j.CreatedAt.In(r.e.cfg.Location).Format("2006-01-02 15:04"))
		}
		if advice != "" {
			j.Attention, j.Advice = true, advice
			j.Due = now.Add(backoff(attentionRetry, attentionRetry, 0)) // ±20%: tills flagged together do not retry together
		}
		return tx.putJob(j)
	})
}

func resolveJobID(otn string) string { return "resolve:" + otn }

func formatAmount(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// setPhase journals a new phase (the UI shows it); the same phase is not written again.
func (r *runner) setPhase(p Phase) {
	if p == r.phase || r.queued {
		return // a queued attempt stays unresolved (waiting_network) until it is final
	}
	r.save(func(s *Sale, a *Attempt) {
		if a.State == AttemptUnresolved {
			return // a queued runner keeps the attempt unresolved until it is final
		}
		a.Phase = p
	})
}

// save journals a change of the attempt (with the pending events and counters) in one
// Update, then publishes it. If the journal cannot be written the runner keeps the
// outcome in memory and retries every second: the intent is journaled, so even a crash
// now is resolved by Recover's query. It returns an error only when the engine closes.
func (r *runner) save(fn func(s *Sale, a *Attempt), more ...func(tx *wtx, s *Sale, a *Attempt) error) error {
	for {
		now := r.e.now()
		phase := r.phase
		var before, after AttemptState
		err := r.e.update(func(tx *wtx) error {
			s, err := tx.Sale(r.saleID)
			if err != nil {
				return err
			}
			a := findAttempt(s, r.otn)
			if a == nil {
				return fmt.Errorf("attempt %s not in sale %s: %w", r.otn, r.saleID, ErrNotFound)
			}
			if a.State.Final() {
				return errAlreadyFinal
			}
			if s.State == SaleCancelled {
				r.t.cancelled = true
			}
			before = a.State
			a.Events = appendEvents(a.Events, r.pending...)
			if r.t1Known && a.MicroPayEndedAt.IsZero() {
				a.MicroPayEndedAt, a.MonoEnded = r.t1, r.t1Mono
				a.ReverseAfter = later(a.ReverseAfter, r.t1.Add(r.e.cfg.ReverseFloor+reverseMargin))
			}
			a.Queries += r.queries
			a.Reverses += r.reverses
			fn(s, a)
			final := a.State.Final()
			a.UpdatedAt, s.UpdatedAt = now, now
			for _, m := range more {
				if err := m(tx, s, a); err != nil {
					return err
				}
			}
			if final {
				if err := tx.dropJob(resolveJobID(r.otn)); err != nil {
					return err
				}
			}
			phase, after = a.Phase, a.State
			return tx.put(s)
		})
		if err == nil {
			r.pending, r.queries, r.reverses = nil, 0, 0
			r.phase = phase
			if after != before {
				// Never the payment code: the journal and logs only know its mask.
				r.e.log.WithFields(map[string]any{"out_trade_no": r.otn, "sale_id": r.saleID,
					"state": after, "phase": phase}).Info("attempt " + string(after))
			}
			return nil
		}
		if errors.Is(err, errAlreadyFinal) || errors.Is(err, ErrNotFound) {
			r.e.log.WithError(err).WithField("out_trade_no", r.otn).Warn("attempt changed under its runner")
			return err
		}
		r.e.log.WithError(err).WithField("out_trade_no", r.otn).Error("journal write failed; retrying")
		if !r.sleepUntil(r.e.mono().Add(time.Second)) {
			return err
		}
	}
}

var errAlreadyFinal = errors.New("attempt already final")

// weChatText is the one door through which WeChat Pay's free text (an answer's error code
// and message, and the client's own error text) enters the engine's types: ErrorInfo,
// Event.Detail, a job's LastError and the attention messages built from describe. WeChat's
// messages may echo the auth_code sent (security review), so code-shaped digit runs are
// masked here, before anything is journaled or published, and every consumer of a Sale
// (UI, receipts, journal export, logs) gets masked text by construction.
func weChatText(s string) string { return wxpay.MaskCodeRuns(s) }

func errInfo(err *wxpay.Error, fallback string) *ErrorInfo {
	if err == nil {
		return &ErrorInfo{Code: InfoFailed, Message: fallback}
	}
	msg := err.Message
	if msg == "" {
		msg = fallback
	}
	return &ErrorInfo{Code: weChatText(err.Code), Message: weChatText(msg)}
}

// describe is WeChat's answer as one line of text (masked: see weChatText).
func describe(err *wxpay.Error) string {
	if err == nil {
		return ""
	}
	return weChatText(err.Code + ": " + err.Message)
}
