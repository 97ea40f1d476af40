package scanner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHID plays reports like karalabe/hid's ReadTimeout and fails the test when Close runs
// while a read is in progress (the use-after-free hazard of docs/hardware.md §3.2) or twice.
type fakeHID struct {
	t       testing.TB
	reports chan []byte
	fail    chan error
	reading atomic.Int32
	closes  atomic.Int32
}

func newFakeHID(t testing.TB) *fakeHID {
	return &fakeHID{t: t, reports: make(chan []byte, 256), fail: make(chan error, 1)}
}

func (f *fakeHID) ReadTimeout(b []byte, ms int) (int, error) {
	f.reading.Add(1)
	defer f.reading.Add(-1)
	if f.closes.Load() != 0 {
		f.t.Error("read after close")
		return 0, errors.New("closed")
	}
	select {
	case r := <-f.reports:
		return copy(b, r), nil
	case err := <-f.fail:
		return 0, err
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return 0, nil // karalabe/hid: timeout is (0, nil)
	}
}

func (f *fakeHID) Close() error {
	if f.reading.Load() != 0 {
		f.t.Error("Close while a read is in progress")
	}
	if f.closes.Add(1) != 1 {
		f.t.Error("closed twice")
	}
	return nil
}

func keyboardDecoderFor(t testing.TB, cfg Config) reportDecoder {
	dec, err := keyboardReportDecoder(cfg, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func TestHIDSource_DecodesAndReportsUnplug(t *testing.T) {
	dev := newFakeHID(t)
	src := startHIDSource("front", "1-2:1.0", dev, keyboardDecoderFor(t, Config{StripAIM: true}), OpenOptions{})
	for _, r := range typeCode(t, Keymaps["us"], "]Q1"+testCode, typeOpts{}) {
		dev.reports <- r.data
	}
	s := nextScan(t, src)
	if s.Code != testCode || s.Symbology != "]Q1" || s.Device != "front" {
		t.Fatalf("got %+v", s)
	}
	dev.fail <- errors.New("hidapi: hid_error is not implemented yet") // unplugged
	_, err := src.Next(context.Background())
	if err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("after unplug: %v", err)
	}
	src.Close()
	if dev.closes.Load() != 1 {
		t.Fatal("handle not closed by its owner")
	}
}

func TestHIDSource_POS(t *testing.T) {
	dev := newFakeHID(t)
	dec, err := posReportDecoder(Config{}, VendorNewland, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := startHIDSource("pos", "1-3:1.1", dev, dec, OpenOptions{})
	defer src.Close()
	long := []byte(testCode + testCode + testCode + testCode)
	for _, r := range posReports(LayoutNewland, "", long, false, 'Q') {
		dev.reports <- r.data
	}
	if s := nextScan(t, src); s.Code != string(long) || s.Symbology != "Q" {
		t.Fatalf("got %+v", s)
	}
}

// Close from other goroutines while Next waits and the owner reads: the owner alone closes
// the handle, after its read returned. Run with -race.
func TestHIDSource_CloseDuringRead(t *testing.T) {
	for i := 0; i < 10; i++ {
		dev := newFakeHID(t)
		src := startHIDSource("k", "p", dev, keyboardDecoderFor(t, Config{}), OpenOptions{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := src.Next(context.Background()); !errors.Is(err, ErrClosed) {
				t.Errorf("Next: %v", err)
			}
		}()
		go func() { defer wg.Done(); src.Close() }()
		time.Sleep(time.Duration(i%3) * time.Millisecond)
		src.Close()
		wg.Wait()
		if dev.closes.Load() != 1 {
			t.Fatalf("closes = %d", dev.closes.Load())
		}
	}
}

func TestKeyboardReportDecoder_ReportsDroppedPartial(t *testing.T) {
	var problems []error
	dec, err := keyboardReportDecoder(Config{InterKeyGap: 10 * time.Millisecond}, OpenOptions{Problem: func(e error) { problems = append(problems, e) }})
	if err != nil {
		t.Fatal(err)
	}
	emit := func(code, sym string) { t.Fatalf("unexpected code %q", code) }
	dec([]byte{0, 0, 0x1E, 0, 0, 0, 0, 0}, t0, emit)
	dec([]byte{0, 0, 0, 0, 0, 0, 0, 0}, t0.Add(time.Second), emit)
	if len(problems) != 1 {
		t.Fatalf("problems: %v", problems)
	}
}

// A HID keyboard scanner unplugged and plugged back in: the supervisor closes the dead
// handle through its owner, opens the new one, and the next code arrives.
func TestSupervisor_HIDUnplugReplug(t *testing.T) {
	devs := make(chan *fakeHID, 2)
	first, second := newFakeHID(t), newFakeHID(t)
	devs <- first
	devs <- second
	d := Device{Name: "front", Kind: "hid", Open: func(ctx context.Context) (Source, error) {
		select {
		case dev := <-devs:
			return startHIDSource("front", "1-2:1.0", dev, keyboardDecoderFor(t, Config{}), OpenOptions{}), nil
		default:
			return nil, ErrNotFound
		}
	}}
	h := startSupervisor(t, nil, Options{Extra: []Device{d}})
	for _, r := range typeCode(t, Keymaps["us"], testCode, typeOpts{}) {
		first.reports <- r.data
	}
	if s := h.next(t); s.Code != testCode {
		t.Fatalf("got %+v", s)
	}
	first.fail <- errors.New("hidapi: hid_error is not implemented yet")
	for _, r := range typeCode(t, Keymaps["us"], "104567890123456789", typeOpts{}) {
		second.reports <- r.data
	}
	if s := h.next(t); s.Code != "104567890123456789" {
		t.Fatalf("after replug got %+v", s)
	}
	if first.closes.Load() != 1 {
		t.Fatal("unplugged handle not closed")
	}
	if st := h.sup.Status()[0]; st.Reopens != 1 || !strings.Contains(st.LastError, "hid_error") || st.Device != "1-2:1.0" {
		t.Fatalf("status %+v", st)
	}
}

// posd stalls between reads (here: every report takes 500 ms to handle) while the scanner
// has long finished typing: its reports wait in hidapi's queue, and the stall is not an
// inter-key gap. The code must survive.
func TestHIDSource_StallIsNotAGap(t *testing.T) {
	clock := &fakeClock{t: t0}
	dev := newFakeHID(t)
	for _, r := range typeCode(t, Keymaps["us"], testCode, typeOpts{}) {
		dev.reports <- r.data
	}
	inner := keyboardDecoderFor(t, Config{})
	slow := func(report []byte, at time.Time, emit func(code, sym string)) {
		inner(report, at, emit)
		clock.Add(500 * time.Millisecond)
	}
	src := startHIDSource("k", "p", dev, slow, OpenOptions{Now: clock.Now})
	defer src.Close()
	if s := nextScan(t, src); s.Code != testCode {
		t.Fatalf("got %+v", s)
	}
}
