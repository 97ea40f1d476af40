package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"posd/internal/discard"
	"posd/queue/engine"
	"posd/queue/report"
	"posd/wxpay"
)

//go:embed static
var staticFS embed.FS

// Till is the part of *engine.Engine the UI calls.
type Till interface {
	OpenSale(ctx context.Context, r engine.OpenSaleRequest) (*engine.Sale, error)
	Scan(ctx context.Context, code string) (*engine.Sale, error)
	Pay(ctx context.Context, saleID, code string) (*engine.Sale, error)
	Cancel(ctx context.Context, saleID string) (*engine.Sale, error)
	Refund(ctx context.Context, saleID string, amount int64, reason string) (*engine.Sale, error)
	Sale(id string) (*engine.Sale, error)
	Sales(day string) ([]*engine.Sale, error)
	Jobs() ([]engine.Job, error)
	Subscribe() (<-chan *engine.Sale, func())
	Status() engine.Status
}

var _ Till = (*engine.Engine)(nil)

// LogEntry is one log line as the manager's log view shows it.
type LogEntry struct {
	Time    time.Time         `json:"time"`
	Level   string            `json:"level"`
	Message string            `json:"msg"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Receipt is a printed (or queued) receipt with its previews from the printer's decoder.
type Receipt struct {
	ID     string    `json:"id"`
	SaleID string    `json:"sale_id,omitempty"`
	Kind   string    `json:"kind,omitempty"`  // sale, refund, reversal, report, ...
	State  string    `json:"state,omitempty"` // printed, queued, failed, ...
	At     time.Time `json:"at"`
	Text   string    `json:"text"`    // decoded ESC/POS as text
	PNG    []byte    `json:"-"`       // decoded ESC/POS as an image; served at /api/v1/receipts/{id}.png
	HasPNG bool      `json:"has_png"` // set by the UI
	Detail string    `json:"detail,omitempty"`
}

// Receipts gives the UI the printer's recent receipts and reprints. Either func may be nil.
type Receipts struct {
	Recent  func(n int) ([]Receipt, error)                 // newest first
	Reprint func(ctx context.Context, saleID string) error // print the sale's receipt again
}

// Alert is a problem the cashier must see (scanner unplugged, printer out of paper...).
// Code selects the translated text in the page; Message is shown when the page has none.
type Alert struct {
	Code     string `json:"code"`     // scanner_disconnected, printer_paper_out, printer_offline, wechat_unreachable, queue_waiting, attention, cert_expiring, ...
	Severity string `json:"severity"` // error, warning, info
	Message  string `json:"message"`
	Count    int    `json:"count,omitempty"`
}

// Alert codes. The page has a sentence for each (tested against AlertCodes).
const (
	AlertScannerDisconnected = "scanner_disconnected"
	AlertPrinterPaperOut     = "printer_paper_out"
	AlertPrinterOffline      = "printer_offline"
	AlertCertExpiring        = "cert_expiring"
	AlertWeChatUnreachable   = "wechat_unreachable"
	AlertQueueWaiting        = "queue_waiting"
	AlertAttention           = "attention"
	AlertNotReady            = "not_ready"
)

// AlertCodes lists every Alert.Code posd raises.
func AlertCodes() []string {
	return []string{AlertScannerDisconnected, AlertPrinterPaperOut, AlertPrinterOffline, AlertCertExpiring,
		AlertWeChatUnreachable, AlertQueueWaiting, AlertAttention, AlertNotReady}
}

// Options are the UI's dependencies. Only Till is required.
type Options struct {
	Till Till

	// Token is the bearer token for /api/v1. Empty: bearer access and token login are off.
	Token string
	// ManagerPIN unlocks refunds and the manager area. Empty: both are off.
	ManagerPIN string
	// Kiosk reports whether a request comes from the till's own kiosk browser, which then
	// gets a cashier session without a login (nobody is there to type a secret at boot).
	// Nil: nobody does; browsers log in with the token or a one-time login link.
	Kiosk func(r *http.Request) bool
	// OnLogin, when set, counts logins and PIN checks: method is token, pin, pin_header,
	// link or kiosk; result ok, wrong, locked or refused.
	OnLogin func(method, result string)
	// PINLockouts keeps the PIN lockout per source across restarts. Nil: memory only.
	PINLockouts LockoutStore
	// AllowedHosts are extra Host header names accepted besides IP literals and
	// "localhost" (a defence against DNS rebinding, which would otherwise make a hostile
	// site same-origin with the till).
	AllowedHosts []string

	// Demo shows the virtual scanner and the virtual printer's receipts to the cashier.
	Demo bool
	// VirtualScan feeds a code typed in the demo's virtual-scanner field into the scanner
	// pipeline; it should return the engine's error for a refused code. Nil: Till.Scan.
	VirtualScan func(ctx context.Context, code string) error
	// DemoCustomerPays makes the demo's simulated customer scan a QR code and pay it
	// (the customer display's demo button). Nil: no button.
	DemoCustomerPays func(ctx context.Context, codeURL string) error
	// AmountTable is the simulator's amount-driven behaviours, shown as a hint in demo.
	AmountTable any

	Receipts *Receipts
	// Logs returns up to n recent log entries at level or above whose text contains grep.
	Logs func(level, grep string, n int) []LogEntry
	// Health is the /healthz document, shown in the manager's device view.
	Health func() any
	// Devices describes scanners, printer, WeChat Pay, the journal and certificates for
	// the manager's Devices tab.
	Devices func() DeviceReport
	// Alerts are device problems for the cashier (the engine's are added by the UI).
	Alerts func() []Alert
	// Reconciliation returns a day's stored reconciliation result (nil when none yet);
	// Reconcile runs it now. Either may be nil.
	Reconciliation func(date string) (*report.Result, error)
	Reconcile      func(ctx context.Context, date string) (report.Result, error)
	// ReconcileNext is when the day will be reconciled by itself (zero: it will not).
	ReconcileNext func(date string) time.Time
	// PrintDayReport prints the day (Z) report on the receipt printer. Nil: no button.
	PrintDayReport func(ctx context.Context, r report.DayReport) error

	// Healthz and Metrics, when set, are served at /healthz and /metrics, as HealthAccess
	// says: "open" (default) to loopback clients only, "token" to bearer callers only
	// (a monitoring host on the LAN).
	Healthz      http.Handler
	Metrics      http.Handler
	HealthAccess string

	StoreID, TillID, MerchantName string
	Currency                      string         // default HKD
	Location                      *time.Location // for dates; default engine.HongKong()

	Now    func() time.Time
	Logger logrus.FieldLogger

	CashierTTL  time.Duration // cashier session lifetime; default 12h
	ManagerTTL  time.Duration // manager role idle timeout; default 15m
	PINMaxTries int           // wrong PINs in a row from one source before it is locked out; default 5
	// PINLockoutSteps are the lockouts after PINMaxTries wrong PINs, one step further for
	// each wrong PIN after that (the last repeats); default DefaultPINLockouts.
	PINLockoutSteps []time.Duration
	LoginLinkTTL    time.Duration // life of a login link from POST /api/v1/login-links; default 5m
	MaxBodyBytes    int64         // request body limit; default 64 KiB
	// Heartbeat is the SSE keep-alive interval; default 15s.
	Heartbeat time.Duration
}

// Server is the UI's http.Handler. Notify pushes a notice (a refused scan, for example)
// to every open page.
type Server struct {
	opt      Options
	mux      *http.ServeMux
	static   http.Handler
	log      logrus.FieldLogger
	sessions *sessionStore
	pin      *pinGuard
	links    *linkStore

	mu       sync.Mutex
	noticeID int
	notices  map[int]chan Notice
	done     chan struct{} // closed by Close: event streams end
	closed   bool
	streams  int            // open event streams
	perOwner map[string]int // open event streams by session id ("" for bearer callers)
}

// Event streams are engine subscribers. maxStreams bounds them all; a session may hold
// streamsPerSession (a page and a reload or two), bearer callers together
// streamsForBearer; the last screenStreams slots are kept for the till's own screen.
const (
	maxStreams        = 64
	streamsPerSession = 4
	streamsForBearer  = 16
	screenStreams     = 2
)

// Notice is a message for the cashier that is not part of a sale, such as a scan that
// was refused at the till. It reaches pages as an SSE "notice" event.
type Notice struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// New builds the handler.
func New(opt Options) (*Server, error) {
	if opt.Till == nil {
		return nil, errors.New("ui: Options.Till is required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = discard.Logger()
	}
	if opt.Currency == "" {
		opt.Currency = wxpay.DefaultCurrency
	}
	if opt.Location == nil {
		opt.Location = engine.HongKong()
	}
	if opt.CashierTTL <= 0 {
		opt.CashierTTL = 12 * time.Hour
	}
	if opt.ManagerTTL <= 0 {
		opt.ManagerTTL = 15 * time.Minute
	}
	if opt.PINMaxTries <= 0 {
		opt.PINMaxTries = 5
	}
	if len(opt.PINLockoutSteps) == 0 {
		opt.PINLockoutSteps = DefaultPINLockouts
	}
	switch opt.HealthAccess {
	case "":
		opt.HealthAccess = "open"
	case "open", "token":
	default:
		return nil, fmt.Errorf("ui: HealthAccess %q: want open or token", opt.HealthAccess)
	}
	if opt.LoginLinkTTL <= 0 {
		opt.LoginLinkTTL = 5 * time.Minute
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 10
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 15 * time.Second
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("ui: static assets: %w", err)
	}
	s := &Server{
		opt:      opt,
		mux:      http.NewServeMux(),
		static:   http.FileServerFS(sub),
		log:      opt.Logger.WithField("component", "ui"),
		sessions: newSessionStore(opt.Now),
		links:    &linkStore{now: opt.Now, m: map[[32]byte]time.Time{}},
		notices:  map[int]chan Notice{},
		perOwner: map[string]int{},
		done:     make(chan struct{}),
	}
	s.pin, err = newPINGuard(opt.ManagerPIN, opt.PINMaxTries, opt.PINLockoutSteps, opt.Now, opt.PINLockouts, s.log)
	if err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// ServeHTTP applies the headers every answer carries, refuses foreign Host names, then
// routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if !s.hostAllowed(r.Host) {
		writeError(w, &apiError{Status: http.StatusMisdirectedRequest, Code: CodeBadHost,
			Message: "This till does not answer to that host name"})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends every open event stream, so that http.Server.Shutdown does not wait for
// them (a stream never goes idle). The pages reconnect to the next server.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// Notify sends a notice to every open page (SSE event "notice"). It never blocks.
func (s *Server) Notify(n Notice) {
	if n.At.IsZero() {
		n.At = s.opt.Now()
	}
	n.Message = wxpay.MaskCodeRuns(n.Message) // a refused scan's text must not carry the code (security review)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.notices {
		select {
		case ch <- n:
		default: // a slow page misses a notice rather than slowing the scanner
		}
	}
}

func (s *Server) subscribeNotices() (<-chan Notice, func()) {
	ch := make(chan Notice, 8)
	s.mu.Lock()
	s.noticeID++
	id := s.noticeID
	s.notices[id] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.notices, id)
		s.mu.Unlock()
	}
}

func (s *Server) hostAllowed(host string) bool {
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name = host[:i]
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if name == "" || strings.EqualFold(name, "localhost") || isIPLiteral(name) {
		return true
	}
	for _, a := range s.opt.AllowedHosts {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}
