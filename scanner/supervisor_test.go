package scanner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// fakeClock is a settable clock for dedup and log rate limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	sup    *Supervisor
	scans  chan Scan
	cancel context.CancelFunc
	done   chan struct{}
}

func startSupervisor(t *testing.T, configs []Config, opts Options) *harness {
	t.Helper()
	h := &harness{scans: make(chan Scan, 100), done: make(chan struct{})}
	opts.Handler = func(s Scan) { h.scans <- s }
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = time.Millisecond, 4*time.Millisecond
	}
	sup, err := NewSupervisor(configs, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.sup = sup
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { sup.Run(ctx); close(h.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("supervisor did not stop")
		}
	})
	return h
}

func (h *harness) next(t *testing.T) Scan {
	t.Helper()
	select {
	case s := <-h.scans:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no scan delivered")
		return Scan{}
	}
}

func (h *harness) none(t *testing.T) {
	t.Helper()
	select {
	case s := <-h.scans:
		t.Fatalf("unexpected scan %+v", s)
	case <-time.After(20 * time.Millisecond):
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSupervisor_FakeFailsAndComesBack(t *testing.T) {
	fake := NewFake("virtual")
	unplugged := errors.New("read hid 1-2:1.0: hidapi: hid_error is not implemented yet")
	fake.FailOpen(errors.New("open hid: no device"), errors.New("open hid: no device"))
	h := startSupervisor(t, nil, Options{Extra: []Device{fake.Device()}})

	fake.Push(testCode)
	if s := h.next(t); s.Code != testCode || s.Device != "virtual" {
		t.Fatalf("got %+v", s)
	}
	st := h.sup.Status()[0]
	if !st.Connected || st.Reopens != 0 || !strings.Contains(st.LastError, "no device") {
		t.Fatalf("status after two failed opens: %+v", st)
	}

	fake.Fail(unplugged) // the device goes away
	fake.Push("104567890123456789")
	if s := h.next(t); s.Code != "104567890123456789" {
		t.Fatalf("after replug got %+v", s)
	}
	st = h.sup.Status()[0]
	if fake.Opens() != 2 || st.Reopens != 1 || !strings.Contains(st.LastError, "hid_error") || st.Scans != 2 {
		t.Fatalf("opens %d, status %+v", fake.Opens(), st)
	}
}

func TestSupervisor_Dedup(t *testing.T) {
	clock := &fakeClock{t: t0}
	fake := NewFake("virtual")
	fake.Now = clock.Now
	h := startSupervisor(t, nil, Options{Extra: []Device{fake.Device()}, Now: clock.Now})

	fake.Push(testCode)
	h.next(t)
	clock.Add(1500 * time.Millisecond)
	fake.Push(testCode) // read twice by the scanner: one scan
	fake.Push("104567890123456789")
	if s := h.next(t); s.Code != "104567890123456789" {
		t.Fatalf("duplicate delivered: %+v", s)
	}
	clock.Add(2 * time.Second)
	fake.Push(testCode) // outside the window: a new scan (the engine refuses a used code)
	if s := h.next(t); s.Code != testCode {
		t.Fatalf("got %+v", s)
	}
	h.none(t)
}

func TestSupervisor_DedupAcrossScanners(t *testing.T) {
	a, b := NewFake("a"), NewFake("b")
	h := startSupervisor(t, nil, Options{Extra: []Device{a.Device(), b.Device()}})
	a.Push(testCode)
	h.next(t)
	b.Push(testCode)
	h.none(t)
}

func TestSupervisor_LogsRateLimitedAndMasked(t *testing.T) {
	clock := &fakeClock{t: t0}
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	fake := NewFake("virtual")
	var errs []error
	for i := 0; i < 20; i++ {
		errs = append(errs, errors.New("open: no device"))
	}
	fake.FailOpen(errs...)
	h := startSupervisor(t, nil, Options{Extra: []Device{fake.Device()}, Logger: logger, Now: clock.Now,
		MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond})
	fake.Push(testCode)
	h.next(t)

	var warns, suppressedReported int
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warns++
		}
		if line, _ := e.String(); strings.Contains(line, testCode) {
			t.Errorf("full code in log: %s", line)
		}
	}
	if warns != 1 {
		t.Errorf("%d warnings for 20 failed opens within a minute, want 1", warns)
	}
	// A minute later the next trouble is logged with the count of what was held back.
	clock.Add(2 * time.Minute)
	fake.FailOpen(errors.New("open: no device"))
	fake.Fail(errors.New("unplugged"))
	waitFor(t, "second warning", func() bool {
		for _, e := range hook.AllEntries() {
			if n, ok := e.Data["suppressed"]; ok && n.(int) == 19 {
				suppressedReported++
			}
		}
		return suppressedReported > 0
	})
	// The reconnect after a logged disconnect is logged too, so the journal does not end on
	// "disconnected" while the scanner works again.
	waitFor(t, "reconnect logged", func() bool {
		n := 0
		for _, e := range hook.AllEntries() {
			if e.Message == "scanner connected" {
				n++
			}
		}
		return n == 2
	})
	var sawScan bool
	for _, e := range hook.AllEntries() {
		if e.Message == "scan" {
			sawScan = true
			if e.Data["code"] != "13************6789" {
				t.Errorf("scan logged as %v", e.Data["code"])
			}
		}
	}
	if !sawScan {
		t.Error("no debug log of the scan")
	}
}

func TestSupervisor_ConfiguredDevicesUseOpen(t *testing.T) {
	fake := NewFake("till-left")
	var got []Config
	var mu sync.Mutex
	open := func(ctx context.Context, cfg Config, o OpenOptions) (Source, error) {
		mu.Lock()
		got = append(got, cfg)
		mu.Unlock()
		o.Problem(ErrLineTooLong) // sources may report problems; must not panic or block
		return fake.Open(ctx)
	}
	h := startSupervisor(t, []Config{{Kind: "serial", Device: "/dev/ttyACM0", Name: "till-left"}}, Options{Open: open})
	fake.Push(testCode)
	if s := h.next(t); s.Device != "till-left" {
		t.Fatalf("device %q", s.Device)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Device != "/dev/ttyACM0" {
		t.Fatalf("opened %+v", got)
	}
}

func TestNewSupervisor_Validates(t *testing.T) {
	one := 1
	for _, c := range []struct {
		cfgs []Config
		want string
	}{
		{[]Config{{Kind: "usb"}}, "kind"},
		{[]Config{{Kind: "serial"}}, "device or vendor_id"},
		{[]Config{{Kind: "serial", Device: "/dev/ttyS0", Parity: "x"}}, "parity"},
		{[]Config{{Kind: "serial", Device: "/dev/ttyS0", Terminator: "nul"}}, "terminator"},
		{[]Config{{Kind: "serial", Device: "/dev/ttyS0", DataBits: 9}}, "data_bits"},
		{[]Config{{Kind: "serial", Device: "/dev/ttyS0", StopBits: 3}}, "stop_bits"},
		{[]Config{{Kind: "hid"}}, "vendor_id"},
		{[]Config{{Kind: "hid", VendorID: "zz"}}, "vendor_id"},
		{[]Config{{Kind: "hid", VendorID: "0c2e", ProductID: "12345"}}, "product_id"},
		{[]Config{{Kind: "hid", VendorID: "0c2e", Mode: "serial"}}, "mode"},
		{[]Config{{Kind: "hid", VendorID: "0c2e", Keymap: "jp"}}, "keymap"},
		{[]Config{{Kind: "hid", VendorID: "0c2e", Layout: "x"}}, "layout"},
		{[]Config{{Kind: "serial", Device: "/dev/ttyS0"}, {Kind: "serial", Device: "/dev/ttyS0"}}, "twice"},
	} {
		_, err := NewSupervisor(c.cfgs, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want mention of %q", c.cfgs, err, c.want)
		}
	}
	ok := []Config{
		{Kind: "serial", Device: "/dev/ttyACM0", Baud: 115200, Parity: "even", DataBits: 7, StopBits: 2, Terminator: "crlf"},
		{Kind: "serial", VendorID: "0x0C2E", ProductID: "0720"},
		{Kind: "hid", VendorID: "1eab", ProductID: "1310", Mode: "pos", Interface: &one},
	}
	zero := 0
	ok = append(ok, Config{Kind: "hid", VendorID: "1eab", ProductID: "1310", Interface: &zero}) // same device, other interface
	if _, err := NewSupervisor(ok, Options{}); err != nil {
		t.Fatal(err)
	}
}

// Close while another goroutine waits in Next: Next returns ErrClosed, nothing races.
func TestFake_CloseDuringNext(t *testing.T) {
	f := NewFake("f")
	errc := make(chan error)
	go func() { _, err := f.Next(context.Background()); errc <- err }()
	time.Sleep(time.Millisecond)
	f.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}
