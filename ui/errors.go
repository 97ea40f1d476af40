package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"posd/queue/engine"
	"posd/wxpay"
)

// apiError is what every failed call answers: {"error":{"code","message"}} with Status.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds, for 429
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// engineStatus maps the engine's error codes to HTTP statuses. This is the one place
// where that mapping lives (style.md §15); the page translates by code.
var engineStatus = map[string]int{
	"invalid_code":   http.StatusUnprocessableEntity, // not a WeChat payment code: refused at the till
	"code_used":      http.StatusConflict,
	"no_open_sale":   http.StatusConflict,
	"sale_busy":      http.StatusConflict,
	"scan_ambiguous": http.StatusConflict, // several sales wait for a code: pay a named sale
	"not_found":      http.StatusNotFound,
	"bad_request":    http.StatusBadRequest,
	"storage":        http.StatusServiceUnavailable, // journal not writable: no sale is taken
	"stopping":       http.StatusServiceUnavailable,
	"not_paid":       http.StatusConflict,
	"refund_exceeds": http.StatusUnprocessableEntity,
	"wechat":         http.StatusBadGateway,
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
			st = http.StatusInternalServerError
		}
		return &apiError{Status: st, Code: ee.Code, Message: ee.Message}
	}
	if errors.Is(err, engine.ErrNotFound) {
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "No such sale"}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge(mbe.Limit)
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal",
		Message: "Something went wrong inside posd: see the logs"}
}

func errTooLarge(limit int64) *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
		Message: "Request body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

func errBadRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: msg}
}

func errNotFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

func errMethod(allow string) *apiError {
	return &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
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
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	// Messages may carry an underlying error's text (reprint, reconcile, WeChat): never
	// let a payment code through (security review).
	writeJSON(w, ae.Status, map[string]body{"error": {ae.Code, wxpay.MaskCodeRuns(ae.Message)}})
}
