package printer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/bbolt"

	"posd/internal/discard"
)

// JobState is where a print job is.
type JobState string

const (
	JobQueued         JobState = "queued"          // waiting for its turn
	JobPrinting       JobState = "printing"        // bytes are going to the printer
	JobDone           JobState = "done"            // every byte was accepted
	JobFailed         JobState = "failed"          // cannot be printed (no printer, bad record)
	JobWaitingPaper   JobState = "waiting-paper"   // paper out, cover open or offline: held
	JobWaitingPrinter JobState = "waiting-printer" // printer unreachable or cut off: retried
)

// Job is a durable print job.
type Job struct {
	ID      string     `json:"id"`
	Seq     uint64     `json:"seq"`
	Kind    Kind       `json:"kind"`
	State   JobState   `json:"state"`
	Receipt *Receipt   `json:"receipt,omitempty"`
	Report  *DayReport `json:"report,omitempty"`
	CopyOf  string     `json:"copy_of,omitempty"`
	Tries   int        `json:"tries"`
	// Interrupted: a try was cut off part-way; the next print is marked as a reprint.
	Interrupted bool      `json:"interrupted,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	DoneAt      time.Time `json:"done_at,omitzero"`
}

// Buckets of the spool, beside the queue package's own in the same bbolt file.
var (
	bucketJobs  = []byte("print_jobs")  // job id → Job JSON
	bucketQueue = []byte("print_queue") // big-endian seq → job id, for jobs not done or failed
)

// ErrJobNotFound is returned for an unknown job id.
var ErrJobNotFound = errors.New("print job not found")

var errJobCancelled = errors.New("print job cancelled")

// Clock is the spool's time: the real one in production, a fake in tests (the engine's
// clocks are Clocks).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SpoolOptions tunes a Spool; zero values mean the defaults.
type SpoolOptions struct {
	Format         Format
	Clock          Clock              // default: the real clock
	Logger         logrus.FieldLogger // default: discard
	MinBackoff     time.Duration      // first wait after a failure: 500 ms
	MaxBackoff     time.Duration      // longest wait: 30 s
	JobTimeout     time.Duration      // one Write: 60 s
	StatusTimeout  time.Duration      // one Status: 5 s
	StatusInterval time.Duration      // status poll while idle: 30 s; negative: never
	KeepDone       time.Duration      // done jobs older than this are pruned at start: 30 days
	OnChange       func(Job)          // called after every job state change (UI events)
}

// SpoolState is where the spool stands: one of the Spool* constants, or, while the
// printer's own status holds printing back, that status in words (Status.String: "paper
// out", "cover open, error"...). The words are for people: code decides from HeldBy.
type SpoolState string

// Spool states besides a printer's own status.
const (
	SpoolReady       SpoolState = "ready"
	SpoolPrinting    SpoolState = "printing"
	SpoolUnreachable SpoolState = "unreachable" // the last write failed: retried
	SpoolDisabled    SpoolState = "disabled"    // no printer configured
)

// SpoolStatus is the printer as the cashier UI and /healthz see it.
type SpoolStatus struct {
	// State: ready, printing, unreachable, disabled, or the printer's status in words
	// (paper out, cover open, offline...).
	State       SpoolState `json:"state"`
	Printer     *Status    `json:"printer,omitempty"`      // the last answered status query
	StatusError string     `json:"status_error,omitempty"` // why the last query failed (printing goes on)
	LastError   string     `json:"last_error,omitempty"`   // the last failed job's error
	Pending     int        `json:"pending"`                // jobs not done or failed
	Waiting     bool       `json:"waiting"`                // the head job is held back
	Since       time.Time  `json:"since"`                  // when State last changed
}

// Healthy reports whether jobs can print now: the printer is ready or printing, and no
// job is held back.
func (s SpoolStatus) Healthy() bool {
	return (s.State == SpoolReady || s.State == SpoolPrinting) && !s.Waiting
}

// HeldBy is the printer's own status when that is what holds printing back (paper out,
// cover open, offline, with its error bit), or nil.
func (s SpoolStatus) HeldBy() *Status {
	switch s.State {
	case SpoolReady, SpoolPrinting, SpoolUnreachable, SpoolDisabled:
		return nil
	}
	if s.Printer == nil || !s.Printer.Blocked() {
		return nil
	}
	return s.Printer
}

// Spool prints durable jobs in order, one at a time, in its own goroutine.
type Spool struct {
	db    *bbolt.DB
	p     Printer
	o     SpoolOptions
	log   logrus.FieldLogger
	wake  chan struct{}
	retry chan struct{}
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	state SpoolStatus
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewSpool opens the spool's buckets in db, turns jobs a crash left "printing" into
// interrupted ones, and starts printing. db stays the caller's to close, after Close.
func NewSpool(db *bbolt.DB, p Printer, o SpoolOptions) (*Spool, error) {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = discard.Logger()
	}
	o.MinBackoff = orDefault(o.MinBackoff, 500*time.Millisecond)
	o.MaxBackoff = orDefault(o.MaxBackoff, 30*time.Second)
	o.JobTimeout = orDefault(o.JobTimeout, 60*time.Second)
	o.StatusTimeout = orDefault(o.StatusTimeout, 5*time.Second)
	if o.StatusInterval == 0 {
		o.StatusInterval = 30 * time.Second
	}
	o.KeepDone = orDefault(o.KeepDone, 30*24*time.Hour)
	if _, err := newCodec(o.Format.Encoding); err != nil {
		return nil, fmt.Errorf("new spool: %w", err)
	}
	s := &Spool{db: db, p: p, o: o, log: o.Logger.WithField("component", "printer"), wake: make(chan struct{}, 1), retry: make(chan struct{}, 1)}
	now := o.Clock.Now()
	err := db.Update(func(tx *bbolt.Tx) error {
		jobs, err := tx.CreateBucketIfNotExists(bucketJobs)
		if err != nil {
			return err
		}
		queue, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		var prune [][]byte
		err = jobs.ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %s: %w", k, err)
			}
			switch {
			case j.State == JobPrinting:
				// We stopped mid-write: part of it may be on paper.
				j.State, j.Interrupted, j.UpdatedAt = JobQueued, true, now
				return putJob(jobs, &j)
			case j.State == JobDone && now.Sub(j.DoneAt) > o.KeepDone:
				prune = append(prune, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range prune {
			if err := jobs.Delete(k); err != nil {
				return err
			}
		}
		_ = queue
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open print spool: %w", err)
	}
	s.state = SpoolStatus{State: "ready", Since: now}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// Close stops the spool's goroutine and waits for it. A job being written is cut off and
// will print again, marked, after the next start.
func (s *Spool) Close() error {
	s.stop()
	s.wg.Wait()
	return nil
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func putJob(b *bbolt.Bucket, j *Job) error {
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return b.Put([]byte(j.ID), v)
}

// Enqueue adds the receipt's print job and returns its id. It is one small bbolt write and
// never waits on the printer. The same receipt (sale, attempt, kind) enqueued again is
// the same job and is not printed twice; a receipt with Copy set is always a new job.
func (s *Spool) Enqueue(r Receipt) (string, error) {
	var id string
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		id, err = s.EnqueueTx(tx, r)
		return err
	})
	return id, err
}

// EnqueueTx adds the receipt's print job inside the caller's bbolt write transaction, so
// a payment's outcome and its receipt commit together with one fsync. The spool starts
// printing once tx commits.
func (s *Spool) EnqueueTx(tx *bbolt.Tx, r Receipt) (string, error) {
	switch r.Kind {
	case KindSale, KindRefund, KindReversal:
	default:
		return "", fmt.Errorf("enqueue receipt: unknown kind %q", r.Kind)
	}
	if r.SaleID == "" {
		return "", errors.New("enqueue receipt: no sale id")
	}
	r.Interrupted = false
	j := Job{Kind: r.Kind, Receipt: &r}
	id := r.JobID()
	if r.Copy {
		j.CopyOf, id = id, ""
	}
	return s.putTx(tx, id, j)
}

// EnqueueReport adds a day report's print job.
func (s *Spool) EnqueueReport(d DayReport) (string, error) {
	d.Interrupted = false
	j := Job{Kind: KindReport, Report: &d}
	id := d.JobID()
	if d.Copy {
		j.CopyOf, id = id, ""
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		id, err = s.putTx(tx, id, j)
		return err
	})
	return id, err
}

// Reprint enqueues a copy of an existing job, marked COPY, and returns the new job's id.
func (s *Spool) Reprint(id string) (string, error) {
	j, err := s.Job(id)
	if err != nil {
		return "", err
	}
	switch {
	case j.Receipt != nil:
		r := *j.Receipt
		r.Copy = true
		return s.Enqueue(r)
	case j.Report != nil:
		d := *j.Report
		d.Copy = true
		return s.EnqueueReport(d)
	}
	return "", fmt.Errorf("reprint %s: empty job", id)
}

func (s *Spool) putTx(tx *bbolt.Tx, id string, j Job) (string, error) {
	now := s.o.Clock.Now()
	jobs, queue := tx.Bucket(bucketJobs), tx.Bucket(bucketQueue)
	if jobs == nil || queue == nil {
		return "", errors.New("enqueue print job: spool buckets missing")
	}
	if id != "" && jobs.Get([]byte(id)) != nil {
		return id, nil // already enqueued: one receipt, one job
	}
	seq, err := jobs.NextSequence()
	if err != nil {
		return "", fmt.Errorf("enqueue print job: %w", err)
	}
	if id == "" {
		id = fmt.Sprintf("copy:%s:%d", j.CopyOf, seq)
	}
	j.ID, j.Seq, j.State, j.CreatedAt, j.UpdatedAt = id, seq, JobQueued, now, now
	if err := putJob(jobs, &j); err != nil {
		return "", fmt.Errorf("enqueue print job %s: %w", id, err)
	}
	if err := queue.Put(seqKey(seq), []byte(id)); err != nil {
		return "", fmt.Errorf("enqueue print job %s: %w", id, err)
	}
	tx.OnCommit(s.kick)
	return id, nil
}

// Cancel gives up a job that is not done (e.g. a receipt held by a printer that is gone
// for good, blocking those behind it). It is marked failed with the reason; a cancelled
// receipt can still be reprinted as a copy.
func (s *Spool) Cancel(id, reason string) error {
	if reason == "" {
		reason = "cancelled"
	}
	var j Job
	err := s.db.Update(func(tx *bbolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		v := jobs.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("cancel print job %s: %w", id, ErrJobNotFound)
		}
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("cancel print job %s: %w", id, err)
		}
		if j.State == JobDone || j.State == JobFailed {
			return nil
		}
		j.State, j.LastError, j.UpdatedAt = JobFailed, reason, s.o.Clock.Now()
		if err := putJob(jobs, &j); err != nil {
			return err
		}
		return tx.Bucket(bucketQueue).Delete(seqKey(j.Seq))
	})
	if err != nil {
		return err
	}
	s.RetryNow() // the next job need not wait out this one's backoff
	if s.o.OnChange != nil {
		s.o.OnChange(j)
	}
	return nil
}

// RetryNow ends the wait before the next try of a held job, e.g. when the cashier has
// loaded paper or switched the printer back on and presses "retry".
func (s *Spool) RetryNow() {
	select {
	case s.retry <- struct{}{}:
	default:
	}
}

func (s *Spool) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Job returns one job.
func (s *Spool) Job(id string) (Job, error) {
	var j Job
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketJobs).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("print job %s: %w", id, ErrJobNotFound)
		}
		return json.Unmarshal(v, &j)
	})
	return j, err
}

// Jobs lists every kept job in the order they were enqueued (oldest first).
func (s *Spool) Jobs() ([]Job, error) {
	var out []Job
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("print job %s: %w", k, err)
			}
			out = append(out, j)
			return nil
		})
	})
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out, err
}

// Status is the printer's state for the cashier UI and /healthz.
func (s *Spool) Status() SpoolStatus {
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	if st.Printer != nil {
		p := *st.Printer
		st.Printer = &p
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		st.Pending = tx.Bucket(bucketQueue).Stats().KeyN
		return nil
	})
	return st
}

func (s *Spool) setState(state SpoolState, fn func(*SpoolStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.State != state {
		s.state.Since = s.o.Clock.Now()
		s.state.State = state
	}
	if fn != nil {
		fn(&s.state)
	}
}

// head returns the oldest pending job.
func (s *Spool) head() (Job, bool, error) {
	var j Job
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		k, id := tx.Bucket(bucketQueue).Cursor().First()
		if k == nil {
			return nil
		}
		v := tx.Bucket(bucketJobs).Get(id)
		if v == nil {
			return fmt.Errorf("queued print job %s missing", id)
		}
		found = true
		return json.Unmarshal(v, &j)
	})
	return j, found, err
}

// update changes a job durably; a job that is done or failed leaves the queue.
func (s *Spool) update(j *Job) error {
	j.UpdatedAt = s.o.Clock.Now()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		queue := tx.Bucket(bucketQueue)
		if j.State != JobDone && queue.Get(seqKey(j.Seq)) == nil {
			// Cancelled while this try was under way: keep the cancellation.
			return errJobCancelled
		}
		if err := putJob(tx.Bucket(bucketJobs), j); err != nil {
			return err
		}
		if j.State == JobDone || j.State == JobFailed {
			return queue.Delete(seqKey(j.Seq))
		}
		return nil
	})
	if errors.Is(err, errJobCancelled) {
		return err
	}
	if err != nil {
		return fmt.Errorf("update print job %s: %w", j.ID, err)
	}
	if s.o.OnChange != nil {
		s.o.OnChange(*j)
	}
	return nil
}

func (s *Spool) run() {
	defer s.wg.Done()
	backoff := s.o.MinBackoff
	for {
		j, ok, err := s.head()
		if err != nil {
			s.log.WithError(err).Error("read print queue")
		}
		if err != nil || !ok {
			if !s.idle() {
				return
			}
			continue
		}
		retry := s.printOne(&j)
		if !retry {
			backoff = s.o.MinBackoff
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.o.Clock.After(backoff):
			backoff = min(backoff*2, s.o.MaxBackoff)
		case <-s.retry:
			backoff = s.o.MinBackoff
		}
	}
}

// idle waits for a new job, polling the printer's status now and then so the UI shows
// paper out before the next sale. It returns false when the spool is closing.
func (s *Spool) idle() bool {
	var tick <-chan time.Time
	if s.o.StatusInterval > 0 {
		tick = s.o.Clock.After(s.o.StatusInterval)
	}
	select {
	case <-s.ctx.Done():
		return false
	case <-s.wake:
	case <-tick:
		s.checkStatus()
	}
	return true
}

// checkStatus queries the printer and records the answer. It returns the status and
// whether the printer answered.
func (s *Spool) checkStatus() (Status, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.o.StatusTimeout)
	defer cancel()
	st, err := s.p.Status(ctx)
	switch {
	case errors.Is(err, ErrDisabled):
		s.setState("disabled", func(ss *SpoolStatus) { ss.StatusError = err.Error() })
	case err != nil:
		s.mu.Lock()
		s.state.StatusError = err.Error()
		s.mu.Unlock()
	default:
		state := SpoolReady
		if st.Blocked() {
			state = SpoolState(st.String())
		}
		s.setState(state, func(ss *SpoolStatus) { ss.Printer = &st; ss.StatusError = "" })
	}
	return st, err
}

// printOne tries the job once and reports whether to back off before the next try.
func (s *Spool) printOne(j *Job) bool {
	log := s.log.WithField("job", j.ID)
	st, err := s.checkStatus()
	switch {
	case errors.Is(err, ErrDisabled):
		j.State, j.LastError = JobFailed, err.Error()
		if uerr := s.update(j); uerr != nil && !errors.Is(uerr, errJobCancelled) {
			log.WithError(uerr).Error("print job")
			return true
		}
		return false
	case err == nil && st.Blocked():
		// Paper out or cover open: hold the job; bytes sent now could be lost.
		s.setState(SpoolState(st.String()), func(ss *SpoolStatus) { ss.Waiting = true })
		if j.State != JobWaitingPaper || j.LastError != st.String() {
			j.State, j.LastError = JobWaitingPaper, st.String()
			if uerr := s.update(j); uerr != nil && !errors.Is(uerr, errJobCancelled) {
				log.WithError(uerr).Error("print job")
			}
			log.WithField("status", st.String()).Warn("printer not ready, receipt waiting")
		}
		return true
	case err != nil:
		// Print anyway: many links and printers cannot answer DLE EOT.
		log.WithError(err).Debug("printer status unknown, printing anyway")
	}

	data, rerr := s.render(j)
	if rerr != nil {
		j.State, j.LastError = JobFailed, rerr.Error()
		if uerr := s.update(j); uerr != nil && !errors.Is(uerr, errJobCancelled) {
			log.WithError(uerr).Error("print job")
		}
		log.WithError(rerr).Error("print job cannot be rendered")
		return false
	}
	j.State = JobPrinting
	j.Tries++
	if err := s.update(j); err != nil {
		if errors.Is(err, errJobCancelled) {
			return false
		}
		// Without the durable "printing" mark a crash could hide a partial print.
		log.WithError(err).Error("print job")
		return true
	}
	s.setState("printing", nil)
	ctx, cancel := context.WithTimeout(s.ctx, s.o.JobTimeout)
	err = s.p.Write(ctx, data)
	cancel()
	if err == nil {
		s.setState("ready", func(ss *SpoolStatus) { ss.Waiting = false; ss.LastError = "" })
		j.State, j.LastError, j.DoneAt = JobDone, "", s.o.Clock.Now()
		if uerr := s.update(j); uerr != nil {
			log.WithError(uerr).Error("print job")
			return true
		}
		log.WithField("tries", j.Tries).Info("receipt printed")
		return false
	}
	var ie *InterruptedError
	if errors.As(err, &ie) {
		j.Interrupted = true
	}
	s.setState("unreachable", func(ss *SpoolStatus) { ss.Waiting = true; ss.LastError = err.Error() })
	j.State, j.LastError = JobWaitingPrinter, err.Error()
	if uerr := s.update(j); uerr != nil && !errors.Is(uerr, errJobCancelled) {
		log.WithError(uerr).Error("print job")
	}
	log.WithError(err).Warn("print failed, will retry")
	return true
}

func (s *Spool) render(j *Job) ([]byte, error) {
	switch {
	case j.Receipt != nil:
		r := *j.Receipt
		r.Interrupted = j.Interrupted
		return Render(r, s.o.Format)
	case j.Report != nil:
		d := *j.Report
		d.Interrupted = j.Interrupted
		return RenderReport(d, s.o.Format)
	}
	return nil, errors.New("print job has neither receipt nor report")
}
