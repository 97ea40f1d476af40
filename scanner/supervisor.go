package scanner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"posd/internal/discard"
	"posd/wxpay"
)

// Device is something the Supervisor opens and reopens: a configured scanner, or an extra
// source such as posd demo's virtual scanner (Fake.Device).
type Device struct {
	Name string
	Kind string
	Open func(ctx context.Context) (Source, error)
}

// Options tune a Supervisor. The zero value works, apart from Handler.
type Options struct {
	// Handler receives every code once (after dedup). Calls are serialized; it must return
	// quickly (hand the code to the engine), since the next code waits for it.
	Handler func(Scan)
	Logger  logrus.FieldLogger // default: discard
	// DedupWindow: the same code again within this window is the same scan (a scanner that
	// reads the phone twice, or two scanners seeing it). Default 2s; negative disables.
	DedupWindow time.Duration
	// Reopen backoff after an error: doubles from MinBackoff up to MaxBackoff (250ms, 5s).
	MinBackoff, MaxBackoff time.Duration
	// LogEvery: the same trouble of one device is logged at most once per LogEvery, with a
	// count of what was suppressed (default 1 minute), so a loose cable cannot flood the
	// journal.
	LogEvery time.Duration
	Now      func() time.Time // default time.Now
	// Open opens a configured scanner; default OpenConfig. Tests put fakes here.
	Open func(ctx context.Context, cfg Config, o OpenOptions) (Source, error)
	// Extra devices supervised along with the configured ones.
	Extra []Device
}

// Supervisor keeps every scanner open and delivers their codes to one handler.
type Supervisor struct {
	opts    Options
	log     logrus.FieldLogger
	devices []Device
	limiter *rateLimiter

	mu     sync.Mutex
	status []DeviceStatus

	deliverMu sync.Mutex
	seen      map[string]time.Time
}

// NewSupervisor validates the configs and prepares one supervised device for each, plus
// opts.Extra. Nothing is opened before Run.
func NewSupervisor(configs []Config, opts Options) (*Supervisor, error) {
	if opts.DedupWindow == 0 {
		opts.DedupWindow = 2 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Second, opts.MinBackoff)
	}
	if opts.LogEvery <= 0 {
		opts.LogEvery = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Open == nil {
		opts.Open = OpenConfig
	}
	log := opts.Logger
	if log == nil {
		log = discard.Logger()
	}
	s := &Supervisor{
		opts:    opts,
		log:     log.WithField("component", "scanner"),
		limiter: newRateLimiter(opts.LogEvery, opts.Now),
		seen:    map[string]time.Time{},
	}
	names := map[string]bool{}
	for _, cfg := range configs {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		name := cfg.DisplayName()
		if names[name] {
			return nil, fmt.Errorf("scanner %s: configured twice (set name = \"...\" to tell them apart)", name)
		}
		names[name] = true
		cfg := cfg
		cfg.Name = name
		s.devices = append(s.devices, Device{Name: name, Kind: cfg.Kind, Open: func(ctx context.Context) (Source, error) {
			return s.opts.Open(ctx, cfg, OpenOptions{Now: s.opts.Now, Problem: func(err error) { s.problem(name, err) }})
		}})
	}
	for _, d := range opts.Extra {
		if names[d.Name] {
			return nil, fmt.Errorf("scanner %s: configured twice", d.Name)
		}
		names[d.Name] = true
		s.devices = append(s.devices, d)
	}
	for _, d := range s.devices {
		s.status = append(s.status, DeviceStatus{Name: d.Name, Kind: d.Kind})
	}
	return s, nil
}

// Run supervises every device until ctx ends, then closes them and returns.
func (s *Supervisor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range s.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.supervise(ctx, i)
		}()
	}
	wg.Wait()
	return nil
}

// Status returns a copy of every device's state, in configuration order.
func (s *Supervisor) Status() []DeviceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DeviceStatus(nil), s.status...)
}

// pathReporter is implemented by sources that know which device node they opened.
type pathReporter interface{ Path() string }

func (s *Supervisor) supervise(ctx context.Context, i int) {
	d := s.devices[i]
	backoff := s.opts.MinBackoff
	first := true
	announce := true // log the next connect: the first one, or after a logged failure
	for ctx.Err() == nil {
		src, err := d.Open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			announce = s.trouble(i, "open", err) || announce
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, s.opts.MaxBackoff)
			continue
		}
		path := ""
		if p, ok := src.(pathReporter); ok {
			path = p.Path()
		}
		s.update(i, func(st *DeviceStatus) {
			st.Connected, st.Device, st.Since = true, path, s.opts.Now()
			if !first {
				st.Reopens++
			}
		})
		if announce {
			s.log.WithFields(logrus.Fields{"scanner": d.Name, "device": path}).Info("scanner connected")
			announce = false
		}
		first = false
		for {
			scan, err := src.Next(ctx)
			if err != nil {
				src.Close()
				s.update(i, func(st *DeviceStatus) { st.Connected, st.Device, st.Since = false, "", s.opts.Now() })
				if ctx.Err() != nil {
					return
				}
				announce = s.trouble(i, "read", err)
				break
			}
			backoff = s.opts.MinBackoff // it worked: the next failure starts a fresh backoff
			if scan.Device == "" {
				scan.Device = d.Name
			}
			s.deliver(i, scan)
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

func (s *Supervisor) deliver(i int, scan Scan) {
	if scan.At.IsZero() {
		scan.At = s.opts.Now()
	}
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	if w := s.opts.DedupWindow; w > 0 {
		if last, ok := s.seen[scan.Code]; ok && scan.At.Sub(last) < w && scan.At.Sub(last) > -w {
			s.log.WithFields(logrus.Fields{"scanner": scan.Device, "code": wxpay.MaskCode(scan.Code)}).Debug("duplicate scan dropped")
			return
		}
		if len(s.seen) > 64 {
			for c, t := range s.seen {
				if scan.At.Sub(t) >= w {
					delete(s.seen, c)
				}
			}
		}
		s.seen[scan.Code] = scan.At
	}
	s.update(i, func(st *DeviceStatus) { st.LastScan = scan.At; st.Scans++ })
	s.log.WithFields(logrus.Fields{"scanner": scan.Device, "code": wxpay.MaskCode(scan.Code), "symbology": scan.Symbology}).Debug("scan")
	if s.opts.Handler != nil {
		s.opts.Handler(scan)
	}
}

// trouble records a device error and logs it, at most once per LogEvery for the same device
// and operation. It reports whether it logged.
func (s *Supervisor) trouble(i int, op string, err error) bool {
	name := s.devices[i].Name
	s.update(i, func(st *DeviceStatus) { st.LastError, st.LastErrorAt = op+": "+err.Error(), s.opts.Now() })
	if n, ok := s.limiter.allowCount(name + "\x00" + op); ok {
		e := s.log.WithFields(logrus.Fields{"scanner": name, "error": err.Error()})
		if n > 0 {
			e = e.WithField("suppressed", n)
		}
		if op == "open" {
			e.Warn("scanner unavailable; retrying")
		} else {
			e.Warn("scanner disconnected; reopening")
		}
		return true
	}
	return false
}

// problem logs a non-fatal problem a source reports (a refused line, a dropped partial
// code), rate-limited.
func (s *Supervisor) problem(name string, err error) {
	if n, ok := s.limiter.allowCount(name + "\x00problem\x00" + err.Error()); ok {
		e := s.log.WithFields(logrus.Fields{"scanner": name, "error": err.Error()})
		if n > 0 {
			e = e.WithField("suppressed", n)
		}
		e.Warn("scan refused")
	}
}

func (s *Supervisor) update(i int, f func(*DeviceStatus)) {
	s.mu.Lock()
	f(&s.status[i])
	s.mu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// rateLimiter lets one event per key through every interval and counts the rest.
type rateLimiter struct {
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	last  map[string]time.Time
	count map[string]int
}

func newRateLimiter(every time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{every: every, now: now, last: map[string]time.Time{}, count: map[string]int{}}
}

// allowCount reports whether to log now, and how many were suppressed since the last time.
func (r *rateLimiter) allowCount(key string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if last, ok := r.last[key]; ok && now.Sub(last) < r.every {
		r.count[key]++
		return 0, false
	}
	n := r.count[key]
	r.last[key], r.count[key] = now, 0
	return n, true
}
