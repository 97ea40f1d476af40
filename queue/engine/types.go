// Package engine is the Quick Pay state machine: it turns a sale and a scanned payment code
// into exactly one outcome — paid, failed or reversed — across timeouts, outages, crashes
// and power cuts. It depends only on interfaces (wxpay.Client, Store, Clock), so it is
// tested without network, disk or devices; queue/ implements Store over bbolt.
package engine

import (
	"errors"
	"time"
)

// SaleState is the state of a sale (docs/interfaces.md).
type SaleState string

const (
	SaleAwaitingScan SaleState = "awaiting_scan" // open, waiting for a payment code
	SalePaying       SaleState = "paying"        // an attempt is in flight
	SalePaid         SaleState = "paid"
	SaleCancelled    SaleState = "cancelled"
)

// AttemptState is the state of one payment attempt (one out_trade_no).
type AttemptState string

const (
	AttemptPaying     AttemptState = "paying"
	AttemptPaid       AttemptState = "paid"
	AttemptFailed     AttemptState = "failed"     // WeChat said no: final, no money moved
	AttemptReversed   AttemptState = "reversed"   // revoked (or refunded after cancel): no money kept
	AttemptUnresolved AttemptState = "unresolved" // outcome unknown; the durable queue works on it
)

// Final reports whether no more work is needed on an attempt in this state.
func (s AttemptState) Final() bool {
	return s == AttemptPaid || s == AttemptFailed || s == AttemptReversed
}

// Phase is what the engine is doing with an open attempt, for the UI: the Phase*
// constants. The journal stores the string.
type Phase string

// RefundState is the state of one refund (one out_refund_no): the Refund* constants. The
// journal stores the string.
type RefundState string

// JobKind is what a durable queue job works on. The journal stores the string.
type JobKind string

// Job kinds.
const (
	JobResolve JobKind = "resolve" // an attempt whose outcome is unknown: query, reverse
	JobRefund  JobKind = "refund"  // a refund WeChat has not confirmed yet
)

// ErrorInfo is an attempt's or refund's error: a code and a sentence a cashier can act on.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Event is one line of an attempt's timeline: a WeChat call and what came back, or a
// state change. Kept bounded so a record stays small.
type Event struct {
	At      time.Time `json:"at"`
	Call    string    `json:"call"`              // micropay, query, reverse, refund, state, cancel
	Outcome string    `json:"outcome,omitempty"` // wxpay.Outcome string, or the new state
	Code    string    `json:"code,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// AttemptKindQR marks a QR Code Payment attempt: the customer scans the till's code.
// Quick Pay attempts (the till scans the customer's code) have no kind.
const AttemptKindQR = "qr"

// Attempt is one payment code charged for a sale, or one QR code shown for it.
type Attempt struct {
	OutTradeNo string `json:"out_trade_no"`
	Kind       string `json:"kind,omitempty"` // "" (Quick Pay) or AttemptKindQR
	// CodeURL is a QR attempt's code, from WeChat (weixin://wxpay/bizpayurl?pr=...);
	// ExpiresAt is the time_expire sent with it: nobody can pay after it.
	CodeURL       string       `json:"code_url,omitempty"`
	ExpiresAt     time.Time    `json:"expires_at,omitzero"`
	State         AttemptState `json:"state"`
	TransactionID string       `json:"transaction_id,omitempty"`
	Wallet        string       `json:"wallet,omitempty"`       // payer currency: HKD or CNY
	PayerAmount   int64        `json:"payer_amount,omitempty"` // in the wallet's currency
	Error         *ErrorInfo   `json:"error"`
	Code          string       `json:"code"`                // payment code, masked (first 2 and last 4 digits)
	CodeHash      string       `json:"code_hash,omitempty"` // salted hash: refuses a code used before
	// Phase says what the engine is doing now; empty once the attempt is final.
	Phase     Phase     `json:"phase,omitempty"`
	StartedAt time.Time `json:"started_at"` // t0: journaled just before the micropay left
	// MicroPayEndedAt is t1: when the micropay call ended (its answer came, or the call
	// gave up). WeChat created the order no later than this, so its 15 s count from here.
	MicroPayEndedAt time.Time `json:"micropay_ended_at,omitempty"`
	// Boot, MonoStarted and MonoEnded are t0 and t1 on a clock that never jumps (time
	// since boot) and the id of that boot: after a restart in the same boot they give the
	// real time elapsed, whatever the wall clock did meanwhile.
	Boot         string        `json:"boot,omitempty"`
	MonoStarted  time.Duration `json:"mono_started,omitempty"`
	MonoEnded    time.Duration `json:"mono_ended,omitempty"`
	Deadline     time.Time     `json:"deadline"`      // reverse if not final by then (t0 + 30..45 s)
	ReverseAfter time.Time     `json:"reverse_after"` // never reverse earlier (t1 + 15 s + a margin)
	Queries      int           `json:"queries"`
	Reverses     int           `json:"reverses"`
	Events       []Event       `json:"events,omitempty"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// Refund is a (partial) refund of a paid sale.
type Refund struct {
	OutRefundNo string      `json:"out_refund_no"`
	RefundID    string      `json:"refund_id,omitempty"`
	Amount      int64       `json:"amount"`
	Reason      string      `json:"reason,omitempty"`
	State       RefundState `json:"state"`
	Error       *ErrorInfo  `json:"error"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// Sale is what the cashier charges: an amount, paid by at most one attempt.
type Sale struct {
	ID          string    `json:"id"`
	Reference   string    `json:"reference,omitempty"`
	Description string    `json:"description,omitempty"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	State       SaleState `json:"state"`
	Attempts    []Attempt `json:"attempts"`
	Refunds     []Refund  `json:"refunds,omitempty"`
	StoreID     string    `json:"store_id,omitempty"`
	TillID      string    `json:"till_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     uint64    `json:"version"` // bumped by every durable write
}

// Job is a unit of work in the durable retry queue: an attempt to resolve, a refund to
// finish. Attention is set when automation gave up and a person must look.
type Job struct {
	ID         string    `json:"id"` // stable: kind + ":" + out_trade_no / out_refund_no
	Kind       JobKind   `json:"kind"`
	SaleID     string    `json:"sale_id"`
	OutTradeNo string    `json:"out_trade_no,omitempty"`
	Due        time.Time `json:"due"`
	Tries      int       `json:"tries"`
	LastError  string    `json:"last_error,omitempty"`
	Attention  bool      `json:"attention"`
	Advice     string    `json:"advice,omitempty"` // what a manager should do, when Attention
	CreatedAt  time.Time `json:"created_at"`
}

// ErrNotFound is returned by stores for a missing sale.
var ErrNotFound = errors.New("not found")

// ReadTx reads a consistent snapshot of the journal.
type ReadTx interface {
	Sale(id string) (*Sale, error) // ErrNotFound when missing
	SaleByOutTradeNo(outTradeNo string) (*Sale, error)
	// SalesByDay lists a day's sales (day "2006-01-02" in the till's time zone), newest first.
	SalesByDay(day string) ([]*Sale, error)
	// OpenSales lists sales not yet final or with an attempt not final: what recovery resumes.
	OpenSales() ([]*Sale, error)
	CodeUsed(codeHash string) (bool, error)
	// DueJobs lists jobs due at or before now (not needing attention), oldest first.
	DueJobs(now time.Time, limit int) ([]Job, error)
	// Jobs lists every job, including those needing attention.
	Jobs() ([]Job, error)
}

// Tx is one durable (fsynced) write transaction.
type Tx interface {
	ReadTx
	// NextSeq returns a number never returned before by this store (survives restarts).
	NextSeq() (uint64, error)
	// PutSale stores the sale, bumps its Version and maintains every index.
	PutSale(s *Sale) error
	PutJob(j Job) error
	DeleteJob(id string) error
}

// Store is the journal and the durable queue. Update commits with fsync before returning;
// an error means nothing was written.
type Store interface {
	View(fn func(ReadTx) error) error
	Update(fn func(Tx) error) error
}

// Clock is the engine's time: the real one in production, a fake in tests so WeChat's
// 15–45 s rules run in milliseconds.
type Clock interface {
	Now() time.Time
	// After is like time.After on this clock.
	After(d time.Duration) <-chan time.Time
}
