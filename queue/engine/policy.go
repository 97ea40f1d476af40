package engine

import (
	"math/rand/v2"
	"time"

	"posd/wxpay"
)

// Phases: what the engine is doing with an open attempt, for the UI.
const (
	PhaseSending         Phase = "sending"          // journaled, micropay on its way
	PhaseWaitingCustomer Phase = "waiting_customer" // USERPAYING: the customer confirms on the phone
	PhaseQuerying        Phase = "querying"         // outcome not known yet: asking WeChat
	PhaseReversing       Phase = "reversing"        // cancelling the order at WeChat (timeout or cashier)
	PhaseWaitingNetwork  Phase = "waiting_network"  // WeChat silent: the durable queue retries
	PhaseRefunding       Phase = "refunding"        // paid after its sale was cancelled: giving it back
	PhaseCreatingQR      Phase = "creating_qr"      // QR attempt journaled, native order on its way
	PhaseShowingQR       Phase = "showing_qr"       // the customer display shows the QR code
)

// Timings (docs/payment-policy.md §2, §5; docs/wxpay-v2.md §6).
const (
	// pollEvery is both WeChat's limit (one query per second per order) and what makes a
	// customer's confirmation visible within about a second.
	pollEvery = time.Second
	// afterSystemError: WeChat asks for about 5 s before the first query after a system
	// error or a micropay without an answer.
	afterSystemError = 5 * time.Second
	// unknownEvery spaces queries whose answer did not tell anything.
	unknownEvery = 2 * time.Second
	// reverseBackoff doubles from this between reverse tries (recall=Y, errors, no answer).
	reverseBackoff    = 2 * time.Second
	maxReverseBackoff = 10 * time.Second
	// reverseTries: reverses without a usable answer before the attempt goes to the
	// durable queue.
	reverseTries = 5
	// reverseMargin is added to WeChat's 15 s floor, counted from t1: the till's and
	// WeChat's clocks need not tick at exactly the same rate, and the answer took some
	// time to come back after the order was created.
	reverseMargin = time.Second
	// reverseWindow: WeChat reverses orders up to 7 days old; later a paid order is
	// refunded. An hour of margin keeps clocks and queues from straddling the limit.
	reverseWindow = 7*24*time.Hour - time.Hour
	// Per-call limits (docs/wxpay-v2.md §10: micropay ~15 s, others 6–10 s).
	microPayTimeout = 20 * time.Second
	callTimeout     = 10 * time.Second
	// Durable-queue backoff: from jobBackoff doubling to maxJobBackoff, with jitter.
	jobBackoff    = 5 * time.Second
	maxJobBackoff = 5 * time.Minute
	// attentionRetry spaces tries of jobs a person was asked to look at.
	attentionRetry = 10 * time.Minute
)

// silent reports a call that got no answer at all: only a query may follow it
// (docs/payment-policy.md §3). An answer that did not verify is an answer, but not one to trust.
func silent(outcome wxpay.Outcome, err *wxpay.Error) bool {
	return outcome == wxpay.Unknown && (err == nil || err.HTTP == 0)
}

// verified reports an answer WeChat verifiably gave.
func verified(outcome wxpay.Outcome, err *wxpay.Error) bool {
	if outcome != wxpay.Unknown {
		return true
	}
	return err != nil && err.HTTP != 0 && err.Code != wxpay.CodeBadSignature && err.Code != wxpay.CodeBadResponse
}

// pastWindow reports whether a reverse is no longer allowed.
func (t *track) pastWindow(now time.Time) bool {
	return !t.windowEnd.IsZero() && !now.Before(t.windowEnd)
}

// backoff is base·2^n capped at max, with ±20% jitter so tills that lost the network
// together do not come back in lockstep.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	if j < time.Second/2 {
		j = time.Second / 2
	}
	return j
}

func later(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// action is the next WeChat call an attempt needs.
type action int

const (
	actQuery       action = iota
	actReverse            // close the order (or give back a payment within 7 days)
	actRefund             // give back a payment too old to reverse
	actQueryRefund        // confirm that refund
	actUnresolve          // WeChat is silent: hand the attempt to the durable queue
	actNative             // QR attempt: (re)create the native order to get its code_url
)

func (a action) String() string {
	return [...]string{"query", "reverse", "refund", "refundquery", "unresolve", "native"}[a]
}

// undo says how a payment that must not be kept (its sale was cancelled) is given back.
type undo int

const (
	undoNone undo = iota
	undoReverse
	undoRefund
)

// track is what a runner knows about its attempt beyond the journal: the inputs of the
// pure decision function next.
type track struct {
	deadline, reverseAfter time.Time
	// windowEnd: no reverse from then on (t0 + 7 days less the margin, or when WeChat
	// said REVERSE_EXPIRE). Zero: no window (tests of other rules).
	windowEnd time.Time
	cancelled bool // the sale was cancelled: the attempt must end with no money kept

	mustQuery bool      // the next call must be a query: after silence, after a reverse, at resume
	silent    bool      // the last query (or the micropay) got no answer
	lastQuery time.Time // queries of one order are ≥ 1 s apart
	nextQuery time.Time

	reverseClaimed bool // WeChat said reversed (or no such order): a query confirms
	// paidClaimed: a reverse was refused because the order is paid. That means paid
	// (docs/payment-policy.md §2), so only queries follow until one confirms it; another
	// reverse would refund the customer of a sale the cashier was right to keep.
	paidClaimed  bool
	reverseTries int
	nextReverse  time.Time

	undo           undo
	refundAccepted bool // the cancel refund was accepted: confirm it with refund queries
	refundTries    int
	nextRefund     time.Time

	// QR Code Payment (qr.go). For a QR attempt deadline is the order's time_expire and
	// reverseAfter the first moment WeChat takes a close; "reverse" means close.
	qr         bool
	needCode   bool // no code_url known yet: the native order is (re)sent while time is left
	nextNative time.Time
}

// next decides the attempt's next call and when to make it (never earlier than the
// returned time). It is pure: the policy of docs/payment-policy.md in one place.
func next(t *track, now time.Time) (action, time.Time) {
	qAt := later(t.nextQuery, t.lastQuery.Add(pollEvery))
	switch {
	case t.undo == undoRefund:
		if t.refundAccepted {
			return actQueryRefund, t.nextRefund
		}
		return actRefund, t.nextRefund
	case t.silent && !now.Before(t.deadline):
		// No answer and the customer's time is up: the durable queue takes over, and its
		// first request will be a query.
		return actUnresolve, now
	case t.pastWindow(now) && t.undo == undoReverse:
		// Paid (a query said so), the sale cancelled, too old to reverse: refund.
		return actRefund, t.nextRefund
	case t.mustQuery, t.paidClaimed && !t.cancelled && t.undo == undoNone, t.pastWindow(now):
		// Past the window only a query can settle the attempt: paid → kept or refunded,
		// not paid → settled with no money (see runner.query).
		return actQuery, qAt
	case t.qr && t.needCode && !t.cancelled && t.reverseTries == 0 && now.Before(t.deadline.Add(-qrMinLeft)):
		// Sending the same native order again is safe (WeChat answers with the same
		// code_url) and the only way to show a code whose first answer was lost.
		return actNative, later(t.nextNative, t.lastQuery.Add(pollEvery))
	}
	rAt := later(t.reverseAfter, t.nextReverse)
	if !t.cancelled && t.undo == undoNone {
		rAt = later(rAt, t.deadline)
	}
	if t.reverseTries > 0 || t.undo == undoReverse || !rAt.After(qAt) {
		// Once reversing, keep at it (with backoff) rather than spend the query budget.
		return actReverse, rAt
	}
	return actQuery, qAt
}
