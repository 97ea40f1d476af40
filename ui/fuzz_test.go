package ui

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPI sends arbitrary calls (path, method, content type, body, PIN) with a valid token:
// the API must answer every one with a JSON document and never with a server error, since
// nothing in the fake till fails by itself.
func FuzzAPI(f *testing.F) {
	f.Add("POST", "sales", "application/json", `{"amount":1050,"currency":"HKD","reference":"R-1"}`, "")
	f.Add("POST", "sales", "application/json", `{"amount":-1}`, "")
	f.Add("POST", "sales", "application/json", `{"amount":1e99}`, "")
	f.Add("POST", "sales", "application/json; charset=utf-8", `{"amount":5,"auth_code":"134567890123456789"}`, "")
	f.Add("GET", "sales?date=2026-11-26&state=paid&q=R", "", "", "")
	f.Add("GET", "sales/S0001", "", "", "")
	f.Add("POST", "sales/S0001/cancel", "", "", "")
	f.Add("POST", "sales/S0001/pay", "application/json", `{"auth_code":"6901234567892"}`, "")
	f.Add("POST", "sales/S0001/refunds", "application/json", `{"amount":1,"reason":"x"}`, testPIN)
	f.Add("POST", "sales/S0001/refunds", "application/json", `{"amount":1}`, "0000")
	f.Add("POST", "scan", "application/json", `{"code":"134567890123456789"}`, "")
	f.Add("GET", "reports/day?date=2026-02-30", "", "", testPIN)
	f.Add("GET", "export/journal?format=json", "", "", testPIN)
	f.Add("GET", "logs?level=error&q=%00", "", "", testPIN)
	f.Add("GET", "receipts/../../etc/passwd.png", "", "", testPIN)
	f.Add("PUT", "sales", "text/plain", "{", "")
	f.Fuzz(func(t *testing.T, method, path, ctype, body, pin string) {
		e := newEnv(t, func(o *Options) { o.Demo = true })
		e.openSale(100)
		r, err := http.NewRequest(method, "http://127.0.0.1:8080/api/v1/"+path, strings.NewReader(body))
		if err != nil || strings.Contains(strings.ToLower(r.URL.Path), "events") { // a stream never ends by itself
			return
		}
		r.RemoteAddr = "127.0.0.1:5000"
		r.Header.Set("Authorization", "Bearer "+testToken)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if pin != "" {
			r.Header.Set("X-Manager-PIN", pin)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json") || w.Code >= 400 {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: %d answer is not JSON: %q", method, path, w.Code, w.Body)
			}
		}
	})
}
