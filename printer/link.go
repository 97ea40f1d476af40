package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// byteReader reads one byte or gives up after timeout; a timeout returns errTimeout.
type byteReader func(timeout time.Duration) (byte, error)

var errTimeout = errors.New("no answer")

// queryStatus sends DLE EOT 1, 2 and 4 and parses the answers. Bytes that are not DLE EOT
// replies (Automatic Status Back, leftovers) are skipped until the timeout.
func queryStatus(ctx context.Context, w io.Writer, read byteReader, timeout time.Duration) (Status, error) {
	var got [3]byte
	for i, n := range []byte{1, 2, 4} {
		if err := ctx.Err(); err != nil {
			return Status{}, err
		}
		if _, err := w.Write(cmdStatus(n)); err != nil {
			return Status{}, fmt.Errorf("send DLE EOT %d: %w", n, err)
		}
		b, err := readStatusByte(read, timeout)
		if err != nil {
			if errors.Is(err, errTimeout) {
				return Status{}, fmt.Errorf("DLE EOT %d: %w: %w", n, err, ErrNoStatus)
			}
			return Status{}, fmt.Errorf("DLE EOT %d: %w", n, err)
		}
		got[i] = b
	}
	s, err := ParseStatus(got[0], got[1], got[2])
	if err != nil {
		return Status{}, err
	}
	s.At = time.Now()
	return s, nil
}

func readStatusByte(read byteReader, timeout time.Duration) (byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, errTimeout
		}
		b, err := read(left)
		if err != nil {
			return 0, err
		}
		if validStatusByte(b) {
			return b, nil
		}
	}
}

// deadlineFor is the earlier of now+d and the context's deadline.
func deadlineFor(ctx context.Context, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if cd, ok := ctx.Deadline(); ok && cd.Before(t) {
		return cd
	}
	return t
}
