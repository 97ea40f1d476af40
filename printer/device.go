package printer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Device is a printer behind a character device such as /dev/usb/lp0 (usblp). The node is
// opened per job, so an unplugged and replugged printer is picked up again. Status needs a
// bidirectional printer: usblp passes DLE EOT answers to read().
type Device struct {
	Path          string
	WriteTimeout  time.Duration
	StatusTimeout time.Duration
	mu            sync.Mutex
}

func (p *Device) Write(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.Path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open printer %s: %w", p.Path, err)
	}
	defer f.Close()
	// usblp supports poll, so the deadline works; on a node that does not, writes block
	// as the driver does (it prods the printer every 1.5 s).
	_ = f.SetWriteDeadline(deadlineFor(ctx, orDefault(p.WriteTimeout, 20*time.Second)))
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	n, err := f.Write(job)
	if err != nil {
		if n == 0 {
			return fmt.Errorf("write printer %s: %w", p.Path, err)
		}
		return &InterruptedError{Sent: n, Err: fmt.Errorf("write printer %s: %w", p.Path, err)}
	}
	return nil
}

func (p *Device) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.Path, os.O_RDWR, 0)
	if err != nil {
		return Status{}, fmt.Errorf("open printer %s: %w", p.Path, err)
	}
	defer f.Close()
	if err := f.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		// Not pollable: a read could block forever, so do not ask.
		return Status{}, fmt.Errorf("printer %s status: %w", p.Path, ErrNoStatus)
	}
	var buf [1]byte
	read := func(timeout time.Duration) (byte, error) {
		_ = f.SetReadDeadline(time.Now().Add(timeout))
		if _, err := f.Read(buf[:]); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, errTimeout
			}
			return 0, err
		}
		return buf[0], nil
	}
	s, err := queryStatus(ctx, f, read, orDefault(p.StatusTimeout, 700*time.Millisecond))
	if err != nil {
		return Status{}, fmt.Errorf("printer %s status: %w", p.Path, err)
	}
	return s, nil
}

func (p *Device) Close() error { return nil }

// File writes jobs to a file (appending) or, when Path is a directory, one file per job.
// It is for the demo and for capturing what a till would print; it has no status.
type File struct {
	Path string
	mu   sync.Mutex
	seq  int
}

func (p *File) Write(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	path := p.Path
	if st, err := os.Stat(p.Path); err == nil && st.IsDir() {
		p.seq++
		path = filepath.Join(p.Path, fmt.Sprintf("receipt-%s-%04d.escpos", time.Now().UTC().Format("20060102T150405.000"), p.seq))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open printer file: %w", err)
	}
	n, err := f.Write(job)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if n == 0 {
			return fmt.Errorf("write printer file: %w", err)
		}
		return &InterruptedError{Sent: n, Err: fmt.Errorf("write printer file: %w", err)}
	}
	return nil
}

func (p *File) Status(context.Context) (Status, error) { return Status{}, ErrNoStatus }
func (p *File) Close() error                           { return nil }
