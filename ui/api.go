package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"posd/queue/engine"
	"posd/queue/report"
	"posd/wxpay"
)

// handler is one API call; a returned error becomes the JSON error answer.
type handler func(w http.ResponseWriter, r *http.Request, c caller) error

type endpoint struct {
	h       handler
	manager bool // needs a manager session, or X-Manager-PIN
}

type route map[string]endpoint

// apiRoute is one path of the local API and its methods. docs/openapi.yaml documents
// exactly these (TestOpenAPI_MatchesRoutes).
type apiRoute struct {
	path    string
	methods route
}

func (s *Server) apiRoutes() []apiRoute {
	return []apiRoute{
		{"/api/v1/sales", route{"GET": {h: s.listSales}, "POST": {h: s.openSale}}},
		{"/api/v1/sales/{id}", route{"GET": {h: s.getSale}}},
		{"/api/v1/sales/{id}/cancel", route{"POST": {h: s.cancelSale}}},
		{"/api/v1/sales/{id}/pay", route{"POST": {h: s.paySale}}},
		{"/api/v1/sales/{id}/refunds", route{"POST": {h: s.refundSale, manager: true}}},
		{"/api/v1/sales/{id}/reprint", route{"POST": {h: s.reprint}}},
		{"/api/v1/sales/{id}/qr", route{"POST": {h: s.showQR}}},
		{"/api/v1/sales/{id}/qr.svg", route{"GET": {h: s.qrSVG}}},
		{"/api/v1/scan", route{"POST": {h: s.virtualScan}}},
		{"/api/v1/events", route{"GET": {h: s.events}}},
		{"/api/v1/status", route{"GET": {h: s.status}}},
		{"/api/v1/login-links", route{"POST": {h: s.loginLinks}}},
		{"/api/v1/demo", route{"GET": {h: s.demo}}},
		{"/api/v1/demo/customer-pays", route{"POST": {h: s.demoCustomerPays}}},
		{"/api/v1/receipts", route{"GET": {h: s.receipts}}},
		{"/api/v1/receipts/{file}", route{"GET": {h: s.receiptPNG}}},
		{"/api/v1/jobs", route{"GET": {h: s.jobs, manager: true}}},
		{"/api/v1/logs", route{"GET": {h: s.logs, manager: true}}},
		{"/api/v1/devices", route{"GET": {h: s.devices, manager: true}}},
		{"/api/v1/reports/day", route{"GET": {h: s.dayReport, manager: true}}},
		{"/api/v1/reports/day/print", route{"POST": {h: s.printDayReport, manager: true}}},
		{"/api/v1/reports/reconciliation", route{
			"GET": {h: s.reconciliation, manager: true}, "POST": {h: s.reconcileNow, manager: true}}},
		{"/api/v1/export/journal", route{"GET": {h: s.exportJournal, manager: true}}},
	}
}

// uiRoutes are the page's session calls, outside /api/v1, with their one method.
var uiRoutes = map[string]string{"/ui/session": "GET", "/ui/login": "POST", "/ui/logout": "POST", "/ui/link": "GET"}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("/{$}", s.handleIndex)
	m.HandleFunc("/static/", s.handleStatic)
	m.HandleFunc("/ui/session", s.handleSession)
	m.HandleFunc("/ui/login", s.handleLogin)
	m.HandleFunc("/ui/logout", s.handleLogout)
	m.HandleFunc("/ui/link", s.handleLink)
	for _, r := range s.apiRoutes() {
		m.HandleFunc(r.path, s.api(r.methods))
	}
	m.HandleFunc("/customer", s.handleCustomer)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("No such API call: "+r.URL.Path))
	})
	if s.opt.Healthz != nil {
		m.Handle("/healthz", s.monitoring(s.opt.Healthz))
	}
	if s.opt.Metrics != nil {
		m.Handle("/metrics", s.monitoring(s.opt.Metrics))
	}
}

// api checks the method, authenticates, checks the manager role, then calls the endpoint.
func (s *Server) api(rt route) http.HandlerFunc {
	allow := make([]string, 0, len(rt))
	for m := range rt {
		allow = append(allow, m)
	}
	sort.Strings(allow)
	allowed := strings.Join(allow, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		ep, ok := rt[r.Method]
		if !ok {
			w.Header().Set("Allow", allowed)
			writeError(w, errMethod(allowed))
			return
		}
		c, aerr := s.authenticate(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if ep.manager {
			if aerr := s.requireManager(r, c); aerr != nil {
				writeError(w, aerr)
				return
			}
		}
		if err := ep.h(w, r, c); err != nil {
			ae := toAPIError(err)
			if ae.Status >= 500 {
				s.log.WithError(err).WithField("path", r.URL.Path).Warn("api call failed")
			}
			writeError(w, ae)
		}
	}
}

// decode reads a JSON body: application/json only (a cross-site form cannot send it
// without a CORS preflight), at most MaxBodyBytes, no unknown fields, one value.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
			Message: "Send the body as Content-Type: application/json"}
	}
	if r.ContentLength > s.opt.MaxBodyBytes {
		return errTooLarge(s.opt.MaxBodyBytes)
	}
	body := http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge(mbe.Limit)
		}
		if errors.Is(err, io.EOF) {
			return errBadRequest("Empty body: send a JSON object")
		}
		return errBadRequest("Bad JSON: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge(mbe.Limit)
		}
		return errBadRequest("Bad JSON: one object expected")
	}
	return nil
}

func saleID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 128 {
		return "", errNotFound("No such sale")
	}
	return id, nil
}

func (s *Server) dateParam(r *http.Request) (string, error) {
	d := r.URL.Query().Get("date")
	if d == "" {
		return s.opt.Now().In(s.opt.Location).Format(time.DateOnly), nil
	}
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return "", errBadRequest("Date must look like 2026-11-26")
	}
	return d, nil
}

type openSaleRequest struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	Reference   string `json:"reference"`
	AuthCode    string `json:"auth_code"`
}

func (s *Server) openSale(w http.ResponseWriter, r *http.Request, _ caller) error {
	var req openSaleRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Amount <= 0 {
		return errBadRequest("Amount must be a positive number of cents")
	}
	if req.Currency == "" {
		req.Currency = s.opt.Currency
	}
	if len(req.Description) > 127 || len(req.Reference) > 64 {
		return errBadRequest("Description is limited to 127 bytes and reference to 64")
	}
	if err := plainText("description", req.Description); err != nil {
		return err
	}
	if err := plainText("reference", req.Reference); err != nil {
		return err
	}
	sale, err := s.opt.Till.OpenSale(r.Context(), engine.OpenSaleRequest{Amount: req.Amount,
		Currency: req.Currency, Description: req.Description, Reference: req.Reference, AuthCode: req.AuthCode})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, redact(sale))
	return nil
}

// plainText refuses control characters in a free-text field: C0 (NUL, ESC, tab, newline),
// DEL and C1 would reach the receipt printer's command stream, log lines and CSV cells,
// and Unicode's bidirectional controls make a reference display as something else than
// it is (Trojan Source). Invalid UTF-8 is refused for the same reason.
func plainText(field, v string) error {
	if !utf8.ValidString(v) {
		return errBadRequest("The " + field + " is not valid UTF-8 text")
	}
	for _, r := range v {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || bidiControl(r) {
			return errBadRequest(fmt.Sprintf("The %s contains a control character (U+%04X): use plain text", field, r))
		}
	}
	return nil
}

// bidiControl reports Unicode's explicit directional marks, embeddings, overrides and
// isolates (UAX #9).
func bidiControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func (s *Server) getSale(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := saleID(r)
	if err != nil {
		return err
	}
	sale, err := s.opt.Till.Sale(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redact(sale))
	return nil
}

// listSales answers the day's sales, newest first, optionally filtered by state, wallet
// or a text (id, reference, description, out_trade_no, transaction id).
func (s *Server) listSales(w http.ResponseWriter, r *http.Request, _ caller) error {
	day, err := s.dateParam(r)
	if err != nil {
		return err
	}
	sales, err := s.opt.Till.Sales(day)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	state, wallet, text := q.Get("state"), q.Get("wallet"), strings.ToLower(q.Get("q"))
	out := make([]*engine.Sale, 0, len(sales))
	for _, sale := range sales {
		if state != "" && string(sale.State) != state {
			continue
		}
		if wallet != "" && !slices.ContainsFunc(sale.Attempts, func(a engine.Attempt) bool {
			return a.State == engine.AttemptPaid && a.Wallet == wallet
		}) {
			continue
		}
		if text != "" && !saleMatches(sale, text) {
			continue
		}
		out = append(out, redact(sale))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redact copies a sale without the salted hashes of the payment codes: the engine keeps
// them to refuse a code used twice, and no caller of the API needs them (an 18-digit code
// with a known prefix is within reach of a brute force).
func redact(s *engine.Sale) *engine.Sale {
	if s == nil {
		return nil
	}
	c := *s
	c.Attempts = make([]engine.Attempt, len(s.Attempts))
	for i, a := range s.Attempts {
		a.CodeHash = ""
		// WeChat's error texts are free text that may echo the auth_code sent (security
		// review): mask code-shaped digit runs before they reach a page or a client.
		a.Code = wxpay.MaskCodeRuns(a.Code)
		a.Error = maskErrorInfo(a.Error)
		if a.Events != nil {
			evs := make([]engine.Event, len(a.Events))
			for j, ev := range a.Events {
				ev.Detail = wxpay.MaskCodeRuns(ev.Detail)
				evs[j] = ev
			}
			a.Events = evs
		}
		c.Attempts[i] = a
	}
	if s.Refunds != nil {
		c.Refunds = make([]engine.Refund, len(s.Refunds))
		for i, f := range s.Refunds {
			f.Error = maskErrorInfo(f.Error)
			c.Refunds[i] = f
		}
	}
	return &c
}

// maskErrorInfo copies e with code-shaped digit runs masked (the sale's own copy is shared).
func maskErrorInfo(e *engine.ErrorInfo) *engine.ErrorInfo {
	if e == nil {
		return nil
	}
	m := *e
	m.Message = wxpay.MaskCodeRuns(m.Message)
	return &m
}

func saleMatches(s *engine.Sale, text string) bool {
	fields := []string{s.ID, s.Reference, s.Description}
	for _, a := range s.Attempts {
		fields = append(fields, a.OutTradeNo, a.TransactionID)
	}
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return false
}

func (s *Server) cancelSale(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := saleID(r)
	if err != nil {
		return err
	}
	sale, err := s.opt.Till.Cancel(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redact(sale))
	return nil
}

// paySale charges a payment code the POS software scanned itself for an open sale.
func (s *Server) paySale(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := saleID(r)
	if err != nil {
		return err
	}
	var req struct {
		AuthCode string `json:"auth_code"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	sale, err := s.opt.Till.Pay(r.Context(), id, req.AuthCode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redact(sale))
	return nil
}

func (s *Server) refundSale(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := saleID(r)
	if err != nil {
		return err
	}
	var req struct {
		Amount int64  `json:"amount"`
		Reason string `json:"reason"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Amount <= 0 {
		return errBadRequest("Amount must be a positive number of cents")
	}
	if len(req.Reason) > 80 {
		return errBadRequest("Reason is limited to 80 bytes")
	}
	if err := plainText("reason", req.Reason); err != nil {
		return err
	}
	sale, err := s.opt.Till.Refund(r.Context(), id, req.Amount, req.Reason)
	if err != nil {
		return err
	}
	s.log.WithField("sale", id).WithField("amount", req.Amount).WithField("bearer", c.bearer).Info("refund requested")
	writeJSON(w, http.StatusCreated, redact(sale))
	return nil
}

func (s *Server) reprint(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := saleID(r)
	if err != nil {
		return err
	}
	if s.opt.Receipts == nil || s.opt.Receipts.Reprint == nil {
		return &apiError{Status: http.StatusNotImplemented, Code: CodeNoPrinter, Message: "No printer is configured on this till"}
	}
	if _, err := s.opt.Till.Sale(id); err != nil {
		return err
	}
	if err := s.opt.Receipts.Reprint(r.Context(), id); err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodePrintFailed, Message: "Reprint failed: " + err.Error()}
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"ok": true})
	return nil
}

// virtualScan is the demo's virtual scanner: a typed or pasted code goes where a real
// scanner's would.
func (s *Server) virtualScan(w http.ResponseWriter, r *http.Request, _ caller) error {
	if !s.opt.Demo {
		return errNotFound("The virtual scanner exists only in demo mode")
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	code := strings.TrimSpace(req.Code)
	if s.opt.VirtualScan != nil {
		if err := s.opt.VirtualScan(r.Context(), code); err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]bool{"ok": true})
		return nil
	}
	sale, err := s.opt.Till.Scan(r.Context(), code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redact(sale))
	return nil
}

type statusAnswer struct {
	Ready           bool      `json:"ready"`
	Unresolved      int       `json:"unresolved"`
	QueueDepth      int       `json:"queue_depth"`
	Attention       int       `json:"attention"`
	LastWeChatOK    time.Time `json:"last_wechat_ok,omitzero"`
	WeChatReachable bool      `json:"wechat_reachable"`
	Alerts          []Alert   `json:"alerts"`
	ServerTime      time.Time `json:"server_time"`
}

func (s *Server) alerts(st engine.Status) []Alert {
	var out []Alert
	if s.opt.Alerts != nil {
		out = append(out, s.opt.Alerts()...)
	}
	if !st.Ready {
		out = append(out, Alert{Code: AlertNotReady, Severity: "warning",
			Message: "Posd is still recovering unfinished payments"})
	}
	// Before the first call WeChat is neither reachable nor not; say so only once a call
	// failed (a success before, or work waiting).
	if !st.WeChatReachable && (!st.LastWeChatOK.IsZero() || st.QueueDepth > 0) {
		out = append(out, Alert{Code: AlertWeChatUnreachable, Severity: "error",
			Message: "WeChat Pay cannot be reached: payments may not go through"})
	}
	if st.Attention > 0 {
		out = append(out, Alert{Code: AlertAttention, Severity: "error", Count: st.Attention,
			Message: fmt.Sprintf("%d payment(s) need a manager", st.Attention)})
	}
	// Attempts in flight count in Unresolved too; the queue holds only those that are
	// waiting for WeChat after the cashier's screen moved on.
	if n := st.QueueDepth - st.Attention; n > 0 {
		out = append(out, Alert{Code: AlertQueueWaiting, Severity: "warning", Count: n,
			Message: fmt.Sprintf("%d job(s) in the durable queue: payments or refunds waiting for WeChat's answer", n)})
	}
	if out == nil {
		out = []Alert{}
	}
	return out
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request, _ caller) error {
	st := s.opt.Till.Status()
	writeJSON(w, http.StatusOK, statusAnswer{Ready: st.Ready, Unresolved: st.Unresolved, QueueDepth: st.QueueDepth,
		Attention: st.Attention, LastWeChatOK: st.LastWeChatOK, WeChatReachable: st.WeChatReachable,
		Alerts: s.alerts(st), ServerTime: s.opt.Now()})
	return nil
}

func (s *Server) demo(w http.ResponseWriter, _ *http.Request, _ caller) error {
	writeJSON(w, http.StatusOK, map[string]any{"demo": s.opt.Demo, "amount_table": s.opt.AmountTable})
	return nil
}

func (s *Server) recentReceipts(n int) ([]Receipt, error) {
	if s.opt.Receipts == nil || s.opt.Receipts.Recent == nil {
		return []Receipt{}, nil
	}
	rs, err := s.opt.Receipts.Recent(n)
	if err != nil {
		return nil, fmt.Errorf("recent receipts: %w", err)
	}
	for i := range rs {
		rs[i].HasPNG = len(rs[i].PNG) > 0
	}
	if rs == nil {
		rs = []Receipt{}
	}
	return rs, nil
}

// receipts lists the printer's recent receipts: for the cashier in demo (the virtual
// printer), for a manager always.
func (s *Server) receipts(w http.ResponseWriter, r *http.Request, c caller) error {
	if !s.opt.Demo {
		if err := s.requireManager(r, c); err != nil {
			return err
		}
	}
	n := intParam(r, "n", 20, 200)
	rs, err := s.recentReceipts(n)
	if err != nil {
		return err
	}
	if sale := r.URL.Query().Get("sale"); sale != "" {
		rs = slices.DeleteFunc(rs, func(x Receipt) bool { return x.SaleID != sale })
	}
	writeJSON(w, http.StatusOK, rs)
	return nil
}

func (s *Server) receiptPNG(w http.ResponseWriter, r *http.Request, c caller) error {
	if !s.opt.Demo {
		if err := s.requireManager(r, c); err != nil {
			return err
		}
	}
	id, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	if !ok {
		return errNotFound("No such receipt image")
	}
	rs, err := s.recentReceipts(200)
	if err != nil {
		return err
	}
	for _, x := range rs {
		if x.ID == id && len(x.PNG) > 0 {
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "private, max-age=300")
			http.ServeContent(w, r, id+".png", x.At, bytes.NewReader(x.PNG))
			return nil
		}
	}
	return errNotFound("No such receipt image")
}

func intParam(r *http.Request, name string, def, limit int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, limit)
}

// jobs lists the durable queue, the ones needing a person first.
func (s *Server) jobs(w http.ResponseWriter, _ *http.Request, _ caller) error {
	js, err := s.opt.Till.Jobs()
	if err != nil {
		return err
	}
	if js == nil {
		js = []engine.Job{}
	}
	sort.SliceStable(js, func(i, j int) bool { return js[i].Attention && !js[j].Attention })
	writeJSON(w, http.StatusOK, js)
	return nil
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, _ caller) error {
	if s.opt.Logs == nil {
		writeJSON(w, http.StatusOK, []LogEntry{})
		return nil
	}
	q := r.URL.Query()
	level := q.Get("level")
	switch level {
	case "", "trace", "debug", "info", "warning", "warn", "error", "fatal", "panic":
	default:
		return errBadRequest("Level must be debug, info, warning or error")
	}
	if len(q.Get("q")) > 200 {
		return errBadRequest("Search text is limited to 200 bytes")
	}
	es := s.opt.Logs(level, q.Get("q"), intParam(r, "n", 200, 2000))
	if es == nil {
		es = []LogEntry{}
	}
	writeJSON(w, http.StatusOK, es)
	return nil
}

func (s *Server) devices(w http.ResponseWriter, _ *http.Request, _ caller) error {
	out := map[string]any{}
	if s.opt.Health != nil {
		out["health"] = s.opt.Health()
	}
	if s.opt.Devices != nil {
		out["devices"] = s.opt.Devices()
	}
	st := s.opt.Till.Status()
	out["alerts"] = s.alerts(st)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) dayReport(w http.ResponseWriter, r *http.Request, _ caller) error {
	day, err := s.dateParam(r)
	if err != nil {
		return err
	}
	sales, err := s.opt.Till.Sales(day)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, report.Day(day, s.opt.StoreID, s.opt.TillID, s.opt.Currency, s.opt.Location, sales, s.opt.Now()))
	return nil
}

// printDayReport prints the day (Z) report on the receipt printer.
func (s *Server) printDayReport(w http.ResponseWriter, r *http.Request, _ caller) error {
	day, err := s.dateParam(r)
	if err != nil {
		return err
	}
	if s.opt.PrintDayReport == nil {
		return &apiError{Status: http.StatusNotImplemented, Code: CodeNoPrinter, Message: "No printer is configured on this till"}
	}
	sales, err := s.opt.Till.Sales(day)
	if err != nil {
		return err
	}
	rep := report.Day(day, s.opt.StoreID, s.opt.TillID, s.opt.Currency, s.opt.Location, sales, s.opt.Now())
	if err := s.opt.PrintDayReport(r.Context(), rep); err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodePrintFailed, Message: "Printing the day report failed: " + err.Error()}
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"ok": true})
	return nil
}

func (s *Server) reconciliation(w http.ResponseWriter, r *http.Request, _ caller) error {
	day, err := s.dateParam(r)
	if err != nil {
		return err
	}
	if s.opt.Reconciliation == nil {
		writeJSON(w, http.StatusOK, map[string]any{"available": false, "result": nil})
		return nil
	}
	res, err := s.opt.Reconciliation(day)
	if errors.Is(err, engine.ErrNotFound) {
		res, err = nil, nil // not reconciled yet: not an error for the manager
	}
	if err != nil {
		return fmt.Errorf("load reconciliation: %w", err)
	}
	out := map[string]any{"available": true, "can_run": s.opt.Reconcile != nil, "result": res}
	if s.opt.ReconcileNext != nil {
		if t := s.opt.ReconcileNext(day); !t.IsZero() {
			out["next_try"] = t
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) reconcileNow(w http.ResponseWriter, r *http.Request, _ caller) error {
	day, err := s.dateParam(r)
	if err != nil {
		return err
	}
	if s.opt.Reconcile == nil {
		return &apiError{Status: http.StatusNotImplemented, Code: CodeNoReconciliation,
			Message: "Reconciliation is not set up on this till"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	res, err := s.opt.Reconcile(ctx, day)
	if err != nil {
		return &apiError{Status: http.StatusBadGateway, Code: CodeReconcileFailed, Message: "Reconciliation failed: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"available": true, "can_run": true, "result": res})
	return nil
}

// exportJournal downloads a day's journal, one row per attempt, as CSV (default) or JSON.
func (s *Server) exportJournal(w http.ResponseWriter, r *http.Request, _ caller) error {
	day, err := s.dateParam(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		return errBadRequest("Format must be csv or json")
	}
	sales, err := s.opt.Till.Sales(day)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	// The export carries WeChat's error texts too: mask them like every other answer.
	masked := make([]*engine.Sale, len(sales))
	for i, sl := range sales {
		masked[i] = redact(sl)
	}
	if err := report.WriteJournal(&buf, report.Journal(masked, s.opt.Location), format); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	ct := "text/csv; charset=utf-8"
	if format == "json" {
		ct = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="posd-journal-%s.%s"`, day, format))
	_, _ = w.Write(buf.Bytes())
	return nil
}

// events streams every change of a sale as an SSE "sale" event with the whole sale, and
// refused scans as "notice" events.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c caller) error {
	owner := ""
	if !c.bearer {
		owner = c.sess.id
	}
	if err := s.openStream(owner, !c.bearer && c.sess.screen); err != nil {
		return err
	}
	defer s.closeStream(owner)
	rc := http.NewResponseController(w)
	// The daemon's server may have a write timeout; a stream lives longer than that.
	_ = rc.SetWriteDeadline(time.Time{})
	sales, unsub := s.opt.Till.Subscribe()
	defer unsub()
	notices, unsubN := s.subscribeNotices()
	defer unsubN()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, "retry: 2000\n: posd\n\n"); err != nil {
		return nil
	}
	if rc.Flush() != nil {
		return nil
	}
	tick := time.NewTicker(s.opt.Heartbeat)
	defer tick.Stop()
	for {
		var event string
		var data []byte
		select {
		case <-r.Context().Done():
			return nil
		case <-s.done:
			return nil
		case sale, ok := <-sales:
			if !ok {
				return nil // the engine stopped
			}
			b, err := json.Marshal(redact(sale))
			if err != nil {
				s.log.WithError(err).Warn("marshal sale for SSE")
				continue
			}
			event, data = "sale", b
		case n := <-notices:
			b, err := json.Marshal(n)
			if err != nil {
				continue
			}
			event, data = "notice", b
		case <-tick.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
			continue
		}
		// JSON has no raw newlines, so one data line carries the whole sale.
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return nil
		}
		if rc.Flush() != nil {
			return nil
		}
	}
}

// openStream counts a new event stream of owner (a session id, "" for bearer callers)
// against the caps: per owner, and all together less the slots kept for the till's screen.
func (s *Server) openStream(owner string, screen bool) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := streamsPerSession
	if owner == "" {
		limit = streamsForBearer
	}
	total := maxStreams
	if !screen {
		total -= screenStreams
	}
	if s.perOwner[owner] >= limit || s.streams >= total {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodeTooManyStreams,
			Message: "Too many open event streams: close other pages of this till"}
	}
	s.perOwner[owner]++
	s.streams++
	return nil
}

func (s *Server) closeStream(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams--
	if s.perOwner[owner]--; s.perOwner[owner] <= 0 {
		delete(s.perOwner, owner)
	}
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, errMethod("GET"))
		return
	}
	b, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, "index missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, errMethod("GET"))
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.StripPrefix("/static", s.static).ServeHTTP(w, r)
}
