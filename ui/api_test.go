package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/report"
)

const (
	testToken = "test-token-0123456789abcdef"
	testPIN   = "246813"
	goodCode  = "134567890123456789"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     testing.TB
	srv   *Server
	till  *fakeTill
	clock *testClock
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, hkt)}
	till := newFakeTill(clk.Now)
	opt := Options{Till: till, Token: testToken, ManagerPIN: testPIN, Kiosk: loopbackKiosk,
		Now: clk.Now, Location: hkt, StoreID: "HK001", TillID: "T01", Heartbeat: 50 * time.Millisecond}
	if mod != nil {
		mod(&opt)
	}
	srv, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, till: till, clock: clk}
}

type reqOpt func(*http.Request)

func bearer(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }
func withPIN(pin string) reqOpt {
	return func(r *http.Request) { r.Header.Set("X-Manager-PIN", pin) }
}
func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func withRemote(a string) reqOpt    { return func(r *http.Request) { r.RemoteAddr = a } }
func withCookie(c *http.Cookie) reqOpt {
	return func(r *http.Request) { r.AddCookie(c) }
}

func (e *env) do(method, path, body string, opts ...reqOpt) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, rd)
	r.RemoteAddr = "127.0.0.1:50000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

func decodeSale(t testing.TB, w *httptest.ResponseRecorder) *engine.Sale {
	t.Helper()
	var s engine.Sale
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatalf("decode sale: %v: %s", err, w.Body)
	}
	return &s
}

// wantError checks status and the JSON error's code.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, w.Body)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", body.Error, code)
	}
}

func (e *env) openSale(amount int64) *engine.Sale {
	e.t.Helper()
	w := e.do("POST", "/api/v1/sales", `{"amount":`+jsonInt(amount)+`,"currency":"HKD","reference":"R-1"}`, bearer)
	if w.Code != http.StatusCreated {
		e.t.Fatalf("open sale: %d %s", w.Code, w.Body)
	}
	return decodeSale(e.t, w)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func (e *env) paidSale(amount int64) *engine.Sale {
	e.t.Helper()
	s := e.openSale(amount)
	if _, err := e.till.Pay(context.Background(), s.ID, goodCode[:17]+string(rune('0'+len(e.till.used)%10))); err != nil {
		e.t.Fatal(err)
	}
	return e.till.step(s.ID, fakeStep{state: engine.AttemptPaid, wallet: "CNY", payer: 960})
}

func TestAPI_Auth(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("no credentials", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales", ""), 401, "unauthorized")
	})
	t.Run("wrong token", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales", "", withHeader("Authorization", "Bearer nope")), 401, "unauthorized")
	})
	t.Run("token prefix", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales", "", withHeader("Authorization", "Bearer "+testToken[:10])), 401, "unauthorized")
	})
	t.Run("token with extra", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales", "", withHeader("Authorization", "Bearer "+testToken+"x")), 401, "unauthorized")
	})
	t.Run("basic scheme", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales", "", withHeader("Authorization", "Basic "+testToken)), 401, "unauthorized")
	})
	t.Run("right token", func(t *testing.T) {
		if w := e.do("GET", "/api/v1/sales", "", bearer); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("no token configured refuses every bearer", func(t *testing.T) {
		e2 := newEnv(t, func(o *Options) { o.Token = "" })
		wantError(t, e2.do("GET", "/api/v1/sales", "", withHeader("Authorization", "Bearer ")), 401, "unauthorized")
	})
}

func TestEqualSecret(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{
		{"abc", "abc", true}, {"abd", "abc", false}, {"ab", "abc", false}, {"abcd", "abc", false},
		{"", "", false}, {"x", "", false},
	} {
		if equalSecret(c.got, c.want) != c.ok {
			t.Errorf("equalSecret(%q,%q) = %v", c.got, c.want, !c.ok)
		}
	}
}

func TestAPI_OpenSale(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("created", func(t *testing.T) {
		w := e.do("POST", "/api/v1/sales", `{"amount":1050,"description":"Groceries","reference":"R-1"}`, bearer)
		if w.Code != http.StatusCreated {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		s := decodeSale(t, w)
		if s.Amount != 1050 || s.Currency != "HKD" || s.State != engine.SaleAwaitingScan || s.Reference != "R-1" {
			t.Fatalf("sale %+v", s)
		}
		var raw map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &raw)
		for _, k := range []string{"id", "amount", "currency", "state", "attempts", "created_at", "updated_at"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("sale JSON lacks %q: %s", k, w.Body)
			}
		}
	})
	t.Run("with auth_code pays at once", func(t *testing.T) {
		w := e.do("POST", "/api/v1/sales", `{"amount":200,"auth_code":"`+goodCode+`"}`, bearer)
		if w.Code != http.StatusCreated {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if s := decodeSale(t, w); s.State != engine.SalePaying || len(s.Attempts) != 1 || s.Attempts[0].Code == goodCode {
			t.Fatalf("sale %+v", s)
		}
	})
	t.Run("zero amount", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", `{"amount":0}`, bearer), 400, "bad_request")
	})
	t.Run("engine refuses currency", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", `{"amount":5,"currency":"EUR"}`, bearer), 400, "bad_request")
	})
	t.Run("unknown field", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", `{"ammount":5}`, bearer), 400, "bad_request")
	})
	t.Run("two objects", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", `{"amount":5}{"amount":6}`, bearer), 400, "bad_request")
	})
	t.Run("not JSON", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", `amount=5`, bearer), 400, "bad_request")
	})
	t.Run("empty body", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", "", bearer, withHeader("Content-Type", "application/json")), 400, "bad_request")
	})
	t.Run("form content type", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", `{"amount":5}`, bearer, withHeader("Content-Type", "application/x-www-form-urlencoded")), 415, "unsupported_media_type")
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"amount":5,"description":"` + strings.Repeat("x", 70<<10) + `"}`
		wantError(t, e.do("POST", "/api/v1/sales", big, bearer), 413, "too_large")
	})
	t.Run("too large without length", func(t *testing.T) {
		big := `{"amount":5,"description":"` + strings.Repeat("x", 70<<10) + `"}`
		w := e.do("POST", "/api/v1/sales", big, bearer, func(r *http.Request) { r.ContentLength = -1 })
		wantError(t, w, 413, "too_large")
	})
	t.Run("method", func(t *testing.T) {
		w := e.do("DELETE", "/api/v1/sales", "", bearer)
		wantError(t, w, 405, "method_not_allowed")
		if got := w.Header().Get("Allow"); got != "GET, POST" {
			t.Fatalf("Allow %q", got)
		}
	})
	t.Run("storage error is 503", func(t *testing.T) {
		e2 := newEnv(t, func(o *Options) {
			o.Till = errTill{fakeTill: newFakeTill(time.Now), err: &engine.Error{Code: "storage", Message: "The journal cannot be written: no sale was taken"}}
		})
		wantError(t, e2.do("POST", "/api/v1/sales", `{"amount":5}`, bearer), 503, "storage")
	})
}

// errTill fails OpenSale with err.
type errTill struct {
	*fakeTill
	err error
}

func (t errTill) OpenSale(context.Context, engine.OpenSaleRequest) (*engine.Sale, error) {
	return nil, t.err
}

func TestAPI_Sales(t *testing.T) {
	e := newEnv(t, nil)
	a := e.openSale(100)
	b := e.paidSale(250)
	t.Run("get", func(t *testing.T) {
		w := e.do("GET", "/api/v1/sales/"+a.ID, "", bearer)
		if w.Code != 200 || decodeSale(t, w).ID != a.ID {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("get missing", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales/nope", "", bearer), 404, "not_found")
	})
	t.Run("list today newest first", func(t *testing.T) {
		w := e.do("GET", "/api/v1/sales?date=2026-11-26", "", bearer)
		var ss []engine.Sale
		if err := json.Unmarshal(w.Body.Bytes(), &ss); err != nil || len(ss) != 2 || ss[0].ID != b.ID {
			t.Fatalf("%v %s", err, w.Body)
		}
	})
	t.Run("list default is today", func(t *testing.T) {
		var ss []engine.Sale
		w := e.do("GET", "/api/v1/sales", "", bearer)
		if strings.Contains(w.Body.String(), "code_hash") {
			t.Fatalf("list carries payment code hashes: %s", w.Body)
		}
		_ = json.Unmarshal(w.Body.Bytes(), &ss)
		if len(ss) != 2 {
			t.Fatalf("got %d sales", len(ss))
		}
	})
	t.Run("other day empty array", func(t *testing.T) {
		w := e.do("GET", "/api/v1/sales?date=2026-11-25", "", bearer)
		if strings.TrimSpace(w.Body.String()) != "[]" {
			t.Fatalf("%s", w.Body)
		}
	})
	t.Run("filters", func(t *testing.T) {
		for q, want := range map[string]int{"state=paid": 1, "state=cancelled": 0, "wallet=CNY": 1, "wallet=HKD": 0,
			"q=" + a.ID: 1, "q=r-1": 2, "q=zzz": 0} {
			var ss []engine.Sale
			_ = json.Unmarshal(e.do("GET", "/api/v1/sales?"+q, "", bearer).Body.Bytes(), &ss)
			if len(ss) != want {
				t.Errorf("%s: %d sales, want %d", q, len(ss), want)
			}
		}
	})
	t.Run("bad date", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/sales?date=26/11/2026", "", bearer), 400, "bad_request")
	})
	t.Run("cancel", func(t *testing.T) {
		w := e.do("POST", "/api/v1/sales/"+a.ID+"/cancel", "", bearer)
		if w.Code != 200 || decodeSale(t, w).State != engine.SaleCancelled {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		wantError(t, e.do("GET", "/api/v1/sales/"+a.ID+"/cancel", "", bearer), 405, "method_not_allowed")
		wantError(t, e.do("POST", "/api/v1/sales/nope/cancel", "", bearer), 404, "not_found")
	})
	t.Run("unknown API path", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/nothing", "", bearer), 404, "not_found")
	})
}

func TestAPI_Pay(t *testing.T) {
	e := newEnv(t, nil)
	s := e.openSale(300)
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":"6901234567892"}`, bearer), 422, "invalid_code")
	w := e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":"`+goodCode+`"}`, bearer)
	if w.Code != 200 || decodeSale(t, w).State != engine.SalePaying {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), goodCode) || strings.Contains(w.Body.String(), "code_hash") {
		t.Fatalf("payment code or its hash in the answer: %s", w.Body)
	}
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":"`+goodCode+`"}`, bearer), 409, "sale_busy")
	e.till.step(s.ID, fakeStep{state: engine.AttemptFailed, err: &engine.ErrorInfo{Code: "NOTENOUGH", Message: "Not enough balance"}})
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/pay", `{"auth_code":"`+goodCode+`"}`, bearer), 409, "code_used")
}

func TestAPI_Scan(t *testing.T) {
	t.Run("demo only", func(t *testing.T) {
		e := newEnv(t, nil)
		wantError(t, e.do("POST", "/api/v1/scan", `{"code":"`+goodCode+`"}`, bearer), 404, "not_found")
	})
	t.Run("till scan", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Demo = true })
		wantError(t, e.do("POST", "/api/v1/scan", `{"code":"`+goodCode+`"}`, bearer), 409, "no_open_sale")
		s := e.openSale(500)
		wantError(t, e.do("POST", "/api/v1/scan", `{"code":"281234567890123456"}`, bearer), 422, "invalid_code")
		w := e.do("POST", "/api/v1/scan", `{"code":" `+goodCode+`\n"}`, bearer)
		if w.Code != 200 || decodeSale(t, w).ID != s.ID {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("virtual scanner func", func(t *testing.T) {
		var got string
		e := newEnv(t, func(o *Options) {
			o.Demo = true
			o.VirtualScan = func(_ context.Context, code string) error {
				got = code
				if code == "bad" {
					return &engine.Error{Code: "invalid_code", Message: "Not a WeChat Pay payment code"}
				}
				return nil
			}
		})
		if w := e.do("POST", "/api/v1/scan", `{"code":"`+goodCode+`"}`, bearer); w.Code != 202 || got != goodCode {
			t.Fatalf("%d %s %q", w.Code, w.Body, got)
		}
		wantError(t, e.do("POST", "/api/v1/scan", `{"code":"bad"}`, bearer), 422, "invalid_code")
	})
}

func TestAPI_Refund(t *testing.T) {
	e := newEnv(t, nil)
	s := e.paidSale(1000)
	open := e.openSale(50)
	path := "/api/v1/sales/" + s.ID + "/refunds"
	wantError(t, e.do("POST", path, `{"amount":300}`, bearer), 401, "pin_required")
	wantError(t, e.do("POST", path, `{"amount":300}`, bearer, withPIN("0000")), 403, "wrong_pin")
	w := e.do("POST", path, `{"amount":300,"reason":"damaged"}`, bearer, withPIN(testPIN))
	if w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got := decodeSale(t, w); len(got.Refunds) != 1 || got.Refunds[0].Amount != 300 || got.Refunds[0].Reason != "damaged" {
		t.Fatalf("refunds %+v", got.Refunds)
	}
	wantError(t, e.do("POST", path, `{"amount":701}`, bearer, withPIN(testPIN)), 422, "refund_exceeds")
	wantError(t, e.do("POST", path, `{"amount":0}`, bearer, withPIN(testPIN)), 400, "bad_request")
	wantError(t, e.do("POST", "/api/v1/sales/"+open.ID+"/refunds", `{"amount":10}`, bearer, withPIN(testPIN)), 409, "not_paid")
	wantError(t, e.do("POST", "/api/v1/sales/nope/refunds", `{"amount":10}`, bearer, withPIN(testPIN)), 404, "not_found")
	if w := e.do("POST", path, `{"amount":700}`, bearer, withPIN(testPIN)); w.Code != 201 {
		t.Fatalf("full rest: %d %s", w.Code, w.Body)
	}
	t.Run("no PIN configured", func(t *testing.T) {
		e2 := newEnv(t, func(o *Options) { o.ManagerPIN = "" })
		s := e2.paidSale(100)
		wantError(t, e2.do("POST", "/api/v1/sales/"+s.ID+"/refunds", `{"amount":10}`, bearer, withPIN("")), 403, "no_manager_pin")
		wantError(t, e2.do("POST", "/api/v1/sales/"+s.ID+"/refunds", `{"amount":10}`, bearer, withPIN("1234")), 403, "no_manager_pin")
	})
}

func TestAPI_PINLockout(t *testing.T) {
	e := newEnv(t, nil)
	s := e.paidSale(1000)
	path := "/api/v1/sales/" + s.ID + "/refunds"
	for i := 1; i <= 4; i++ {
		w := e.do("POST", path, `{"amount":1}`, bearer, withPIN("111111"))
		wantError(t, w, 403, "wrong_pin")
		want := jsonInt(int64(5-i)) + " tries left"
		if i == 4 {
			want = "1 try left" // not "1 tries"
		}
		if !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), `"tries_left":`+jsonInt(int64(5-i))) {
			t.Fatalf("try %d: %s", i, w.Body)
		}
	}
	w := e.do("POST", path, `{"amount":1}`, bearer, withPIN("111111"))
	wantError(t, w, 429, "pin_locked")
	if w.Header().Get("Retry-After") != "60" {
		t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	// The right PIN does not help while locked, through the API or the login.
	wantError(t, e.do("POST", path, `{"amount":1}`, bearer, withPIN(testPIN)), 429, "pin_locked")
	c, in := e.session()
	wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withCookie(c), withHeader("X-CSRF-Token", in.CSRF)), 429, "pin_locked")
	e.clock.Add(time.Minute)
	if w := e.do("POST", path, `{"amount":1}`, bearer, withPIN(testPIN)); w.Code != 201 {
		t.Fatalf("after lockout: %d %s", w.Code, w.Body)
	}
	// A success resets the count: four wrong tries are not a lockout.
	for range 4 {
		wantError(t, e.do("POST", path, `{"amount":1}`, bearer, withPIN("111111")), 403, "wrong_pin")
	}
	if w := e.do("POST", path, `{"amount":1}`, bearer, withPIN(testPIN)); w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// session gets a cashier session the way the till's own screen does.
func (e *env) session(opts ...reqOpt) (*http.Cookie, sessionInfo) {
	e.t.Helper()
	w := e.do("GET", "/ui/session", "", opts...)
	var in sessionInfo
	if err := json.Unmarshal(w.Body.Bytes(), &in); err != nil {
		e.t.Fatalf("session: %v %s", err, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			return c, in
		}
	}
	return nil, in
}

func TestUI_Session(t *testing.T) {
	e := newEnv(t, nil)
	c, in := e.session()
	if c == nil || in.Role != "cashier" || in.CSRF == "" {
		t.Fatalf("loopback session: %v %+v", c, in)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("cookie attributes %+v", c)
	}
	// Same cookie again: same session, no new cookie.
	if c2, in2 := e.session(withCookie(c)); c2 != nil || in2.CSRF != in.CSRF {
		t.Fatalf("second call: %v %+v", c2, in2)
	}
	t.Run("remote client must log in", func(t *testing.T) {
		c, in := e.session(withRemote("192.168.1.20:4000"))
		// No PIN on the login screen: the PIN is asked of someone logged in (security review).
		if c != nil || in.Role != "none" || in.CSRF != "" || !in.TokenLogin || in.PINLogin {
			t.Fatalf("%v %+v", c, in)
		}
	})
	t.Run("no auto session when off", func(t *testing.T) {
		e2 := newEnv(t, func(o *Options) { o.Kiosk = nil })
		if c, in := e2.session(); c != nil || in.Role != "none" {
			t.Fatalf("%v %+v", c, in)
		}
	})
	t.Run("token login", func(t *testing.T) {
		wantError(t, e.do("POST", "/ui/login", `{"token":"wrong"}`, withRemote("192.168.1.20:4000")), 401, "unauthorized")
		w := e.do("POST", "/ui/login", `{"token":"`+testToken+`"}`, withRemote("192.168.1.20:4000"))
		if w.Code != 200 || len(w.Result().Cookies()) != 1 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), testToken) {
			t.Fatal("token echoed to the page")
		}
	})
	t.Run("cookie session reads the API", func(t *testing.T) {
		if w := e.do("GET", "/api/v1/sales", "", withCookie(c)); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		wantError(t, e.do("GET", "/api/v1/sales", "", withCookie(&http.Cookie{Name: sessionCookie, Value: "forged"})), 401, "unauthorized")
	})
	t.Run("session expires", func(t *testing.T) {
		e.clock.Add(12*time.Hour + time.Second)
		wantError(t, e.do("GET", "/api/v1/sales", "", withCookie(c)), 401, "unauthorized")
	})
}

func TestUI_CSRF(t *testing.T) {
	e := newEnv(t, nil)
	c, in := e.session()
	body := `{"amount":100}`
	t.Run("no token", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", body, withCookie(c)), 403, "csrf")
	})
	t.Run("wrong token", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", body, withCookie(c), withHeader("X-CSRF-Token", "x"+in.CSRF)), 403, "csrf")
	})
	t.Run("foreign origin", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", body, withCookie(c), withHeader("X-CSRF-Token", in.CSRF),
			withHeader("Origin", "http://evil.example")), 403, "csrf")
	})
	t.Run("cross-site fetch metadata", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/sales", body, withCookie(c), withHeader("X-CSRF-Token", in.CSRF),
			withHeader("Sec-Fetch-Site", "cross-site")), 403, "csrf")
	})
	t.Run("same origin", func(t *testing.T) {
		w := e.do("POST", "/api/v1/sales", body, withCookie(c), withHeader("X-CSRF-Token", in.CSRF),
			withHeader("Origin", "http://127.0.0.1:8080"), withHeader("Sec-Fetch-Site", "same-origin"))
		if w.Code != 201 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("login from another site", func(t *testing.T) {
		wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withHeader("Origin", "http://evil.example")), 403, "csrf")
	})
	t.Run("bearer needs no CSRF", func(t *testing.T) {
		if w := e.do("POST", "/api/v1/sales", body, bearer, withHeader("Origin", "http://evil.example")); w.Code != 201 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("foreign host name", func(t *testing.T) {
		w := e.do("GET", "/", "", func(r *http.Request) { r.Host = "rebind.evil.example:8080" })
		wantError(t, w, http.StatusMisdirectedRequest, "bad_host")
		e2 := newEnv(t, func(o *Options) { o.AllowedHosts = []string{"till1.shop.lan"} })
		if w := e2.do("GET", "/", "", func(r *http.Request) { r.Host = "till1.shop.lan:8080" }); w.Code != 200 {
			t.Fatalf("allowed host: %d", w.Code)
		}
	})
}

func TestUI_Manager(t *testing.T) {
	e := newEnv(t, nil)
	c, in := e.session()
	csrf := withHeader("X-CSRF-Token", in.CSRF)
	s := e.paidSale(800)
	wantError(t, e.do("GET", "/api/v1/jobs", "", withCookie(c)), 403, "manager_required")
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/refunds", `{"amount":100}`, withCookie(c), csrf), 403, "manager_required")

	// The session's CSRF token comes with the PIN: the cookie alone is not a login.
	wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withCookie(c)), 401, "unauthorized")
	wantError(t, e.do("POST", "/ui/login", `{"pin":"999999"}`, withCookie(c), csrf), 403, "wrong_pin")
	w := e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withCookie(c), csrf)
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), testPIN) {
		t.Fatal("PIN echoed to the page")
	}
	var min sessionInfo
	_ = json.Unmarshal(w.Body.Bytes(), &min)
	mc := w.Result().Cookies()[0]
	if min.Role != "manager" || mc.Value == c.Value || min.CSRF == in.CSRF {
		t.Fatalf("manager session must be new: %+v", min)
	}
	// The old cookie is gone (no session fixation).
	wantError(t, e.do("GET", "/api/v1/sales", "", withCookie(c)), 401, "unauthorized")
	mcsrf := withHeader("X-CSRF-Token", min.CSRF)
	if w := e.do("GET", "/api/v1/jobs", "", withCookie(mc)); w.Code != 200 {
		t.Fatalf("jobs: %d %s", w.Code, w.Body)
	}
	if w := e.do("POST", "/api/v1/sales/"+s.ID+"/refunds", `{"amount":100}`, withCookie(mc), mcsrf); w.Code != 201 {
		t.Fatalf("refund: %d %s", w.Code, w.Body)
	}
	// Sliding expiry: use keeps it alive, 15 idle minutes end it.
	e.clock.Add(10 * time.Minute)
	if w := e.do("GET", "/api/v1/logs", "", withCookie(mc)); w.Code != 200 {
		t.Fatalf("logs: %d", w.Code)
	}
	e.clock.Add(10 * time.Minute)
	if w := e.do("GET", "/api/v1/logs", "", withCookie(mc)); w.Code != 200 {
		t.Fatalf("logs after 10 more: %d", w.Code)
	}
	e.clock.Add(15*time.Minute + time.Second)
	wantError(t, e.do("GET", "/api/v1/logs", "", withCookie(mc)), 403, "manager_required")
	// Still a cashier.
	if w := e.do("GET", "/api/v1/sales", "", withCookie(mc)); w.Code != 200 {
		t.Fatalf("cashier after manager expiry: %d", w.Code)
	}

	t.Run("lock manager keeps the cashier", func(t *testing.T) {
		w := e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withCookie(mc), mcsrf)
		mc2 := w.Result().Cookies()[0]
		var in2 sessionInfo
		_ = json.Unmarshal(w.Body.Bytes(), &in2)
		w = e.do("POST", "/ui/logout", `{"scope":"manager"}`, withCookie(mc2), withHeader("X-CSRF-Token", in2.CSRF))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"role":"cashier"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		wantError(t, e.do("GET", "/api/v1/jobs", "", withCookie(mc2)), 403, "manager_required")
		wantError(t, e.do("POST", "/ui/logout", "", withCookie(mc2)), 403, "csrf")
		if w := e.do("POST", "/ui/logout", "", withCookie(mc2), withHeader("X-CSRF-Token", in2.CSRF)); w.Code != 200 {
			t.Fatalf("logout: %d", w.Code)
		}
		wantError(t, e.do("GET", "/api/v1/sales", "", withCookie(mc2)), 401, "unauthorized")
	})
	t.Run("bearer with PIN reads manager calls", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/jobs", "", bearer), 401, "pin_required")
		if w := e.do("GET", "/api/v1/jobs", "", bearer, withPIN(testPIN)); w.Code != 200 {
			t.Fatalf("%d", w.Code)
		}
	})
}

func TestAPI_Events(t *testing.T) {
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
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for e.till.subscribers() == 0 { // the handler subscribes before it answers
		if ctx.Err() != nil {
			t.Fatal("the SSE handler never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	s := e.openSale(1234)
	e.srv.Notify(Notice{Code: "invalid_code", Message: "Not a WeChat Pay payment code"})
	if _, err := e.till.Pay(ctx, s.ID, goodCode); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	var events []string
	var sales []engine.Sale
	pings := 0
	for len(sales) < 2 || pings == 0 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (events %v)", err, events)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			events = append(events, strings.TrimPrefix(line, "event: "))
		case strings.HasPrefix(line, "data: ") && events[len(events)-1] == "sale":
			if strings.Contains(line, "code_hash") {
				t.Fatalf("SSE carries the payment code's hash: %s", line)
			}
			var sale engine.Sale
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &sale); err != nil {
				t.Fatalf("sale event data: %v", err)
			}
			sales = append(sales, sale)
		case line == ": ping":
			pings++
		}
	}
	if sales[0].ID != s.ID || sales[0].State != engine.SaleAwaitingScan || sales[1].State != engine.SalePaying || sales[1].Amount != 1234 {
		t.Fatalf("sales %+v", sales)
	}
	if !strings.Contains(strings.Join(events, ","), "notice") {
		t.Fatalf("no notice event: %v", events)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for e.till.subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("SSE handler did not unsubscribe after the client left")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Run("needs auth", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/events", ""), 401, "unauthorized")
	})
}

func TestAPI_Status(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Alerts = func() []Alert {
			return []Alert{{Code: "printer_paper_out", Severity: "error", Message: "Printer out of paper"}}
		}
	})
	e.till.setStatus(engine.Status{Ready: true, Unresolved: 2, QueueDepth: 3, Attention: 1, WeChatReachable: false,
		LastWeChatOK: e.clock.Now().Add(-time.Minute)})
	w := e.do("GET", "/api/v1/status", "", bearer)
	var st statusAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, a := range st.Alerts {
		codes[a.Code] = a.Count
	}
	want := map[string]int{"printer_paper_out": 0, "wechat_unreachable": 0, "attention": 1, "queue_waiting": 2}
	if len(codes) != len(want) {
		t.Fatalf("alerts %+v", st.Alerts)
	}
	for k, v := range want {
		if n, ok := codes[k]; !ok || n != v {
			t.Errorf("alert %s: %v %d, want %d", k, ok, n, v)
		}
	}
	e.till.setStatus(engine.Status{Ready: true})
	_ = json.Unmarshal(e.do("GET", "/api/v1/status", "", bearer).Body.Bytes(), &st)
	if len(st.Alerts) != 1 {
		t.Fatalf("a quiet till has only the device alert: %+v", st.Alerts)
	}
}

func TestAPI_ManagerTools(t *testing.T) {
	var gotLevel, gotGrep string
	rec := &report.Result{Date: "2026-11-26", State: "done", Items: []report.Item{{Class: "matched", OutTradeNo: "X"}}}
	var printed report.DayReport
	e := newEnv(t, func(o *Options) {
		o.PrintDayReport = func(_ context.Context, r report.DayReport) error { printed = r; return nil }
		o.Logs = func(level, grep string, n int) []LogEntry {
			gotLevel, gotGrep = level, grep
			return []LogEntry{{Time: time.Now(), Level: "warning", Message: "scanner gone", Fields: map[string]string{"component": "scanner"}}}
		}
		o.Health = func() any { return map[string]string{"storage": "ok"} }
		o.Devices = func() DeviceReport { return DeviceReport{Scanners: []ScannerCard{{Name: "scanner0"}}} }
		o.Reconciliation = func(date string) (*report.Result, error) {
			if date != "2026-11-26" {
				return nil, nil
			}
			return rec, nil
		}
		o.Reconcile = func(ctx context.Context, date string) (report.Result, error) { return *rec, nil }
		o.Receipts = &Receipts{
			Recent: func(n int) ([]Receipt, error) {
				return []Receipt{{ID: "r1", SaleID: "S0001", Text: "PAID", PNG: []byte("\x89PNG fake")}, {ID: "r2", SaleID: "S0002", Text: "x"}}, nil
			},
			Reprint: func(ctx context.Context, id string) error { return nil },
		}
	})
	e.till.jobs = []engine.Job{{ID: "resolve:a", Kind: "resolve"}, {ID: "resolve:b", Kind: "resolve", Attention: true, Advice: "Call WeChat support"}}
	sale := e.paidSale(1500)
	pin := withPIN(testPIN)
	t.Run("jobs attention first", func(t *testing.T) {
		var js []engine.Job
		_ = json.Unmarshal(e.do("GET", "/api/v1/jobs", "", bearer, pin).Body.Bytes(), &js)
		if len(js) != 2 || !js[0].Attention || js[0].Advice == "" {
			t.Fatalf("%+v", js)
		}
	})
	t.Run("logs", func(t *testing.T) {
		w := e.do("GET", "/api/v1/logs?level=warning&q=scanner", "", bearer, pin)
		if w.Code != 200 || gotLevel != "warning" || gotGrep != "scanner" || !strings.Contains(w.Body.String(), "scanner gone") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		wantError(t, e.do("GET", "/api/v1/logs?level=loud", "", bearer, pin), 400, "bad_request")
	})
	t.Run("devices", func(t *testing.T) {
		w := e.do("GET", "/api/v1/devices", "", bearer, pin)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "scanner0") || !strings.Contains(w.Body.String(), `"storage":"ok"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("day report", func(t *testing.T) {
		var r report.DayReport
		w := e.do("GET", "/api/v1/reports/day?date=2026-11-26", "", bearer, pin)
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || r.Paid.Amount != 1500 || len(r.Wallets) != 1 || r.Wallets[0].Wallet != "CNY" {
			t.Fatalf("%v %s", err, w.Body)
		}
	})
	t.Run("print day report", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/reports/day/print", "", bearer), 401, "pin_required")
		if w := e.do("POST", "/api/v1/reports/day/print?date=2026-11-26", "", bearer, pin); w.Code != 202 || printed.Paid.Amount != 1500 {
			t.Fatalf("%d %s %+v", w.Code, w.Body, printed)
		}
		e2 := newEnv(t, nil)
		wantError(t, e2.do("POST", "/api/v1/reports/day/print", "", bearer, pin), 501, "no_printer")
	})
	t.Run("reconciliation", func(t *testing.T) {
		w := e.do("GET", "/api/v1/reports/reconciliation?date=2026-11-26", "", bearer, pin)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"matched"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := e.do("POST", "/api/v1/reports/reconciliation?date=2026-11-26", "", bearer, pin); w.Code != 200 {
			t.Fatalf("run: %d %s", w.Code, w.Body)
		}
	})
	t.Run("export", func(t *testing.T) {
		w := e.do("GET", "/api/v1/export/journal?date=2026-11-26", "", bearer, pin)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") ||
			!strings.Contains(w.Header().Get("Content-Disposition"), "posd-journal-2026-11-26.csv") ||
			!strings.Contains(w.Body.String(), sale.ID) {
			t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
		}
		wantError(t, e.do("GET", "/api/v1/export/journal?format=xls", "", bearer, pin), 400, "bad_request")
		wantError(t, e.do("GET", "/api/v1/export/journal", "", bearer), 401, "pin_required")
	})
	t.Run("receipts need a manager outside demo", func(t *testing.T) {
		wantError(t, e.do("GET", "/api/v1/receipts", "", bearer), 401, "pin_required")
		w := e.do("GET", "/api/v1/receipts?sale=S0001", "", bearer, pin)
		var rs []Receipt
		if err := json.Unmarshal(w.Body.Bytes(), &rs); err != nil || len(rs) != 1 || !rs[0].HasPNG {
			t.Fatalf("%v %s", err, w.Body)
		}
		w = e.do("GET", "/api/v1/receipts/r1.png", "", bearer, pin)
		if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		wantError(t, e.do("GET", "/api/v1/receipts/r2.png", "", bearer, pin), 404, "not_found")
	})
	t.Run("reprint", func(t *testing.T) {
		if w := e.do("POST", "/api/v1/sales/"+sale.ID+"/reprint", "", bearer); w.Code != 202 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		wantError(t, e.do("POST", "/api/v1/sales/nope/reprint", "", bearer), 404, "not_found")
	})
}

func TestUI_StaticAndHeaders(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("GET", "/", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "/static/app.js") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "img-src 'self' data:"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), " style=") {
		t.Error("index.html has inline script or style, which the CSP blocks")
	}
	for _, f := range []string{"/static/app.js", "/static/app.css", "/static/i18n.js"} {
		if w := e.do("GET", f, ""); w.Code != 200 || w.Body.Len() < 100 {
			t.Errorf("%s: %d", f, w.Code)
		}
	}
	if w := e.do("GET", "/static/", ""); w.Code != 404 {
		t.Errorf("directory listing: %d", w.Code)
	}
	if w := e.do("GET", "/nothing", ""); w.Code != 404 {
		t.Errorf("unknown page: %d", w.Code)
	}
	if w := e.do("POST", "/", ""); w.Code != 405 {
		t.Errorf("POST /: %d", w.Code)
	}
}

func TestToAPIError(t *testing.T) {
	for code, status := range engineStatus {
		ae := toAPIError(&engine.Error{Code: code, Message: "m"})
		if ae.Status != status || ae.Code != code || ae.Message != "m" {
			t.Errorf("%s: %+v", code, ae)
		}
	}
	if ae := toAPIError(&engine.Error{Code: "new_code", Message: "m"}); ae.Status != 500 {
		t.Errorf("unknown engine code: %+v", ae)
	}
	if ae := toAPIError(errors.New("disk on fire")); ae.Status != 500 || strings.Contains(ae.Message, "fire") {
		t.Errorf("plain error: %+v", ae)
	}
	if ae := toAPIError(engine.ErrNotFound); ae.Status != 404 {
		t.Errorf("ErrNotFound: %+v", ae)
	}
}

func TestNew_NeedsTill(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a Till must fail")
	}
}

func TestServer_CloseEndsStreams(t *testing.T) {
	e := newEnv(t, nil)
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	c, _ := e.session()
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/events", nil)
	req.AddCookie(c) // the page's way in: the session cookie, no token
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cookie SSE: %d", resp.StatusCode)
	}
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	e.srv.Close()
	e.srv.Close() // twice is fine
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the event stream")
	}
}

func BenchmarkAPI_GetSale(b *testing.B) {
	e := newEnv(b, nil)
	s := e.openSale(1050)
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/api/v1/sales/"+s.ID, nil)
	bearer(r)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func BenchmarkAPI_OpenSale(b *testing.B) {
	e := newEnv(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/v1/sales", strings.NewReader(`{"amount":1050,"reference":"R-1"}`))
		r.Header.Set("Content-Type", "application/json")
		bearer(r)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code != 201 {
			b.Fatal(w.Code)
		}
	}
}

func TestServer_HostAllowed(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedHosts = []string{"till1.shop.lan"} })
	for host, ok := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1": true, "localhost:8080": true, "LOCALHOST": true, "[::1]:8080": true,
		"[::1]": true, "192.168.1.20:8443": true, "till1.shop.lan:8443": true, "TILL1.shop.lan": true,
		"evil.example": false, "evil.example:8080": false, "127.0.0.1.nip.io:8080": false, "localhost.evil.example": false,
	} {
		if got := e.srv.hostAllowed(host); got != ok {
			t.Errorf("hostAllowed(%q) = %v", host, got)
		}
	}
}

func TestSessionStore_Bounded(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, hkt)}
	st := newSessionStore(clk.Now)
	first, _ := st.create(time.Hour, false, false)
	for range maxSessions + 10 {
		clk.Add(time.Second)
		if _, err := st.create(time.Hour, false, false); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.m); n != maxSessions {
		t.Fatalf("%d sessions kept, want %d", n, maxSessions)
	}
	if _, ok := st.get(first.id); ok {
		t.Fatal("the session that ends first must go first")
	}
}

func TestAPI_EventsBounded(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.mu.Lock()
	e.srv.streams = maxStreams - screenStreams
	e.srv.mu.Unlock()
	wantError(t, e.do("GET", "/api/v1/events", "", bearer), 503, "too_many_streams")
}

func TestAPI_Demo(t *testing.T) {
	table := []map[string]any{{"Cents": 2, "Name": "userpaying-5s"}}
	e := newEnv(t, func(o *Options) { o.Demo = true; o.AmountTable = table })
	w := e.do("GET", "/api/v1/demo", "", bearer)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"demo":true`) || !strings.Contains(w.Body.String(), "userpaying-5s") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	c, in := e.session()
	if !in.Demo || in.Today != "2026-11-26" || in.TZOffset != 8*3600 || in.Currency != "HKD" {
		t.Fatalf("session info %+v", in)
	}
	// In demo the cashier sees the virtual printer's receipts without a manager.
	if w := e.do("GET", "/api/v1/receipts", "", withCookie(c)); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// loopbackKiosk plays the till's kiosk browser in tests: every loopback client is it.
func loopbackKiosk(r *http.Request) bool { return isLoopback(r.RemoteAddr) }
