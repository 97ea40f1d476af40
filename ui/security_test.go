package ui

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"posd/queue/engine"
)

// echoCode makes the fake's sale look like one whose WeChat answers echoed the full
// auth_code in free text (v2 err_code_des, v3 error detail): the API must mask it.
func (e *env) echoCode(id, code string) {
	e.till.mu.Lock()
	defer e.till.mu.Unlock()
	s := e.till.sales[id]
	a := &s.Attempts[len(s.Attempts)-1]
	a.Code = code // as if an upstream bug left it unmasked
	a.Error = &engine.ErrorInfo{Code: "AUTH_CODE_INVALID", Message: "auth_code " + code + " is invalid"}
	a.Events = append(a.Events, engine.Event{At: e.till.now(), Call: "micropay", Detail: "PARAM_ERROR: auth_code=" + code})
	s.Refunds = append(s.Refunds, engine.Refund{OutRefundNo: "r1", State: "failed",
		Error: &engine.ErrorInfo{Code: "PARAM_ERROR", Message: "bad " + code}})
	e.till.put(s)
}

func noFullCode(t *testing.T, where, body string) {
	t.Helper()
	if strings.Contains(body, goodCode) {
		t.Fatalf("%s carries the full payment code: %s", where, body)
	}
	if strings.Contains(body, "code_hash") || strings.Contains(body, "salted-hash") {
		t.Fatalf("%s carries a code hash: %s", where, body)
	}
}

func TestSecurity_NoFullCodeInAPI(t *testing.T) {
	e := newEnv(t, nil)
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for e.till.subscribers() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the SSE handler never subscribed")
		}
		time.Sleep(time.Millisecond)
	}

	s := e.openSale(1000)
	w := e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":"`+goodCode+`"}`, bearer)
	if w.Code != 200 {
		t.Fatalf("pay: %d %s", w.Code, w.Body)
	}
	noFullCode(t, "pay answer", w.Body.String())
	e.echoCode(s.ID, goodCode)
	e.srv.Notify(Notice{Code: "invalid_code", Message: "scan " + goodCode + " refused"})

	for _, p := range []string{"/api/v1/sales/" + s.ID, "/api/v1/sales", "/api/v1/export/journal?format=json", "/api/v1/export/journal"} {
		w := e.do("GET", p, "", bearer, withPIN(testPIN))
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", p, w.Code, w.Body)
		}
		noFullCode(t, p, w.Body.String())
		if p == "/api/v1/sales/"+s.ID && !strings.Contains(w.Body.String(), "13************6789") {
			t.Fatalf("the masked code should stay: %s", w.Body)
		}
	}
	// Refused scans and pays: the error answer never repeats the code.
	w = e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":"`+goodCode+`"}`, bearer)
	wantError(t, w, 409, "sale_busy")
	noFullCode(t, "refused pay", w.Body.String())
	for _, bad := range []string{"99" + goodCode[2:], goodCode + "0", `"` + goodCode} {
		w := e.do("POST", "/api/v1/sales", `{"amount":5,"currency":"HKD","auth_code":"`+strings.ReplaceAll(bad, `"`, `\"`)+`"}`, bearer)
		if w.Code < 400 {
			t.Fatalf("bad code %q accepted: %s", bad, w.Body)
		}
		noFullCode(t, "refused code", strings.ReplaceAll(w.Body.String(), "99"+goodCode[2:], ""))
		if strings.Contains(w.Body.String(), bad) {
			t.Fatalf("error echoes the code: %s", w.Body)
		}
	}
	// A JSON type error names the field, not the value.
	w = e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":`+goodCode+`}`, bearer)
	wantError(t, w, 400, "bad_request")
	noFullCode(t, "type error", w.Body.String())

	// The SSE stream: sale events and the notice.
	br := bufio.NewReader(resp.Body)
	var sawEcho, sawNotice bool
	for !sawEcho || !sawNotice {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		noFullCode(t, "SSE", line)
		if strings.Contains(line, "AUTH_CODE_INVALID") {
			sawEcho = true
		}
		if strings.Contains(line, "invalid_code") {
			sawNotice = true
		}
	}
}

// GETs and the SSE stream change nothing: an open sale stays as it is, a cancel needs POST.
func TestSecurity_GetsDoNotChangeState(t *testing.T) {
	e := newEnv(t, nil)
	s := e.openSale(100)
	c, _ := e.session()
	for _, p := range []string{"/api/v1/sales/" + s.ID + "/cancel", "/api/v1/sales/" + s.ID + "/pay",
		"/api/v1/sales/" + s.ID + "/refunds", "/api/v1/scan", "/api/v1/reports/day/print", "/ui/login", "/ui/logout"} {
		wantError(t, e.do("GET", p, "", withCookie(c)), 405, "method_not_allowed")
		wantError(t, e.do("GET", p, "", bearer), 405, "method_not_allowed")
	}
	got, err := e.till.Sale(s.ID)
	if err != nil || got.State != engine.SaleAwaitingScan || got.Version != s.Version {
		t.Fatalf("a GET changed the sale: %+v %v", got, err)
	}
}

// A cross-origin page that rides the session cookie cannot change state, even knowing the
// CSRF token's header name; with Origin "null" (sandboxed iframe) neither.
func TestSecurity_CrossOriginPOSTRefused(t *testing.T) {
	e := newEnv(t, nil)
	c, in := e.session()
	s := e.openSale(100)
	for _, origin := range []string{"http://evil.example", "null", "http://127.0.0.1:8081", "https://127.0.0.1:8080"} {
		wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/cancel", "", withCookie(c),
			withHeader("X-CSRF-Token", in.CSRF), withHeader("Origin", origin)), 403, "csrf")
	}
	// A form post (no custom header possible) is refused even from the same origin.
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/cancel", "", withCookie(c),
		withHeader("Origin", "http://127.0.0.1:8080")), 403, "csrf")
	if got, _ := e.till.Sale(s.ID); got.State != engine.SaleAwaitingScan {
		t.Fatalf("sale changed: %s", got.State)
	}
}

// Twenty parallel wrong PINs, mixed between the login and the X-Manager-PIN header, get
// at most five real tries: the rest are locked out, and so is the right PIN afterwards.
func TestSecurity_PINLockoutConcurrentAndMixed(t *testing.T) {
	e := newEnv(t, nil)
	s := e.paidSale(1000)
	path := "/api/v1/sales/" + s.ID + "/refunds"
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	// A few kiosk sessions, shared by the goroutines: the kiosk pool holds 8, and a ninth
	// would evict one of these before it is used.
	type sess struct {
		c  *http.Cookie
		in sessionInfo
	}
	var pool [4]sess
	for i := range pool {
		pool[i].c, pool[i].in = e.session()
	}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w *httptest.ResponseRecorder
			switch i % 3 {
			case 0:
				c, in := pool[i%4].c, pool[i%4].in
				w = e.do("POST", "/ui/login", `{"pin":"999999"}`, withCookie(c), withHeader("X-CSRF-Token", in.CSRF))
			case 1:
				w = e.do("POST", path, `{"amount":1}`, bearer, withPIN("999999"))
			default:
				c, in := pool[i%4].c, pool[i%4].in
				w = e.do("POST", path, `{"amount":1}`, withCookie(c), withHeader("X-CSRF-Token", in.CSRF), withPIN("999999"))
			}
			mu.Lock()
			codes[errCode(w)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes["wrong_pin"] > 4 || codes["wrong_pin"]+codes["pin_locked"] != 20 || codes["pin_locked"] < 16 {
		t.Fatalf("answers %v: want at most 4 wrong_pin and the 5th try locking", codes)
	}
	c0, in0 := e.session()
	wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withCookie(c0), withHeader("X-CSRF-Token", in0.CSRF)), 429, "pin_locked")
	wantError(t, e.do("POST", path, `{"amount":1}`, bearer, withPIN(testPIN)), 429, "pin_locked")
	// A blank PIN header from a cashier session is not a way around the manager role.
	c, in := e.session()
	wantError(t, e.do("POST", path, `{"amount":1}`, withCookie(c), withHeader("X-CSRF-Token", in.CSRF)), 403, "manager_required")
}

func errCode(w *httptest.ResponseRecorder) string {
	b := w.Body.String()
	for _, c := range []string{"wrong_pin", "pin_locked"} {
		if strings.Contains(b, `"`+c+`"`) {
			return c
		}
	}
	return b
}

// Secrets never come back: not in the session info, the devices page, or error answers.
func TestSecurity_NoSecretsInAnswers(t *testing.T) {
	e := newEnv(t, nil)
	check := func(where string, w *httptest.ResponseRecorder) {
		t.Helper()
		for _, sec := range []string{testToken, `"` + testPIN + `"`, ":" + testPIN} {
			if strings.Contains(w.Body.String(), sec) {
				t.Fatalf("%s leaks a secret %q: %s", where, sec, w.Body)
			}
		}
	}
	_, _ = e.session()
	check("session", e.do("GET", "/ui/session", ""))
	check("login", e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`))
	check("wrong login", e.do("POST", "/ui/login", `{"token":"`+testToken+`x"}`))
	check("devices", e.do("GET", "/api/v1/devices", "", bearer, withPIN(testPIN)))
	check("wrong token", e.do("GET", "/api/v1/sales", "", withHeader("Authorization", "Bearer "+testToken+"x")))
	check("status", e.do("GET", "/api/v1/status", "", bearer))
}

// Text fields refuse control characters: NUL and ESC reach receipts and logs, and bidi
// overrides make a reference read differently from what it is (security review).
func TestSecurity_TextFieldsRefuseControlChars(t *testing.T) {
	e := newEnv(t, nil)
	for _, bad := range []string{"a\\u0000b", "a\\u001b[31mb", "a\\u0085b", "a\\u009bb", "a\\u202eb", "a\\u2066b", "a\\u200fb", "a\\tb", "a\\nb"} {
		for _, field := range []string{"description", "reference"} {
			w := e.do("POST", "/api/v1/sales", `{"amount":100,"`+field+`":"`+bad+`"}`, bearer)
			wantError(t, w, 400, "bad_request")
			if !strings.Contains(w.Body.String(), field) {
				t.Fatalf("%s %q: the error does not name the field: %s", field, bad, w.Body)
			}
		}
	}
	s := e.paidSale(1000)
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/refunds", `{"amount":1,"reason":"x\u202ey"}`, bearer, withPIN(testPIN)), 400, "bad_request")
	// Ordinary text, Chinese included, passes.
	if w := e.do("POST", "/api/v1/sales", `{"amount":100,"description":"午餐 lunch – 2 × set","reference":"R-1/2"}`, bearer); w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
