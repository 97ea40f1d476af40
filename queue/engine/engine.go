package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"posd/wxpay"
)

// Config tunes the engine. Zero values take the defaults; New checks the limits.
type Config struct {
	StoreID, TillID string
	Currency        string         // default wxpay.DefaultCurrency
	Location        *time.Location // default HongKong()
	Description     string         // micropay description, e.g. "Example Store"
	PollUntil       time.Duration  // default 30s, max 45s: reverse if not final by t0+PollUntil
	ReverseFloor    time.Duration  // default 15s: never reverse before t1+15s (t1: the micropay call ended)
	QueueRate       float64        // durable-queue WeChat calls per second for this till (default 20)

	// QueueWorkers bounds the attempts the durable queue works on at once (default 64).
	// Each waits ≥ 1 s between two queries of its order, so draining fast needs many.
	QueueWorkers int
	// CodeSalt salts the hash that refuses a payment code used before, when CodeHashes
	// is nil. Empty: derived from StoreID and TillID.
	CodeSalt string
	// CodeHashes gives the hashes that recognise a payment code used before: the first
	// is stored with the attempt, every one is looked up (the previous keys of a keyed
	// hash, while codes hashed under them may still come back). posd passes HMAC-SHA256
	// under keys kept outside the journal, so the journal does not give codes back to a
	// brute force over the ~10^12 codes a masked code leaves. Nil: the salted SHA-256.
	CodeHashes func(code string) []string
	// AttentionAfter flags a durable-queue job for a person after this many tries
	// (default 12, about 40 minutes of backoff) ...
	AttentionTries int
	// ... or after this long (default 30 minutes). The queue keeps trying, slowly.
	AttentionAfter time.Duration
	// CheckCode refuses what is not a payment code before WeChat is called. Default
	// wxpay.CheckAuthCode; the v3 Multi-Wallet API also takes the 160 prefix
	// (wxpay.CheckMultiWalletAuthCode).
	CheckCode func(code string) error
	// QRCodePayment turns on QR Code Payment (ShowQR) when the client speaks it
	// (wxpay.NativeClient). posd sets it when wxpay.notify_url is configured.
	QRCodePayment bool
}

// Limits from WeChat's rules (docs/payment-policy.md).
const (
	DefaultPollUntil    = 30 * time.Second
	MaxPollUntil        = 45 * time.Second
	DefaultReverseFloor = 15 * time.Second
	DefaultQueueRate    = 20
	// MaxQueueRate keeps one till far below WeChat's query limit (300/s per merchant).
	MaxQueueRate = 5000
)

func (c *Config) setDefaults() error {
	if err := CheckIDs(c.StoreID, c.TillID); err != nil {
		return err
	}
	if c.Currency == "" {
		c.Currency = wxpay.DefaultCurrency
	}
	if c.CheckCode == nil {
		c.CheckCode = wxpay.CheckAuthCode
	}
	if c.Location == nil {
		c.Location = HongKong()
	}
	if c.PollUntil == 0 {
		c.PollUntil = DefaultPollUntil
	}
	if c.ReverseFloor == 0 {
		c.ReverseFloor = DefaultReverseFloor
	}
	if c.ReverseFloor < DefaultReverseFloor {
		return fmt.Errorf("reverse floor %v: WeChat forbids reversing earlier than 15s after the micropay", c.ReverseFloor)
	}
	if c.PollUntil < c.ReverseFloor || c.PollUntil > MaxPollUntil {
		return fmt.Errorf("poll until %v: must be between the reverse floor (%v) and %v", c.PollUntil, c.ReverseFloor, MaxPollUntil)
	}
	if c.QueueRate == 0 {
		c.QueueRate = DefaultQueueRate
	}
	if c.QueueRate < 0 || c.QueueRate > MaxQueueRate {
		return fmt.Errorf("queue rate %v: must be between 0 and %d calls per second", c.QueueRate, MaxQueueRate)
	}
	if c.QueueWorkers <= 0 {
		c.QueueWorkers = 64
	}
	if c.CodeSalt == "" {
		c.CodeSalt = "posd-code/" + c.StoreID + "/" + c.TillID
	}
	if c.AttentionTries <= 0 {
		c.AttentionTries = 12
	}
	if c.AttentionAfter <= 0 {
		c.AttentionAfter = 30 * time.Minute
	}
	return nil
}

// Error is the engine's refusal: Code is stable (see the list in the API notes), Message
// a sentence for the cashier.
type Error struct{ Code, Message string }

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// nextSaleID numbers the day's sales 1, 2, 3... ("HK001-T01-261126-3"): one more than
// the highest number among the day's sales of this till. Sale ids once took NextSeq,
// which out_trade_nos share, so a manager saw -1, -3, -5 and looked for the missing
// sales; counting from the day's highest keeps ids unique in a journal that holds such
// sales (the next one after -5 is -6).
func (e *Engine) nextSaleID(tx Tx, now time.Time) (string, error) {
	local := now.In(e.cfg.Location)
	prefix := fmt.Sprintf("%s-%s-%s-", e.cfg.StoreID, e.cfg.TillID, local.Format("060102"))
	sales, err := tx.SalesByDay(local.Format(time.DateOnly))
	if err != nil {
		return "", fmt.Errorf("number the sale: %w", err)
	}
	var n uint64
	for _, s := range sales {
		if rest, ok := strings.CutPrefix(s.ID, prefix); ok {
			if k, err := strconv.ParseUint(rest, 10, 64); err == nil && k > n {
				n = k
			}
		}
	}
	for {
		n++
		id := prefix + strconv.FormatUint(n, 10)
		// A sale journaled under another day (the zone changed) may hold the id.
		if _, err := tx.Sale(id); errors.Is(err, ErrNotFound) {
			return id, nil
		} else if err != nil {
			return "", fmt.Errorf("number the sale: %w", err)
		}
	}
}

// storageError refuses work the journal cannot record (disk full, read-only).
func storageError(err error) *Error {
	return &Error{Code: CodeStorage, Message: "The till cannot save payments (disk full or read-only): take another payment method and call support (" + err.Error() + ")"}
}

// Status is what /healthz shows.
type Status struct {
	Ready           bool      // Recover finished
	Unresolved      int       // attempts not final
	QueueDepth      int       // jobs in the durable queue
	Attention       int       // jobs needing a person
	LastWeChatOK    time.Time // last answer from WeChat that verified
	WeChatReachable bool      // last call got an answer
}

// Engine runs Quick Pay attempts: see the package comment and docs/payment-policy.md.
type Engine struct {
	cfg Config
	gw  wxpay.Client
	st  Store
	clk Clock
	log logrus.FieldLogger
	hub hub

	// ctx ends every runner on Close; wg counts them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	limiter limiter
	qwake   chan struct{} // wakes the queue worker: a job was added or one finished
	qmu     sync.Mutex    // guards qrun with the sends on qwake
	qrun    bool          // Run is working: wake tokens have a reader

	// busy counts the engine's goroutines that are working, not waiting for the clock
	// or a wake-up. A wake token and a fired timer count for the goroutine they will
	// wake, so busy == 0 means nothing will happen until the clock moves.
	busy atomic.Int64
	// Group commit (journal.go).
	commits    chan *commitReq
	commitStop chan struct{}
	commitDone chan struct{}
	closeOnce  sync.Once

	// jobsAdded tells the queue worker to look at the queue again: a new job was added.
	jobsAdded atomic.Bool

	mu       sync.Mutex
	stopping bool
	// closed is set by Close under mu before it waits for wg: no goroutine is added to
	// wg after that (sync.WaitGroup forbids Add concurrent with a Wait at zero).
	closed    bool
	ready     bool
	recovered time.Time               // when Recover ran: no query of any order in the second after it
	runners   map[string]*runner      // out_trade_no → the runner working on it (live or queue)
	open      map[string]AttemptState // attempts not final, for Status
	jobs      map[string]Job          // the durable queue as journaled: Status and the queue's next wake-up
	attention int                     // jobs in e.jobs needing a person
	lastOK    time.Time
	reachable bool
	lastQuery map[string]time.Time // out_trade_no → its last query (mono axis): ≥ 1 s apart across runners

	// The monotonic axis (see mono): the wall time at New and the monotonic reading then.
	monoWall time.Time
	monoBase time.Duration
	boot     string
}

// New builds an engine. Call Recover before taking sales and Run for the durable queue.
func New(cfg Config, gw wxpay.Client, st Store, clk Clock, log logrus.FieldLogger) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("engine config: %w", err)
	}
	if gw == nil || st == nil {
		return nil, errors.New("engine: nil wxpay client or store")
	}
	if clk == nil {
		clk = RealClock()
	}
	if log == nil {
		l := logrus.New()
		l.Out = nopWriter{}
		log = l
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg: cfg, gw: gw, st: st, clk: clk, log: log.WithField("component", "engine"),
		ctx: ctx, cancel: cancel,
		qwake:      make(chan struct{}, 1),
		runners:    map[string]*runner{},
		lastQuery:  map[string]time.Time{},
		open:       map[string]AttemptState{},
		jobs:       map[string]Job{},
		reachable:  true,
		commits:    make(chan *commitReq),
		commitStop: make(chan struct{}),
		commitDone: make(chan struct{}),
	}
	e.limiter.init(cfg.QueueRate)
	e.monoWall = clk.Now()
	e.boot, e.monoBase = e.monoReading()
	go e.commitLoop()
	return e, nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// Stop refuses new sales and payments from now on (SIGTERM). Work in flight continues
// until the process exits; whatever is left is resumed by Recover on the next start.
func (e *Engine) Stop() {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
}

// Close stops the engine and ends every runner, waiting for them. An attempt interrupted
// here is resumed from the journal by the next Recover, exactly as after a crash.
func (e *Engine) Close() {
	e.mu.Lock()
	e.stopping, e.closed = true, true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	e.closeOnce.Do(func() {
		close(e.commitStop)
		<-e.commitDone
	})
}

// track runs f in a goroutine counted by wg, unless the engine is closed (then false).
func (e *Engine) track(f func()) bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		f()
	}()
	return true
}

func (e *Engine) refuseNew() *Error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return errorf(CodeStopping, "The till is shutting down: take another payment method")
	}
	return nil
}

func (e *Engine) now() time.Time { return e.clk.Now() }

// mono is the time on the engine's monotonic axis: the wall time at New plus the real
// time elapsed since, read from a clock that never jumps. Every wait, floor and deadline
// of a runner lives on this axis; the journal keeps wall times (and monotonic readings,
// see monoReading) and newRunner maps them onto it.
func (e *Engine) mono() time.Time {
	if _, ok := e.clk.(MonoClock); !ok {
		return e.clk.Now()
	}
	_, d := e.monoReading()
	return e.monoWall.Add(d - e.monoBase)
}

// monoReading is the clock's boot id and time since boot ("" and 0 without a MonoClock).
func (e *Engine) monoReading() (string, time.Duration) {
	if mc, ok := e.clk.(MonoClock); ok {
		return mc.Mono()
	}
	return "", 0
}

// day returns the journal day of t.
func (e *Engine) day(t time.Time) string { return t.In(e.cfg.Location).Format("2006-01-02") }

// codeHashes are the hashes that recognise a payment code used before; the first is
// the one to store.
func (e *Engine) codeHashes(code string) []string {
	if e.cfg.CodeHashes != nil {
		if hs := e.cfg.CodeHashes(code); len(hs) > 0 && hs[0] != "" {
			return hs
		}
	}
	h := sha256.Sum256([]byte(e.cfg.CodeSalt + "\x00" + code))
	return []string{hex.EncodeToString(h[:])}
}

// OpenSaleRequest opens a sale; AuthCode (optional) pays it at once.
type OpenSaleRequest struct {
	Amount                                     int64
	Currency, Description, Reference, AuthCode string
}

// OpenSale journals a new sale. With an AuthCode the sale and its first attempt are
// journaled in one write and the micropay leaves right after.
func (e *Engine) OpenSale(ctx context.Context, r OpenSaleRequest) (*Sale, error) {
	if err := e.refuseNew(); err != nil {
		return nil, err
	}
	if r.Amount <= 0 {
		return nil, errorf(CodeBadRequest, "The amount must be more than zero")
	}
	if r.Amount > 1_000_000_000_00 {
		return nil, errorf(CodeBadRequest, "The amount is too large")
	}
	if r.Currency == "" {
		r.Currency = e.cfg.Currency
	}
	if !strings.EqualFold(r.Currency, e.cfg.Currency) {
		return nil, errorf(CodeBadRequest, "This till takes %s only, not %s", e.cfg.Currency, r.Currency)
	}
	if len(r.Description) > 127 || len(r.Reference) > 64 {
		return nil, errorf(CodeBadRequest, "Description (at most 127 bytes) or reference (at most 64) too long")
	}
	if r.AuthCode != "" {
		if err := e.cfg.CheckCode(r.AuthCode); err != nil {
			return nil, &Error{Code: CodeInvalidCode, Message: err.Error()}
		}
	}
	now := e.now()
	s := &Sale{
		Reference: r.Reference, Description: r.Description, Amount: r.Amount,
		Currency: e.cfg.Currency, State: SaleAwaitingScan, Attempts: []Attempt{},
		StoreID: e.cfg.StoreID, TillID: e.cfg.TillID, CreatedAt: now, UpdatedAt: now,
	}
	var a *Attempt
	err := e.update(func(tx *wtx) error {
		id, err := e.nextSaleID(tx, now)
		if err != nil {
			return err
		}
		s.ID = id
		if r.AuthCode != "" {
			if a, err = e.newAttempt(tx, s, r.AuthCode, now); err != nil {
				return err
			}
		}
		return tx.put(s)
	})
	if err != nil {
		return nil, e.refusal(err)
	}
	if a != nil {
		e.startLive(s, a.OutTradeNo, r.AuthCode)
	}
	return s, nil
}

// refusal turns an Update error into what the API returns.
func (e *Engine) refusal(err error) error {
	var ee *Error
	if errors.As(err, &ee) {
		return ee
	}
	if errors.Is(err, ErrNotFound) {
		return errorf(CodeNotFound, "No such sale")
	}
	e.log.WithError(err).Error("journal write failed: refusing the sale")
	return storageError(err)
}

// Scan takes a scanner's code for the sale awaiting it. A scanner cannot say which
// customer a code belongs to, so the code goes to a sale only when exactly one sale of
// the till waits for a code and no payment is in progress (payment-policy.md §4); any
// other scan is refused with a sentence, and the POS pays a named sale with Pay. The
// choice and the attempt are one journal write, so two scans cannot both pass it.
func (e *Engine) Scan(ctx context.Context, code string) (*Sale, error) {
	if err := e.cfg.CheckCode(code); err != nil {
		return nil, &Error{Code: CodeInvalidCode, Message: err.Error()}
	}
	if err := e.refuseNew(); err != nil {
		return nil, err
	}
	now := e.now()
	var out *Sale
	var a *Attempt
	err := e.update(func(tx *wtx) error {
		open, err := tx.OpenSales()
		if err != nil {
			return err
		}
		var awaiting []*Sale
		for _, s := range open {
			switch s.State {
			case SaleAwaitingScan:
				awaiting = append(awaiting, s)
			case SalePaying:
				return errorf(CodeSaleBusy, "A payment is already in progress: wait for it to finish before scanning the next code.")
			}
		}
		switch len(awaiting) {
		case 0:
			return errorf(CodeNoOpenSale, "No sale is waiting for a payment code: enter the amount and press Charge first, then scan.")
		case 1:
		default:
			return errorf(CodeScanAmbiguous, "%d sales are waiting for payment, so the till cannot tell which one this code pays: pay the sale from the POS, or cancel the others.", len(awaiting))
		}
		s := awaiting[0]
		if a, err = e.newAttempt(tx, s, code, now); err != nil {
			return err
		}
		out = s
		return tx.put(s)
	})
	if err != nil {
		return nil, e.refusal(err)
	}
	e.startLive(out, a.OutTradeNo, code)
	return out, nil
}

// Pay charges code for the sale: the attempt is journaled, then the micropay leaves.
// It returns as soon as the attempt is in flight (state paying).
func (e *Engine) Pay(ctx context.Context, saleID, code string) (*Sale, error) {
	if err := e.cfg.CheckCode(code); err != nil {
		return nil, &Error{Code: CodeInvalidCode, Message: err.Error()}
	}
	if err := e.refuseNew(); err != nil {
		return nil, err
	}
	now := e.now()
	var out *Sale
	var a *Attempt
	err := e.update(func(tx *wtx) error {
		s, err := tx.Sale(saleID)
		if err != nil {
			return err
		}
		if a, err = e.newAttempt(tx, s, code, now); err != nil {
			return err
		}
		out = s
		return tx.put(s)
	})
	if err != nil {
		return nil, e.refusal(err)
	}
	e.startLive(out, a.OutTradeNo, code)
	return out, nil
}

// newAttempt adds a journaled attempt (the intent) to s, which must be able to take one.
func (e *Engine) newAttempt(tx *wtx, s *Sale, code string, now time.Time) (*Attempt, error) {
	switch s.State {
	case SalePaid:
		return nil, errorf(CodeBadRequest, "This sale is already paid")
	case SaleCancelled:
		return nil, errorf(CodeBadRequest, "This sale was cancelled: open a new sale")
	}
	for _, a := range s.Attempts {
		if !a.State.Final() {
			return nil, errorf(CodeSaleBusy, "A payment for this sale is already in progress: wait for it to finish")
		}
	}
	hs := e.codeHashes(code)
	h := hs[0]
	for _, x := range hs {
		used, err := tx.CodeUsed(x)
		if err != nil {
			return nil, err
		}
		if used {
			return nil, errorf(CodeCodeUsed, "This payment code was already used: ask the customer to refresh the code and scan again")
		}
	}
	seq, err := tx.NextSeq()
	if err != nil {
		return nil, err
	}
	otn, err := OutTradeNo(e.cfg.StoreID, e.cfg.TillID, now.In(e.cfg.Location), seq)
	if err != nil {
		return nil, err
	}
	boot, mono := e.monoReading()
	s.Attempts = append(s.Attempts, Attempt{
		OutTradeNo: otn, State: AttemptPaying, Code: wxpay.MaskCode(code), CodeHash: h,
		Phase: PhaseSending, StartedAt: now, Boot: boot, MonoStarted: mono,
		Deadline: now.Add(e.cfg.PollUntil), ReverseAfter: now.Add(e.cfg.ReverseFloor),
		Events:    []Event{{At: now, Call: "state", Outcome: string(AttemptPaying)}},
		UpdatedAt: now,
	})
	s.State = SalePaying
	s.UpdatedAt = now
	return &s.Attempts[len(s.Attempts)-1], nil
}

// Cancel cancels a sale. An attempt in flight is reversed (not before t0 + ReverseFloor:
// Attempt.ReverseAfter tells the UI how long) and one found paid later is reversed or
// refunded: a cancelled sale keeps no money.
func (e *Engine) Cancel(ctx context.Context, saleID string) (*Sale, error) {
	now := e.now()
	var out *Sale
	var openOTN []string
	err := e.update(func(tx *wtx) error {
		s, err := tx.Sale(saleID)
		if err != nil {
			return err
		}
		switch s.State {
		case SaleCancelled:
			out = s
			return errNoChange
		case SalePaid:
			return errorf(CodeBadRequest, "This sale is paid: refund it instead of cancelling")
		}
		s.State = SaleCancelled
		s.UpdatedAt = now
		for i := range s.Attempts {
			a := &s.Attempts[i]
			if a.State.Final() {
				continue
			}
			openOTN = append(openOTN, a.OutTradeNo)
			a.Phase = PhaseReversing
			a.Events = appendEvents(a.Events, Event{At: now, Call: "cancel", Detail: "cashier cancelled the sale"})
			a.UpdatedAt = now
			if a.State == AttemptUnresolved {
				// Resolve it now: the first request is still a query.
				if err := tx.touchJob(resolveJobID(a.OutTradeNo), now); err != nil {
					return err
				}
			}
		}
		out = s
		return tx.put(s)
	})
	if errors.Is(err, errNoChange) {
		return out, nil
	}
	if err != nil {
		return nil, e.refusal(err)
	}
	e.mu.Lock()
	for _, otn := range openOTN {
		if r := e.runners[otn]; r != nil {
			r.cancel()
		}
	}
	e.mu.Unlock()
	e.wakeQueue()
	return out, nil
}

var errNoChange = errors.New("no change")

// Sale returns a sale.
func (e *Engine) Sale(id string) (*Sale, error) {
	var s *Sale
	err := e.st.View(func(tx ReadTx) error {
		var err error
		s, err = tx.Sale(id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, errorf(CodeNotFound, "No such sale")
	}
	if err != nil {
		return nil, storageError(err)
	}
	return s, nil
}

// Sales lists a day's sales ("2006-01-02" in the till's time zone; "" = today), newest first.
func (e *Engine) Sales(day string) ([]*Sale, error) {
	if day == "" {
		day = e.day(e.now())
	} else if _, err := time.Parse("2006-01-02", day); err != nil {
		return nil, errorf(CodeBadRequest, "Date %q is not YYYY-MM-DD", day)
	}
	var out []*Sale
	err := e.st.View(func(tx ReadTx) error {
		var err error
		out, err = tx.SalesByDay(day)
		return err
	})
	if err != nil {
		return nil, storageError(err)
	}
	return out, nil
}

// Jobs lists the durable queue, including jobs needing attention, by due time.
func (e *Engine) Jobs() ([]Job, error) {
	var out []Job
	err := e.st.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Jobs()
		return err
	})
	if err != nil {
		return nil, storageError(err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out, nil
}

// Status reports readiness and the queue for /healthz.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{Ready: e.ready, Unresolved: len(e.open), QueueDepth: len(e.jobs), Attention: e.attention,
		LastWeChatOK: e.lastOK, WeChatReachable: e.reachable}
}

// setJob and dropJob keep e.jobs and the attention count; e.mu is held.
func (e *Engine) setJob(j Job) {
	if old, ok := e.jobs[j.ID]; ok && old.Attention {
		e.attention--
	}
	if j.Attention {
		e.attention++
	}
	e.jobs[j.ID] = j
}

func (e *Engine) unsetJob(id string) {
	if old, ok := e.jobs[id]; ok {
		if old.Attention {
			e.attention--
		}
		delete(e.jobs, id)
	}
}

// noteQuery remembers an order's last query (mono axis) for the next runner of it.
func (e *Engine) noteQuery(otn string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.lastQuery) >= 4096 {
		for k, t := range e.lastQuery {
			if at.Sub(t) > pollEvery {
				delete(e.lastQuery, k)
			}
		}
	}
	e.lastQuery[otn] = at
}

// observe records whether a WeChat call got an answer, for Status.
func (e *Engine) observe(answered, verified bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reachable = answered
	if verified {
		e.lastOK = e.now()
	}
}
