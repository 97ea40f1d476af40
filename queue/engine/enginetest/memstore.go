package enginetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"posd/queue/engine"
)

// MemStore is an in-memory engine.Store with the semantics of the bbolt store in queue/:
// one writer at a time, an Update is applied only when its function succeeds (and is then
// "durable"), records are deep-copied in and out, PutSale bumps Version and maintains the
// out_trade_no, code-hash, day and open indexes.
//
// It counts committed Updates (each is one fsync in the real store), can be told to fail
// Updates (a full or read-only disk), and can hand out a copy of its contents so a test
// can "restart" an engine on what was journaled.
type MemStore struct {
	mu      sync.Mutex // one writer at a time, like bbolt
	loc     *time.Location
	sales   map[string]*engine.Sale
	byOTN   map[string]string
	codes   map[string]string
	jobs    map[string]engine.Job
	seq     uint64
	commits int
	failErr error
	failN   int // fail the next failN Updates (with failErr), <0: all
}

// ErrDiskFull is what a MemStore told to fail returns by default.
var ErrDiskFull = errors.New("memstore: no space left on device")

// NewMemStore returns an empty store; days are computed in loc (nil: engine.HongKong()).
func NewMemStore(loc *time.Location) *MemStore {
	if loc == nil {
		loc = engine.HongKong()
	}
	return &MemStore{loc: loc, sales: map[string]*engine.Sale{}, byOTN: map[string]string{},
		codes: map[string]string{}, jobs: map[string]engine.Job{}}
}

// Commits returns how many Updates committed: the real store's fsyncs.
func (m *MemStore) Commits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits
}

// FailUpdates makes the next n Updates fail with err (n < 0: every Update until
// FailUpdates(0, nil)); nil err means ErrDiskFull.
func (m *MemStore) FailUpdates(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		err = ErrDiskFull
	}
	m.failN, m.failErr = n, err
}

// Clone returns an independent copy of everything committed: what a restarted posd
// would find in the file.
func (m *MemStore) Clone() *MemStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMemStore(m.loc)
	for id, s := range m.sales {
		c.sales[id] = cloneSale(s)
	}
	for k, v := range m.byOTN {
		c.byOTN[k] = v
	}
	for k, v := range m.codes {
		c.codes[k] = v
	}
	for k, v := range m.jobs {
		c.jobs[k] = v
	}
	c.seq = m.seq
	return c
}

// View runs fn on a consistent snapshot.
func (m *MemStore) View(fn func(engine.ReadTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(&memTx{m: m})
}

// Update runs fn in a write transaction: applied only if fn returns nil.
func (m *MemStore) Update(fn func(engine.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failN != 0 {
		if m.failN > 0 {
			m.failN--
		}
		return fmt.Errorf("memstore update: %w", m.failErr)
	}
	tx := &memTx{m: m, write: true, sales: map[string]*engine.Sale{}, jobs: map[string]*engine.Job{}, seq: m.seq}
	if err := fn(tx); err != nil {
		return err
	}
	for id, s := range tx.sales {
		m.indexSale(s)
		m.sales[id] = s
	}
	for id, j := range tx.jobs {
		if j == nil {
			delete(m.jobs, id)
		} else {
			m.jobs[id] = *j
		}
	}
	m.seq = tx.seq
	m.commits++
	return nil
}

func (m *MemStore) indexSale(s *engine.Sale) {
	for _, a := range s.Attempts {
		m.byOTN[a.OutTradeNo] = s.ID
		if a.CodeHash != "" {
			m.codes[a.CodeHash] = s.ID
		}
	}
}

// memTx overlays a transaction's writes on the committed maps.
type memTx struct {
	m     *MemStore
	write bool
	sales map[string]*engine.Sale // written in this tx
	jobs  map[string]*engine.Job  // written (nil: deleted) in this tx
	seq   uint64
}

func (t *memTx) sale(id string) *engine.Sale {
	if s, ok := t.sales[id]; ok {
		return s
	}
	return t.m.sales[id]
}

func (t *memTx) allSales() []*engine.Sale {
	out := make([]*engine.Sale, 0, len(t.m.sales)+len(t.sales))
	for id, s := range t.m.sales {
		if _, ok := t.sales[id]; !ok {
			out = append(out, s)
		}
	}
	for _, s := range t.sales {
		out = append(out, s)
	}
	return out
}

func (t *memTx) Sale(id string) (*engine.Sale, error) {
	s := t.sale(id)
	if s == nil {
		return nil, engine.ErrNotFound
	}
	return cloneSale(s), nil
}

func (t *memTx) SaleByOutTradeNo(otn string) (*engine.Sale, error) {
	for _, s := range t.sales {
		for _, a := range s.Attempts {
			if a.OutTradeNo == otn {
				return cloneSale(s), nil
			}
		}
	}
	if id, ok := t.m.byOTN[otn]; ok {
		return t.Sale(id)
	}
	return nil, engine.ErrNotFound
}

func (t *memTx) SalesByDay(day string) ([]*engine.Sale, error) {
	var out []*engine.Sale
	for _, s := range t.allSales() {
		if s.CreatedAt.In(t.m.loc).Format("2006-01-02") == day {
			out = append(out, cloneSale(s))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// open is the queue's "open" index rule: not final, or with an attempt not final.
func open(s *engine.Sale) bool {
	if s.State == engine.SaleAwaitingScan || s.State == engine.SalePaying {
		return true
	}
	for _, a := range s.Attempts {
		if !a.State.Final() {
			return true
		}
	}
	return false
}

func (t *memTx) OpenSales() ([]*engine.Sale, error) {
	var out []*engine.Sale
	for _, s := range t.allSales() {
		if open(s) {
			out = append(out, cloneSale(s))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (t *memTx) CodeUsed(h string) (bool, error) {
	if _, ok := t.m.codes[h]; ok {
		return true, nil
	}
	for _, s := range t.sales {
		for _, a := range s.Attempts {
			if a.CodeHash == h {
				return true, nil
			}
		}
	}
	return false, nil
}

func (t *memTx) allJobs() []engine.Job {
	var out []engine.Job
	for id, j := range t.m.jobs {
		if _, ok := t.jobs[id]; !ok {
			out = append(out, j)
		}
	}
	for _, j := range t.jobs {
		if j != nil {
			out = append(out, *j)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (t *memTx) DueJobs(now time.Time, limit int) ([]engine.Job, error) {
	var out []engine.Job
	for _, j := range t.allJobs() {
		if limit > 0 && len(out) >= limit {
			break
		}
		if !j.Attention && !j.Due.After(now) {
			out = append(out, j)
		}
	}
	return out, nil
}

func (t *memTx) Jobs() ([]engine.Job, error) { return t.allJobs(), nil }

func (t *memTx) NextSeq() (uint64, error) {
	if !t.write {
		return 0, errors.New("memstore: NextSeq in a read transaction")
	}
	t.seq++
	return t.seq, nil
}

func (t *memTx) PutSale(s *engine.Sale) error {
	if !t.write {
		return errors.New("memstore: PutSale in a read transaction")
	}
	if s.ID == "" {
		return errors.New("memstore: sale without id")
	}
	if old := t.sale(s.ID); old != nil {
		s.Version = old.Version + 1
	} else {
		s.Version = 1
	}
	t.sales[s.ID] = cloneSale(s)
	return nil
}

func (t *memTx) PutJob(j engine.Job) error {
	if !t.write {
		return errors.New("memstore: PutJob in a read transaction")
	}
	t.jobs[j.ID] = &j
	return nil
}

func (t *memTx) DeleteJob(id string) error {
	if !t.write {
		return errors.New("memstore: DeleteJob in a read transaction")
	}
	t.jobs[id] = nil
	return nil
}

// cloneSale deep-copies a sale: what goes in or comes out of the store shares no memory
// with the caller, as with the bbolt store (which decodes a fresh copy each time).
func cloneSale(s *engine.Sale) *engine.Sale {
	c := *s
	if s.Attempts != nil {
		c.Attempts = make([]engine.Attempt, len(s.Attempts))
		for i, a := range s.Attempts {
			if a.Events != nil {
				a.Events = append([]engine.Event(nil), a.Events...)
			}
			if a.Error != nil {
				e := *a.Error
				a.Error = &e
			}
			a.StartedAt, a.Deadline, a.ReverseAfter, a.UpdatedAt = wall(a.StartedAt), wall(a.Deadline), wall(a.ReverseAfter), wall(a.UpdatedAt)
			c.Attempts[i] = a
		}
	}
	if s.Refunds != nil {
		c.Refunds = make([]engine.Refund, len(s.Refunds))
		for i, r := range s.Refunds {
			if r.Error != nil {
				e := *r.Error
				r.Error = &e
			}
			c.Refunds[i] = r
		}
	}
	c.CreatedAt, c.UpdatedAt = wall(s.CreatedAt), wall(s.UpdatedAt)
	return &c
}

// wall drops the monotonic reading, as a round trip through the file does.
func wall(t time.Time) time.Time { return t.Round(0) }
