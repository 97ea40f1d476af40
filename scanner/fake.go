package scanner

import (
	"context"
	"sync"
	"time"
)

// Fake is a scanner for tests and for posd demo's virtual scanner (codes typed in the web
// UI are pushed into it). It is a Source itself, and its Open method hands out sessions so
// that a Supervisor can close and reopen it like real hardware. Fail and FailOpen script
// unplugs and failed reopens.
type Fake struct {
	Name string
	Now  func() time.Time // time stamped on pushed codes; default time.Now

	mu       sync.Mutex
	queue    []Scan
	failNext []error
	openErrs []error
	opens    int
	wake     chan struct{} // closed and replaced whenever the state changes
	self     *fakeSession
}

// NewFake returns a Fake named name.
func NewFake(name string) *Fake {
	f := &Fake{Name: name, wake: make(chan struct{})}
	f.self = &fakeSession{f: f, closed: make(chan struct{})}
	return f
}

// Push queues a scanned code (stamped with Now) for the next call to Next.
func (f *Fake) Push(code string) { f.PushScan(Scan{Code: code}) }

// PushScan queues s; a zero At is stamped with Now and an empty Device with Name.
func (f *Fake) PushScan(s Scan) {
	f.mu.Lock()
	if s.At.IsZero() {
		s.At = f.now()
	}
	if s.Device == "" {
		s.Device = f.Name
	}
	f.queue = append(f.queue, s)
	f.broadcast()
	f.mu.Unlock()
}

// Fail makes the next Next of the open session return err, as an unplugged device would.
// Codes pushed before stay queued for the next session.
func (f *Fake) Fail(err error) {
	f.mu.Lock()
	f.failNext = append(f.failNext, err)
	f.broadcast()
	f.mu.Unlock()
}

// FailOpen makes the next len(errs) calls of Open fail with these errors, in order.
func (f *Fake) FailOpen(errs ...error) {
	f.mu.Lock()
	f.openErrs = append(f.openErrs, errs...)
	f.mu.Unlock()
}

// Opens is how many times Open succeeded.
func (f *Fake) Opens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

// Open starts a new session, or fails with the next FailOpen error.
func (f *Fake) Open(ctx context.Context) (Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.openErrs) > 0 {
		err := f.openErrs[0]
		f.openErrs = f.openErrs[1:]
		return nil, err
	}
	f.opens++
	return &fakeSession{f: f, closed: make(chan struct{})}, nil
}

// Device describes the Fake for Options.Extra, so a Supervisor opens and reopens it.
func (f *Fake) Device() Device {
	return Device{Name: f.Name, Kind: "virtual", Open: f.Open}
}

// Next returns the next pushed code (the Fake used directly as a Source).
func (f *Fake) Next(ctx context.Context) (Scan, error) { return f.self.Next(ctx) }

// Close ends the Fake used directly as a Source; Next returns ErrClosed afterwards.
func (f *Fake) Close() error { return f.self.Close() }

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fake) broadcast() {
	close(f.wake)
	f.wake = make(chan struct{})
}

type fakeSession struct {
	f         *Fake
	closeOnce sync.Once
	closed    chan struct{}
}

func (s *fakeSession) Next(ctx context.Context) (Scan, error) {
	f := s.f
	for {
		select {
		case <-s.closed:
			return Scan{}, ErrClosed
		default:
		}
		f.mu.Lock()
		if len(f.failNext) > 0 {
			err := f.failNext[0]
			f.failNext = f.failNext[1:]
			f.mu.Unlock()
			return Scan{}, err
		}
		if len(f.queue) > 0 {
			sc := f.queue[0]
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return sc, nil
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-s.closed:
			return Scan{}, ErrClosed
		case <-ctx.Done():
			return Scan{}, ctx.Err()
		}
	}
}

func (s *fakeSession) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}
