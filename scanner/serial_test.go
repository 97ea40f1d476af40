package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestMain doubles as the helper process of TestOpenSerial_PortBusy (run as another user).
func TestMain(m *testing.M) {
	if path := os.Getenv("POSD_SCANNER_BUSY_CHILD"); path != "" {
		_, err := OpenSerial(Config{Name: "child", Kind: "serial", Device: path}, OpenOptions{})
		fmt.Println(err)
		if errors.Is(err, ErrPortBusy) {
			os.Exit(0)
		}
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// newPTY returns the master of a pseudo-terminal and its slave's path, which a serial
// scanner source opens like /dev/ttyACM0.
func newPTY(t testing.TB) (*os.File, string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	path := slave.Name()
	slave.Close() // the node stays while the master is open
	t.Cleanup(func() { master.Close() })
	return master, path
}

// writePaced writes s one byte at a time about 1 ms apart, as a 9600-baud line delivers it
// (1.04 ms per byte), so the source sees many partial reads.
func writePaced(t testing.TB, w io.Writer, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if _, err := w.Write([]byte{s[i]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

func nextScan(t testing.TB, src Source) Scan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := src.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return s
}

func TestOpenSerial_PacedCodesEveryTerminator(t *testing.T) {
	cases := []struct {
		term, suffix string
	}{
		{"auto", "\r"}, {"auto", "\n"}, {"auto", "\r\n"}, {"", "\r\n"},
		{"cr", "\r"}, {"lf", "\n"}, {"crlf", "\r\n"},
	}
	for _, c := range cases {
		t.Run(c.term+"/"+fmt.Sprintf("%q", c.suffix), func(t *testing.T) {
			master, path := newPTY(t)
			src, err := OpenSerial(Config{Name: "s", Kind: "serial", Device: path, Baud: 9600, Terminator: c.term}, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			writePaced(t, master, testCode+c.suffix)
			io.WriteString(master, "104567890123456789"+c.suffix+"4006381333931"+c.suffix)
			for _, want := range []string{testCode, "104567890123456789", "4006381333931"} {
				if s := nextScan(t, src); s.Code != want || s.Device != "s" || s.At.IsZero() {
					t.Fatalf("got %+v, want %s", s, want)
				}
			}
		})
	}
}

func TestOpenSerial_AIMAndLongLines(t *testing.T) {
	master, path := newPTY(t)
	var problems []error
	problemc := make(chan error, 10)
	src, err := OpenSerial(Config{Name: "s", Kind: "serial", Device: path, StripAIM: true, Parity: "even", DataBits: 7, StopBits: 2},
		OpenOptions{Problem: func(err error) { problemc <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	io.WriteString(master, "]Q1"+testCode+"\r")
	if s := nextScan(t, src); s.Code != testCode || s.Symbology != "]Q1" {
		t.Fatalf("got %+v", s)
	}
	writePaced(t, master, "]E04006381333931\r\n")
	if s := nextScan(t, src); s.Code != "4006381333931" || s.Symbology != "]E0" {
		t.Fatalf("got %+v", s)
	}
	io.WriteString(master, strings.Repeat("1", 100)+"\r"+testCode+"\r")
	if s := nextScan(t, src); s.Code != testCode {
		t.Fatalf("after a long line got %+v", s)
	}
	select {
	case err := <-problemc:
		problems = append(problems, err)
	case <-time.After(time.Second):
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "over 64 bytes") {
		t.Fatalf("problems %v", problems)
	}
}

func TestOpenSerial_Errors(t *testing.T) {
	_, err := OpenSerial(Config{Name: "s", Kind: "serial", Device: filepath.Join(t.TempDir(), "ttyACM9")}, OpenOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing port: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := OpenSerial(Config{Name: "s", Kind: "serial", Device: file}, OpenOptions{}); err == nil {
		t.Error("a regular file opened as a serial port")
	}
	_, err = OpenSerial(Config{Name: "s", Kind: "serial", VendorID: "ffff", ProductID: "fffe"}, OpenOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown VID/PID: %v", err)
	}
}

// Unplug: the source reports the vanished port; Close afterwards is clean.
func TestOpenSerial_Unplug(t *testing.T) {
	master, path := newPTY(t)
	src, err := OpenSerial(Config{Name: "s", Kind: "serial", Device: path}, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(master, testCode+"\r")
	nextScan(t, src)
	master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := src.Next(ctx); err == nil || errors.Is(err, ErrClosed) || ctx.Err() != nil {
		t.Fatalf("after unplug Next gave %v", err)
	}
	if err := src.Close(); err != nil {
		t.Logf("close after unplug: %v", err)
	}
	if _, err := src.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// The supervisor notices the unplug, retries while the port is missing, and picks the
// scanner up again when it comes back under the same name (a stable symlink, as udev's
// /dev/serial/by-id gives).
func TestSupervisor_SerialUnplugReplug(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyScanner")
	master, path := newPTY(t)
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	h := startSupervisor(t, []Config{{Name: "counter", Kind: "serial", Device: link}}, Options{})
	waitFor(t, "connected", func() bool { return h.sup.Status()[0].Connected })
	writePaced(t, master, testCode+"\r\n")
	if s := h.next(t); s.Code != testCode || s.Device != "counter" {
		t.Fatalf("got %+v", s)
	}

	master.Close() // unplug
	os.Remove(link)
	waitFor(t, "disconnected", func() bool {
		st := h.sup.Status()[0]
		return !st.Connected && strings.Contains(st.LastError, "not found")
	})

	master2, path2 := newPTY(t) // replug: a new pty, the same link
	if err := os.Symlink(path2, link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnected", func() bool { return h.sup.Status()[0].Connected })
	writePaced(t, master2, "104567890123456789\r")
	if s := h.next(t); s.Code != "104567890123456789" {
		t.Fatalf("after replug got %+v", s)
	}
	if st := h.sup.Status()[0]; st.Reopens != 1 || st.Scans != 2 || st.Device != link {
		t.Fatalf("status %+v", st)
	}
}

// A second open of a port in use fails with ErrPortBusy: through the flock for anyone, and
// through go.bug.st/serial's TIOCEXCL for a non-root user (root bypasses TIOCEXCL, so as
// root the check runs in a child process as nobody).
func TestOpenSerial_PortBusy(t *testing.T) {
	_, path := newPTY(t)
	src, err := OpenSerial(Config{Name: "a", Kind: "serial", Device: path}, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = OpenSerial(Config{Name: "b", Kind: "serial", Device: path}, OpenOptions{})
	if !errors.Is(err, ErrPortBusy) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v", err)
	}

	if os.Geteuid() != 0 {
		return // the open above already met TIOCEXCL (EBUSY) as a non-root user
	}
	// Run this test binary as nobody; it only needs to reach the pty node.
	dir, err := os.MkdirTemp("", "posd-busy")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "scanner.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(path, 0o666)
	cmd := exec.Command(bin)
	cmd.Env = []string{"POSD_SCANNER_BUSY_CHILD=" + path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("open as nobody while held: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "busy") {
		t.Fatalf("child said %s", out)
	}
}

// Close from another goroutine while Next and the reader block: no race, no leak.
func TestOpenSerial_CloseDuringRead(t *testing.T) {
	for i := 0; i < 20; i++ {
		_, path := newPTY(t)
		src, err := OpenSerial(Config{Name: "s", Kind: "serial", Device: path}, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error)
		go func() { _, err := src.Next(context.Background()); errc <- err }()
		go src.Close()
		src.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	}
}
