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
	"regexp"
	"strconv"
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

// needCJKFont fails (in CI) or skips when no font covers Hong Kong Chinese: the page
// would draw 中文 as boxes and the screenshots would show them.
func needCJKFont(t *testing.T) {
	t.Helper()
	out, err := exec.Command("fc-list", ":lang=zh-hk", "family").Output()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chinese font: the browser tests need one (apt-get install fonts-noto-cjk, as .ci/run does)")
	}
	t.Skip("no Chinese font (fc-list :lang=zh-hk); install fonts-noto-cjk to run the browser tests")
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

	srv      *Server
	mu       sync.Mutex
	devices  []Alert
	printed  []report.DayReport // day reports sent to the printer
	scans    int                // codes typed into the virtual scanner
	lastScan time.Time
}

func (s *realStack) setAlerts(a ...Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devices = a
}

// devices is what the daemon reports on a demo till: the virtual scanner has delivered
// every code typed into the page.
func (s *realStack) deviceReport() DeviceReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := time.Date(2026, 11, 25, 1, 0, 0, 123456789, time.UTC) // 09:00 in Hong Kong
	return DeviceReport{Version: "1.4.0", Commit: "5a55b8a1c2d3",
		Scanners: []ScannerCard{{Name: "virtual scanner", Kind: "virtual", Connected: true, Since: since, Scans: uint64(s.scans), LastScan: s.lastScan}},
		Printer:  &PrinterCard{Kind: "virtual", State: "ready", Since: since},
		WeChat:   WeChatCard{Reachable: true, LastOK: since.Add(time.Hour)},
		Storage:  StorageCard{OK: true},
		Certificates: []CertCard{{Name: "wxpay.platform_certificates", Kind: "wechat_platform", NotAfter: since.AddDate(0, 0, 200), DaysLeft: 200},
			{Name: "wxpay.client_cert_file", Kind: "merchant", NotAfter: since.AddDate(0, 0, 20), DaysLeft: 20}},
		Details: map[string]any{"health": map[string]any{"status": "ok", "version": "1.4.0"}}}
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
	loc := engine.HongKong()
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
			b, err := printer.Render(r, printer.Format{Encoding: "big5", Columns: 42, Location: engine.HongKong()})
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
		Devices: st.deviceReport,
		VirtualScan: func(ctx context.Context, code string) error {
			st.mu.Lock()
			st.scans++
			st.lastScan = time.Now()
			st.mu.Unlock()
			_, err := eng.Scan(ctx, code)
			return err
		},
		// No reconciliation has run for today: the manager reads when it will.
		Reconciliation: func(date string) (*report.Result, error) {
			return nil, fmt.Errorf("reconciliation %q: %w", date, engine.ErrNotFound)
		},
		ReconcileNext: func(date string) time.Time {
			d, _ := time.ParseInLocation(time.DateOnly, date, loc)
			return d.AddDate(0, 0, 1).Add(10 * time.Hour)
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
	// A toast left over from the step before would cover the page in the README.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`((t) => { if (t) t.className = "" })(document.getElementById("toast")), window.scrollTo(0, 0), true`)); err != nil {
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
	// A missing element fails the step, not the whole run at its deadline.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
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

// refusalCodes is every code a cashier or manager can be shown for a refusal: the
// engine's, the engine's own attempt codes, every WeChat/wxpay code, the API's own.
func refusalCodes() []string {
	var out []string
	out = append(out, engine.Codes()...)
	out = append(out, engine.InfoCodes()...)
	out = append(out, wxpay.Codes()...)
	out = append(out, Codes()...)
	return out
}

var hanRE = regexp.MustCompile(`\p{Han}`)

// fits checks that the element's box lies inside the viewport: no scrolling to reach it.
func fits(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); if (!e) return "missing";
		const r = e.getBoundingClientRect(); if (r.width === 0) return "hidden";
		return r.bottom <= innerHeight && r.right <= innerWidth && r.top >= 0 ? "" : "at " + r.left + "," + r.top + "–" + r.right + "," + r.bottom + " in " + innerWidth + "×" + innerHeight; })()`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	if got != "" {
		t.Errorf("%s does not fit the screen: %s", sel, got)
	}
}

// TestBrowser_Till drives the real UI in headless Chromium against the real engine and the
// WeChat Pay simulator: a demo sale from the keypad to the receipt, a sale waiting for the
// customer's password, refused codes (every code, both languages), cancel, the manager PIN
// (wrong, then right), the sales list, a confirmed refund, the day report, the devices,
// the logs, and the cashier's screen at 800×600 and 1024×768.
func TestBrowser_Till(t *testing.T) {
	st := newRealStack(t) // first, so its cleanup runs after the browser's
	ctx, problems := browser(t)
	needCJKFont(t)
	dir := os.Getenv("POSD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	codeN := 0
	nextCode := func() string { codeN++; return fmt.Sprintf("1345678901234567%02d", codeN) }
	wait := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	poll := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second))
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	lang := func(l string) {
		t.Helper()
		if eval(`document.documentElement.lang`) != map[string]string{"en": "en", "zh": "zh-Hant-HK"}[l] {
			run(t, ctx, "switch language", chromedp.Click(chromedp.CSS("#btn-lang")))
		}
	}
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
		run(t, ctx, "scan and get paid", scanCode(nextCode()), wait("#state.state-paid"), wait("#receipts figure.receipt img"))
		if got := text(t, ctx, "#state"); !strings.Contains(got, "Paid") || !strings.Contains(got, "HKD wallet") {
			t.Fatalf("paid screen %q", got)
		}
		// The receipt is the printer's image; its text (alt) has no decoder markup.
		alt := eval(`document.querySelector("#receipts img").alt`)
		if !strings.Contains(alt, "10.01") || strings.Contains(alt, "C|") || strings.Contains(alt, "**") || strings.Contains(alt, "^^") {
			t.Fatalf("receipt text %q", alt)
		}
		run(t, ctx, "the image loads", poll(`document.querySelector("#receipts img").naturalWidth > 0`))
		shot(t, ctx, dir, "cashier-paid")
	})

	t.Run("USERPAYING sale shows progress", func(t *testing.T) {
		// The keyboard works like the keypad: Enter starts a new sale, digits, Enter charges.
		run(t, ctx, "new sale by keyboard", chromedp.KeyEvent("\r"), wait("#state.state-idle"),
			chromedp.KeyEvent("1002"), chromedp.KeyEvent("\r"), wait("#state.state-scan"))
		run(t, ctx, "scan", scanCode(nextCode()), wait("#state.state-paying"))
		run(t, ctx, "waiting for the password", poll(`document.getElementById("state-title").textContent.includes("password")`))
		if got := text(t, ctx, "#state-time"); !regexp.MustCompile(`^\d+ seconds? left`).MatchString(got) {
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
		run(t, ctx, "its receipt", poll(`document.querySelector("#receipts figure img").alt.includes("10.07")`))
		shot(t, ctx, dir, "cashier-paid-cny")
	})

	t.Run("refused code: the heading says what to do next", func(t *testing.T) {
		run(t, ctx, "sale of 10.03", chromedp.Click(chromedp.CSS("#btn-new")), clickKeys("1", "0", "0", "3"),
			chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
		run(t, ctx, "scan: not enough balance", scanCode(nextCode()), wait("#state.state-failed"))
		// Not enough balance: scanning again does not help, another way to pay does.
		if got := text(t, ctx, "#state-title"); got != "Ask for another payment method" {
			t.Fatalf("title %q", got)
		}
		if got := text(t, ctx, "#state-detail .error-msg"); !strings.Contains(got, "another payment method") {
			t.Fatalf("sentence %q", got)
		}
		shot(t, ctx, dir, "cashier-failed")
		lang("zh")
		if got := text(t, ctx, "#state-title"); got != "請顧客改用其他付款方式" {
			t.Fatalf("title in Chinese %q", got)
		}
		if got := text(t, ctx, "#state-detail .error-msg"); !strings.Contains(got, "餘額不足") {
			t.Fatalf("NOT_ENOUGH in Chinese: %q", got)
		}
		shot(t, ctx, dir, "cashier-failed-zh")
		lang("en")
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
			poll(`document.querySelector("#state-detail .error-msg").dataset.code === "invalid_code"`))
		if got := text(t, ctx, "#state-detail .error-msg"); !strings.Contains(strings.ToLower(got), "barcode") {
			t.Fatalf("product barcode message %q", got)
		}
		if got := text(t, ctx, "#state-title"); got != "Scan again" {
			t.Fatalf("title after a barcode %q", got)
		}
		if after := micropays(); after != before {
			t.Fatalf("a product barcode reached WeChat (%d micropays)", after-before)
		}
	})

	t.Run("every refusal code in both languages", func(t *testing.T) {
		// The sale waits for a code; each refusal reaches the page as a notice, the way a
		// refused hardware scan does, and takes the place of the prompt.
		codes := refusalCodes()
		for _, l := range []string{"en", "zh"} {
			lang(l)
			for i, c := range codes {
				// Alternate an empty message (the page's own sentence) with the server's.
				msg := ""
				if i%2 == 1 {
					msg = "Server sentence for " + c
				}
				st.srv.Notify(Notice{Code: c, Message: msg})
				run(t, ctx, "notice "+c, poll(`(() => { const e = document.querySelector("#state-detail .error-msg"); return e && e.dataset.code === `+strconv.Quote(c)+`; })()`))
				got := text(t, ctx, "#state-detail .error-msg")
				switch {
				case strings.TrimSpace(got) == "" || got == c || strings.HasPrefix(got, "err."):
					t.Errorf("%s %s: no sentence (%q)", l, c, got)
				case l == "zh" && !hanRE.MatchString(got):
					t.Errorf("%s: shown in English in Chinese mode: %q", c, got)
				case l == "en" && hanRE.MatchString(got):
					t.Errorf("%s: Chinese in English mode: %q", c, got)
				}
				title := text(t, ctx, "#state-title")
				if l == "zh" && !hanRE.MatchString(title) {
					t.Errorf("%s: heading %q in Chinese mode", c, title)
				}
				switch c {
				case "NOT_ENOUGH", "NOTENOUGH", "NOTSUPORTCARD", "TRADE_ERROR", "PAYERROR":
					if want := map[string]string{"en": "Ask for another payment method", "zh": "請顧客改用其他付款方式"}[l]; title != want {
						t.Errorf("%s: heading %q, want %q", c, title, want)
					}
				case "AUTHCODE_EXPIRE", "AUTHCODEEXPIRE", "AUTH_CODE_INVALID", "REVERSED", "code_used", "invalid_code":
					if want := map[string]string{"en": "Scan again", "zh": "請重新掃描"}[l]; title != want {
						t.Errorf("%s: heading %q, want %q", c, title, want)
					}
				}
				if c == "REVERSED" && l == "en" && msg == "" && (!strings.Contains(got, "Scan a fresh payment code") || strings.Contains(got, "Ask the customer to scan")) {
					t.Errorf("after a reversal the cashier reads %q", got)
				}
			}
		}
		st.srv.Notify(Notice{Code: "AUTHCODE_EXPIRE"})
		run(t, ctx, "AUTHCODE_EXPIRE in Chinese", poll(`document.querySelector("#state-detail .error-msg").dataset.code === "AUTHCODE_EXPIRE"`))
		shot(t, ctx, dir, "cashier-rescan-zh")
		lang("en")
	})

	t.Run("cancel", func(t *testing.T) {
		run(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#btn-cancel")), wait("#state.state-cancelled"))
		shot(t, ctx, dir, "cashier-cancelled")
	})

	t.Run("a scan with no open sale", func(t *testing.T) {
		// The cashier screen is the POS: the sentence says to charge here first.
		run(t, ctx, "scan", scanCode(nextCode()), poll(`document.getElementById("toast").textContent.includes("press Charge")`))
		lang("zh")
		run(t, ctx, "scan", scanCode(nextCode()), poll(`document.getElementById("toast").textContent.includes("收款")`))
		lang("en")
	})

	t.Run("Traditional Chinese", func(t *testing.T) {
		lang("zh")
		if got := text(t, ctx, "#state-title"); got != "已取消" {
			t.Fatalf("title %q", got)
		}
		run(t, ctx, "sale in Chinese", chromedp.Click(chromedp.CSS("#btn-new")), clickKeys("2", "5", "0", "0"),
			chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
		if got := text(t, ctx, "#state-title"); got != "請掃描顧客的付款碼" {
			t.Fatalf("title %q", got)
		}
		shot(t, ctx, dir, "cashier-zh")
		run(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#btn-cancel")), wait("#state.state-cancelled"))
		lang("en")
	})

	t.Run("manager PIN wrong then right", func(t *testing.T) {
		run(t, ctx, "open manager", chromedp.Click(chromedp.CSS("#btn-manager")), wait("#view-pin"))
		var pad []chromedp.Action[chromedp.Void]
		for _, k := range "1111" {
			pad = append(pad, chromedp.Click(chromedp.CSS(`#pinpad button[data-key="`+string(k)+`"]`)))
		}
		run(t, ctx, "wrong PIN", chromedp.Steps(pad...), chromedp.Click(chromedp.CSS("#pin-submit")),
			poll(`document.getElementById("pin-msg").dataset.code === "wrong_pin"`))
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
	})

	t.Run("sales list: consecutive numbers, HK dates", func(t *testing.T) {
		nos := eval(`[...document.querySelectorAll("#sales-body tr td:first-child")].map(td => td.textContent).reverse().join(",")`)
		if nos != "1,2,3,4,5" {
			t.Fatalf("sale numbers %q, want 1,2,3,4,5 (sales must not skip numbers)", nos)
		}
		today := time.Now().In(engine.HongKong()).Format(time.DateOnly)
		if got := eval(`document.getElementById("f-date").value`); got != today {
			t.Fatalf("date field %q, want %s", got, today)
		}
		run(t, ctx, "previous day", chromedp.Click(chromedp.CSS("#date-prev")), wait("#sales-empty"))
		if got := eval(`document.getElementById("f-date").value`); !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(got) || got == today {
			t.Fatalf("date after ◀ %q", got)
		}
		run(t, ctx, "a typed date", chromedp.SetValue(chromedp.CSS("#f-date"), "25/11/2026"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("f-date").dispatchEvent(new Event("change"))`),
			poll(`document.getElementById("f-date").classList.contains("invalid")`))
		run(t, ctx, "today", chromedp.Click(chromedp.CSS("#date-today")), wait("#sales-body tr[data-state=paid]"))
	})

	t.Run("refund with confirmation", func(t *testing.T) {
		run(t, ctx, "open the first paid sale", chromedp.Click(chromedp.CSS(`#sales-body tr[data-state=paid]:last-of-type`)),
			wait("#detail .attempt"), wait("#refund-form"))
		first := eval(`document.querySelector("#sales-body tr[data-state=paid]:last-of-type").dataset.id`)
		run(t, ctx, "ask for 3.00", chromedp.SetValue(chromedp.CSS("#refund-amount"), "3.00"),
			chromedp.SetValue(chromedp.CSS("#refund-reason"), "damaged item"), chromedp.Click(chromedp.CSS("#btn-refund")),
			wait("#refund-confirm"))
		// Nothing is sent before the confirmation.
		if s, _ := st.eng.Sale(first); len(s.Refunds) != 0 {
			t.Fatal("refund sent before the manager confirmed")
		}
		if got := text(t, ctx, "#refund-confirm"); !strings.Contains(got, "Refund HK$ 3.00") {
			t.Fatalf("confirmation %q", got)
		}
		shot(t, ctx, dir, "manager-refund-confirm")
		run(t, ctx, "confirm", chromedp.Click(chromedp.CSS("#btn-refund-yes")),
			poll(`document.getElementById("detail").innerText.includes("damaged item")`),
			poll(`document.getElementById("toast").classList.contains("show")`))
		// The toast leaves the refund form readable.
		overlap := eval(`(() => { const a = document.getElementById("toast").getBoundingClientRect(), f = document.getElementById("refund-form");
			if (!f) return ""; const b = f.getBoundingClientRect();
			return (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) ? "overlap" : ""; })()`)
		if overlap != "" {
			t.Error("the toast covers the refund form")
		}
		if got := text(t, ctx, "#detail"); !strings.Contains(got, "HK$ 3.00") || !strings.Contains(got, "Refundable: HK$ 7.0") {
			t.Fatalf("detail after refund: %q", got)
		}
		shot(t, ctx, dir, "manager-refund")
		run(t, ctx, "refund the rest", chromedp.Click(chromedp.CSS("#btn-refund-full")), wait("#refund-confirm"),
			chromedp.Click(chromedp.CSS("#btn-refund-yes")), chromedp.WaitNotPresent(chromedp.CSS("#refund-form")))
		run(t, ctx, "the list shows the refund", poll(`document.querySelector('#sales-body tr[data-id="`+first+`"] td.refunded').textContent.includes("HK$ 10.01")`))
		if got := text(t, ctx, "#sales-total"); !strings.Contains(got, "refunded HK$ 10.01") || !strings.Contains(got, "net HK$ 20.09") {
			t.Fatalf("total line %q", got)
		}
		shot(t, ctx, dir, "manager-sales")
		var refunded int64
		sales, err := st.eng.Sales("")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sales {
			for _, r := range s.Refunds {
				refunded += r.Amount
			}
		}
		if refunded != 1001 {
			t.Fatalf("engine has %d cents refunded, want all 1001", refunded)
		}
	})

	t.Run("CSV export: BOM, dollars", func(t *testing.T) {
		head, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById("export-csv").href).then(r => r.arrayBuffer()).then(b => [...new Uint8Array(b).slice(0, 3)].join(","))`, chromedp.EvalAwaitPromise))
		if err != nil || head != "239,187,191" {
			t.Fatalf("CSV does not start with a UTF-8 BOM: %q %v", head, err)
		}
		csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById("export-csv").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.Contains(csv, ",10.07,HKD,") || strings.Count(csv, "\n") < 5 {
			t.Fatalf("CSV export: %v %q", err, csv)
		}
	})

	t.Run("needs attention: a normal refund is not there", func(t *testing.T) {
		run(t, ctx, "attention tab", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="attention"]`)), wait("#jobs-none"))
		if n := eval(`String(document.querySelectorAll("#jobs .attention-item").length)`); n != "0" {
			t.Fatalf("%s items need attention after normal refunds", n)
		}
	})

	t.Run("day report", func(t *testing.T) {
		run(t, ctx, "day tab", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="day"]`)), wait("#wallets tbody tr"), wait("#recon-none"))
		if got := text(t, ctx, "#day .cards"); !strings.Contains(got, "HK$ 30.10") {
			t.Fatalf("day cards %q", got)
		}
		if got := text(t, ctx, "#wallets"); !strings.Contains(got, "CNY") || !strings.Contains(got, "HKD") {
			t.Fatalf("wallets %q", got)
		}
		// The report counts a sale in its Hong Kong hour, whatever the zone of the machine
		// running the test.
		sales, err := st.eng.Sales("")
		if err != nil || len(sales) == 0 {
			t.Fatal(err)
		}
		hour := strconv.Itoa(sales[len(sales)-1].CreatedAt.In(engine.HongKong()).Hour())
		if n := eval(`String(document.querySelectorAll('#by-hour tr[data-hour="` + hour + `"]').length)`); n != "1" {
			t.Fatalf("by-hour has no row for hour %s (HK): %q", hour, text(t, ctx, "#by-hour"))
		}
		got := text(t, ctx, "#recon")
		if !strings.Contains(got, "Not reconciled yet") || !strings.Contains(got, " 10:00:00") || strings.Contains(got, "No such sale") {
			t.Fatalf("reconciliation %q", got)
		}
		if n := eval(`String(document.querySelectorAll("#recon .error-msg").length)`); n != "0" {
			t.Fatal("the day report shows an error for a day not reconciled yet")
		}
		shot(t, ctx, dir, "manager-day-report")
		run(t, ctx, "print the Z report", chromedp.Click(chromedp.CSS("#btn-print-report")),
			poll(`document.getElementById("toast").textContent.includes("Z report sent")`))
		st.mu.Lock()
		n := len(st.printed)
		st.mu.Unlock()
		if n != 1 {
			t.Fatalf("%d day reports printed", n)
		}
	})

	t.Run("devices as cards", func(t *testing.T) {
		run(t, ctx, "devices", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="devices"]`)), wait(`#devices .device[data-device="scanner"]`))
		got := text(t, ctx, "#devices .device-cards")
		st.mu.Lock()
		scans := st.scans
		st.mu.Unlock()
		for _, want := range []string{"Scanner: virtual scanner", "Connected since 2026-11-25 09:00:00", fmt.Sprintf("%d codes scanned", scans),
			"Ready, paper loaded", "Reachable", "WeChat Pay platform certificate: 200 days left", "WeChat Pay merchant certificate: 20 days left"} {
			if !strings.Contains(got, want) {
				t.Errorf("devices lack %q: %q", want, got)
			}
		}
		if scans < 5 {
			t.Errorf("only %d scans counted", scans)
		}
		if regexp.MustCompile(`\d\d:\d\d:\d\d\.\d`).MatchString(got) || strings.Contains(got, "T01:00") {
			t.Errorf("raw timestamps in the device cards: %q", got)
		}
		if got := text(t, ctx, "#version"); !strings.Contains(got, "1.4.0 (5a55b8a1c2d3)") {
			t.Errorf("version %q", got)
		}
		if n := eval(`String(document.querySelectorAll("#devices details.raw").length)`); n != "1" {
			t.Error("no details link for the raw documents")
		}
		shot(t, ctx, dir, "manager-devices")
	})

	t.Run("receipts as images", func(t *testing.T) {
		run(t, ctx, "receipts", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="receipts"]`)), wait("#mgr-receipts figure.receipt img"))
		if got := text(t, ctx, "#mgr-receipts"); strings.Contains(got, "C|") || strings.Contains(got, "**") {
			t.Fatalf("decoder markup in the receipts tab: %q", got)
		}
	})

	t.Run("manager area in Chinese", func(t *testing.T) {
		lang("zh")
		run(t, ctx, "devices", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="devices"]`)), wait(`#devices .device[data-device="printer"]`),
			poll(`document.querySelector("#devices .device-cards").innerText.includes("已連接")`))
		shot(t, ctx, dir, "manager-devices-zh")
		run(t, ctx, "sales", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="sales"]`)), wait("#sales-body tr"),
			poll(`document.getElementById("sales-total").textContent.includes("淨額")`))
		run(t, ctx, "day", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="day"]`)), wait("#recon-none"))
		if got := text(t, ctx, "#recon-none"); !strings.Contains(got, "尚未核對") {
			t.Fatalf("not reconciled yet in Chinese: %q", got)
		}
		shot(t, ctx, dir, "manager-day-report-zh")
		lang("en")
	})

	t.Run("logs view", func(t *testing.T) {
		run(t, ctx, "logs tab", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="logs"]`)), wait("#logs-body tr"))
		all, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#logs-body tr").length`))
		if err != nil {
			t.Fatal(err)
		}
		first := text(t, ctx, "#logs-body tr:last-child td:nth-child(3)")
		run(t, ctx, "search", chromedp.SendKeys(chromedp.CSS("#log-q"), first),
			poll(`(() => { const q = document.getElementById("log-q").value.toLowerCase();
			const rows = [...document.querySelectorAll("#logs-body tr")];
			return rows.length > 0 && rows.every(tr => tr.innerText.toLowerCase().includes(q)); })()`))
		if all == 0 {
			t.Fatal("no log rows")
		}
		if got := text(t, ctx, "#logs-body tr:first-child td:first-child"); !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`).MatchString(got) {
			t.Fatalf("log time %q", got)
		}
		shot(t, ctx, dir, "manager-logs")
	})

	t.Run("lock manager", func(t *testing.T) {
		run(t, ctx, "lock", chromedp.Click(chromedp.CSS("#btn-lock")), wait("#view-cashier"),
			chromedp.Click(chromedp.CSS("#btn-manager")), wait("#view-pin"))
	})

	t.Run("small screens: 800×600 and 1024×768", func(t *testing.T) {
		for _, sz := range [][2]int64{{800, 600}, {1024, 768}} {
			name := fmt.Sprintf("%dx%d", sz[0], sz[1])
			run(t, ctx, name, chromedp.EmulateViewport(sz[0], sz[1]), chromedp.Click(chromedp.CSS("#btn-cashier")), wait("#view-cashier"),
				clickKeys("C", "1", "2", "5", "0"))
			for _, sel := range []string{`#keypad button[data-key="C"]`, `#keypad button[data-key="7"]`, "#btn-charge", "#state"} {
				fits(t, ctx, sel)
			}
			shot(t, ctx, dir, "cashier-"+name)
			run(t, ctx, "charge", chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"))
			fits(t, ctx, "#btn-cancel")
			lang("zh")
			fits(t, ctx, "#btn-cancel")
			fits(t, ctx, "#state-title")
			lang("en")
			run(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#btn-cancel")), wait("#state.state-cancelled"))
			run(t, ctx, "PIN pad", chromedp.Click(chromedp.CSS("#btn-manager")), wait("#view-pin"))
			for _, sel := range []string{"#pin-submit", `#pinpad button[data-key="0"]`, "#pin-input"} {
				fits(t, ctx, sel)
			}
			if sz[0] == 800 {
				shot(t, ctx, dir, "manager-pin-"+name)
			}
			run(t, ctx, "back", chromedp.Click(chromedp.CSS("#pin-back")), wait("#view-cashier"))
		}
		run(t, ctx, "normal size", chromedp.EmulateViewport(1280, 900), clickKeys("C"))
	})

	t.Run("cancel while the customer is paying: reversed", func(t *testing.T) {
		run(t, ctx, "sale of 10.06 (the customer never confirms)", chromedp.Click(chromedp.CSS("#btn-cashier")), wait("#view-cashier"),
			clickKeys("C", "1", "0", "0", "6"),
			chromedp.Click(chromedp.CSS("#btn-charge")), wait("#state.state-scan"), scanCode(nextCode()),
			poll(`document.getElementById("state-title").textContent.includes("password")`))
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
			poll(`document.getElementById("amount").textContent === "HK$ 12.34"`))
		run(t, ctx, "cancel with Escape", chromedp.KeyEvent(kb.Escape), wait("#state.state-cancelled"))
	})
	t.Run("a screen that is not the till logs in", func(t *testing.T) {
		// The same till without a kiosk: what a browser elsewhere in the shop sees.
		srv, err := New(Options{Till: st.eng, Token: testToken, ManagerPIN: testPIN, Location: engine.HongKong()})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		defer srv.Close()
		run(t, ctx, "login page", chromedp.Navigate(hs.URL+"/"), wait("#view-login"),
			chromedp.SendKeys(chromedp.CSS("#login-token"), "not-the-token"), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
			poll(`document.getElementById("login-msg").textContent.includes("Wrong API token")`))
		run(t, ctx, "token login", chromedp.SendKeys(chromedp.CSS("#login-token"), testToken),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")), wait("#view-cashier"))
		if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#login-token"))); err != nil || v != "" {
			t.Fatalf("the token stays in the page: %q %v", v, err)
		}
	})
	t.Run("a one-time login link opens the cashier screen", func(t *testing.T) {
		// What posd demo prints: no kiosk, no token typed.
		srv, err := New(Options{Till: st.eng, Token: testToken, ManagerPIN: testPIN, Location: engine.HongKong()})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		defer srv.Close()
		link, _ := srv.LoginLink(time.Minute)
		run(t, ctx, "login link", chromedp.Navigate(hs.URL+link), wait("#view-cashier"))
	})
	t.Run("needs attention: advice on every item", func(t *testing.T) {
		// A till whose queue holds stuck work: one item with posd's advice, one without
		// (the page then gives the advice for its kind).
		till := newFakeTill(time.Now)
		till.jobs = []engine.Job{
			{ID: "resolve:a", Kind: "resolve", SaleID: "HK001-T01-261126-3", Tries: 12, Attention: true,
				Advice: "WeChat Pay has not settled order HK001_T01_261126000004 after 12 tries.", LastError: "TIMEOUT"},
			{ID: "refund:b", Kind: "refund", SaleID: "HK001-T01-261126-4", Tries: 30, Attention: true},
			{ID: "refund:c", Kind: "refund", SaleID: "HK001-T01-261126-5", Tries: 1},
		}
		till.status.Attention = 2
		srv, err := New(Options{Till: till, Token: testToken, ManagerPIN: testPIN, Kiosk: loopbackKiosk, Location: engine.HongKong()})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		defer srv.Close()
		run(t, ctx, "manager", chromedp.Navigate(hs.URL+"/"), wait("#view-cashier"), chromedp.Click(chromedp.CSS("#btn-manager")), wait("#view-pin"),
			chromedp.SendKeys(chromedp.CSS("#pin-input"), testPIN), chromedp.Click(chromedp.CSS("#pin-submit")), wait("#view-manager"),
			chromedp.Click(chromedp.CSS(`#tabs button[data-tab="attention"]`)), wait("#jobs .attention-item"))
		for _, l := range []string{"en", "zh"} {
			lang(l)
			run(t, ctx, "attention items", wait("#jobs .attention-item .advice"))
			advice := eval(`[...document.querySelectorAll("#jobs .attention-item .advice-text")].map(p => p.textContent).join("\n")`)
			lines := strings.Split(advice, "\n")
			if len(lines) != 2 {
				t.Fatalf("%s: %d attention items, want 2 (the refund still in progress is not one): %q", l, len(lines), advice)
			}
			for _, text := range lines {
				if len(strings.TrimSpace(text)) < 20 || (l == "zh" && !hanRE.MatchString(text)) {
					t.Errorf("%s: attention item without advice: %q", l, text)
				}
			}
			if n := eval(`String(document.querySelectorAll("#jobs-waiting tbody tr").length)`); n != "1" {
				t.Errorf("%s: %s jobs listed as waiting, want 1", l, n)
			}
			if l == "en" {
				shot(t, ctx, dir, "manager-attention")
			}
		}
		lang("en")
	})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("browser tests ran out of time")
	}
}
