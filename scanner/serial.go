package scanner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// serialSource reads one serial scanner. Its reader goroutine owns the framing state;
// go.bug.st/serial supports Close while a Read blocks (a pipe wakes the select), so Close
// interrupts the read at once.
type serialSource struct {
	name, path string
	port       serial.Port
	lock       *os.File
	items      chan item
	done       chan struct{}
	exited     chan struct{}
	closeOnce  sync.Once
}

// OpenSerial opens a serial scanner. A USB serial scanner configured by vendor_id and
// product_id is found by go.bug.st/serial's enumerator, because its ttyACM/ttyUSB name can
// change on replug.
func OpenSerial(cfg Config, o OpenOptions) (Source, error) {
	o = o.withDefaults()
	term, err := ParseTerminator(cfg.Terminator)
	if err != nil {
		return nil, fmt.Errorf("scanner %s: %w", cfg.Name, err)
	}
	paths, err := findSerialPorts(cfg)
	if err != nil {
		return nil, err
	}
	mode := &serial.Mode{BaudRate: cfg.Baud, DataBits: cfg.DataBits, StopBits: serial.OneStopBit}
	if mode.BaudRate == 0 {
		mode.BaudRate = 9600
	}
	if mode.DataBits == 0 {
		mode.DataBits = 8
	}
	if cfg.StopBits == 2 {
		mode.StopBits = serial.TwoStopBits
	}
	mode.Parity = map[string]serial.Parity{"": serial.NoParity, "none": serial.NoParity, "odd": serial.OddParity,
		"even": serial.EvenParity, "mark": serial.MarkParity, "space": serial.SpaceParity}[cfg.Parity]

	// Two identical USB scanners match the same VID/PID: the one already held (by the other
	// entry) is busy, so try the next.
	var firstErr error
	for _, path := range paths {
		port, lock, err := openLocked(path, mode)
		if err == nil {
			s := &serialSource{
				name: cfg.Name, path: path, port: port, lock: lock,
				items: make(chan item, 64), done: make(chan struct{}), exited: make(chan struct{}),
			}
			go s.read(term, cfg.StripAIM, o)
			return s, nil
		}
		if firstErr == nil || errors.Is(firstErr, ErrPortBusy) && !errors.Is(err, ErrPortBusy) {
			firstErr = err
		}
	}
	return nil, firstErr
}

// openLocked opens path as a serial port and holds an advisory lock on it.
func openLocked(path string, mode *serial.Mode) (serial.Port, *os.File, error) {
	// go.bug.st/serial sets TIOCEXCL, but root bypasses it. An advisory flock on the node
	// makes a second posd (or the same port configured twice) fail clearly for root too.
	lock, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, mapSerialErr(path, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("open %s: %w (locked by another program)", path, ErrPortBusy)
		}
		return nil, nil, fmt.Errorf("lock %s: %w", path, err)
	}
	port, err := serial.Open(path, mode)
	if err != nil {
		lock.Close()
		return nil, nil, mapSerialErr(path, err)
	}
	return port, lock, nil
}

func (s *serialSource) Path() string { return s.path }

func (s *serialSource) read(term Terminator, stripAIM bool, o OpenOptions) {
	defer close(s.exited)
	fr := Framer{Term: term}
	var buf [256]byte
	emit := func(line []byte, err error) {
		if err != nil {
			o.Problem(fmt.Errorf("%s: line over %d bytes refused", s.path, MaxLineLen))
			return
		}
		sc := Scan{Code: string(line), Device: s.name, At: o.Now()}
		if stripAIM {
			sc.Symbology, sc.Code = SplitAIM(sc.Code)
		}
		if sc.Code == "" {
			return
		}
		select {
		case s.items <- item{scan: sc}:
			// Let the reader of items run on this P now: otherwise it may wait in this P's
			// run queue until sysmon notices we went back into a blocking read.
			runtime.Gosched()
		case <-s.done:
		}
	}
	for {
		n, err := s.port.Read(buf[:])
		if n > 0 {
			fr.Feed(buf[:n], emit)
		}
		if err != nil {
			select {
			case <-s.done:
				return // our own Close
			default:
			}
			// PortClosed here means the device vanished (a read of 0 bytes: unplugged).
			select {
			case s.items <- item{err: fmt.Errorf("read %s: %w", s.path, err)}:
			case <-s.done:
			}
			return
		}
	}
}

func (s *serialSource) Next(ctx context.Context) (Scan, error) {
	select {
	case it := <-s.items:
		return it.scan, it.err
	case <-s.done:
		return Scan{}, ErrClosed
	case <-ctx.Done():
		return Scan{}, ctx.Err()
	}
}

func (s *serialSource) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.port.Close()
		<-s.exited
		s.lock.Close()
	})
	return err
}

func mapSerialErr(path string, err error) error {
	var pe *serial.PortError
	switch {
	case errors.As(err, &pe) && pe.Code() == serial.PortBusy, errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("open %s: %w (in use by another program)", path, ErrPortBusy)
	case errors.As(err, &pe) && pe.Code() == serial.PortNotFound, errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("open %s: %w (not plugged in?)", path, ErrNotFound)
	case errors.As(err, &pe) && pe.Code() == serial.PermissionDenied, errors.Is(err, os.ErrPermission):
		return fmt.Errorf("open %s: permission denied (is posd in the dialout group?): %w", path, err)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// findSerialPorts lists the ports cfg may mean: those with its VID/PID when configured (then
// the configured path as a fallback), else the configured path.
func findSerialPorts(cfg Config) ([]string, error) {
	if cfg.VendorID == "" {
		return []string{cfg.Device}, nil
	}
	ports, err := enumerator.GetDetailedPortsList()
	if err != nil && cfg.Device == "" {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}
	vid, _ := parseID(cfg.VendorID)
	pid, _ := parseID(cfg.ProductID)
	var out []string
	for _, p := range ports {
		if p.Name == "" || !p.IsUSB {
			continue
		}
		pv, e1 := parseID(p.VID)
		pp, e2 := parseID(p.PID)
		if e1 != nil || e2 != nil || pv != vid || (cfg.ProductID != "" && pp != pid) {
			continue
		}
		name := p.Name
		if !strings.HasPrefix(name, "/") {
			name = "/dev/" + name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	if cfg.Device != "" && !slices.Contains(out, cfg.Device) {
		out = append(out, cfg.Device)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("serial %s:%s: %w", strings.ToLower(cfg.VendorID), strings.ToLower(cfg.ProductID), ErrNotFound)
	}
	return out, nil
}
