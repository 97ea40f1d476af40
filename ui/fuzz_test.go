package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
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

// surfacePaths is every route, with the ids the fuzz env's sales have.
var surfacePaths = []string{
	"/", "/static/app.js", "/ui/session", "/ui/login", "/ui/logout", "/ui/link?code=x",
	"/api/v1/sales", "/api/v1/sales/S0001", "/api/v1/sales/S0001/cancel", "/api/v1/sales/S0001/pay",
	"/api/v1/sales/S0002/refunds", "/api/v1/sales/S0002/reprint", "/api/v1/scan", "/api/v1/status",
	"/api/v1/demo", "/api/v1/receipts", "/api/v1/receipts/x.png", "/api/v1/jobs", "/api/v1/logs",
	"/api/v1/devices", "/api/v1/reports/day", "/api/v1/reports/day/print",
	"/api/v1/reports/reconciliation", "/api/v1/export/journal", "/api/v1/login-links",
	"/healthz", "/metrics", "/api/v1/nope",
}

var surfaceMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"}

// tillState is everything a request could change: sales, used codes, sessions and their
// roles, PIN lockouts, login links.
func (e *env) tillState() string {
	e.till.mu.Lock()
	sales, _ := json.Marshal(e.till.sales)
	used := len(e.till.used)
	e.till.mu.Unlock()
	e.srv.sessions.mu.Lock()
	var sess []string
	for id, s := range e.srv.sessions.m {
		sess = append(sess, fmt.Sprintf("%s/%v/%v", id, s.managerUntil, s.until))
	}
	e.srv.sessions.mu.Unlock()
	sort.Strings(sess)
	e.srv.pin.mu.Lock()
	pins, _ := json.Marshal(e.srv.pin.m)
	e.srv.pin.mu.Unlock()
	e.srv.links.mu.Lock()
	links := len(e.srv.links.m)
	e.srv.links.mu.Unlock()
	return fmt.Sprintf("%s|%d|%v|%s|%d", sales, used, sess, pins, links)
}

// FuzzHTTPSurface sends arbitrary requests (route, method, Authorization, cookie, CSRF
// token, Origin, PIN, content type, body) to the whole surface. A request without valid
// credentials (the exact bearer token, or the live session's cookie with its CSRF token)
// must change nothing: no sale, no session, no role, no PIN try, no login link.
func FuzzHTTPSurface(f *testing.F) {
	f.Add(uint8(6), uint8(1), "", uint8(0), "", "", "", "", "application/json", `{"amount":100}`)
	f.Add(uint8(6), uint8(1), "Bearer wrong", uint8(1), "", "", "http://127.0.0.1:8080", "", "application/json", `{"amount":100}`)
	f.Add(uint8(8), uint8(1), "", uint8(1), "", "x", "http://127.0.0.1:8080", "", "application/json", ``)
	f.Add(uint8(3), uint8(1), "", uint8(0), "", "", "http://127.0.0.1:8080", "", "application/json", `{"pin":"`+testPIN+`"}`)
	f.Add(uint8(3), uint8(1), "", uint8(1), "", "", "", "", "application/json", `{"pin":"`+testPIN+`"}`)
	f.Add(uint8(3), uint8(1), "", uint8(0), "", "", "", "", "application/json", `{"token":"`+testToken+`x"}`)
	f.Add(uint8(10), uint8(1), "Bearer "+testToken+" ", uint8(1), "", "", "", testPIN, "application/json", `{"amount":1}`)
	f.Add(uint8(24), uint8(1), "", uint8(1), "", "", "", "", "", "")
	f.Add(uint8(5), uint8(0), "", uint8(0), "forged", "", "", "", "", "")
	f.Add(uint8(12), uint8(1), "Basic "+testToken, uint8(0), "", "", "", "", "application/json", `{"code":"134567890123456789"}`)
	f.Fuzz(func(t *testing.T, path, method uint8, auth string, cookieMode uint8, cookie, csrf, origin, pin, ctype, body string) {
		e := newEnv(t, func(o *Options) {
			o.Kiosk = nil
			o.Demo = true
			ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
			o.Healthz, o.Metrics = ok, ok
		})
		e.openSale(100)
		e.paidSale(500)
		link, _ := e.srv.LoginLink(time.Hour)
		lw := e.do("GET", link, "")
		live := cookieOf(lw)
		_, in := e.session(withCookie(live))

		p := surfacePaths[int(path)%len(surfacePaths)]
		m := surfaceMethods[int(method)%len(surfaceMethods)]
		if strings.Contains(p, "events") {
			return
		}
		r, err := http.NewRequest(m, "http://127.0.0.1:8080"+p, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:5000"
		for k, v := range map[string]string{"Authorization": auth, "X-CSRF-Token": csrf, "Origin": origin,
			"X-Manager-PIN": pin, "Content-Type": ctype} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				r.Header.Set(k, v)
			}
		}
		switch cookieMode % 3 {
		case 1: // the live session's cookie
			r.AddCookie(live)
			if csrf == "" {
				csrf = in.CSRF // sometimes with its CSRF token too
				if cookieMode%2 == 1 {
					r.Header.Set("X-CSRF-Token", csrf)
				}
			}
		case 2:
			if cookie != "" && !strings.ContainsAny(cookie, "\r\n\x00;") {
				r.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
			}
		}
		bearerOK := strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") &&
			strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) == testToken
		// A live cookie is a credential for reads (a PIN try in X-Manager-PIN included: a
		// browser cannot send that header cross-site); a write needs its CSRF token too.
		sessionOK := cookieMode%3 == 1 && (r.Header.Get("X-CSRF-Token") == in.CSRF || !stateChanging(m))
		tokenInBody := strings.Contains(body, testToken) // {"token":...} at /ui/login is a credential too
		before := e.tillState()
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable && w.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s: %d %s", m, p, w.Code, w.Body)
		}
		if !bearerOK && !sessionOK && !tokenInBody {
			if after := e.tillState(); after != before {
				t.Fatalf("%s %s without credentials changed state (%d %s):\nbefore %s\nafter  %s", m, p, w.Code, w.Body, before, after)
			}
		}
	})
}
