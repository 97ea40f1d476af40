// Package printertest is a fake ESC/POS network printer (raw TCP 9100) for tests: it
// records what it receives, answers DLE EOT with status bytes the test chooses, and can
// vanish in the middle of a job or stop reading like a jammed printer.
package printertest

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// Status bytes a printer answers to DLE EOT 1, 2, 4 (docs/hardware.md §5.5).
var (
	StatusReady     = [3]byte{0x12, 0x12, 0x12}
	StatusPaperOut  = [3]byte{0x1A, 0x32, 0x7E}
	StatusCoverOpen = [3]byte{0x1A, 0x16, 0x12}
	StatusNearEnd   = [3]byte{0x12, 0x12, 0x1E}
)

// Server is a fake printer listening on 127.0.0.1.
type Server struct {
	Addr string

	ln        net.Listener
	mu        sync.Mutex
	conns     [][]byte // what each connection sent, DLE EOT queries removed
	status    [3]byte
	answer    bool
	dropNext  int // > 0: the next connection is reset after this many bytes
	stall     bool
	queries   int
	wg        sync.WaitGroup
	live      map[net.Conn]struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewServer starts a ready printer that answers status queries; it stops at test end.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("printertest: listen: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, status: StatusReady, answer: true,
		live: map[net.Conn]struct{}{}, done: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.Close)
	return s
}

// SetStatus sets the bytes answered to DLE EOT 1, 2 and 4.
func (s *Server) SetStatus(b [3]byte) { s.mu.Lock(); s.status = b; s.mu.Unlock() }

// AnswerStatus turns answering DLE EOT on or off (a one-way printer).
func (s *Server) AnswerStatus(on bool) { s.mu.Lock(); s.answer = on; s.mu.Unlock() }

// DropNextAfter makes the next connection that sends job data reset (RST) after n job
// bytes: a printer that is switched off or unplugged mid-job. Status-only connections
// are not affected.
func (s *Server) DropNextAfter(n int) { s.mu.Lock(); s.dropNext = n; s.mu.Unlock() }

// Stall makes new connections be accepted and never read: a jammed printer whose buffer
// is full.
func (s *Server) Stall(on bool) { s.mu.Lock(); s.stall = on; s.mu.Unlock() }

// Jobs returns what each connection sent, without the status queries, skipping
// connections that sent only queries.
func (s *Server) Jobs() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, c := range s.conns {
		if len(c) > 0 {
			out = append(out, append([]byte(nil), c...))
		}
	}
	return out
}

// Queries is the number of DLE EOT queries answered or not.
func (s *Server) Queries() int { s.mu.Lock(); defer s.mu.Unlock(); return s.queries }

// Close stops the server and drops live connections.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.live {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		idx := len(s.conns)
		s.conns = append(s.conns, nil)
		stall := s.stall
		s.live[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c, idx, stall)
	}
}

func (s *Server) serve(c net.Conn, idx int, stall bool) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.live, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	if stall {
		<-s.done // never read: the client's writes fill the buffers and time out
		return
	}
	buf := make([]byte, 4096)
	var pending []byte // a DLE EOT split across reads
	drop, fed := 0, 0  // drop > 0: reset once this connection has delivered drop bytes
	for {
		n, err := c.Read(buf)
		if n > 0 {
			data := buf[:n]
			s.mu.Lock()
			if drop == 0 && s.dropNext > 0 && hasJobBytes(data) {
				// The first connection that carries job data (not only status queries)
				// takes the pending drop.
				drop, s.dropNext = s.dropNext, 0
			}
			s.mu.Unlock()
			cut := false
			if drop > 0 && fed+len(data) >= drop {
				data, cut = data[:drop-fed], true
			}
			fed += len(data)
			pending = s.consume(c, idx, append(pending, data...))
			if cut {
				// Die before answering anything that came after the cut.
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // reset, like a printer losing power
				}
				return
			}
		}
		if err != nil {
			if len(pending) > 0 {
				s.record(idx, pending)
			}
			return
		}
	}
}

// hasJobBytes reports whether p holds anything besides DLE EOT n queries.
func hasJobBytes(p []byte) bool {
	for len(p) > 0 {
		if len(p) >= 3 && p[0] == 0x10 && p[1] == 0x04 {
			p = p[3:]
			continue
		}
		return true
	}
	return false
}

// consume records job bytes and answers DLE EOT n queries; it returns bytes that may
// be the start of a query split across reads.
func (s *Server) consume(c net.Conn, idx int, p []byte) []byte {
	for {
		i := bytes.IndexByte(p, 0x10)
		if i < 0 {
			s.record(idx, p)
			return nil
		}
		s.record(idx, p[:i])
		p = p[i:]
		if len(p) < 3 {
			return append([]byte(nil), p...)
		}
		if p[1] != 0x04 {
			s.record(idx, p[:1])
			p = p[1:]
			continue
		}
		n := p[2]
		p = p[3:]
		s.mu.Lock()
		s.queries++
		answer, st := s.answer, s.status
		s.mu.Unlock()
		if answer {
			var b byte
			switch n {
			case 1:
				b = st[0]
			case 2:
				b = st[1]
			default:
				b = st[2]
			}
			_, _ = c.Write([]byte{b})
		}
	}
}

func (s *Server) record(idx int, p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	s.conns[idx] = append(s.conns[idx], p...)
	s.mu.Unlock()
}
