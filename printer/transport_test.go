package printer

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"posd/printer/printertest"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       [3]byte
		want    string
		blocked bool
	}{
		{"ready", printertest.StatusReady, "ready", false},
		{"paper out", printertest.StatusPaperOut, "paper out", true},
		{"cover open", printertest.StatusCoverOpen, "cover open", true},
		{"near end", printertest.StatusNearEnd, "paper low", false},
		{"offline", [3]byte{0x1A, 0x12, 0x12}, "offline", true},
		{"drawer pin high", [3]byte{0x16, 0x12, 0x12}, "ready", false},
	} {
		s, err := ParseStatus(tc.b[0], tc.b[1], tc.b[2])
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.String() != tc.want || s.Blocked() != tc.blocked {
			t.Errorf("%s: %q blocked=%v, want %q blocked=%v", tc.name, s, s.Blocked(), tc.want, tc.blocked)
		}
	}
	// An Automatic Status Back byte or garbage is not a DLE EOT answer.
	if _, err := ParseStatus(0x10, 0x12, 0x12); !errors.Is(err, ErrNoStatus) {
		t.Errorf("ASB byte accepted: %v", err)
	}
	if _, err := ParseStatus(0x12, 0xFF, 0x12); !errors.Is(err, ErrNoStatus) {
		t.Errorf("0xFF accepted: %v", err)
	}
}

func tcpPrinter(s *printertest.Server) *TCP {
	return &TCP{Address: s.Addr, ConnectTimeout: 2 * time.Second, WriteTimeout: 5 * time.Second, StatusTimeout: 2 * time.Second}
}

func TestTCP_WriteAndStatus(t *testing.T) {
	srv := printertest.NewServer(t)
	p := tcpPrinter(srv)
	job, _ := Render(sampleReceipt(), Format{Encoding: "big5", Columns: 42})
	if err := p.Write(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if jobs := srv.Jobs(); len(jobs) != 1 || !bytes.Equal(jobs[0], job) {
		t.Fatalf("printer got %d jobs, want the job byte for byte", len(jobs))
	}
	if srv.Queries() != 1 {
		t.Errorf("%d status queries after the job, want 1 (the receipt acknowledgement)", srv.Queries())
	}
	for name, b := range map[string][3]byte{"ready": printertest.StatusReady, "paper out": printertest.StatusPaperOut, "cover open": printertest.StatusCoverOpen} {
		srv.SetStatus(b)
		st, err := p.Status(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "paper out" && (!st.PaperOut || !st.Blocked()) || name == "cover open" && (!st.CoverOpen || !st.Blocked()) || name == "ready" && st.Blocked() {
			t.Errorf("%s: got %+v", name, st)
		}
	}
}

func TestTCP_NoStatusPrintsAnyway(t *testing.T) {
	srv := printertest.NewServer(t)
	srv.AnswerStatus(false)
	p := tcpPrinter(srv)
	p.StatusTimeout = 300 * time.Millisecond
	if _, err := p.Status(t.Context()); !errors.Is(err, ErrNoStatus) {
		t.Fatalf("status from a silent printer: %v, want ErrNoStatus", err)
	}
	if err := p.Write(t.Context(), []byte("hello\n")); err != nil {
		t.Fatalf("write to a printer that does not answer status: %v", err)
	}
	asked := srv.Queries()
	if err := p.Write(t.Context(), []byte("again\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both jobs at the printer", func() bool { return len(srv.Jobs()) == 2 })
	if n := srv.Queries() - asked; n != 0 {
		t.Errorf("second job asked %d more status queries, waiting for answers that never come", n)
	}
}

func TestTCP_DisappearsMidJob(t *testing.T) {
	srv := printertest.NewServer(t)
	p := tcpPrinter(srv)
	srv.DropNextAfter(100)
	job, _ := Render(sampleReceipt(), Format{Encoding: "big5", Columns: 42})
	err := p.Write(t.Context(), job)
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("printer vanished mid-job: err %v, want *InterruptedError", err)
	}
	if got := srv.Jobs(); len(got) != 1 || len(got[0]) != 100 {
		t.Errorf("partial job: %d connections", len(got))
	}
}

func TestTCP_Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &TCP{Address: addr, ConnectTimeout: 200 * time.Millisecond}
	err = p.Write(t.Context(), []byte("x"))
	var ie *InterruptedError
	if err == nil || errors.As(err, &ie) {
		t.Fatalf("refused connection: %v, want a plain error (nothing sent)", err)
	}
}

func TestTCP_SlowPrinterTimesOut(t *testing.T) {
	srv := printertest.NewServer(t)
	srv.Stall(true)
	p := &TCP{Address: srv.Addr, ConnectTimeout: time.Second, WriteTimeout: 300 * time.Millisecond, StatusTimeout: 200 * time.Millisecond}
	big := bytes.Repeat([]byte("x"), 64<<20) // more than both socket buffers hold
	start := time.Now()
	err := p.Write(t.Context(), big)
	if err == nil {
		t.Fatal("a printer that never reads accepted 64 MiB")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("write gave up after %v, want about the 300 ms write timeout", d)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("err %v, want a deadline error", err)
	}
	// Status on a jammed printer: no answer in time.
	if _, err := p.Status(t.Context()); !errors.Is(err, ErrNoStatus) {
		t.Errorf("status of a jammed printer: %v", err)
	}
}

func TestTCP_ContextCancel(t *testing.T) {
	srv := printertest.NewServer(t)
	srv.Stall(true)
	p := &TCP{Address: srv.Addr, WriteTimeout: time.Minute}
	big := bytes.Repeat([]byte("x"), 64<<20)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Write(ctx, big); err == nil {
		t.Fatal("cancelled write succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

// openRawPTY returns a pty whose slave side is in raw mode, like a printer's port.
func openRawPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pty on this machine: %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	// Keep the slave open so the master does not see a hang-up between jobs; close it
	// first at the end so a blocked read on the master returns.
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// answerStatus plays the printer on the pty master: it records job bytes and answers
// DLE EOT n with st.
func answerStatus(t *testing.T, m, slave *os.File, st [3]byte) (received func() []byte) {
	var mu sync.Mutex
	var got bytes.Buffer
	done := make(chan struct{})
	buf := make([]byte, 4096)
	go func() {
		defer close(done)
		var pending []byte
		for {
			n, err := m.Read(buf)
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.Index(pending, []byte{0x10, 0x04})
				if i < 0 || i+2 >= len(pending) {
					if i < 0 {
						mu.Lock()
						got.Write(pending)
						mu.Unlock()
						pending = pending[:0]
					}
					break
				}
				mu.Lock()
				got.Write(pending[:i])
				mu.Unlock()
				q := pending[i+2]
				pending = pending[i+3:]
				_, _ = m.Write([]byte{st[map[byte]int{1: 0, 2: 1, 4: 2}[q]]})
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		slave.Close() // the master's read gets EIO
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("pty printer goroutine did not stop")
		}
	})
	return func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return append([]byte(nil), got.Bytes()...)
	}
}

func TestDevice_PTY(t *testing.T) {
	m, slave := openRawPTY(t)
	received := answerStatus(t, m, slave, printertest.StatusPaperOut)
	p := &Device{Path: slave.Name(), StatusTimeout: 3 * time.Second}
	st, err := p.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !st.PaperOut || !st.Offline {
		t.Errorf("status %+v, want paper out", st)
	}
	if err := p.Write(t.Context(), []byte("receipt\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job on the pty", func() bool { return string(received()) == "receipt\n" })
}

func TestSerial_PTY(t *testing.T) {
	m, slave := openRawPTY(t)
	received := answerStatus(t, m, slave, printertest.StatusCoverOpen)
	p := &Serial{Port: slave.Name(), Baud: 115200, StatusTimeout: 3 * time.Second}
	st, err := p.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !st.CoverOpen {
		t.Errorf("status %+v, want cover open", st)
	}
	job, _ := Render(sampleReceipt(), Format{Encoding: "gb18030", Columns: 32})
	if err := p.Write(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job on the pty", func() bool { return bytes.Equal(received(), job) })
}

func TestSerial_NoAnswer(t *testing.T) {
	_, slave := openRawPTY(t) // nobody reads or answers the master
	p := &Serial{Port: slave.Name(), StatusTimeout: 150 * time.Millisecond}
	if _, err := p.Status(t.Context()); !errors.Is(err, ErrNoStatus) {
		t.Errorf("silent serial printer: %v, want ErrNoStatus", err)
	}
}

func TestFile_DirAndAppend(t *testing.T) {
	dir := t.TempDir()
	p := &File{Path: dir}
	for _, j := range []string{"one\n", "two\n"} {
		if err := p.Write(t.Context(), []byte(j)); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in the printer dir, want 2", len(entries))
	}
	path := filepath.Join(dir, "out.bin")
	f := &File{Path: path}
	_ = f.Write(t.Context(), []byte("a"))
	_ = f.Write(t.Context(), []byte("b"))
	if b, _ := os.ReadFile(path); string(b) != "ab" {
		t.Errorf("appended %q", b)
	}
	if _, err := f.Status(t.Context()); !errors.Is(err, ErrNoStatus) {
		t.Errorf("file status %v", err)
	}
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: "tcp", Address: "10.0.0.5:9100", Encoding: "big5", Columns: 42}, "*printer.TCP"},
		{Config{Kind: "usb", Device: "/dev/usb/lp0", Encoding: "gb18030", Columns: 48}, "*printer.Device"},
		{Config{Kind: "serial", Device: "/dev/ttyUSB0", Baud: 19200, Encoding: "ascii", Columns: 32}, "*printer.Serial"},
		{Config{Kind: "file", Device: "/tmp/x", Encoding: "big5"}, "*printer.File"},
		{Config{Kind: "none", Encoding: "big5"}, "printer.None"},
	} {
		p, err := Open(tc.cfg)
		if err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		if got := strings.TrimPrefix(typeName(p), ""); got != tc.want {
			t.Errorf("%s: got %s", tc.cfg.Kind, got)
		}
	}
	for _, bad := range []Config{
		{Kind: "tcp", Encoding: "big5"},
		{Kind: "usb", Encoding: "big5"},
		{Kind: "lpd", Encoding: "big5"},
		{Kind: "none", Encoding: "utf8"},
		{Kind: "none", Encoding: "big5", Columns: 40},
	} {
		if _, err := Open(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := (None{}).Write(t.Context(), nil); !errors.Is(err, ErrDisabled) {
		t.Errorf("none printer: %v", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *TCP:
		return "*printer.TCP"
	case *Device:
		return "*printer.Device"
	case *Serial:
		return "*printer.Serial"
	case *File:
		return "*printer.File"
	case None:
		return "printer.None"
	}
	return "?"
}

// waitFor polls cond until it holds or 10 s pass (the spool and the fake printer run in
// their own goroutines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
