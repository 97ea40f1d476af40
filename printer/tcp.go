package printer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TCP is a network printer on raw port 9100. Each job and each status query uses its own
// connection: printers take one client at a time and drop idle ones, and a fresh
// connection never confuses a stale socket's reset with a failed job.
type TCP struct {
	Address        string
	ConnectTimeout time.Duration
	WriteTimeout   time.Duration
	StatusTimeout  time.Duration

	mu    sync.Mutex  // one connection at a time
	noAck atomic.Bool // the printer ignored the status query after a job
}

func (p *TCP) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: orDefault(p.ConnectTimeout, 3*time.Second)}
	conn, err := d.DialContext(ctx, "tcp", p.Address)
	if err != nil {
		return nil, fmt.Errorf("connect printer %s: %w", p.Address, err)
	}
	// A cancelled context unblocks any read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return &ctxConn{Conn: conn, stop: stop}, nil
}

type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

func tcpReader(conn net.Conn) byteReader {
	var buf [1]byte
	return func(timeout time.Duration) (byte, error) {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		_, err := conn.Read(buf[:])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, errTimeout
			}
			return 0, err
		}
		return buf[0], nil
	}
}

// Write sends the job, then a DLE EOT behind it: the printer's answer proves it received
// every byte before it. A connection that dies before that answer means the job may be
// partly printed (*InterruptedError). A printer that never answers is taken at its word
// (print anyway), and is not asked again until a status query succeeds.
func (p *TCP) Write(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, err := p.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(deadlineFor(ctx, orDefault(p.WriteTimeout, 20*time.Second)))
	n, err := conn.Write(job)
	if err != nil {
		if n == 0 {
			return fmt.Errorf("write printer %s: %w", p.Address, err)
		}
		return &InterruptedError{Sent: n, Err: fmt.Errorf("write printer %s: %w", p.Address, err)}
	}
	if p.noAck.Load() {
		return nil
	}
	if _, err := conn.Write(cmdStatus(1)); err != nil {
		return &InterruptedError{Sent: n, Err: fmt.Errorf("confirm job on %s: %w", p.Address, err)}
	}
	_, err = readStatusByte(tcpReader(conn), orDefault(p.StatusTimeout, 700*time.Millisecond))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTimeout):
		p.noAck.Store(true)
		return nil
	default:
		return &InterruptedError{Sent: n, Err: fmt.Errorf("confirm job on %s: %w", p.Address, err)}
	}
}

// Status asks DLE EOT 1, 2, 4 on a fresh connection.
func (p *TCP) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, err := p.dial(ctx)
	if err != nil {
		return Status{}, err
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(deadlineFor(ctx, orDefault(p.WriteTimeout, 20*time.Second)))
	s, err := queryStatus(ctx, conn, tcpReader(conn), orDefault(p.StatusTimeout, 700*time.Millisecond))
	if err != nil {
		return Status{}, fmt.Errorf("printer %s status: %w", p.Address, err)
	}
	p.noAck.Store(false)
	return s, nil
}

// Close does nothing: connections live only as long as a job or a query.
func (p *TCP) Close() error { return nil }
