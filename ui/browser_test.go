package ui

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/sirupsen/logrus"

	"posd/printer"
	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/queue/report"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser tests' screenshots to docs/screenshots")

// findChromium returns the browser to drive. Missing in CI is a failure (the proof of the
// UI is these tests); missing on a developer's machine is a skip.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("POSD_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: the browser tests need it (apt-get install chromium, as .ci/run does)")
	}
	t.Skip("chromium not found; install it to run the browser tests")
	return ""
}

// logRing keeps the engine's log lines for the manager's log view.
type logRing struct {
	mu sync.Mutex
	es []LogEntry
}

func (r *logRing) Levels() []logrus.Level { return logrus.AllLevels }

func (r *logRing) Fire(e *logrus.Entry) error {
	f := map[string]string{}
	for k, v := range e.Data {
		f[k] = fmt.Sprint(v)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.es = append(r.es, LogEntry{Time: e.Time, Level: e.Level.String(), Message: e.Message, Fields: f})
	return nil
}

func (r *logRing) entries(level, grep string, n int) []LogEntry {
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		lv = logrus.DebugLevel
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LogEntry
	for i := len(r.es) - 1; i >= 0 && len(out) < n; i-- {
		e := r.es[i]
		el, _ := logrus.ParseLevel(e.Level)
		if el > lv {
			continue
		}
		if grep != "" && !strings.Contains(strings.ToLower(e.Message+fmt.Sprint(e.Fields)), strings.ToLower(grep)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// realStack is the real payment engine on an in-memory journal, talking WeChat Pay v3 to
// the simulator in amount-driven mode over HTTPS, on the real clock; receipts are
// rendered and decoded by the printer package as the demo's virtual printer shows them.
type realStack struct {
	url  string
	eng  *engine.Engine
	sim  *wxpaytest.Server
	logs *logRing

	srv     *Server
	mu      sync.Mutex
	devices []Alert
	printed []report.DayReport // day reports sent to the printer // what the daemon would report: scanner unplugged, printer out of paper
}

func (s *realStack) setAlerts(a ...Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devices = a
}

func (s *realStack) alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Alert(nil), s.devices...)
}

func newRealStack(t *testing.T) *realStack {
	t.Helper()
	sim := wxpaytest.New(wxpaytest.Options{AmountDriven: true, RefundDelay: time.Second})
	t.Cleanup(sim.Close)
	creds := sim.Credentials()
	blk, _ := pem.Decode(creds.MerchantKeyPEM)
	if blk == nil {
		t.Fatal("simulator merchant key: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cblk, _ := pem.Decode(creds.PlatformCertPEM)
	if cblk == nil {
		t.Fatal("simulator platform certificate: no PEM")
	}
	plat, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ring := &logRing{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.DebugLevel)
	log.AddHook(ring)
	gw, err := wxpay.New(wxpay.Config{API: wxpay.APIv3Global, BaseURL: sim.URL(), RootCAs: sim.CertPool(),
		MchID: creds.MchID, AppID: creds.AppID, PrivateKey: k.(*rsa.PrivateKey), MerchantSerialNo: creds.MerchantSerial,
		APIv3Key: creds.APIv3Key, PlatformCerts: []*x509.Certificate{plat}, Currency: "HKD", MerchantCategoryCode: "5411",
		DeviceID: "T01", StoreID: "HK001", StoreName: "posd test store", NotifyURL: wxpaytest.NotifyURL,
		Logger: log.WithField("component", "wxpay")})
	if err != nil {
		t.Fatal(err)
	}
	loc := printer.HongKong
	eng, err := engine.New(engine.Config{StoreID: "HK001", TillID: "T01", Location: loc, Description: "posd test store", QRCodePayment: true},
		gw, enginetest.NewMemStore(loc), engine.RealClock(), log.WithField("component", "engine"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); eng.Close(); <-done })

	receipts := func(n int) ([]Receipt, error) {
		sales, err := eng.Sales("")
		if err != nil {
			return nil, err
		}
		var out []Receipt
		for _, s := range sales {
			if s.State != engine.SalePaid || len(out) >= n {
				continue
			}
			r := printer.Receipt{Kind: printer.KindSale, MerchantName: "posd test store", SaleID: s.ID,
				Amount: s.Amount, Currency: s.Currency, Time: s.UpdatedAt}
			for _, a := range s.Attempts {
				if a.State == engine.AttemptPaid {
					r.OutTradeNo, r.TransactionID, r.Code = a.OutTradeNo, a.TransactionID, a.Code
				}
			}
			b, err := printer.Render(r, printer.Format{Encoding: "big5", Columns: 42})
			if err != nil {
				return nil, err
			}
			text, err := printer.DecodeText(b, "big5")
			if err != nil {
				return nil, err
			}
			png, err := printer.RenderPNG(b, "big5")
			if err != nil {
				return nil, err
			}
			out = append(out, Receipt{ID: "sale-" + s.ID, SaleID: s.ID, Kind: "sale", State: "printed", At: s.UpdatedAt, Text: text, PNG: png})
		}
		return out, nil
	}
	st := &realStack{eng: eng, sim: sim, logs: ring}
	srv, err := New(Options{Till: eng, Alerts: st.alerts,
		PrintDayReport: func(_ context.Context, r report.DayReport) error {
			st.mu.Lock()
			defer st.mu.Unlock()
			st.printed = append(st.printed, r)
			return nil
		}, Token: testToken, ManagerPIN: testPIN, Kiosk: loopbackKiosk, Demo: true,
		DemoCustomerPays: func(_ context.Context, codeURL string) error { _, err := sim.PayCodeURL(codeURL); return err },
		AmountTable:      wxpaytest.AmountTable(), Receipts: &Receipts{Recent: receipts, Reprint: func(context.Context, string) error { return nil }},
		Logs: ring.entries, Health: func() any { return map[string]any{"ready": eng.Status().Ready, "storage": "ok"} },
		Devices: func() any {
			return map[string]any{"scanners": []map[string]any{{"name": "virtual scanner", "connected": true}},
				"printer": map[string]any{"kind": "virtual", "state": "ready"}}
		},
		StoreID: "HK001", TillID: "T01", MerchantName: "posd test store", Location: loc,
		Logger: log.WithField("component", "ui")})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	st.url, st.srv = hs.URL, srv
	return st
}

// browser starts headless Chromium with a fresh profile; JavaScript exceptions and
// console errors (CSP violations among them) are collected and fail the test.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-GB"))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 180*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A 4xx answer the page expects (a wrong PIN, a refused code) is logged by
			// the browser's network layer; that is not a page problem.
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// shot saves a screenshot as a test artifact ($POSD_SCREENSHOTS or a temp dir) and, with
// -update-screenshots, as docs/screenshots/NAME.png for the README.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(150*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if *updateScreenshots {
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	// One step never needs long: fail it with a screenshot rather than at the test deadline.
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		buf, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, "failure.png"), buf, 0o644)
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.sale + " | " + document.getElementById("state").innerText + " | " + document.getElementById("alerts").innerText`))
		t.Fatalf("%s: %v (page: %q, screenshot %s)", what, err, state, dir)
	}
}

func clickKeys(keys ...string) chromedp.Action[chromedp.Void] {
	var ts []chromedp.Action[chromedp.Void]
	for _, k := range keys {
		ts = append(ts, chromedp.Click(chromedp.CSS(`#keypad button[data-key="`+k+`"]`)))
	}
	return chromedp.Steps(ts...)
}

func scanCode(code string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.CSS("#scan-input"), code),
		chromedp.Click(chromedp.CSS("#scan-form button")),
	)
}

// TestBrowser_Till drives the real UI in headless Chromium against the real engine and the
// WeChat Pay simulator: a demo sale from the keypad to the receipt, a sale waiting for the
// customer's password, refused codes, cancel, the manager PIN (wrong, then right), a
// refund, the day report and the logs.
func TestBrowser_Till(t *testing.T) {
	st := newRealStack(t) // first, so its cleanup runs after the browser's
	ctx, problems := browser(t)
	dir := os.Getenv("POSD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	codeN := 0
	nextCode := func() string { codeN++; return fmt.Sprintf("1345678901234567%02d", codeN) }
	wait := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	t.Cleanup(func() {
		if p := problems(); len(p) > 0 {
			t.Errorf("browser reported problems:\n%s", strings.Join(p, "\n"))
		}
	})

	t.Run("full demo sale from keypad to receipt", func(t *testing.T) {
		run(t, ctx, "open the till", chromedp.Navigate(st.url+"/"), wait("#view-cashier"), wait("#amount-table tr"))
		run(t, ctx, "type 10.01 and charge", clickKeys("1", "0", "0", "1"))
		if got := text(t, ctx, "#amount"); got != "HK$ 10.01" {
			t.Fatalf("amount shows %q", got)
		}
		run(t, ctx, "charge", chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
		if got := text(t, ctx, "#state-title"); got != "Scan the customer's payment code" {
			t.Fatalf("prompt %q", got)
		}
		shot(t, ctx, dir, "cashier-scan")
		run(t, ctx, "scan and get paid", scanCode(nextCode()), wait("#state.state-paid"), wait("#receipts figure.receipt"))
		if got := text(t, ctx, "#state"); !strings.Contains(got, "Paid") || !strings.Contains(got, "HKD wallet") {
			t.Fatalf("paid screen %q", got)
		}
		if got := text(t, ctx, "#receipts pre"); !strings.Contains(got, "10.01") {
			t.Fatalf("receipt %q", got)
		}
		shot(t, ctx, dir, "cashier-paid")
	})

	t.Run("USERPAYING sale shows progress", func(t *testing.T) {
		// The keyboard works like the keypad: Enter starts a new sale, digits, Enter charges.
		run(t, ctx, "new sale by keyboard", chromedp.KeyEvent("\r"), wait("#state.state-idle"),
			chromedp.KeyEvent("1002"), chromedp.KeyEvent("\r"), wait("#state.state-scan"))
		run(t, ctx, "scan", scanCode(nextCode()), wait("#state.state-paying"))
		run(t, ctx, "waiting for the password", chromedp.Poll[chromedp.Void](`document.getElementById("state-title").textContent.includes("password")`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if got := text(t, ctx, "#state-time"); !strings.Contains(got, "s left") {
			t.Fatalf("no countdown: %q", got)
		}
		shot(t, ctx, dir, "cashier-waiting-password")
		run(t, ctx, "paid after the customer confirms", chromedp.WaitVisible(chromedp.CSS("#state.state-paid")))
	})

	t.Run("amount from the simulator's table: a mainland wallet pays in CNY", func(t *testing.T) {
		run(t, ctx, "pick x.07", chromedp.Click(chromedp.CSS(`#amount-table tr[data-cents="7"]`)))
		if got := text(t, ctx, "#amount"); got != "HK$ 10.07" {
			t.Fatalf("amount shows %q", got)
		}
		run(t, ctx, "charge and scan", chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"),
			scanCode(nextCode()), wait("#state.state-paid"))
		if got := text(t, ctx, "#state .wallet"); !strings.Contains(got, "¥") || !strings.Contains(got, "CNY wallet") {
			t.Fatalf("wallet line %q", got)
		}
		run(t, ctx, "its receipt", chromedp.Poll[chromedp.Void](`document.querySelector("#receipts figure pre").textContent.includes("10.07")`,
			chromedp.WithPollingTimeout(5*time.Second)))
		shot(t, ctx, dir, "cashier-paid-cny")
	})

	t.Run("failed code shows the cashier sentence", func(t *testing.T) {
		run(t, ctx, "sale of 10.03", chromedp.Click(chromedp.CSS("#btn-new")), clickKeys("1", "0", "0", "3"),
			chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
		run(t, ctx, "scan", scanCode(nextCode()), wait("#state.state-failed"))
		if got := text(t, ctx, "#state-title"); got != "Scan again" {
			t.Fatalf("title %q", got)
		}
		msg := text(t, ctx, "#state-detail .error-msg")
		if msg == "" {
			t.Fatal("no error sentence")
		}
		shot(t, ctx, dir, "cashier-failed")
		// A product barcode never reaches WeChat: refused at the till with its own sentence.
		micropays := func() int {
			n := 0
			for _, r := range st.sim.Requests() {
				if r.Endpoint == wxpaytest.EPMicroPay {
					n++
				}
			}
			return n
		}
		before := micropays()
		run(t, ctx, "scan a product barcode", scanCode("4006381333931"),
			chromedp.Poll[chromedp.Void](`document.querySelector("#state-detail .error-msg").dataset.code === "invalid_code"`, chromedp.WithPollingTimeout(5*time.Second)))
		if got := text(t, ctx, "#state-detail .error-msg"); !strings.Contains(strings.ToLower(got), "barcode") {
			t.Fatalf("product barcode message %q", got)
		}
		if after := micropays(); after != before {
			t.Fatalf("a product barcode reached WeChat (%d micropays)", after-before)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		run(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#btn-cancel")), wait("#state.state-cancelled"))
		shot(t, ctx, dir, "cashier-cancelled")
	})

	t.Run("Traditional Chinese", func(t *testing.T) {
		run(t, ctx, "switch", chromedp.Click(chromedp.CSS("#btn-lang")))
		if got := text(t, ctx, "#state-title"); got != "已取消" {
			t.Fatalf("title %q", got)
		}
		run(t, ctx, "sale in Chinese", chromedp.Click(chromedp.CSS("#btn-new")), clickKeys("2", "5", "0", "0"),
			chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
		if got := text(t, ctx, "#state-title"); got != "請掃描顧客的付款碼" {
			t.Fatalf("title %q", got)
		}
		shot(t, ctx, dir, "cashier-zh")
		run(t, ctx, "back to English", chromedp.Click(chromedp.CSS("#btn-cancel")), wait("#state.state-cancelled"),
			chromedp.Click(chromedp.CSS("#btn-lang")))
	})

	t.Run("manager PIN wrong then right", func(t *testing.T) {
		run(t, ctx, "open manager", chromedp.Click(chromedp.CSS("#btn-manager")), wait("#view-pin"))
		var pad []chromedp.Action[chromedp.Void]
		for _, k := range "1111" {
			pad = append(pad, chromedp.Click(chromedp.CSS(`#pinpad button[data-key="`+string(k)+`"]`)))
		}
		run(t, ctx, "wrong PIN", chromedp.Steps(pad...), chromedp.Click(chromedp.CSS("#pin-submit")),
			chromedp.Poll[chromedp.Void](`document.getElementById("pin-msg").dataset.code === "wrong_pin"`, chromedp.WithPollingTimeout(5*time.Second)))
		if got := text(t, ctx, "#pin-msg"); !strings.Contains(got, "4 tries left") {
			t.Fatalf("wrong PIN message %q", got)
		}
		val, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#pin-input")))
		if err != nil || val != "" {
			t.Fatal("the PIN stays in the page")
		}
		shot(t, ctx, dir, "manager-pin-wrong")
		run(t, ctx, "right PIN", chromedp.SendKeys(chromedp.CSS("#pin-input"), testPIN), chromedp.Click(chromedp.CSS("#pin-submit")),
			wait("#view-manager"), wait("#sales-body tr[data-state=paid]"))
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil || strings.Contains(html, testPIN) {
			t.Fatal("the PIN is in the page")
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#sales-body tr").length`))
		if err != nil {
			t.Fatal(err)
		}
		if rows != 5 {
			t.Fatalf("%d sales listed, want 5", rows)
		}
	})

	t.Run("refund", func(t *testing.T) {
		run(t, ctx, "open the first paid sale", chromedp.Click(chromedp.CSS(`#sales-body tr[data-state=paid]`)),
			wait("#detail table.timeline tbody tr"), wait("#refund-form"))
		run(t, ctx, "partial refund of 3.00", chromedp.SetValue(chromedp.CSS("#refund-amount"), "3.00"),
			chromedp.SetValue(chromedp.CSS("#refund-reason"), "damaged item"), chromedp.Click(chromedp.CSS("#btn-refund")),
			chromedp.Poll[chromedp.Void](`document.getElementById("detail").innerText.includes("damaged item")`, chromedp.WithPollingTimeout(10*time.Second)))
		if got := text(t, ctx, "#detail"); !strings.Contains(got, "HK$ 3.00") || !strings.Contains(got, "Refundable: HK$ 7.0") {
			t.Fatalf("detail after refund: %q", got)
		}
		shot(t, ctx, dir, "manager-refund")
		run(t, ctx, "refund the rest", chromedp.Click(chromedp.CSS("#btn-refund-full")),
			chromedp.WaitNotPresent(chromedp.CSS("#refund-form")))
		csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById("export-csv").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.HasPrefix(csv, "date,sale_id,") || strings.Count(csv, "\n") < 5 {
			t.Fatalf("CSV export: %v %q", err, csv)
		}
		paid, err := st.eng.Sales("")
		if err != nil {
			t.Fatal(err)
		}
		var refunded int64
		for _, s := range paid {
			for _, r := range s.Refunds {
				refunded += r.Amount
			}
		}
		if refunded != 1007 {
			t.Fatalf("engine has %d cents refunded, want all 1007", refunded)
		}
	})

	t.Run("day report", func(t *testing.T) {
		run(t, ctx, "day tab", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="day"]`)), wait("#wallets tbody tr"))
		if got := text(t, ctx, "#day .cards"); !strings.Contains(got, "HK$ 30.10") {
			t.Fatalf("day cards %q", got)
		}
		if got := text(t, ctx, "#wallets"); !strings.Contains(got, "CNY") || !strings.Contains(got, "HKD") {
			t.Fatalf("wallets %q", got)
		}
		shot(t, ctx, dir, "manager-day-report")
		run(t, ctx, "print the Z report", chromedp.Click(chromedp.CSS("#btn-print-report")),
			chromedp.Poll[chromedp.Void](`document.getElementById("toast").textContent.includes("Print Z report")`, chromedp.WithPollingTimeout(5*time.Second)))
		st.mu.Lock()
		n := len(st.printed)
		st.mu.Unlock()
		if n != 1 {
			t.Fatalf("%d day reports printed", n)
		}
	})

	t.Run("devices, needs attention and receipts", func(t *testing.T) {
		run(t, ctx, "devices", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="devices"]`)), wait("#devices table"))
		if got := text(t, ctx, "#devices"); !strings.Contains(got, "virtual scanner") {
			t.Fatalf("devices %q", got)
		}
		shot(t, ctx, dir, "manager-devices")
		run(t, ctx, "attention", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="attention"]`)), wait("#jobs p, #jobs table"))
		run(t, ctx, "receipts", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="receipts"]`)), wait("#mgr-receipts figure.receipt"))
	})

	t.Run("logs view", func(t *testing.T) {
		run(t, ctx, "logs tab", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="logs"]`)), wait("#logs-body tr"))
		all, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#logs-body tr").length`))
		if err != nil {
			t.Fatal(err)
		}
		first := text(t, ctx, "#logs-body tr:last-child td:nth-child(3)")
		run(t, ctx, "search", chromedp.SendKeys(chromedp.CSS("#log-q"), first), chromedp.Sleep(700*time.Millisecond))
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const q = document.getElementById("log-q").value.toLowerCase();
			const rows = [...document.querySelectorAll("#logs-body tr")];
			return rows.length > 0 && rows.every(tr => tr.innerText.toLowerCase().includes(q)); })()`))
		if err != nil {
			t.Fatal(err)
		}
		if all == 0 || !ok {
			t.Fatalf("log rows: %d; search for %q did not filter", all, first)
		}
		shot(t, ctx, dir, "manager-logs")
	})

	t.Run("lock manager", func(t *testing.T) {
		run(t, ctx, "lock", chromedp.Click(chromedp.CSS("#btn-lock")), wait("#view-cashier"),
			chromedp.Click(chromedp.CSS("#btn-manager")), wait("#view-pin"))
	})
	t.Run("cancel while the customer is paying: reversed", func(t *testing.T) {
		run(t, ctx, "sale of 10.06 (the customer never confirms)", chromedp.Click(chromedp.CSS("#btn-cashier")), wait("#view-cashier"),
			clickKeys("C", "1", "0", "0", "6"),
			chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"), scanCode(nextCode()),
			chromedp.Poll[chromedp.Void](`document.getElementById("state-title").textContent.includes("password")`, chromedp.WithPollingTimeout(10*time.Second)))
		run(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#btn-cancel")), wait("#state.state-reversing"))
		if got := text(t, ctx, "#state"); !strings.Contains(got, "Reversing") || !strings.Contains(got, "reversing in") {
			t.Fatalf("reversing screen %q", got)
		}
		shot(t, ctx, dir, "cashier-reversing")
		// WeChat allows the reverse from t0 + 15 s: the screen follows it to the end.
		run(t, ctx, "reversed", chromedp.Poll[chromedp.Void](`document.querySelector("#state").className === "state state-cancelled"`,
			chromedp.WithPollingTimeout(40*time.Second)))
		if got := text(t, ctx, "#state"); !strings.Contains(got, "No money is kept") {
			t.Fatalf("after the reverse %q", got)
		}
	})
	t.Run("alerts at the till", func(t *testing.T) {
		st.setAlerts(Alert{Code: "scanner_disconnected", Severity: "error", Message: "Scanner hid0 is not connected."},
			Alert{Code: "printer_paper_out", Severity: "warning", Message: "The receipt printer is out of paper."})
		defer st.setAlerts()
		run(t, ctx, "reload the till", chromedp.Navigate(st.url+"/"), wait("#view-cashier"),
			wait(`#alerts .alert[data-code="scanner_disconnected"]`), wait(`#alerts .alert[data-code="printer_paper_out"]`))
		if got := text(t, ctx, "#alerts"); !strings.Contains(got, "Scanner disconnected") || !strings.Contains(got, "Printer out of paper") {
			t.Fatalf("alerts %q", got)
		}
		run(t, ctx, "sale of 10.01", clickKeys("1", "0", "0", "1"))
		shot(t, ctx, dir, "cashier-alerts")
		run(t, ctx, "clear", clickKeys("C"))
	})

	t.Run("sessions lost (posd restarted): the till screen carries on", func(t *testing.T) {
		st.srv.sessions.mu.Lock()
		clear(st.srv.sessions.m)
		st.srv.sessions.mu.Unlock()
		run(t, ctx, "charge 10.01", clickKeys("C", "1", "0", "0", "1"), chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
		run(t, ctx, "events reconnect", scanCode(nextCode()), wait("#state.state-paid"))
	})
	t.Run("a sale opened by the POS software appears on the till", func(t *testing.T) {
		req, _ := http.NewRequest("POST", st.url+"/api/v1/sales", strings.NewReader(`{"amount":1234,"reference":"POS-77"}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("open sale: %d", resp.StatusCode)
		}
		run(t, ctx, "the screen follows", wait("#state.state-scan"),
			chromedp.Poll[chromedp.Void](`document.getElementById("amount").textContent === "HK$ 12.34"`, chromedp.WithPollingTimeout(5*time.Second)))
		run(t, ctx, "cancel with Escape", chromedp.KeyEvent(kb.Escape), wait("#state.state-cancelled"))
	})
	t.Run("a screen that is not the till logs in", func(t *testing.T) {
		// The same till without a kiosk: what a browser elsewhere in the shop sees.
		srv, err := New(Options{Till: st.eng, Token: testToken, ManagerPIN: testPIN, Location: printer.HongKong})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		defer srv.Close()
		run(t, ctx, "login page", chromedp.Navigate(hs.URL+"/"), wait("#view-login"),
			chromedp.SendKeys(chromedp.CSS("#login-token"), "not-the-token"), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
			chromedp.Poll[chromedp.Void](`document.getElementById("login-msg").textContent.includes("Wrong API token")`, chromedp.WithPollingTimeout(5*time.Second)))
		run(t, ctx, "token login", chromedp.SendKeys(chromedp.CSS("#login-token"), testToken),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")), wait("#view-cashier"))
		if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#login-token"))); err != nil || v != "" {
			t.Fatalf("the token stays in the page: %q %v", v, err)
		}
	})
	t.Run("a one-time login link opens the cashier screen", func(t *testing.T) {
		// What posd demo prints: no kiosk, no token typed.
		srv, err := New(Options{Till: st.eng, Token: testToken, ManagerPIN: testPIN, Location: printer.HongKong})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		defer srv.Close()
		link, _ := srv.LoginLink(time.Minute)
		run(t, ctx, "login link", chromedp.Navigate(hs.URL+link), wait("#view-cashier"))
	})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("browser tests ran out of time")
	}
}
