package scanner

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// hidDevice is the part of a karalabe/hid Device the reader uses.
type hidDevice interface {
	ReadTimeout(b []byte, timeoutMS int) (int, error)
	Close() error
}

// hidReadTimeoutMS bounds how long the owner goroutine waits in a read before it checks
// whether it should stop. It is also the worst-case delay of Close; reports are returned as
// soon as they arrive, so it adds no latency to codes.
const hidReadTimeoutMS = 100

// hidSource reads one HID scanner. One goroutine owns the device handle: it alone reads,
// and it alone closes the handle after its loop ends. karalabe/hid's Close frees memory a
// concurrent blocked read may still touch (docs/hardware.md §3.2), so Close here only signals
// the owner and waits for it. The owner reads continuously: hidapi's libusb backend keeps
// only 30 reports and drops the oldest, and one 18-digit code is 38 reports.
type hidSource struct {
	name, path string
	items      chan item
	done       chan struct{}
	exited     chan struct{}
	closeOnce  sync.Once
}

// reportDecoder decodes one report and calls emit for each finished code.
type reportDecoder func(report []byte, at time.Time, emit func(code, symbology string))

func startHIDSource(name, path string, dev hidDevice, dec reportDecoder, o OpenOptions) *hidSource {
	s := &hidSource{
		name: name, path: path,
		// Room for many codes: if the handler stalls, the owner keeps reading rather than
		// letting hidapi's 30-report queue overflow and lose digits.
		items: make(chan item, 64), done: make(chan struct{}), exited: make(chan struct{}),
	}
	go s.own(dev, dec, o.withDefaults())
	return s
}

func (s *hidSource) own(dev hidDevice, dec reportDecoder, o OpenOptions) {
	defer close(s.exited)
	defer dev.Close()        // re-attaches the kernel driver (usbhid) when the device is still there
	buf := make([]byte, 256) // ≥ 64: hidapi silently truncates a report to the buffer
	emit := func(code, sym string) {
		sc := Scan{Code: code, Device: s.name, Symbology: sym, At: o.Now()}
		select {
		case s.items <- item{scan: sc}:
			// Let the reader of items run on this P now: otherwise it may wait in this P's
			// run queue until sysmon notices we went back into a blocking read.
			runtime.Gosched()
		case <-s.done:
		}
	}
	// The decoders drop a partial code after an inter-key gap. hidapi gives no arrival
	// times, so a gap is measured on a clock that advances only while a read waits in vain:
	// if posd itself stalls (GC, a busy CPU, a slow handler) the scanner's reports wait in
	// hidapi's queue, and that stall must not count as the scanner's silence.
	quiet := o.Now()
	for {
		select {
		case <-s.done:
			return
		default:
		}
		start := o.Now()
		n, err := dev.ReadTimeout(buf, hidReadTimeoutMS)
		if err != nil {
			// karalabe/hid reports an unplug as any read error ("hid_error is not
			// implemented yet" from the libusb backend): the device is gone.
			select {
			case s.items <- item{err: fmt.Errorf("read hid %s: %w", s.path, err)}:
			case <-s.done:
			}
			return
		}
		if n == 0 {
			quiet = quiet.Add(o.Now().Sub(start))
			continue
		}
		quiet = quiet.Add(time.Microsecond)
		dec(buf[:n], quiet, emit)
	}
}

func (s *hidSource) Path() string { return s.path }

func (s *hidSource) Next(ctx context.Context) (Scan, error) {
	select {
	case it := <-s.items:
		return it.scan, it.err
	case <-s.done:
		return Scan{}, ErrClosed
	case <-ctx.Done():
		return Scan{}, ctx.Err()
	}
}

// Close stops the owner goroutine and waits until it has closed the handle.
func (s *hidSource) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	<-s.exited
	return nil
}

// keyboardReportDecoder adapts a KeyboardDecoder, reporting dropped partial codes.
func keyboardReportDecoder(cfg Config, o OpenOptions) (reportDecoder, error) {
	km, err := LookupKeymap(cfg.Keymap)
	if err != nil {
		return nil, err
	}
	d := NewKeyboardDecoder(km, cfg.gap())
	o = o.withDefaults()
	return func(report []byte, at time.Time, emit func(code, sym string)) {
		before := d.Dropped()
		d.Feed(report, at, func(code string) {
			sym := ""
			if cfg.StripAIM {
				sym, code = SplitAIM(code)
			}
			if code != "" {
				emit(code, sym)
			}
		})
		if d.Dropped() != before {
			o.Problem(fmt.Errorf("partial code dropped (no Enter within %v, or too long)", d.Gap))
		}
	}, nil
}

// posReportDecoder adapts a POSDecoder.
func posReportDecoder(cfg Config, vendorID uint16, o OpenOptions) (reportDecoder, error) {
	layout, err := ParseLayout(cfg.Layout, vendorID)
	if err != nil {
		return nil, err
	}
	d := NewPOSDecoder(layout, cfg.gap())
	o = o.withDefaults()
	return func(report []byte, at time.Time, emit func(code, sym string)) {
		before := d.Dropped()
		d.Feed(report, at, emit)
		if d.Dropped() != before {
			o.Problem(fmt.Errorf("partial HID POS code dropped (continuation missing or too long)"))
		}
	}, nil
}
