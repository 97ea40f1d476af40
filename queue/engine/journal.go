package engine

import (
	"sync"
	"time"
)

// maxEvents bounds an attempt's timeline so a record stays small.
const maxEvents = 50

func appendEvents(evs []Event, more ...Event) []Event {
	evs = append(evs, more...)
	if len(evs) > maxEvents {
		evs = append([]Event(nil), evs[len(evs)-maxEvents:]...)
	}
	return evs
}

// wtx is one engine write: a Tx that remembers what it wrote, so that after the commit
// (and only then) the engine publishes the sales and updates its counters.
type wtx struct {
	Tx
	sales   map[string]*Sale
	jobPut  []Job
	jobDrop []string
}

// put stores s and reads it back, so s carries the Version the store gave it.
func (t *wtx) put(s *Sale) error {
	if err := t.PutSale(s); err != nil {
		return err
	}
	c, err := t.Sale(s.ID)
	if err != nil {
		return err
	}
	*s = *c
	t.sales[s.ID] = c
	return nil
}

func (t *wtx) putJob(j Job) error {
	if err := t.PutJob(j); err != nil {
		return err
	}
	t.jobPut = append(t.jobPut, j)
	return nil
}

func (t *wtx) dropJob(id string) error {
	if err := t.DeleteJob(id); err != nil {
		return err
	}
	t.jobDrop = append(t.jobDrop, id)
	return nil
}

// job finds a job by id (nil when there is none).
func (t *wtx) job(id string) (*Job, error) {
	all, err := t.Jobs()
	if err != nil {
		return nil, err
	}
	for _, j := range all {
		if j.ID == id {
			return &j, nil
		}
	}
	return nil, nil
}

// touchJob makes a job due now (a cashier is waiting on it).
func (t *wtx) touchJob(id string, now time.Time) error {
	j, err := t.job(id)
	if err != nil || j == nil {
		return err
	}
	j.Due = now
	return t.putJob(*j)
}

// update runs fn in one durable write (at most one fsync of its own: concurrent
// writes are grouped, see commitLoop); after the commit the written sales are published
// and the counters updated. Nothing is published for a failed write.
func (e *Engine) update(fn func(tx *wtx) error) error {
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	select {
	case e.commits <- req:
	case <-e.commitStop:
		e.commitBatch([]*commitReq{req}) // closing: write directly
	}
	if err := <-req.done; err != nil {
		return err
	}
	w := req.w
	e.mu.Lock()
	for _, s := range w.sales {
		for _, a := range s.Attempts {
			if a.State.Final() {
				delete(e.open, a.OutTradeNo)
			} else {
				e.open[a.OutTradeNo] = a.State
			}
		}
	}
	for _, j := range w.jobPut {
		e.setJob(j)
	}
	for _, id := range w.jobDrop {
		e.unsetJob(id)
	}
	if len(w.jobPut) > 0 {
		e.jobsAdded.Store(true) // the queue worker looks at the queue again
	}
	e.mu.Unlock()
	for _, s := range w.sales {
		e.hub.publish(s)
	}
	if len(w.jobPut) > 0 {
		e.wakeQueue()
	}
	return nil
}

// commitReq is one engine write waiting for the journal.
type commitReq struct {
	fn   func(tx *wtx) error
	w    *wtx
	done chan error
}

// maxBatch bounds a group commit.
const maxBatch = 256

// commitLoop is group commit: writes that arrive while the journal is busy are applied
// in one transaction, in arrival order, so draining a queue of thousands is not bound to
// one fsync per attempt. A lone write (a cashier's sale) is committed at once. Its
// callers wait on their request, so the engine's busy count stays exact without
// counting this goroutine.
func (e *Engine) commitLoop() {
	defer close(e.commitDone)
	for {
		var batch []*commitReq
		select {
		case r := <-e.commits:
			batch = append(batch, r)
		case <-e.commitStop:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-e.commits:
				batch = append(batch, r)
			default:
				break more
			}
		}
		e.commitBatch(batch)
	}
}

// commitBatch writes a batch in one Update. If one write fails, the transaction is
// rolled back and every write is done again on its own, so each caller gets its own
// result and a failing write never takes others down (as bbolt's Batch does).
func (e *Engine) commitBatch(batch []*commitReq) {
	if len(batch) > 1 {
		err := e.st.Update(func(tx Tx) error {
			for _, r := range batch {
				r.w = &wtx{Tx: tx, sales: map[string]*Sale{}}
				if err := r.fn(r.w); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, r := range batch {
				r.done <- nil
			}
			return
		}
	}
	for _, r := range batch {
		err := e.st.Update(func(tx Tx) error {
			r.w = &wtx{Tx: tx, sales: map[string]*Sale{}}
			return r.fn(r.w)
		})
		r.done <- err
	}
}

// Subscribe returns every persisted change of a sale, after it is durable, and a function
// that unsubscribes (and closes the channel). A slow subscriber never blocks payments:
// changes of one sale waiting for it are coalesced to the newest version.
func (e *Engine) Subscribe() (<-chan *Sale, func()) { return e.hub.subscribe() }

// hub fans changes out to subscribers.
type hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
}

type sub struct {
	out    chan *Sale
	notify chan struct{} // 1-buffered: something is pending
	done   chan struct{}

	mu      sync.Mutex
	pending map[string]*Sale // newest undelivered version of each sale
	order   []string         // sale ids in the order they became pending
}

func (h *hub) subscribe() (<-chan *Sale, func()) {
	s := &sub{out: make(chan *Sale), notify: make(chan struct{}, 1), done: make(chan struct{}),
		pending: map[string]*Sale{}}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*sub]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	stopped := make(chan struct{})
	go s.deliver(stopped)
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
			close(s.done)
			<-stopped
			close(s.out)
		})
	}
}

// publish hands s to every subscriber without ever waiting for one.
func (h *hub) publish(s *Sale) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sb := range h.subs {
		sb.mu.Lock()
		if old, ok := sb.pending[s.ID]; !ok {
			sb.order = append(sb.order, s.ID)
			sb.pending[s.ID] = s
		} else if s.Version >= old.Version {
			// Two writers may publish out of order; the newest version wins.
			sb.pending[s.ID] = s
		}
		sb.mu.Unlock()
		select {
		case sb.notify <- struct{}{}:
		default:
		}
	}
}

// deliver is the subscriber's own goroutine: it alone waits for the reader.
func (s *sub) deliver(stopped chan struct{}) {
	defer close(stopped)
	for {
		select {
		case <-s.notify:
		case <-s.done:
			return
		}
		for {
			s.mu.Lock()
			if len(s.order) == 0 {
				s.mu.Unlock()
				break
			}
			id := s.order[0]
			s.order = s.order[1:]
			sale := s.pending[id]
			delete(s.pending, id)
			s.mu.Unlock()
			select {
			case s.out <- cloneForSubscriber(sale):
			case <-s.done:
				return
			}
		}
	}
}

// cloneForSubscriber gives each subscriber its own copy: a subscriber that modifies what it
// got cannot corrupt another's.
func cloneForSubscriber(s *Sale) *Sale {
	c := *s
	c.Attempts = append([]Attempt(nil), s.Attempts...)
	for i := range c.Attempts {
		c.Attempts[i].Events = append([]Event(nil), c.Attempts[i].Events...)
		if e := c.Attempts[i].Error; e != nil {
			ce := *e
			c.Attempts[i].Error = &ce
		}
	}
	c.Refunds = append([]Refund(nil), s.Refunds...)
	for i := range c.Refunds {
		if e := c.Refunds[i].Error; e != nil {
			ce := *e
			c.Refunds[i].Error = &ce
		}
	}
	return &c
}
