package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"posd/internal/config"
	"posd/internal/logging"
	"posd/internal/monitor"
	"posd/internal/receipts"
	"posd/printer"
	"posd/queue"
	"posd/queue/engine"
	"posd/queue/report"
	"posd/scanner"
	"posd/ui"
	"posd/wxpay"
)

// Daemon is a running till: journal, engine, scanners, printer spool and the HTTP server.
// run and demo build one; Shutdown takes it down in the order that keeps payments safe.
type Daemon struct {
	cfg     config.Config
	secrets *config.Secrets
	logging *logging.Logging
	log     *logrus.Entry
	metrics *monitor.Metrics

	db       *queue.DB
	gw       wxpay.Client
	eng      *engine.Engine
	spool    *printer.Spool
	prn      printer.Printer
	scanners *scanner.Supervisor
	ui       *ui.Server
	rec      *report.Reconciler
	srv      *http.Server
	ln       net.Listener
	url      string
	receipts *receipts.Policy

	// printText: configured texts that will not print as written (check-config's warnings).
	printText []string

	// virtualScanner: a [[scanner]] of kind "virtual" is configured, whose codes are
	// typed in the web UI (posd demo, a training till); vscans counts them.
	virtualScanner bool
	vscans         virtualScans
	commit         string
	onClose        []func()

	ctx      context.Context // cancelled by Shutdown: every background goroutine's
	cancel   context.CancelFunc
	reqCtx   context.Context // base of HTTP requests: cancelled so SSE streams end
	reqStop  context.CancelFunc
	wg       sync.WaitGroup
	stopping atomic.Bool
	startAt  time.Time
	readyIn  time.Duration
}

// Parts are a till's configuration, loaded: `posd run` reads them from posd.toml, `posd
// demo` builds them around the WeChat Pay simulator, with a virtual scanner and printer.
// Both go through the same code from here on.
type Parts struct {
	Config   config.Config
	Secrets  *config.Secrets
	Logging  *logging.Logging
	GWConfig wxpay.Config
	// Amounts is the simulator's amount-driven behaviours, shown in the UI as a hint
	// (nil against a real WeChat Pay).
	Amounts any
	OnClose []func()
	Version string // for /healthz
	Commit  string // the build's commit, for the manager's Devices tab
	// CustomerPays is the simulator's customer paying a QR code (posd demo's button on
	// the customer display); nil against a real WeChat Pay.
	CustomerPays func(ctx context.Context, codeURL string) error
}

// Start opens everything, recovers unfinished attempts, starts listening and only
// then tells systemd READY=1. On error everything opened so far is closed.
func Start(p Parts) (d *Daemon, err error) {
	if err := checkExposure(p); err != nil {
		return nil, err
	}
	d = &Daemon{cfg: p.Config, secrets: p.Secrets, logging: p.Logging, commit: p.Commit, onClose: p.OnClose, startAt: time.Now()}
	d.log = p.Logging.Logger.WithField("component", "posd")
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.reqCtx, d.reqStop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			d.Shutdown(context.Background())
		}
	}()
	d.metrics = monitor.NewMetrics()
	p.Logging.Redactor.AddSecret(d.secrets.SecretValues()...)

	// The order is the contract: the journal first, recovery before anything can take a
	// sale, scanners last (a scan's refusal is shown through the UI, which exists by then).
	steps := []func(Parts) error{
		d.openJournal,
		d.openPayments,
		d.openPrinter,
		d.recover,
		d.startBackground,
		d.openScanners,
		d.startHTTP,
	}
	for _, step := range steps {
		if err := step(p); err != nil {
			return d, err
		}
	}
	d.goRun("scanners", d.scanners.Run)
	d.readyIn = time.Since(d.startAt)
	if _, err := SdNotify(SdReady + "\nSTATUS=taking payments on " + d.url); err != nil {
		d.log.WithError(err).Warn("sd_notify READY failed")
	}
	d.goRun("watchdog", d.watchdog)
	d.log.WithFields(logrus.Fields{"url": d.url, "ready_in": d.readyIn.Round(time.Millisecond).String()}).Info("posd ready")
	return d, nil
}

// checkExposure refuses what would expose the till. ParseConfig and LoadSecrets refuse
// these already; Start is also reached by the demo and tests, so the daemon itself never
// serves plain HTTP beyond loopback nor runs with an empty API token (security review).
func checkExposure(p Parts) error {
	if host, _, herr := net.SplitHostPort(p.Config.HTTP.Listen); herr == nil && !config.IsLoopback(host) && (p.Secrets == nil || p.Secrets.HTTPCert == nil) {
		return fmt.Errorf("http.listen: %q is not a loopback address: set http.tls_cert_file and http.tls_key_file, or listen on 127.0.0.1", p.Config.HTTP.Listen)
	}
	if p.Secrets == nil || strings.TrimSpace(p.Secrets.APIToken) == "" {
		return errors.New("http.api_token_file: no API token loaded: posd does not start without one")
	}
	return nil
}

// openJournal opens the bbolt file that holds sales, attempts, the retry queue and print
// jobs.
func (d *Daemon) openJournal(Parts) (err error) {
	d.db, err = queue.Open(d.cfg.Storage.Path, queue.Options{Location: d.cfg.Location(), Logger: d.logger("queue")})
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	return nil
}

// openPayments builds the WeChat Pay client and the engine over it and the journal.
func (d *Daemon) openPayments(p Parts) (err error) {
	cfg := &d.cfg
	gwc := p.GWConfig
	gwc.Observer = d.metrics.ObserveWeChat
	gwc.Logger = d.logger("wxpay")
	d.gw, err = wxpay.New(gwc)
	if err != nil {
		return fmt.Errorf("wechat pay client: %w", err)
	}

	// The code hash key lives outside the journal (codekey.go); made at the first start.
	codeKeys, err := config.LoadCodeKeys(config.CodeKeyPath(cfg), time.Now(), true)
	if err != nil {
		return fmt.Errorf("code hash key: %w", err)
	}
	d.eng, err = engine.New(engine.Config{
		StoreID: cfg.Till.StoreID, TillID: cfg.Till.TillID,
		Currency: cfg.WxPay.Currency, Location: d.db.Location(),
		Description:  cfg.Till.MerchantName,
		PollUntil:    cfg.Engine.PollUntil.Duration,
		ReverseFloor: cfg.Engine.ReverseFloor.Duration,
		QueueRate:    cfg.Engine.QueueRate,
		CheckCode:    checkCodeFor(cfg.WxPay.API),
		CodeHashes:   config.CodeHasher(codeKeys, "posd-code/"+cfg.Till.StoreID+"/"+cfg.Till.TillID, time.Now),
		// QR Code Payment needs a notify_url for WeChat's sake (posd polls).
		QRCodePayment: cfg.WxPay.NotifyURL != "",
	}, d.gw, d.db, engine.RealClock(), d.logger("engine"))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	d.metrics.RegisterEngine(d.eng.Status)
	d.metrics.RegisterFleet(monitor.FleetSources{
		StoreID: cfg.Till.StoreID, TillID: cfg.Till.TillID,
		Version:          p.Version,
		OldestUnresolved: d.oldestUnresolved,
		JournalPath:      cfg.Storage.Path,
		ScannersConfigured: func() int {
			if d.scanners == nil {
				return 0
			}
			return len(d.scanners.Status())
		},
		Printer: func() (bool, bool) {
			if d.spool == nil {
				return false, false
			}
			st := d.spool.Status()
			held := st.HeldBy()
			return st.Healthy() || st.State == printer.SpoolDisabled, held != nil && held.PaperOut
		},
		Reachable: func() bool { return d.eng.Status().WeChatReachable },
	})
	return nil
}

// openPrinter opens the printer, its spool and the receipt policy. Jobs are durable in
// the journal's bbolt file, so a receipt survives a printer that is off, and the payment
// path never waits on paper.
func (d *Daemon) openPrinter(Parts) (err error) {
	cfg := &d.cfg
	d.prn, err = printer.Open(cfg.Printer)
	if err != nil {
		return fmt.Errorf("printer: %w", err)
	}
	format := cfg.Printer.Format()
	format.Location = d.db.Location() // receipts print the till's time
	d.spool, err = printer.NewSpool(d.db.Bolt(), d.prn, printer.SpoolOptions{
		Format: format,
		Logger: d.logger("printer"),
		OnChange: func(j printer.Job) {
			if j.State == printer.JobFailed || j.State == printer.JobWaitingPrinter && j.Tries == 1 {
				d.metrics.PrintFailed()
			}
		},
	})
	if err != nil {
		return fmt.Errorf("printer spool: %w", err)
	}
	d.printText = cfg.Printer.TextProblems(map[string]string{"till.merchant_name": cfg.Till.MerchantName})
	for _, p := range d.printText {
		d.logger("printer").Warn(p)
	}

	d.receipts = &receipts.Policy{
		Spool:    d.spool,
		Till:     receipts.Till{MerchantName: cfg.Till.MerchantName, StoreID: cfg.Till.StoreID, TillID: cfg.Till.TillID},
		Format:   format,
		Encoding: cfg.Printer.Encoding,
		Font:     cfg.Printer.Font,
		Enabled:  cfg.Printer.Kind != "none",
		Sale:     d.eng.Sale,
		Sales:    d.eng.Sales,
		Failed:   d.metrics.PrintFailed,
		Log:      d.logger("printer"),
	}
	return nil
}

// recover resumes every attempt left unfinished by a crash or a restart, before anything
// can take a sale, then starts the engine and queues receipts a crash may have lost.
func (d *Daemon) recover(Parts) error {
	// Subscribe before recovery, so outcomes that recovery settles get their receipts.
	sales, unsubscribe := d.eng.Subscribe()
	d.goRun("receipts", func(ctx context.Context) error {
		defer unsubscribe()
		return d.followSales(ctx, sales)
	})
	if err := d.eng.Recover(d.ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	d.goRun("engine", func(ctx context.Context) error { return d.eng.Run(ctx) })
	d.receipts.CatchUp()
	return nil
}

// startBackground starts the daily work: reconciliation, pruning, certificate refresh.
func (d *Daemon) startBackground(Parts) error {
	cfg := &d.cfg
	d.rec = NewReconciler(cfg, d.gw, d.db)
	d.rec.Log = d.logger("reconcile")
	d.rec.OnResult = d.metrics.Reconciled
	if cfg.Reconcile.Auto {
		d.goRun("reconcile", func(ctx context.Context) error {
			// A tick every 5 minutes is enough to notice the statement time; Run checks
			// whether yesterday is due and done itself.
			t := time.NewTicker(5 * time.Minute)
			defer t.Stop()
			d.rec.Run(ctx, t.C)
			return nil
		})
	}

	d.goRun("prune", d.prune)
	d.goRun("certificates", d.refreshCertificates)
	return nil
}

// openScanners builds the scanner supervisor; it runs once the UI is up. A virtual
// scanner's codes come from the web UI (uiOptions), so the supervisor only shows it.
func (d *Daemon) openScanners(Parts) (err error) {
	for _, c := range d.cfg.Scanner {
		d.virtualScanner = d.virtualScanner || c.Kind == "virtual"
	}
	d.scanners, err = scanner.NewSupervisor(d.cfg.Scanner, scanner.Options{
		Handler: d.handleScan,
		Logger:  d.logger("scanner"),
	})
	if err != nil {
		return &config.ConfigError{Problems: []config.Problem{{Key: "scanner", Msg: err.Error()}}}
	}
	return nil
}

// prune deletes sales past the retention, a minute after start and then daily, in small
// batches that never hold up a payment.
func (d *Daemon) prune(ctx context.Context) error {
	keep := time.Duration(d.cfg.Storage.RetentionDays) * 24 * time.Hour
	wait := time.Minute
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = 24 * time.Hour
		n, err := d.db.Prune(time.Now(), keep)
		l := d.logger("queue").WithField("deleted", n)
		if err != nil {
			l.WithError(err).Warn("pruning old sales failed")
		} else if n > 0 {
			l.Info("old sales pruned")
		}
	}
}

// certRefreshEvery is how often the v3 platform certificates are downloaded again: WeChat
// lists a new one 24 h before it is used and asks for polling at under 12 h.
var certRefreshEvery = 6 * time.Hour

// refreshCertificates downloads the v3 platform certificates on a timer, so a rotation is
// known before the first answer signed with the new one (the client also refreshes on an
// unknown serial, rate-limited).
func (d *Daemon) refreshCertificates(ctx context.Context) error {
	rf, ok := d.gw.(wxpay.CertificateRefresher)
	if !ok {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(certRefreshEvery):
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := rf.RefreshCertificates(cctx)
		cancel()
		if err != nil {
			d.logger("wxpay").WithError(err).Warn("platform certificate refresh failed; the last ones stay in use")
		}
	}
}

// logger is the shared logger with a component field.
func (d *Daemon) logger(component string) *logrus.Entry {
	return d.logging.Logger.WithField("component", component)
}

// goRun runs f until Shutdown; an error other than cancellation is logged.
func (d *Daemon) goRun(name string, f func(ctx context.Context) error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := f(d.ctx); err != nil && !errors.Is(err, context.Canceled) {
			d.log.WithError(err).WithField("task", name).Error("background task ended")
		}
	}()
}

// handleScan gives a scanned code to the engine. A refused code is never sent to WeChat;
// the cashier sees the engine's sentence on the screen.
func (d *Daemon) handleScan(s scanner.Scan) {
	if err := d.scan(d.ctx, s.Code, s.Device); err != nil {
		var ee *engine.Error
		msg, code := err.Error(), ui.CodeScanFailed
		if errors.As(err, &ee) {
			msg, code = ee.Message, ee.Code
		}
		if d.ui != nil {
			d.ui.Notify(ui.Notice{Code: code, Message: msg, At: time.Now()})
		}
	}
}

// scan is the shared path of hardware and virtual scanners.
func (d *Daemon) scan(ctx context.Context, code, device string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := d.eng.Scan(ctx, code)
	if err != nil {
		var ee *engine.Error
		if errors.As(err, &ee) && (ee.Code == engine.CodeInvalidCode || ee.Code == engine.CodeCodeUsed) {
			d.metrics.BadScan()
		}
		d.logger("scanner").WithError(err).WithFields(logrus.Fields{"device": device, "code": wxpay.MaskCode(code)}).Warn("scan refused")
	}
	return err
}

// followSales watches every persisted sale change: metrics, and receipts for paid sales,
// refunds and attempts reversed after a cancel. Enqueueing is idempotent (stable job ids),
// so seeing the same change twice prints once.
func (d *Daemon) followSales(ctx context.Context, ch <-chan *engine.Sale) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-ch:
			if !ok {
				return nil
			}
			d.metrics.ObserveSale(s)
			d.logSale(s)
			d.receipts.PrintFor(s)
		}
	}
}

func (d *Daemon) logSale(s *engine.Sale) {
	f := logrus.Fields{"sale": s.ID, "state": s.State, "amount": s.Amount}
	if n := len(s.Attempts); n > 0 {
		a := s.Attempts[n-1]
		f["out_trade_no"] = a.OutTradeNo
		f["attempt"] = a.State
		if a.Error != nil {
			f["error_code"] = a.Error.Code
		}
	}
	d.logger("engine").WithFields(f).Debug("sale changed")
}

// startHTTP listens and serves the UI, the API, /healthz and /metrics.
func (d *Daemon) startHTTP(p Parts) (err error) {
	h := d.healthSources(p.Version)
	opts, err := d.uiOptions(p, h)
	if err != nil {
		return err
	}
	d.ui, err = ui.New(opts)
	if err != nil {
		return fmt.Errorf("web ui: %w", err)
	}
	if err := d.listen(); err != nil {
		return err
	}
	d.serve()
	return nil
}

// healthSources are what /healthz asks: the engine, the journal, the devices.
func (d *Daemon) healthSources(version string) *monitor.HealthSources {
	return &monitor.HealthSources{
		Version: version,
		Status:  d.eng.Status,
		Storage: d.storageCheck,
		Certs:   func() []config.CertInfo { return d.certs() },
		Scanners: func() []monitor.ScannerHealth {
			var out []monitor.ScannerHealth
			for _, s := range d.scanners.Status() {
				sh := monitor.ScannerHealth{Name: s.Name, Connected: s.Connected, Error: s.LastError}
				if !s.LastScan.IsZero() {
					t := s.LastScan
					sh.LastScan = &t
				}
				out = append(out, sh)
			}
			return out
		},
		Printer: func() monitor.PrinterHealth {
			st := d.spool.Status()
			ph := monitor.PrinterHealth{Kind: d.cfg.Printer.Kind, OK: st.Healthy() || st.State == printer.SpoolDisabled, Error: st.LastError}
			if !st.Healthy() && ph.Error == "" {
				ph.Error = string(st.State)
			}
			return ph
		},
		Stopping: d.stopping.Load,
	}
}

// metricsHandler is /metrics. Gauges that move by themselves (days left, scanners
// plugged) are refreshed per scrape.
func (d *Daemon) metricsHandler() http.Handler {
	prom := promhttp.HandlerFor(d.metrics.Registry, promhttp.HandlerOpts{Registry: d.metrics.Registry})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		for _, s := range d.scanners.Status() {
			if s.Connected {
				n++
			}
		}
		d.metrics.SetScanners(n)
		d.metrics.SetCertificates(d.certs(), time.Now())
		prom.ServeHTTP(w, r)
	})
}

// uiOptions connects the web UI and API to the engine, the devices, the logs, the
// reconciliation and the receipt policy.
func (d *Daemon) uiOptions(p Parts, h *monitor.HealthSources) (ui.Options, error) {
	opts := ui.Options{
		Till:             d.eng,
		Token:            d.secrets.APIToken,
		ManagerPIN:       d.secrets.ManagerPIN,
		OnLogin:          d.metrics.Login,
		PINLockouts:      d.db.Aux("pin_lockout"),
		HealthAccess:     d.cfg.HTTP.HealthAccess,
		AllowedHosts:     d.cfg.HTTP.AllowedHosts,
		Demo:             d.virtualScanner,
		AmountTable:      p.Amounts,
		DemoCustomerPays: p.CustomerPays,
		Healthz:          h,
		Metrics:          d.metricsHandler(),
		StoreID:          d.cfg.Till.StoreID,
		TillID:           d.cfg.Till.TillID,
		MerchantName:     d.cfg.Till.MerchantName,
		Currency:         d.cfg.WxPay.Currency,
		Location:         d.db.Location(),
		Logger:           d.logger("ui"),
		Health:           func() any { return h.Check(context.Background()) },
		Devices:          func() ui.DeviceReport { return d.deviceReport(h) },
		Alerts:           d.alerts,
		Logs: func(level, grep string, n int) []ui.LogEntry {
			return d.logs(level, grep, n)
		},
		Reconciliation: d.rec.Load,
		Reconcile:      d.rec.RunDate,
		ReconcileNext:  d.rec.NextTry,
		Receipts: &ui.Receipts{
			Recent:  d.receipts.Recent,
			Reprint: d.receipts.Reprint,
		},
	}
	if name := d.cfg.HTTP.KioskUser; name != "" {
		uid, err := config.KioskUID(name)
		if err != nil {
			return ui.Options{}, &config.ConfigError{Problems: []config.Problem{{Key: "http.kiosk_user", Msg: err.Error()}}}
		}
		kl := d.logger("ui")
		opts.Kiosk = kioskCheck(uid, func(err error) { kl.WithError(err).Warn("cannot tell whether a client is the kiosk browser") })
	}
	if d.cfg.Printer.Kind != "none" { // a virtual printer (posd demo) prints it too
		opts.PrintDayReport = func(_ context.Context, r report.DayReport) error {
			_, err := d.spool.EnqueueReport(receipts.ZReport(r, d.cfg.Till.MerchantName, 0, printer.LangBoth))
			return err
		}
	}
	if d.virtualScanner {
		opts.VirtualScan = func(ctx context.Context, code string) error {
			d.vscans.add(time.Now())
			return d.scan(ctx, code, "virtual")
		}
	}
	return opts, nil
}

// listen opens the UI's port, with TLS when http.tls_* is set.
func (d *Daemon) listen() (err error) {
	d.ln, err = net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", d.cfg.HTTP.Listen, err)
	}
	scheme := "http"
	if d.secrets.HTTPCert != nil {
		d.ln = tls.NewListener(d.ln, &tls.Config{Certificates: []tls.Certificate{*d.secrets.HTTPCert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	d.url = scheme + "://" + d.ln.Addr().String() + "/"
	return nil
}

// serve runs the HTTP server on the listener until Shutdown.
func (d *Daemon) serve() {
	d.srv = &http.Server{
		Handler:           d.ui,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return d.reqCtx },
		// TLS handshake noise from port scanners and broken clients: debug level only.
		ErrorLog: log.New(logWriter{d.logger("http")}, "", 0),
	}
	ln := d.ln
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.WithError(err).Error("http server stopped")
		}
	}()
}

// logWriter turns net/http's error log lines into debug entries.
type logWriter struct{ l *logrus.Entry }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

// storageCheck is one read transaction on the journal.
func (d *Daemon) storageCheck(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		done <- d.db.View(func(tx engine.ReadTx) error { _, err := tx.DueJobs(time.Now(), 1); return err })
	}()
	select {
	case err := <-done:
		if err == nil && d.db.ReadOnly() {
			return errors.New("journal is read-only: new sales are refused")
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("journal did not answer: %w", ctx.Err())
	}
}

// certs is the configured certificates plus the platform certificates the v3 client uses.
func (d *Daemon) certs() []config.CertInfo {
	out := append([]config.CertInfo(nil), d.secrets.Certs...)
	if ce, ok := d.gw.(wxpay.CertificateExpirer); ok {
		if t := ce.CertificateExpiry(); !t.IsZero() {
			out = append(out, config.CertInfo{Key: "wxpay.platform_certificates", Subject: "WeChat Pay platform", NotAfter: t})
		}
	}
	return out
}

// alerts are the device problems the cashier must see.
func (d *Daemon) alerts() []ui.Alert {
	return monitor.Alerts(d.scanners.Status(), d.spool.Status(), d.certs(), time.Now())
}

func (d *Daemon) logs(level, grep string, n int) []ui.LogEntry {
	if d.logging.Ring == nil {
		return nil
	}
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		lv = logrus.InfoLevel
	}
	var out []ui.LogEntry
	for _, e := range d.logging.Ring.Entries(logging.LogFilter{MinLevel: lv, Grep: grep, N: n}) {
		out = append(out, ui.LogEntry(e))
	}
	return out
}

// watchdog pings systemd at half of WatchdogSec, but only while the main loop is healthy:
// the journal answers a read and the engine answers Status. A wedged journal or engine
// stops the pings, and systemd restarts posd; recovery resumes its work.
func (d *Daemon) watchdog(ctx context.Context) error {
	iv, err := SdWatchdogInterval()
	if err != nil {
		d.log.WithError(err).Warn("watchdog settings ignored")
	}
	if iv == 0 {
		iv = 30 * time.Second // still check health for /healthz and the log, just no pings
	}
	t := time.NewTicker(iv / 2)
	defer t.Stop()
	var lastStatus string
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := d.mainLoopHealthy(ctx, iv/4); err != nil {
			d.log.WithError(err).Error("health check failed; not pinging the watchdog")
			continue
		}
		msg := SdWatchdog
		// `systemctl status posd` shows the till's state; sent only when it changes.
		if st := d.statusLine(); st != lastStatus {
			msg += "\nSTATUS=" + st
			lastStatus = st
		}
		if _, err := SdNotify(msg); err != nil {
			d.log.WithError(err).Warn("sd_notify WATCHDOG failed")
		}
	}
}

// statusLine is the one-line state for systemd's STATUS=.
func (d *Daemon) statusLine() string {
	n, total := 0, 0
	for _, s := range d.scanners.Status() {
		total++
		if s.Connected {
			n++
		}
	}
	st := d.eng.Status()
	return fmt.Sprintf("taking payments on %s; scanners %d/%d; printer %s; unresolved %d; wechat reachable %t",
		d.url, n, total, d.spool.Status().State, st.Unresolved, st.WeChatReachable)
}

func (d *Daemon) mainLoopHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := d.storageCheck(ctx); err != nil && !d.db.ReadOnly() {
		return fmt.Errorf("journal: %w", err)
	}
	done := make(chan struct{})
	go func() { d.eng.Status(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("engine did not answer")
	}
}

// oldestUnresolved is when the oldest unresolved attempt's job was queued (zero: none).
func (d *Daemon) oldestUnresolved() time.Time {
	jobs, err := d.eng.Jobs()
	if err != nil {
		return time.Time{}
	}
	var oldest time.Time
	for _, j := range jobs {
		if j.Kind == "resolve" && (oldest.IsZero() || j.CreatedAt.Before(oldest)) {
			oldest = j.CreatedAt
		}
	}
	return oldest
}

// URL is where the UI listens.
func (d *Daemon) URL() string { return d.url }

// Journal is the open journal (the watchdog test closes it under the daemon's feet).
func (d *Daemon) Journal() *queue.DB { return d.db }

// Shutdown stops taking sales (in-flight attempts are left to recovery on the next
// start), stops the listeners and background work, and closes the journal last, after
// every durable write has finished. Safe to call more than once.
func (d *Daemon) Shutdown(ctx context.Context) {
	if !d.stopping.CompareAndSwap(false, true) {
		return
	}
	_, _ = SdNotify(SdStopping + "\nSTATUS=stopping")
	if d.log != nil {
		d.log.Info("stopping: no new sales")
	}
	if d.eng != nil {
		d.eng.Stop()
	}
	d.reqStop() // ends SSE streams so the HTTP shutdown does not wait on them
	if d.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = d.srv.Shutdown(sctx)
		cancel()
	} else if d.ln != nil {
		d.ln.Close()
	}
	d.cancel()
	if d.eng != nil {
		d.eng.Close() // waits for engine work; unfinished attempts stay in the journal
	}
	d.wg.Wait()
	if d.spool != nil {
		_ = d.spool.Close()
	}
	if d.prn != nil {
		_ = d.prn.Close()
	}
	if d.db != nil {
		if err := d.db.Close(); err != nil && d.log != nil {
			d.log.WithError(err).Error("close journal")
		}
	}
	if d.log != nil {
		d.log.Info("stopped")
	}
	for i := len(d.onClose) - 1; i >= 0; i-- {
		d.onClose[i]()
	}
}

// checkCodeFor is the payment-code check of the configured API: the v3 Multi-Wallet API
// also takes codes starting 160 (docs/wxpay-v2.md §4).
func checkCodeFor(api string) func(string) error {
	if api == wxpay.APIv2 {
		return wxpay.CheckAuthCode
	}
	return wxpay.CheckMultiWalletAuthCode
}

// NewReconciler is the reconciliation of this till's journal against WeChat's statement:
// the daemon runs it daily, `posd reconcile` once. Log and OnResult are the caller's.
func NewReconciler(cfg *config.Config, statements report.StatementSource, db *queue.DB) *report.Reconciler {
	return &report.Reconciler{
		Statements: statements, Sales: SalesByDay(db), Store: db, Location: db.Location(),
		Filter:           reconcileFilter(cfg),
		SaleByOutTradeNo: saleByOutTradeNo(db),
		ReadyAfter:       cfg.Reconcile.ReadyAfter.Duration, Retry: cfg.Reconcile.Retry.Duration,
	}
}

// SalesByDay reads one day's sales (2006-01-02, the journal's day) from the journal.
func SalesByDay(db *queue.DB) func(day string) ([]*engine.Sale, error) {
	return func(day string) ([]*engine.Sale, error) {
		var out []*engine.Sale
		err := db.View(func(tx engine.ReadTx) error {
			var err error
			out, err = tx.SalesByDay(day)
			return err
		})
		return out, err
	}
}

// reconcileFilter keeps this till's rows of the merchant-wide statement.
func reconcileFilter(cfg *config.Config) report.Filter {
	return report.Filter{DeviceID: cfg.Till.TillID, Prefix: cfg.Till.StoreID + "_" + cfg.Till.TillID + "_"}
}

// saleByOutTradeNo looks a sale up in the journal by an attempt's out_trade_no: the
// reconciliation finds the sale of a refund older than the days it reads.
func saleByOutTradeNo(db *queue.DB) func(string) (*engine.Sale, error) {
	return func(no string) (*engine.Sale, error) {
		var s *engine.Sale
		err := db.View(func(tx engine.ReadTx) error {
			var err error
			s, err = tx.SaleByOutTradeNo(no)
			return err
		})
		return s, err
	}
}

// LoginLink makes a one-time link that opens a cashier session in a browser (posd demo
// prints one, so its one command still opens the till's screen).
func (d *Daemon) LoginLink(ttl time.Duration) (string, time.Time) { return d.ui.LoginLink(ttl) }
