package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"posd/queue/engine"
	"posd/wxpay"
)

// apiError is what every failed call answers: {"error":{"code","message"}} with Status.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds, for 429; also in the body, for the page's sentence
	TriesLeft  int // wrong_pin: PIN tries left before the lockout
}

// plural writes "1 try" or "4 tries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// engineStatus maps the engine's error codes to HTTP statuses. This is the one place
// where that mapping lives (style.md §15); the page translates by code. A test walks
// engine.Codes() so that a new engine code cannot fall through to a 500.
var engineStatus = map[string]int{
	engine.CodeInvalidCode:   http.StatusUnprocessableEntity, // not a WeChat payment code: refused at the till
	engine.CodeCodeUsed:      http.StatusConflict,
	engine.CodeNoOpenSale:    http.StatusConflict,
	engine.CodeSaleBusy:      http.StatusConflict,
	engine.CodeScanAmbiguous: http.StatusConflict, // several sales wait for a code: pay a named sale
	engine.CodeNotFound:      http.StatusNotFound,
	engine.CodeBadRequest:    http.StatusBadRequest,
	engine.CodeStorage:       http.StatusServiceUnavailable, // journal not writable: no sale is taken
	engine.CodeStopping:      http.StatusServiceUnavailable,
	engine.CodeNotPaid:       http.StatusConflict,
	engine.CodeRefundExceeds: http.StatusUnprocessableEntity,
	engine.CodeWeChat:        http.StatusBadGateway,
}

// The UI's own error codes, besides the engine's (engine.Codes).
const (
	CodeUnauthorized         = "unauthorized"
	CodePINRequired          = "pin_required"
	CodeWrongPIN             = "wrong_pin"
	CodePINLocked            = "pin_locked"
	CodeManagerRequired      = "manager_required"
	CodeNoManagerPIN         = "no_manager_pin"
	CodeCSRF                 = "csrf"
	CodeBadHost              = "bad_host"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNoPrinter            = "no_printer"
	CodePrintFailed          = "print_failed"
	CodeNoReconciliation     = "no_reconciliation"
	CodeReconcileFailed      = "reconcile_failed"
	CodeTooManyStreams       = "too_many_streams"
	CodeTooManySessions      = "too_many_sessions"
	CodeBearerRequired       = "bearer_required"
	CodeLoopbackOnly         = "loopback_only"
	CodeInternal             = "internal"
	// QR Code Payment (customer.go).
	CodeQRDisabled = "qr_disabled" // no wxpay.notify_url: the till shows no QR codes
	CodeNoQR       = "no_qr"       // the sale shows no QR code that can still be paid
	CodeNotDemo    = "not_demo"    // the simulated customer exists only in the demo
	CodeNotPayable = "not_payable" // the demo's simulated customer could not pay
	// CodeScanFailed is a notice's code for a scan refused for a reason that carries no
	// engine code (the daemon's scanner path).
	CodeScanFailed = "scan_failed"
)

// uiStatus is the HTTP status of each of the UI's own codes (scan_failed is a notice only).
var uiStatus = map[string]int{
	CodeUnauthorized:         http.StatusUnauthorized,
	CodePINRequired:          http.StatusUnauthorized,
	CodeWrongPIN:             http.StatusForbidden,
	CodePINLocked:            http.StatusTooManyRequests,
	CodeManagerRequired:      http.StatusForbidden,
	CodeNoManagerPIN:         http.StatusForbidden,
	CodeCSRF:                 http.StatusForbidden,
	CodeBadHost:              http.StatusMisdirectedRequest,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeTooLarge:             http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeNoPrinter:            http.StatusNotImplemented,
	CodePrintFailed:          http.StatusServiceUnavailable,
	CodeNoReconciliation:     http.StatusNotImplemented,
	CodeReconcileFailed:      http.StatusBadGateway,
	CodeTooManyStreams:       http.StatusServiceUnavailable,
	CodeTooManySessions:      http.StatusServiceUnavailable,
	CodeBearerRequired:       http.StatusForbidden,
	CodeLoopbackOnly:         http.StatusForbidden,
	CodeInternal:             http.StatusInternalServerError,
	CodeQRDisabled:           http.StatusNotImplemented,
	CodeNoQR:                 http.StatusNotFound,
	CodeNotDemo:              http.StatusNotFound,
	CodeNotPayable:           http.StatusConflict,
}

// Codes lists every error code the local API can answer (the engine's and the UI's) and
// notices can carry, sorted: docs/openapi.yaml and the page's translations are tested
// against it.
func Codes() []string {
	out := append([]string{CodeScanFailed}, engine.Codes()...)
	for c := range uiStatus {
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// StatusOf is the HTTP status an API answer with this error code has (0: not an API code).
func StatusOf(code string) int {
	if st, ok := engineStatus[code]; ok {
		return st
	}
	return uiStatus[code]
}

// toAPIError turns any error into the answer for it.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ee *engine.Error
	if errors.As(err, &ee) {
		st, ok := engineStatus[ee.Code]
		if !ok {
			// Only a code missing from engineStatus gets here (TestEngineCodesHaveStatus):
			// say which, rather than a bare 500.
			return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal,
				Message: "posd has no answer for the engine's code " + strconv.Quote(ee.Code) + ": " + ee.Message}
		}
		return &apiError{Status: st, Code: ee.Code, Message: ee.Message}
	}
	if errors.Is(err, engine.ErrNotFound) {
		return &apiError{Status: http.StatusNotFound, Code: engine.CodeNotFound, Message: "No such sale"}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge(mbe.Limit)
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "Something went wrong inside posd: see the logs"}
}

func errTooLarge(limit int64) *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
		Message: "Request body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

func errBadRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: engine.CodeBadRequest, Message: msg}
}

func errNotFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: engine.CodeNotFound, Message: msg}
}

func errMethod(allow string) *apiError {
	return &apiError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
		Message: "Method not allowed; use " + allow}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	type body struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		RetryAfter int    `json:"retry_after,omitempty"`
		TriesLeft  int    `json:"tries_left,omitempty"`
	}
	// Messages may carry an underlying error's text (reprint, reconcile, WeChat): never
	// let a payment code through (security review).
	writeJSON(w, ae.Status, map[string]body{"error": {ae.Code, wxpay.MaskCodeRuns(ae.Message), ae.RetryAfter, ae.TriesLeft}})
}
