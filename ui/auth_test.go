package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"posd/queue"
)

// Security review: any local process got cashier rights without the token. Without a
// kiosk configured, a loopback client with no Origin gets no session, and /api/v1 answers
// 401 to every call without the token.
func TestSecurity_NoCashierWithoutToken(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Kiosk = nil })
	c, in := e.session()
	if c != nil || in.Role != "none" || in.CSRF != "" {
		t.Fatalf("a loopback client got a session: %v %+v", c, in)
	}
	wantError(t, e.do("POST", "/api/v1/sales", `{"amount":100}`), 401, "unauthorized")
	wantError(t, e.do("GET", "/api/v1/events", ""), 401, "unauthorized")
	wantError(t, e.do("GET", "/api/v1/sales", ""), 401, "unauthorized")
	if n := len(e.till.sales); n != 0 {
		t.Fatalf("%d sales opened without the token", n)
	}
	// The kiosk check sees every request: another origin is not the kiosk.
	e2 := newEnv(t, nil)
	if c, _ := e2.session(withHeader("Origin", "http://evil.example")); c != nil {
		t.Fatal("a cross-origin request got a kiosk session")
	}
}

func cookieOf(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	return nil
}

// A one-time login link opens a cashier session (the till's screen) once, and only before
// it expires; links come from the server (posd demo) or from a bearer caller.
func TestSecurity_LoginLink(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Kiosk = nil })
	path, exp := e.srv.LoginLink(time.Hour)
	if !strings.HasPrefix(path, "/ui/link?code=") || !exp.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("link %q %v", path, exp)
	}
	w := e.do("GET", path, "")
	c := cookieOf(w)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || c == nil {
		t.Fatalf("link: %d %v %v", w.Code, w.Header(), c)
	}
	if _, in := e.session(withCookie(c)); in.Role != "cashier" {
		t.Fatalf("after the link: %+v", in)
	}
	// A reload of the link with the session goes on to the page; without it, refused.
	if w := e.do("GET", path, "", withCookie(c)); w.Code != http.StatusSeeOther || cookieOf(w) != nil {
		t.Fatalf("reload: %d", w.Code)
	}
	wantError(t, e.do("GET", path, ""), 401, "unauthorized")
	wantError(t, e.do("GET", "/ui/link?code=", ""), 401, "unauthorized")
	wantError(t, e.do("GET", "/ui/link?code=forged", ""), 401, "unauthorized")

	late, _ := e.srv.LoginLink(time.Minute)
	e.clock.Add(time.Minute)
	wantError(t, e.do("GET", late, ""), 401, "unauthorized")

	// Bearer callers make links; a cookie session cannot, nobody else either.
	w = e.do("POST", "/api/v1/login-links", "", bearer)
	var ans struct {
		Path      string    `json:"path"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ans); w.Code != 201 || err != nil || !strings.HasPrefix(ans.Path, "/ui/link?code=") {
		t.Fatalf("login-links: %d %s", w.Code, w.Body)
	}
	if w := e.do("GET", ans.Path, ""); cookieOf(w) == nil {
		t.Fatalf("bearer link: %d", w.Code)
	}
	_, in := e.session(withCookie(c))
	wantError(t, e.do("POST", "/api/v1/login-links", "", withCookie(c), withHeader("X-CSRF-Token", in.CSRF)), 403, "bearer_required")
	wantError(t, e.do("POST", "/api/v1/login-links", ""), 401, "unauthorized")
}

// Security review: POST /ui/login took a PIN from anybody. The PIN needs a session (with
// its CSRF token) or the token in the same body, and a refused attempt costs no PIN try.
func TestSecurity_PINNeedsLogin(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Kiosk = nil })
	for range 10 {
		wantError(t, e.do("POST", "/ui/login", `{"pin":"999999"}`), 401, "unauthorized")
	}
	wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`), 401, "unauthorized")
	wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`"}`, withCookie(&http.Cookie{Name: sessionCookie, Value: "forged"})), 401, "unauthorized")
	wantError(t, e.do("POST", "/ui/login", `{"pin":"`+testPIN+`","token":"wrong"}`), 401, "unauthorized")
	w := e.do("POST", "/ui/login", `{"pin":"`+testPIN+`","token":"`+testToken+`"}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"role":"manager"`) {
		t.Fatalf("token and PIN: %d %s", w.Code, w.Body)
	}
}

// openAux is a real journal's lockout bucket.
func openAux(t *testing.T, path string) (*queue.Aux, func()) {
	t.Helper()
	db, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db.Aux("pin_lockout"), func() { _ = db.Close() }
}

// Security review: the lockout was global, fixed at 5 minutes and in memory. It is per
// source, escalating, kept in bbolt across a restart; a success elsewhere does not unlock
// the attacker, and the attacker does not lock out the manager.
func TestSecurity_PINLockoutPerSourceEscalatingPersisted(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "posd.db")
	store, closeDB := openAux(t, dbPath)
	lg, hook := test.NewNullLogger()
	var mu sync.Mutex
	counts := map[string]int{}
	mod := func(o *Options) {
		o.PINLockouts = store
		o.Logger = lg
		o.OnLogin = func(method, result string) { mu.Lock(); counts[method+"/"+result]++; mu.Unlock() }
	}
	e := newEnv(t, mod)
	s := e.paidSale(1000)
	path := "/api/v1/sales/" + s.ID + "/refunds"
	attacker, manager := withRemote("192.168.1.66:5000"), withRemote("192.168.1.20:4000")
	wrong := func() *httptest.ResponseRecorder {
		return e.do("POST", path, `{"amount":1}`, bearer, withPIN("999999"), attacker)
	}
	for range 4 {
		wantError(t, wrong(), 403, "wrong_pin")
	}
	for i, want := range []string{"60", "300", "1800", "7200", "28800", "86400", "86400"} {
		w := wrong()
		wantError(t, w, 429, "pin_locked")
		if w.Header().Get("Retry-After") != want {
			t.Fatalf("lockout %d: Retry-After %s, want %s", i, w.Header().Get("Retry-After"), want)
		}
		// The manager elsewhere is not locked out, and their success frees nobody else.
		if w := e.do("POST", path, `{"amount":1}`, bearer, withPIN(testPIN), manager); w.Code != 201 {
			t.Fatalf("manager while the attacker is locked: %d %s", w.Code, w.Body)
		}
		wantError(t, e.do("POST", path, `{"amount":1}`, bearer, withPIN(testPIN), attacker), 429, "pin_locked")
		secs, _ := time.ParseDuration(want + "s")
		e.clock.Add(secs)
	}
	// Another address of the same IPv6 /64 is the same source.
	for range 4 {
		e.do("POST", path, `{"amount":1}`, bearer, withPIN("999999"), withRemote("[2001:db8:1:2::10]:5000"))
	}
	wantError(t, e.do("POST", path, `{"amount":1}`, bearer, withPIN("999999"), withRemote("[2001:db8:1:2::99]:5000")), 429, "pin_locked")

	// A restart keeps the attacker locked.
	wrong()
	e.srv.Close()
	closeDB()
	store, closeDB = openAux(t, dbPath)
	defer closeDB()
	e2 := newEnv(t, mod)
	e2.clock.Add(e.clock.Now().Sub(e2.clock.Now()))
	s2 := e2.paidSale(1000)
	wantError(t, e2.do("POST", "/api/v1/sales/"+s2.ID+"/refunds", `{"amount":1}`, bearer, withPIN(testPIN), attacker), 429, "pin_locked")

	// Logged with the source, never the PIN; counted.
	var logs bytes.Buffer
	for _, en := range hook.AllEntries() {
		line, _ := en.String()
		logs.WriteString(line)
	}
	if strings.Contains(logs.String(), "999999") || strings.Contains(logs.String(), testPIN) {
		t.Fatalf("a PIN reached the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "source=192.168.1.66") || !strings.Contains(logs.String(), "manager PIN accepted") {
		t.Fatalf("log lacks the source or the success: %s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if counts["pin_header/wrong"] < 4 || counts["pin_header/locked"] < 7 || counts["pin_header/ok"] < 7 {
		t.Fatalf("counts %v", counts)
	}
}

// Security review: 256 anonymous sessions logged a manager out. Kiosk sessions have a
// pool of their own, logins another, and a live manager session is never evicted.
func TestSecurity_SessionFloodKeepsManager(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("POST", "/ui/login", `{"token":"`+testToken+`","pin":"`+testPIN+`"}`, withRemote("192.168.1.20:4000"))
	mc := cookieOf(w)
	if mc == nil {
		t.Fatalf("manager login: %d %s", w.Code, w.Body)
	}
	cc := cookieOf(e.do("POST", "/ui/login", `{"token":"`+testToken+`"}`))
	for range 300 {
		e.clock.Add(time.Millisecond)
		if c, _ := e.session(); c == nil {
			t.Fatal("the kiosk got no session")
		}
	}
	if w := e.do("GET", "/api/v1/jobs", "", withCookie(mc)); w.Code != 200 {
		t.Fatalf("manager after the kiosk flood: %d %s", w.Code, w.Body)
	}
	if w := e.do("GET", "/api/v1/sales", "", withCookie(cc)); w.Code != 200 {
		t.Fatalf("logged-in cashier after the kiosk flood: %d", w.Code)
	}
	for range maxSessions + 10 {
		e.clock.Add(time.Millisecond)
		if w := e.do("POST", "/ui/login", `{"token":"`+testToken+`"}`); w.Code != 200 {
			t.Fatalf("token login: %d", w.Code)
		}
	}
	if w := e.do("GET", "/api/v1/jobs", "", withCookie(mc)); w.Code != 200 {
		t.Fatalf("manager after the login flood: %d %s", w.Code, w.Body)
	}
	// Only managers left: a new session is refused rather than evicting one.
	st := newSessionStore(e.clock.Now)
	for range maxSessions {
		if _, err := st.replace("", time.Hour, e.clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.create(time.Hour, false, false); err == nil || err.Code != "too_many_sessions" {
		t.Fatalf("full of managers: %v", err)
	}
}

// streamOpen opens an event stream and waits until the server subscribed it.
func streamOpen(t *testing.T, e *env, ts *httptest.Server, opts ...reqOpt) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
	for _, o := range opts {
		o(req)
	}
	before := e.till.subscribers()
	resp, err := ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode == 200 {
		for e.till.subscribers() == before {
			time.Sleep(time.Millisecond) // polling a condition, not sizing a wait
		}
	}
	return resp, func() { cancel(); resp.Body.Close() }
}

// Security review: 64 streams from anyone starved the till's screen. A session holds at
// most streamsPerSession, and the last slots are the till screen's.
func TestSecurity_StreamCaps(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Kiosk = nil })
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	defer e.srv.Close()
	w := e.do("POST", "/ui/login", `{"token":"`+testToken+`"}`)
	c := cookieOf(w)
	for range streamsPerSession {
		resp, stop := streamOpen(t, e, ts, withCookie(c))
		defer stop()
		if resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
	}
	resp, stop := streamOpen(t, e, ts, withCookie(c))
	stop()
	if resp.StatusCode != 503 {
		t.Fatalf("stream %d of one session: %d", streamsPerSession+1, resp.StatusCode)
	}
	// Everybody else has filled the rest: a bearer caller is refused, the screen is not.
	e.srv.mu.Lock()
	e.srv.streams = maxStreams - screenStreams
	e.srv.mu.Unlock()
	resp, stop = streamOpen(t, e, ts, bearer)
	stop()
	if resp.StatusCode != 503 {
		t.Fatalf("bearer stream past the shared slots: %d", resp.StatusCode)
	}
	link, _ := e.srv.LoginLink(time.Minute)
	sc := cookieOf(e.do("GET", link, ""))
	resp, stop = streamOpen(t, e, ts, withCookie(sc))
	defer stop()
	if resp.StatusCode != 200 {
		t.Fatalf("the till's screen was refused a stream: %d", resp.StatusCode)
	}
}

// Security review: /healthz and /metrics were open to the LAN. "open" serves loopback
// clients only; "token" asks everyone for the bearer token.
func TestSecurity_HealthAccess(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) })
	lan := withRemote("192.168.1.20:4000")
	for _, p := range []string{"/healthz", "/metrics"} {
		e := newEnv(t, func(o *Options) { o.Healthz, o.Metrics = ok, ok })
		if w := e.do("GET", p, ""); w.Code != 200 {
			t.Fatalf("%s open, loopback: %d", p, w.Code)
		}
		wantError(t, e.do("GET", p, "", lan), 403, "loopback_only")
		wantError(t, e.do("GET", p, "", lan, bearer), 403, "loopback_only")

		e = newEnv(t, func(o *Options) { o.Healthz, o.Metrics, o.HealthAccess = ok, ok, "token" })
		wantError(t, e.do("GET", p, "", lan), 401, "unauthorized")
		wantError(t, e.do("GET", p, ""), 401, "unauthorized")
		wantError(t, e.do("GET", p, "", lan, withHeader("Authorization", "Bearer nope")), 401, "unauthorized")
		if w := e.do("GET", p, "", lan, bearer); w.Code != 200 || w.Body.String() != "fine" {
			t.Fatalf("%s token: %d", p, w.Code)
		}
	}
	if _, err := New(Options{Till: newFakeTill(time.Now), HealthAccess: "public"}); err == nil {
		t.Fatal("an unknown health_access was taken")
	}
}
