package printer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.bug.st/serial"
)

// Serial is a printer on a serial port (8N1). go.bug.st/serial turns flow control off, so
// the port is opened per job and the tty driver paces the bytes at the baud rate.
type Serial struct {
	Port          string
	Baud          int // default 9600
	WriteTimeout  time.Duration
	StatusTimeout time.Duration
	mu            sync.Mutex
}

func (p *Serial) open() (serial.Port, error) {
	baud := p.Baud
	if baud <= 0 {
		baud = 9600
	}
	port, err := serial.Open(p.Port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open printer %s: %w", p.Port, err)
	}
	return port, nil
}

func (p *Serial) Write(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	port, err := p.open()
	if err != nil {
		return err
	}
	defer port.Close()
	// The port has no write deadline; closing it from the timer fails a stuck write.
	ctx, cancel := context.WithDeadline(ctx, deadlineFor(ctx, orDefault(p.WriteTimeout, 20*time.Second)))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = port.Close() })
	defer stop()
	sent := 0
	for sent < len(job) {
		n, err := port.Write(job[sent:])
		sent += n
		if err != nil {
			if sent == 0 {
				return fmt.Errorf("write printer %s: %w", p.Port, err)
			}
			return &InterruptedError{Sent: sent, Err: fmt.Errorf("write printer %s: %w", p.Port, err)}
		}
	}
	if err := port.Drain(); err != nil {
		return &InterruptedError{Sent: sent, Err: fmt.Errorf("drain printer %s: %w", p.Port, err)}
	}
	return nil
}

func (p *Serial) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	port, err := p.open()
	if err != nil {
		return Status{}, err
	}
	defer port.Close()
	var buf [1]byte
	read := func(timeout time.Duration) (byte, error) {
		if err := port.SetReadTimeout(timeout); err != nil {
			return 0, err
		}
		n, err := port.Read(buf[:])
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, errTimeout // go.bug.st/serial: timeout is (0, nil)
		}
		return buf[0], nil
	}
	s, err := queryStatus(ctx, port, read, orDefault(p.StatusTimeout, 700*time.Millisecond))
	if err != nil {
		var pe *serial.PortError
		if errors.As(err, &pe) {
			return Status{}, fmt.Errorf("printer %s status: %s: %w", p.Port, pe.EncodedErrorString(), ErrNoStatus)
		}
		return Status{}, fmt.Errorf("printer %s status: %w", p.Port, err)
	}
	return s, nil
}

func (p *Serial) Close() error { return nil }
