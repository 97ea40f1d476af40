package main

// End-to-end tests of the real binary: `posd run` as a subprocess, with the WeChat Pay
// simulator over TLS (ca_file), a pty serial scanner, a TCP printer, bbolt in a temp dir,
// systemd's notify socket, and the local HTTP API.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"posd/internal/testkit"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/creack/pty"

	"posd/internal/monitor"
	"posd/queue/engine"
	"posd/ui"
	"posd/wxpay/wxpaytest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// posdBinary builds the binary under test once per test process, like `make build`
// (without -race: the RSS and CPU measurements are about the shipped binary). Built
// lazily so fuzz workers and unit-test-only runs do not pay for it.
func posdBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "posd-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "posd")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build posd: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// syncBuffer collects a subprocess's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakePrinter is an ESC/POS printer on TCP: it keeps every byte and answers DLE EOT n
// status queries with "online, paper present".
type fakePrinter struct {
	ln   net.Listener
	mu   sync.Mutex
	data bytes.Buffer
	wg   sync.WaitGroup
}

func newFakePrinter(t testing.TB) *fakePrinter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePrinter{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go p.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *fakePrinter) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	var prev [2]byte
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := c.Read(buf)
		for _, b := range buf[:n] {
			if prev[0] == 0x10 && prev[1] == 0x04 && b >= 1 && b <= 4 {
				c.Write([]byte{0x12}) // a valid status byte with no error bits
			}
			prev[0], prev[1] = prev[1], b
		}
		p.mu.Lock()
		p.data.Write(buf[:n])
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (p *fakePrinter) contains(s string) bool { return p.count(s) > 0 }

// count is how many times s was printed.
func (p *fakePrinter) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Count(p.data.Bytes(), []byte(s))
}

// till is one posd under test and everything around it.
type till struct {
	t        testing.TB
	dir      string
	cfgPath  string
	sim      *wxpaytest.Server
	ptyM     *os.File
	ptyName  string
	printer  *fakePrinter
	token    string
	pin      string
	listen   string
	base     string
	cmd      *exec.Cmd
	notify   *net.UnixConn
	notes    chan string // every datagram posd sent to the notify socket, in order
	stderr   *syncBuffer
	exited   chan error
	startDur time.Duration
	client   *http.Client // nil: http.DefaultClient
	journal  bool
	jfile    string // the journal-stream file, when journal
}

func (tl *till) httpClient() *http.Client {
	if tl.client != nil {
		return tl.client
	}
	return http.DefaultClient
}

type tillOptions struct {
	noDevices bool // no scanner and no printer (idle measurements)
	tls       bool // serve the UI and API over HTTPS (http.tls_cert_file, tls_key_file)
	journal   bool // stderr is a "journal stream": JOURNAL_STREAM names it
}

func newTill(t testing.TB, o tillOptions) *till {
	t.Helper()
	tl := &till{t: t, dir: t.TempDir()}
	tl.sim = wxpaytest.New(wxpaytest.Options{AmountDriven: true})
	t.Cleanup(tl.sim.Close)
	creds := tl.sim.Credentials()
	secret := func(name string, data []byte) string {
		p := filepath.Join(tl.dir, name)
		writeFile(t, p, string(data), 0o600)
		return p
	}
	tl.token = "e2e-token-0123456789abcdef"
	tl.pin = "864213"
	tl.listen = freeAddr(t)
	tl.base = "http://" + tl.listen
	var httpTLS string
	if o.tls {
		now := time.Now()
		cert, key := testPKI(t, tl.dir, "till", now.Add(-time.Hour), now.AddDate(1, 0, 0))
		httpTLS = fmt.Sprintf("tls_cert_file = %q\ntls_key_file = %q\n", cert, key)
		tl.base = "https://" + tl.listen
		pem, _ := os.ReadFile(cert)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tl.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	}
	tl.journal = o.journal
	var devices string
	if !o.noDevices {
		m, s, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		tl.ptyM, tl.ptyName = m, s.Name()
		s.Close() // posd opens it by name; the master keeps the pair alive
		t.Cleanup(func() { m.Close() })
		// Drain what the port echoes or writes, so the pty buffer never fills.
		go io.Copy(io.Discard, m)
		tl.printer = newFakePrinter(t)
		devices = fmt.Sprintf(`
[[scanner]]
kind = "serial"
device = %q
baud = 9600

[printer]
kind = "tcp"
address = %q
encoding = "big5"
columns = 42
`, tl.ptyName, tl.printer.ln.Addr().String())
	}
	cfg := fmt.Sprintf(`
[till]
store_id = "HK001"
till_id = "T01"
merchant_name = "E2E Store"

[wxpay]
api = "v3-global"
base_url = %q
ca_file = %q
appid = %q
mch_id = %q
private_key_file = %q
merchant_serial_no = %q
apiv3_key_file = %q
platform_cert_files = [%q]
notify_url = "https://notify.posd.invalid/wxpay/notify"
%s
[storage]
path = %q

[http]
listen = %q
api_token_file = %q
manager_pin_file = %q
%s
[log]
level = "debug"
dir = %q
`, tl.sim.URL(), secret("ca.pem", tl.sim.CACertPEM()), creds.AppID, creds.MchID,
		secret("apiclient_key.pem", creds.MerchantKeyPEM), creds.MerchantSerial,
		secret("apiv3_key", []byte(creds.APIv3Key)), secret("platform.pem", creds.PlatformCertPEM),
		devices, filepath.Join(tl.dir, "state", "posd.db"), tl.listen,
		secret("api_token", []byte(tl.token+"\n")), secret("manager_pin", []byte(tl.pin+"\n")),
		httpTLS, filepath.Join(tl.dir, "logs"))
	tl.cfgPath = filepath.Join(tl.dir, "posd.toml")
	writeFile(t, tl.cfgPath, cfg, 0o644)
	t.Cleanup(tl.stop)
	return tl
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs `posd run` and waits for READY=1 on the notify socket.
func (tl *till) start() {
	t := tl.t
	t.Helper()
	sock := filepath.Join(tl.dir, fmt.Sprintf("notify-%d.sock", time.Now().UnixNano()))
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	tl.notify = nc
	tl.notes = make(chan string, 1024)
	go func(nc *net.UnixConn, notes chan string) {
		defer close(notes)
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				return
			}
			notes <- string(buf[:n])
		}
	}(nc, tl.notes)
	tl.stderr = &syncBuffer{}
	tl.cmd = exec.Command(posdBinary(t), "run", "-config", tl.cfgPath)
	tl.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000", "JOURNAL_STREAM=")
	tl.cmd.Stdout = tl.stderr
	tl.cmd.Stderr = tl.stderr
	if tl.journal {
		// A stand-in for journald's stream socket: posd must recognise it by dev:ino.
		tl.jfile = filepath.Join(tl.dir, fmt.Sprintf("journal-%d.log", time.Now().UnixNano()))
		f, err := os.Create(tl.jfile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dev, ino := testkit.StatDevIno(t, f)
		tl.cmd.Stderr = f
		tl.cmd.Env = append(tl.cmd.Env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", dev, ino))
	}
	t0 := time.Now()
	if err := tl.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tl.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(tl.cmd, tl.exited)
	msg := tl.readNotify(15 * time.Second)
	if !strings.Contains(msg, "READY=1") {
		t.Fatalf("first notification %q, want READY=1\n%s", msg, tl.stderr)
	}
	tl.startDur = time.Since(t0)
}

// readNotify returns the next datagram, failing the test on exit or timeout.
func (tl *till) readNotify(timeout time.Duration) string {
	tl.t.Helper()
	select {
	case m, ok := <-tl.notes:
		if !ok {
			tl.t.Fatalf("notify socket closed\n%s", tl.stderr)
		}
		return m
	case err := <-tl.exited:
		tl.exited <- err
		tl.t.Fatalf("posd exited (%v) before notifying\n%s", err, tl.stderr)
	case <-time.After(timeout):
		tl.t.Fatalf("no sd_notify message within %v\n%s", timeout, tl.stderr)
	}
	return ""
}

// stop kills whatever is still running (test cleanup).
func (tl *till) stop() {
	if tl.cmd != nil && tl.cmd.ProcessState == nil {
		tl.cmd.Process.Kill()
		<-tl.exited
	}
	if tl.notify != nil {
		tl.notify.Close()
	}
}

// kill9 simulates a power cut or a crash.
func (tl *till) kill9() {
	tl.cmd.Process.Signal(syscall.SIGKILL)
	<-tl.exited
	tl.notify.Close()
	tl.cmd = nil
}

// sigterm stops posd the way systemd does and returns its exit error.
func (tl *till) sigterm() error {
	tl.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-tl.exited:
		tl.cmd = nil
		return err
	case <-time.After(20 * time.Second):
		tl.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump into the log
		<-tl.exited
		tl.cmd = nil
		tl.t.Fatalf("posd did not stop within 20 s of SIGTERM\n%s", tl.stderr)
	}
	return nil
}

// api calls the local API with the bearer token and returns the status and body.
func (tl *till) api(method, path string, body any, hdr ...string) (int, []byte) {
	tl.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, tl.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+tl.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tl.httpClient().Do(req)
	if err != nil {
		tl.t.Fatalf("%s %s: %v\n%s", method, path, err, tl.stderr)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (tl *till) openSale(amount int64, ref string) *engine.Sale {
	tl.t.Helper()
	st, b := tl.api("POST", "/api/v1/sales", map[string]any{"amount": amount, "currency": "HKD", "description": "E2E", "reference": ref})
	if st != http.StatusCreated {
		tl.t.Fatalf("open sale: %d %s", st, b)
	}
	var s engine.Sale
	if err := json.Unmarshal(b, &s); err != nil {
		tl.t.Fatal(err)
	}
	return &s
}

func (tl *till) sale(id string) *engine.Sale {
	tl.t.Helper()
	st, b := tl.api("GET", "/api/v1/sales/"+id, nil)
	if st != http.StatusOK {
		tl.t.Fatalf("get sale: %d %s", st, b)
	}
	var s engine.Sale
	if err := json.Unmarshal(b, &s); err != nil {
		tl.t.Fatal(err)
	}
	return &s
}

// waitSale polls until done(sale) or the timeout.
func (tl *till) waitSale(id string, timeout time.Duration, what string, done func(*engine.Sale) bool) *engine.Sale {
	tl.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tl.sale(id)
		if done(s) {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(s, "", " ")
			tl.t.Fatalf("sale %s not %s within %v:\n%s\n--- posd log:\n%s", id, what, timeout, b, tl.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tl *till) metric(name string) string {
	tl.t.Helper()
	resp, err := tl.httpClient().Get(tl.base + "/metrics")
	if err != nil {
		tl.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name+" ") {
			return strings.TrimPrefix(sc.Text(), name+" ")
		}
	}
	return ""
}

// newCode returns a fresh WeChat payment code (18 digits, prefix 13).
func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e16))
	return fmt.Sprintf("13%016d", n)
}

func paid(s *engine.Sale) bool { return s.State == engine.SalePaid }

func lastAttempt(s *engine.Sale) engine.Attempt {
	if len(s.Attempts) == 0 {
		return engine.Attempt{}
	}
	return s.Attempts[len(s.Attempts)-1]
}

func TestE2E_Sales(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{})
	tl.start()

	t.Run("Healthz", func(t *testing.T) {
		resp, err := http.Get(tl.base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h monitor.Health
		json.NewDecoder(resp.Body).Decode(&h)
		if resp.StatusCode != 200 || !h.Ready || !h.Storage.OK || len(h.Certificates) == 0 {
			t.Fatalf("healthz %d %+v", resp.StatusCode, h)
		}
	})

	t.Run("ScanOnSerialScanner", func(t *testing.T) {
		s := tl.openSale(1001, "R-scan")
		code := newCode()
		// Wait for the scanner to be connected before typing on it.
		deadline := time.Now().Add(10 * time.Second)
		for tl.metric("posd_scanners_connected") != "1" {
			if time.Now().After(deadline) {
				t.Fatalf("scanner never connected\n%s", tl.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := tl.ptyM.Write([]byte(code + "\r\n")); err != nil {
			t.Fatal(err)
		}
		s = tl.waitSale(s.ID, 15*time.Second, "paid", paid)
		a := lastAttempt(s)
		if a.TransactionID == "" || a.Code == code || strings.Contains(tl.stderr.String(), code) {
			t.Fatalf("attempt %+v (the full code must never be stored or logged)", a)
		}
		deadline = time.Now().Add(10 * time.Second)
		for !tl.printer.contains(a.TransactionID) {
			if time.Now().After(deadline) {
				t.Fatalf("receipt with %s never reached the TCP printer\n%s", a.TransactionID, tl.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if tl.printer.contains("COPY") {
			t.Fatal("the first receipt is marked COPY")
		}
		if st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/reprint", nil); st != http.StatusAccepted {
			t.Fatalf("reprint: %d %s", st, b)
		}
		for deadline = time.Now().Add(10 * time.Second); !tl.printer.contains("COPY"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the reprint marked COPY never reached the printer\n%s", tl.stderr)
			}
		}
		// The manager prints the day's Z report on the same printer.
		if st, b := tl.api("POST", "/api/v1/reports/day/print", nil); st != http.StatusForbidden && st != http.StatusUnauthorized {
			t.Fatalf("Z report without the PIN: %d %s", st, b)
		}
		if st, b := tl.api("POST", "/api/v1/reports/day/print", nil, "X-Manager-PIN", tl.pin); st/100 != 2 {
			t.Fatalf("Z report: %d %s", st, b)
		}
		for deadline = time.Now().Add(10 * time.Second); !tl.printer.contains("DAY REPORT (Z)"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the Z report never reached the printer\n%s", tl.stderr)
			}
		}
	})

	t.Run("BadScans", func(t *testing.T) {
		s := tl.openSale(1001, "R-bad")
		before := tl.metric("posd_bad_scans_total")
		tl.ptyM.Write([]byte("4006381333931\r\n")) // a product barcode, not a payment code
		deadline := time.Now().Add(10 * time.Second)
		for tl.metric("posd_bad_scans_total") == before {
			if time.Now().After(deadline) {
				t.Fatalf("bad scan not counted\n%s", tl.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := tl.sale(s.ID); got.State != engine.SaleAwaitingScan || len(got.Attempts) != 0 {
			t.Fatalf("a refused code changed the sale: %+v", got)
		}
		st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": "123"})
		if st < 400 || st >= 500 || !strings.Contains(string(b), "invalid_code") {
			t.Fatalf("pay with a bad code: %d %s", st, b)
		}
		for _, r := range tl.sim.Requests() {
			if strings.Contains(fmt.Sprint(r), "4006381333931") {
				t.Fatal("a refused code reached WeChat")
			}
		}
		tl.api("POST", "/api/v1/sales/"+s.ID+"/cancel", nil)
	})

	t.Run("Parallel", func(t *testing.T) {
		t.Run("UserPaying", func(t *testing.T) {
			t.Parallel()
			s := tl.openSale(1002, "R-userpaying")
			st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
			if st != http.StatusOK && st != http.StatusAccepted {
				t.Fatalf("pay: %d %s", st, b)
			}
			s = tl.waitSale(s.ID, 20*time.Second, "paid after USERPAYING", paid)
			if lastAttempt(s).Queries == 0 {
				t.Fatalf("USERPAYING resolved without a query: %+v", lastAttempt(s))
			}
		})
		t.Run("LostResponse", func(t *testing.T) {
			t.Parallel()
			s := tl.openSale(1005, "R-lost")
			tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
			s = tl.waitSale(s.ID, 20*time.Second, "paid after a lost answer", paid)
			if n := len(s.Attempts); n != 1 {
				t.Fatalf("a lost answer must not start a second charge: %d attempts", n)
			}
		})
		t.Run("Refused", func(t *testing.T) {
			t.Parallel()
			s := tl.openSale(1003, "R-notenough")
			tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
			s = tl.waitSale(s.ID, 10*time.Second, "back to awaiting_scan", func(s *engine.Sale) bool {
				return s.State == engine.SaleAwaitingScan && len(s.Attempts) == 1
			})
			if a := lastAttempt(s); a.State != engine.AttemptFailed || a.Error == nil || a.Error.Message == "" {
				t.Fatalf("refused attempt: %+v", a)
			}
		})
		t.Run("Cancel", func(t *testing.T) {
			t.Parallel()
			s := tl.openSale(1001, "R-cancel")
			st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/cancel", nil)
			if st != http.StatusOK {
				t.Fatalf("cancel: %d %s", st, b)
			}
			if got := tl.sale(s.ID); got.State != engine.SaleCancelled {
				t.Fatalf("state %s", got.State)
			}
		})
		t.Run("CancelWhileCustomerConfirms", func(t *testing.T) {
			t.Parallel()
			s := tl.openSale(1006, "R-cancel-paying") // USERPAYING until reversed
			tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
			tl.waitSale(s.ID, 5*time.Second, "paying", func(s *engine.Sale) bool { return s.State == engine.SalePaying })
			tl.api("POST", "/api/v1/sales/"+s.ID+"/cancel", nil)
			tl.waitSale(s.ID, 40*time.Second, "cancelled with the attempt reversed", func(s *engine.Sale) bool {
				return s.State == engine.SaleCancelled && lastAttempt(s).State == engine.AttemptReversed
			})
			// Metrics follow the journal's change feed, a moment after the API shows the
			// sale: wait for the count rather than read it once.
			deadline := time.Now().Add(10 * time.Second)
			for tl.metric("posd_reverses_total") == "0" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if tl.metric("posd_reverses_total") == "0" {
				t.Fatal("reverse not counted")
			}
		})
		t.Run("SlowLinkCancel", func(t *testing.T) {
			// The micropay reaches WeChat 3 s after posd sent it (a congested uplink) and
			// the cashier cancels at once. WeChat counts its 15 s from when it created the
			// order: the first reverse must reach the simulator at least 15 s after that.
			// This waits ~19 s of real time on purpose: the floor is in the real binary on
			// the real clock (config refuses a floor under 15 s); it runs in parallel.
			t.Parallel()
			code := newCode()
			tl.sim.Script(wxpaytest.Match{AuthCode: code},
				wxpaytest.Fault{Kind: wxpaytest.FaultSlowUplink, Delay: 3 * time.Second},
				wxpaytest.Fault{Kind: wxpaytest.FaultUserPayingForever})
			s := tl.openSale(1099, "R-slow-link")
			if st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": code}); st >= 300 {
				t.Fatalf("pay: %d %s", st, b)
			}
			if st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/cancel", nil); st != http.StatusOK {
				t.Fatalf("cancel: %d %s", st, b)
			}
			s = tl.waitSale(s.ID, 60*time.Second, "cancelled with the attempt reversed", func(s *engine.Sale) bool {
				return s.State == engine.SaleCancelled && lastAttempt(s).State == engine.AttemptReversed
			})
			otn := lastAttempt(s).OutTradeNo
			o, ok := tl.sim.Order(otn)
			if !ok {
				t.Fatal("WeChat never created the order")
			}
			var first time.Time
			for _, r := range tl.sim.Requests() {
				if r.Endpoint == wxpaytest.EPReverse && r.OutTradeNo == otn && first.IsZero() {
					first = r.Time
				}
			}
			if first.IsZero() {
				t.Fatal("no reverse reached WeChat")
			}
			margin := first.Sub(o.Created)
			t.Logf("first reverse reached WeChat %v after it created the order (%v after posd's t0)", margin.Round(time.Millisecond), first.Sub(lastAttempt(s).StartedAt).Round(time.Millisecond))
			if margin < 15*time.Second {
				t.Fatalf("reverse %v after WeChat created the order: WeChat forbids it before 15 s", margin)
			}
			for _, v := range tl.sim.Violations() {
				if v.OutTradeNo == otn {
					t.Fatalf("violation: %v", v)
				}
			}
		})
		t.Run("Refund", func(t *testing.T) {
			t.Parallel()
			s := tl.openSale(2001, "R-refund")
			tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
			tl.waitSale(s.ID, 10*time.Second, "paid", paid)
			st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/refunds", map[string]any{"amount": 500, "reason": "e2e"}, "X-Manager-PIN", "0000")
			if st != http.StatusForbidden && st != http.StatusUnauthorized {
				t.Fatalf("refund with a wrong PIN: %d %s", st, b)
			}
			st, b = tl.api("POST", "/api/v1/sales/"+s.ID+"/refunds", map[string]any{"amount": 500, "reason": "e2e"})
			if st != http.StatusForbidden && st != http.StatusUnauthorized {
				t.Fatalf("refund without a PIN: %d %s", st, b)
			}
			st, b = tl.api("POST", "/api/v1/sales/"+s.ID+"/refunds", map[string]any{"amount": 500, "reason": "e2e"}, "X-Manager-PIN", tl.pin)
			if st >= 300 {
				t.Fatalf("refund: %d %s", st, b)
			}
			tl.waitSale(s.ID, 15*time.Second, "refunded", func(s *engine.Sale) bool {
				return len(s.Refunds) == 1 && s.Refunds[0].State == "success" && s.Refunds[0].Amount == 500
			})
		})
	})

	t.Run("Metrics", func(t *testing.T) {
		if v := tl.metric(`posd_payments_total{outcome="paid"}`); v == "" || v == "0" {
			t.Fatalf("paid payments not counted: %q", v)
		}
		resp, err := http.Get(tl.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`posd_wechat_request_duration_seconds_bucket{endpoint="micropay"`, "posd_certificate_expiry_days", "posd_unresolved_attempts 0", "posd_queue_depth"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		if err := tl.sigterm(); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, tl.stderr)
		}
		// STOPPING=1 came after the watchdog pings.
		var msgs []string
		for done := false; !done; {
			select {
			case m := <-tl.notes:
				msgs = append(msgs, m)
			case <-time.After(200 * time.Millisecond):
				done = true
			}
		}
		if len(msgs) == 0 || !strings.HasPrefix(msgs[len(msgs)-1], "STOPPING=1") {
			t.Fatalf("notifications after READY: %q", msgs)
		}
		if !strings.Contains(msgs[0], "\nSTATUS=taking payments on ") || !strings.Contains(msgs[0], "scanners 1/1") {
			t.Fatalf("first watchdog ping carries no status: %q", msgs[0])
		}
		for _, m := range msgs[:len(msgs)-1] {
			if !strings.HasPrefix(m, "WATCHDOG=1") {
				t.Fatalf("unexpected notification %q", m)
			}
		}
	})
}

// TestE2E_CrashMidPayment kills posd with SIGKILL while WeChat holds the micropay, then
// restarts it: recovery must find the attempt in the journal and settle it as paid.
func TestE2E_CrashMidPayment(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{tls: true})
	tl.start()
	s := tl.openSale(1013, "R-crash") // micropay never answers; a query shows SUCCESS
	st, b := tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
	if st >= 300 {
		t.Fatalf("pay: %d %s", st, b)
	}
	tl.waitSale(s.ID, 5*time.Second, "paying", func(s *engine.Sale) bool { return s.State == engine.SalePaying })
	// Let the micropay reach the simulator before the power cut.
	deadline := time.Now().Add(5 * time.Second)
	for len(tl.sim.Orders()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	tl.kill9()

	tl.start()
	s = tl.waitSale(s.ID, 30*time.Second, "paid after restart", paid)
	if n := len(s.Attempts); n != 1 {
		t.Fatalf("restart must not charge again: %d attempts", n)
	}
	if got := tl.sim.Captured(); got != 1013 {
		t.Fatalf("simulator captured %d cents, want 1013 exactly once", got)
	}
	// The customer still gets the receipt, from the restarted posd.
	for deadline := time.Now().Add(10 * time.Second); !tl.printer.contains(lastAttempt(s).TransactionID); {
		if time.Now().After(deadline) {
			t.Fatalf("no receipt after the restart\n%s", tl.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// SIGTERM while the customer is still confirming: posd stops taking sales and exits;
	// the attempt stays in the journal and the next start settles it.
	s2 := tl.openSale(1002, "R-sigterm") // USERPAYING for 5 s, then paid
	tl.api("POST", "/api/v1/sales/"+s2.ID+"/pay", map[string]string{"auth_code": newCode()})
	s2 = tl.waitSale(s2.ID, 5*time.Second, "paying", func(s *engine.Sale) bool { return s.State == engine.SalePaying })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := tl.sim.Order(lastAttempt(s2).OutTradeNo); ok {
			break // WeChat holds the order: the customer is confirming on the phone
		}
		if time.Now().After(deadline) {
			t.Fatalf("micropay never reached the simulator\n%s", tl.stderr)
		}
	}
	if err := tl.sigterm(); err != nil {
		t.Fatalf("SIGTERM mid-payment: %v\n%s", err, tl.stderr)
	}
	tl.start()
	s2 = tl.waitSale(s2.ID, 30*time.Second, "paid after a SIGTERM restart", paid)
	if len(s2.Attempts) != 1 {
		t.Fatalf("restart after SIGTERM charged again: %d attempts", len(s2.Attempts))
	}
	if got := tl.sim.Captured(); got != 1013+1002 {
		t.Fatalf("simulator captured %d cents, want %d", got, 1013+1002)
	}

	// Manager tools while posd holds the journal: through its API (over HTTPS here).
	day := s.CreatedAt.In(time.FixedZone("HKT", 8*3600)).Format(time.DateOnly)
	out, err := exec.Command(posdBinary(t), "report", "-config", tl.cfgPath, "-date", day).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"amount": 2015`)) {
		t.Fatalf("posd report (running): %v\n%s", err, out)
	}
	if err := tl.sigterm(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	// ... and from the journal file once posd has stopped.
	out, err = exec.Command(posdBinary(t), "journal", "-config", tl.cfgPath, "-date", day, "-format", "csv").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(lastAttempt(s).OutTradeNo)) || !bytes.Contains(out, []byte(lastAttempt(s).TransactionID)) {
		t.Fatalf("posd journal (stopped): %v\n%s", err, out)
	}
	out, err = exec.Command(posdBinary(t), "report", "-config", tl.cfgPath, "-date", day).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"amount": 2015`)) {
		t.Fatalf("posd report (stopped): %v\n%s", err, out)
	}
}

// TestE2E_Idle measures the idle daemon: start to READY on an empty store, RSS, and CPU
// over a window (10 s here; `make bench` runs it for 60 s with POSD_IDLE_WINDOW=60s).
func TestE2E_Idle(t *testing.T) {
	t.Parallel()
	window := 10 * time.Second
	if v := os.Getenv("POSD_IDLE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("POSD_IDLE_WINDOW: %v", err)
		}
		window = d
	}
	tl := newTill(t, tillOptions{noDevices: true, journal: true})
	best := time.Hour
	const starts = 5 // best of 5: a loaded CI machine can stall one exec
	for i := range starts {
		tl.start()
		best = min(best, tl.startDur)
		if i < starts-1 {
			if err := tl.sigterm(); err != nil {
				t.Fatal(err)
			}
			tl.notify.Close()
		}
	}
	pid := tl.cmd.Process.Pid
	time.Sleep(500 * time.Millisecond) // settle after start-up
	cpu0, _ := procCPU(t, pid)
	t0 := time.Now()
	time.Sleep(window)
	cpu1, rss := procCPU(t, pid)
	elapsed := time.Since(t0)
	cpuPct := 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	t.Logf("start→READY (best of 5, exec included): %v; idle RSS %.1f MB; idle CPU %.3f%% over %v",
		best.Round(time.Millisecond), float64(rss)/(1<<20), cpuPct, window)
	if best > 200*time.Millisecond {
		t.Errorf("start→READY %v, want ≤ 200 ms", best)
	}
	if rss > 25<<20 {
		t.Errorf("idle RSS %.1f MB, want ≤ 25 MB", float64(rss)/(1<<20))
	}
	if cpuPct > 0.5 {
		t.Errorf("idle CPU %.3f%%, want ≤ 0.5%%", cpuPct)
	}
	jl, err := os.ReadFile(tl.jfile)
	if err != nil {
		t.Fatal(err)
	}
	if journal.Enabled() {
		// journald answers (CI runs one): posd writes its entries natively, with fields,
		// and nothing to the stream.
		if len(bytes.TrimSpace(jl)) != 0 {
			t.Fatalf("written to the stream although journald answers:\n%s", jl)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			out, err := exec.Command("journalctl", "--no-pager", "-o", "json", fmt.Sprintf("_PID=%d", pid), "SYSLOG_IDENTIFIER=posd", "PRIORITY=6").CombinedOutput()
			if err == nil && bytes.Contains(out, []byte(`"MESSAGE":"posd ready"`)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("journalctl _PID=%d: no \"posd ready\" at priority 6: %v\n%s", pid, err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return
	}
	// Under journald's stream only: syslog priority prefixes and no timestamps.
	if !bytes.HasPrefix(jl, []byte("<6>")) || bytes.Contains(jl, []byte("time=")) || !bytes.Contains(jl, []byte("msg=\"posd ready\"")) {
		t.Fatalf("journal stream output:\n%s", jl)
	}
}

// TestMain_RunInProcess runs `posd run` through Main in this process, so the race
// detector watches the daemon's wiring, and checks a graceful stop on cancel.
func TestMain_RunInProcess(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{noDevices: true})
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	tl.stderr = logs
	m := &Main{Stdout: logs, Stderr: logs}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"run", "-config", tl.cfgPath}) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(tl.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := tl.openSale(1001, "in-process")
	tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
	tl.waitSale(s.ID, 10*time.Second, "paid", paid)
	events, err := http.NewRequest("GET", tl.base+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	events.Header.Set("Authorization", "Bearer "+tl.token)
	resp, err := http.DefaultClient.Do(events) // an open SSE stream must not hold up the stop
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", err, resp)
	}
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("Run did not return after cancel\n%s", logs)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Fatalf("no orderly stop in the log:\n%s", logs)
	}
}

// procCPU reads utime+stime and VmRSS of pid from /proc.
func procCPU(t *testing.T, pid int) (time.Duration, int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the ")" that closes the command name: state is field 3; utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	const clkTck = 100 // USER_HZ on Linux
	cpu := time.Duration(ut+st) * time.Second / clkTck
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var rssKB int64
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fmt.Sscan(strings.TrimPrefix(line, "VmRSS:"), &rssKB)
		}
	}
	return cpu, rssKB << 10
}

// sessionRole is what GET /ui/session says to client.
func sessionRole(t *testing.T, client *http.Client, base string) string {
	t.Helper()
	resp, err := client.Get(base + "/ui/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var in struct{ Role string }
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
		t.Fatal(err)
	}
	return in.Role
}

// TestE2E_LoginLinkLockoutHealth: `posd login-link` gives the kiosk a session; wrong PINs
// lock their source out and a restart does not clear it; both are counted; /healthz
// does not show the journal's path.
func TestE2E_LoginLinkLockoutHealth(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{noDevices: true})
	tl.start()
	// No kiosk configured: a program on the till gets no session by itself.
	if role := sessionRole(t, &http.Client{}, tl.base); role != "none" {
		t.Fatalf("without a login: %q", role)
	}
	code, out, stderr := runMain(t, "login-link", "-config", tl.cfgPath)
	if code != 0 || !strings.HasPrefix(out, tl.base+"/ui/link?code=") {
		t.Fatalf("login-link: %d %q %q", code, out, stderr)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if role := sessionRole(t, browser, tl.base); role != "cashier" {
		t.Fatalf("after login-link: %q", role)
	}
	for i := range 5 {
		st, b := tl.api("GET", "/api/v1/jobs", nil, "X-Manager-PIN", "000000")
		if want := map[bool]int{true: 429, false: 403}[i == 4]; st != want {
			t.Fatalf("wrong PIN %d: %d %s", i+1, st, b)
		}
	}
	if !strings.Contains(tl.stderr.String(), "source=127.0.0.1") || strings.Contains(tl.stderr.String(), "000000") {
		t.Fatalf("the log lacks the source or has the PIN:\n%s", tl.stderr)
	}
	if m := tl.metric(`posd_logins_total{method="pin_header",result="wrong"}`); m != "4" {
		t.Fatalf("wrong PINs counted: %q", m)
	}
	if err := tl.sigterm(); err != nil {
		t.Fatalf("sigterm: %v", err)
	}
	tl.notify.Close()
	tl.start()
	if st, b := tl.api("GET", "/api/v1/jobs", nil, "X-Manager-PIN", tl.pin); st != 429 {
		t.Fatalf("after a restart the lockout is gone: %d %s", st, b)
	}
	resp, err = http.Get(tl.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(b, []byte("posd.db")) || bytes.Contains(b, []byte(tl.dir)) {
		t.Fatalf("/healthz shows the journal path: %s", b)
	}
}

// TestE2E_LoginLinkTLS: on an HTTPS listen, posd login-link reaches the daemon pinned to
// http.tls_cert_file and prints an https link.
func TestE2E_LoginLinkTLS(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{noDevices: true, tls: true})
	tl.start()
	code, out, stderr := runMain(t, "login-link", "-config", tl.cfgPath)
	if code != 0 || !strings.HasPrefix(out, "https://"+tl.listen+"/ui/link?code=") {
		t.Fatalf("login-link: %d %q %q", code, out, stderr)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: tl.client.Transport}
	resp, err := browser.Get(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if role := sessionRole(t, browser, tl.base); role != "cashier" {
		t.Fatalf("after login-link over HTTPS: %q", role)
	}
}

// TestE2E_KioskUser: with http.kiosk_user naming the account the kiosk browser runs as
// (here: the test's own), its loopback connections get the cashier screen by themselves.
func TestE2E_KioskUser(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{noDevices: true})
	b, err := os.ReadFile(tl.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "[http]\n", fmt.Sprintf("[http]\nkiosk_user = \"%d\"\n", os.Getuid()), 1)
	writeFile(t, tl.cfgPath, cfg, 0o644)
	tl.start()
	if role := sessionRole(t, &http.Client{}, tl.base); role != "cashier" {
		t.Fatalf("the kiosk account's browser: %q", role)
	}
}

// TestE2E_Demo starts `posd demo` as a newcomer would and takes a payment through its API.
func TestE2E_Demo(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	cmd := exec.Command(posdBinary(t), "demo", "-listen", "127.0.0.1:0")
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})
	url, token := demoLogin(t, out, 15*time.Second)
	if !strings.Contains(out.String(), "manager PIN: ") {
		t.Fatalf("no manager PIN line:\n%s", out)
	}
	// The URL is a one-time login link: it opens the cashier screen, nothing else does.
	base, _, ok := strings.Cut(url, "/ui/link?code=")
	if !ok {
		t.Fatalf("the demo URL is not a login link: %s", url)
	}
	tl := &till{t: t, base: base, token: token, stderr: out}
	if role := sessionRole(t, &http.Client{}, base); role != "none" {
		t.Fatalf("a client without the link got role %q", role)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(url)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", url, err, resp)
	}
	resp.Body.Close()
	if role := sessionRole(t, browser, base); role != "cashier" {
		t.Fatalf("after the login link: role %q", role)
	}
	s := tl.openSale(1001, "demo")
	tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
	s = tl.waitSale(s.ID, 10*time.Second, "paid", paid)
	// The virtual printer's receipt shows in the UI's receipt list.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, b := tl.api("GET", "/api/v1/receipts", nil)
		if st == 200 && bytes.Contains(b, []byte(lastAttempt(s).TransactionID)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receipt not shown: %d %s", st, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A code typed into the page's virtual scanner counts as a scan of the demo's scanner
	// on the manager's Devices tab; sale numbers run on (1, then 2).
	s2 := tl.openSale(1001, "demo-2")
	if !strings.HasSuffix(s2.ID, "-2") || !strings.HasSuffix(s.ID, "-1") {
		t.Fatalf("sale ids %s, %s: want the day's sales numbered 1, 2", s.ID, s2.ID)
	}
	if st, b := tl.api("POST", "/api/v1/scan", map[string]string{"code": newCode()}); st != 202 {
		t.Fatalf("virtual scan: %d %s", st, b)
	}
	tl.waitSale(s2.ID, 10*time.Second, "paid", paid)
	var pin string
	for _, line := range strings.Split(out.String(), "\n") {
		if p, ok := strings.CutPrefix(line, "manager PIN: "); ok {
			pin = strings.TrimSpace(p)
		}
	}
	st, b := tl.api("GET", "/api/v1/devices", nil, "X-Manager-PIN", pin)
	var dev struct {
		Devices ui.DeviceReport `json:"devices"`
	}
	if err := json.Unmarshal(b, &dev); st != 200 || err != nil || len(dev.Devices.Scanners) != 1 {
		t.Fatalf("devices: %d %v %s", st, err, b)
	}
	if sc := dev.Devices.Scanners[0]; sc.Scans != 1 || sc.LastScan.IsZero() || !sc.Connected || dev.Devices.Version == "" || dev.Devices.Printer == nil {
		t.Fatalf("devices after one virtual scan: %s", b)
	}
	// The Z report prints on the same virtual printer (it answered 501 "No printer is
	// configured" while receipts printed there).
	if st, b := tl.api("POST", "/api/v1/reports/day/print", nil, "X-Manager-PIN", pin); st != http.StatusAccepted {
		t.Fatalf("print day report: %d %s", st, b)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		var jobs []struct{ ID, Kind, State, Text string }
		st, b := tl.api("GET", "/api/v1/receipts", nil)
		json.Unmarshal(b, &jobs)
		i := slices.IndexFunc(jobs, func(j struct{ ID, Kind, State, Text string }) bool { return j.Kind == "report" && j.State == "done" })
		if st == 200 && i >= 0 {
			// The manager sees what the virtual printer printed, as text and as an image.
			if !strings.Contains(jobs[i].Text, "DAY REPORT (Z)") || !strings.Contains(jobs[i].Text, "日結報告") {
				t.Fatalf("day report text: %q", jobs[i].Text)
			}
			if st, png := tl.api("GET", "/api/v1/receipts/"+jobs[i].ID+".png", nil); st != 200 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
				t.Fatalf("day report image: %d %.20q", st, png)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("day report not printed: %d %s", st, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo exit: %v\n%s", err, out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop on SIGTERM")
	}
}

// TestE2E_Ledger runs a mix of WeChat behaviours through the binary at once and checks
// the money: what the simulator kept equals what the till's journal says was paid, no sale
// has two paid attempts, and every paid attempt is a real order. POSD_SOAK (make soak)
// multiplies the number of sales by POSD_SOAK/1000.
func TestE2E_Ledger(t *testing.T) {
	t.Parallel()
	n := 12
	// paid, refused, SYSTEMERROR-then-paid, lost-then-paid, mainland wallet, code expired,
	// BANKERROR-then-paid.
	amounts := []int64{1001, 1003, 1004, 1005, 1007, 1009, 1012}
	if v, err := strconv.Atoi(os.Getenv("POSD_SOAK")); err == nil && v > 0 {
		n = max(n, n*v/1000)
		// Outcomes that settle only at the 30 s deadline (nothing happened, 503, dropped
		// before processing): soak only, to keep CI quick.
		amounts = append(amounts, 1011, 1016, 1019)
	}
	tl := newTill(t, tillOptions{noDevices: true})
	tl.start()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s := tl.openSale(amounts[i%len(amounts)]+int64(100*(i/len(amounts))), fmt.Sprintf("L-%d", i))
			ids[i] = s.ID
			tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
		}(i)
	}
	wg.Wait()
	var want int64
	for _, id := range ids {
		t0 := time.Now()
		s := tl.waitSale(id, 60*time.Second, "settled", func(s *engine.Sale) bool {
			a := lastAttempt(s)
			return s.State == engine.SalePaid || (s.State == engine.SaleAwaitingScan && a.State.Final())
		})
		t.Logf("%d settled after %v more: %s %s", s.Amount, time.Since(t0), s.State, lastAttempt(s).State)
		paidN := 0
		for _, a := range s.Attempts {
			if a.State != engine.AttemptPaid {
				continue
			}
			paidN++
			o, ok := tl.sim.Order(a.OutTradeNo)
			if !ok || !o.WasPaid || o.TransactionID != a.TransactionID || o.Amount != s.Amount {
				t.Errorf("sale %s: paid attempt %s does not match WeChat's order %+v", s.ID, a.OutTradeNo, o)
			}
		}
		if paidN > 1 {
			t.Errorf("sale %s has %d paid attempts", s.ID, paidN)
		}
		if s.State == engine.SalePaid {
			want += s.Amount
		}
	}
	if got := tl.sim.Captured(); got != want {
		t.Fatalf("WeChat kept %d, the journal says %d was paid", got, want)
	}
	// The engine's counters follow the journal commit that the sale shows (a moment later).
	for deadline := time.Now().Add(5 * time.Second); ; {
		v := tl.metric("posd_unresolved_attempts")
		if v == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unresolved attempts left: %s", v)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tl.sigterm(); err != nil {
		t.Fatal(err)
	}
}

// demoLogin waits for a starting `posd demo` to print its login link and API token.
func demoLogin(t *testing.T, out *syncBuffer, wait time.Duration) (url, token string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for url == "" || token == "" {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not print its URL and token:\n%s", out)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "posd demo: open "); ok {
				url = strings.TrimSpace(u)
			}
			if tok, ok := strings.CutPrefix(line, "api token: "); ok {
				token = strings.TrimSpace(tok)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, token
}
