package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

const sessionCookie = "posd_session"

// equalSecret compares a presented secret with the configured one in constant time.
// Hashing first makes the comparison independent of both lengths too.
func equalSecret(got, want string) bool {
	if want == "" {
		return false
	}
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ui: crypto/rand failed: " + err.Error()) // the platform is broken: never hand out guessable sessions
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func isIPLiteral(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// sourceOf is the address a PIN lockout is kept for: the client's IP, or its /64 for
// IPv6 (one host holds a whole /64 and could otherwise walk through it).
func sourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// session is a browser's login. The id is the cookie; csrf is handed to the page and must
// come back in X-CSRF-Token on every state-changing call.
type session struct {
	id, csrf     string
	until        time.Time // the session itself
	managerUntil time.Time // the manager role, sliding
	// kiosk: made for the till's kiosk browser without any credential (Options.Kiosk);
	// such sessions live in a small pool of their own, so a flood of them cannot push
	// out anybody who logged in.
	kiosk bool
	// screen: the till's own screen (kiosk, or a one-time login link): it has event
	// stream slots nobody else can take.
	screen bool
}

type sessionStore struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*session
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, m: map[string]*session{}}
}

// Pool sizes: a till has a handful of screens. Logged-in sessions have a pool of their
// own; kiosk sessions, given without a credential, a small one.
const (
	maxSessions      = 256
	maxKioskSessions = 8
)

var errTooManySessions = &apiError{Status: http.StatusServiceUnavailable, Code: CodeTooManySessions,
	Message: "Too many managers are logged in on this till: log out elsewhere, or wait for the manager sessions to expire"}

func (st *sessionStore) create(ttl time.Duration, kiosk, screen bool) (*session, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	if err := st.makeRoom(now, kiosk); err != nil {
		return nil, err
	}
	s := &session{id: randomToken(), csrf: randomToken(), until: now.Add(ttl), kiosk: kiosk, screen: screen}
	st.m[s.id] = s
	return s, nil
}

// makeRoom drops expired sessions and, while the pool is full, the one of the pool that
// ends first, but never a session with a live manager role: when only those are left the
// new session is refused. The lock is held.
func (st *sessionStore) makeRoom(now time.Time, kiosk bool) *apiError {
	limit := maxSessions
	if kiosk {
		limit = maxKioskSessions
	}
	n := 0
	for id, s := range st.m {
		if !now.Before(s.until) {
			delete(st.m, id)
		} else if s.kiosk == kiosk {
			n++
		}
	}
	for ; n >= limit; n-- {
		var oldest *session
		for _, s := range st.m {
			if s.kiosk != kiosk || now.Before(s.managerUntil) {
				continue
			}
			if oldest == nil || s.until.Before(oldest.until) {
				oldest = s
			}
		}
		if oldest == nil {
			return errTooManySessions
		}
		delete(st.m, oldest.id)
	}
	return nil
}

// get returns a copy of a live session.
func (st *sessionStore) get(id string) (session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[id]
	if !ok {
		return session{}, false
	}
	if !st.now().Before(s.until) {
		delete(st.m, id)
		return session{}, false
	}
	return *s, true
}

// touchManager extends the manager role by ttl when it is still valid.
func (st *sessionStore) touchManager(id string, ttl time.Duration) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[id]
	now := st.now()
	if !ok || !now.Before(s.managerUntil) || !now.Before(s.until) {
		return false
	}
	s.managerUntil = now.Add(ttl)
	if s.until.Before(s.managerUntil) {
		s.until = s.managerUntil
	}
	return true
}

// replace swaps a session for a new one with fresh ids (no fixation across a login)
// keeping its remaining life, pool and screen mark; managerUntil is set to mgr. Without
// an old session the new one joins the logged-in pool.
func (st *sessionStore) replace(old string, ttl time.Duration, mgr time.Time) (*session, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	until := now.Add(ttl)
	var kiosk, screen bool
	if s, ok := st.m[old]; ok {
		if s.until.After(until) {
			until = s.until
		}
		kiosk, screen = s.kiosk, s.screen
		delete(st.m, old)
	}
	if until.Before(mgr) {
		until = mgr
	}
	if err := st.makeRoom(now, kiosk); err != nil {
		return nil, err
	}
	s := &session{id: randomToken(), csrf: randomToken(), until: until, managerUntil: mgr, kiosk: kiosk, screen: screen}
	st.m[s.id] = s
	return s, nil
}

func (st *sessionStore) dropManager(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s, ok := st.m[id]; ok {
		s.managerUntil = time.Time{}
	}
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, id)
}

// LockoutStore keeps the PIN lockout of each source across restarts (cmd/posd gives a
// small bucket of the journal's bbolt file: queue.DB.Aux). Put with a nil value deletes.
type LockoutStore interface {
	Put(key string, value []byte) error
	All() (map[string][]byte, error)
}

// DefaultPINLockouts are the lockouts after PINMaxTries wrong PINs, one step further for
// every wrong PIN after that: 1 min, 5 min, 30 min, 2 h, 8 h, then a day each.
var DefaultPINLockouts = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 8 * time.Hour, 24 * time.Hour}

// pinRecord is one source's wrong PINs.
type pinRecord struct {
	Fails       int       `json:"fails"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	Last        time.Time `json:"last"` // the last wrong PIN
}

// pinForget is how long after its last wrong PIN a source starts from zero again: longer
// than the longest lockout, so the top step repeats instead of restarting the ladder.
const pinForget = 48 * time.Hour

// maxPINSources bounds the sources remembered (a LAN host could send from many addresses);
// the oldest unlocked ones are forgotten first.
const maxPINSources = 4096

// pinGuard checks the manager PIN and locks a source (an IP address) after maxTries wrong
// PINs in a row, for longer and longer. The lock is per source: a stranger's wrong PINs
// do not keep the managers out, and a manager's success elsewhere does not unlock the
// stranger. The state is written through to a LockoutStore, so a restart does not reset it.
type pinGuard struct {
	mu       sync.Mutex
	pin      string
	maxTries int
	ladder   []time.Duration
	now      func() time.Time
	store    LockoutStore
	log      logrus.FieldLogger
	m        map[string]*pinRecord
}

func newPINGuard(pin string, maxTries int, ladder []time.Duration, now func() time.Time, store LockoutStore, log logrus.FieldLogger) (*pinGuard, error) {
	g := &pinGuard{pin: pin, maxTries: maxTries, ladder: ladder, now: now, store: store, log: log, m: map[string]*pinRecord{}}
	if store == nil {
		return g, nil
	}
	all, err := store.All()
	if err != nil {
		return nil, fmt.Errorf("ui: load the PIN lockouts: %w", err)
	}
	t := now()
	for src, b := range all {
		var r pinRecord
		if json.Unmarshal(b, &r) != nil || g.forgotten(&r, t) {
			g.save(src, nil)
			continue
		}
		g.m[src] = &r
	}
	return g, nil
}

func (g *pinGuard) forgotten(r *pinRecord, now time.Time) bool {
	return !now.Before(r.LockedUntil) && now.Sub(r.Last) > pinForget
}

// save writes a source's record through (nil: delete). A store that fails is logged and
// the lockout holds in memory: the check itself must not fail open or closed on it.
func (g *pinGuard) save(src string, r *pinRecord) {
	if g.store == nil {
		return
	}
	var b []byte
	if r != nil {
		b, _ = json.Marshal(r)
	}
	if err := g.store.Put(src, b); err != nil {
		g.log.WithError(err).Warn("cannot save the PIN lockout")
	}
}

// pinResult is what a PIN check came to, for logs and metrics: ok, wrong, locked or
// refused (no PIN configured, none sent).
type pinResult string

func (g *pinGuard) check(src, pin string) (*apiError, pinResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pin == "" {
		return &apiError{Status: http.StatusForbidden, Code: CodeNoManagerPIN,
			Message: "No manager PIN is configured on this till (http.manager_pin_file)"}, "refused"
	}
	now := g.now()
	r := g.m[src]
	if r != nil && now.Before(r.LockedUntil) {
		return lockedError(r.LockedUntil.Sub(now)), "locked"
	}
	if r != nil && g.forgotten(r, now) {
		delete(g.m, src)
		r = nil
	}
	if pin == "" {
		return &apiError{Status: http.StatusUnauthorized, Code: CodePINRequired,
			Message: "This needs the manager PIN"}, "refused"
	}
	if equalSecret(pin, g.pin) {
		if r != nil {
			delete(g.m, src)
			g.save(src, nil)
		}
		return nil, "ok"
	}
	if r == nil {
		g.makeRoom(now)
		r = &pinRecord{}
		g.m[src] = r
	}
	r.Fails++
	r.Last = now
	if r.Fails >= g.maxTries {
		step := min(r.Fails-g.maxTries, len(g.ladder)-1)
		r.LockedUntil = now.Add(g.ladder[step])
		g.save(src, r)
		return lockedError(g.ladder[step]), "locked"
	}
	g.save(src, r)
	left := g.maxTries - r.Fails
	return &apiError{Status: http.StatusForbidden, Code: CodeWrongPIN, TriesLeft: left,
		Message: "Wrong manager PIN: " + plural(left, "try", "tries") + " left before the PIN is locked"}, "wrong"
}

// makeRoom forgets the oldest unlocked sources while the map is full. The lock is held.
func (g *pinGuard) makeRoom(now time.Time) {
	for len(g.m) >= maxPINSources {
		var oldest string
		var at time.Time
		for src, r := range g.m {
			if now.Before(r.LockedUntil) {
				continue
			}
			if oldest == "" || r.Last.Before(at) {
				oldest, at = src, r.Last
			}
		}
		if oldest == "" {
			return // every source is locked: keep them all
		}
		delete(g.m, oldest)
		g.save(oldest, nil)
	}
}

func lockedError(left time.Duration) *apiError {
	secs := int(left.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	mins := (secs + 59) / 60
	return &apiError{Status: http.StatusTooManyRequests, Code: CodePINLocked, RetryAfter: secs,
		Message: "Too many wrong PINs from this device: the manager PIN is locked here for " + plural(mins, "more minute", "more minutes")}
}

// linkStore holds the one-time login links: a code is good for one use before it expires.
// Only hashes are kept, so the map lookup reveals nothing about a code.
type linkStore struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[[32]byte]time.Time // expiry
}

// maxLinks bounds outstanding links; the one expiring first goes when full.
const maxLinks = 32

func (ls *linkStore) create(ttl time.Duration) (code string, expires time.Time) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	now := ls.now()
	for h, exp := range ls.m {
		if !now.Before(exp) {
			delete(ls.m, h)
		}
	}
	for len(ls.m) >= maxLinks {
		var first [32]byte
		var at time.Time
		for h, exp := range ls.m {
			if at.IsZero() || exp.Before(at) {
				first, at = h, exp
			}
		}
		delete(ls.m, first)
	}
	code = randomToken()
	expires = now.Add(ttl)
	ls.m[sha256.Sum256([]byte(code))] = expires
	return code, expires
}

// use consumes a code; it reports whether the code was good.
func (ls *linkStore) use(code string) bool {
	if code == "" {
		return false
	}
	h := sha256.Sum256([]byte(code))
	ls.mu.Lock()
	defer ls.mu.Unlock()
	exp, ok := ls.m[h]
	delete(ls.m, h)
	return ok && ls.now().Before(exp)
}

// caller is who made a request.
type caller struct {
	bearer  bool
	sess    session // when !bearer
	manager bool    // a session with a live manager role
}

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
		Message: "Log in, or send Authorization: Bearer <api token>"}
	errBadToken = &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
		Message: "Wrong API token"}
	errCSRF = &apiError{Status: http.StatusForbidden, Code: CodeCSRF,
		Message: "Cross-site request refused: reload the page"}
	errManager = &apiError{Status: http.StatusForbidden, Code: CodeManagerRequired,
		Message: "Manager login required (the manager session may have expired)"}
)

func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authenticate finds the caller: bearer token, or session cookie (with the CSRF checks
// for state-changing calls).
func (s *Server) authenticate(r *http.Request) (caller, *apiError) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || !equalSecret(strings.TrimSpace(tok), s.opt.Token) {
			return caller{}, errBadToken
		}
		return caller{bearer: true}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return caller{}, errUnauthorized
	}
	sess, ok := s.sessions.get(c.Value)
	if !ok {
		return caller{}, errUnauthorized
	}
	if stateChanging(r.Method) {
		if !sameOrigin(r) {
			return caller{}, errCSRF
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(sess.csrf)) != 1 {
			return caller{}, errCSRF
		}
	}
	return caller{sess: sess, manager: s.opt.Now().Before(sess.managerUntil)}, nil
}

// sameOrigin refuses requests a browser marks as coming from another site. Browsers send
// Origin on every cross-origin request and on same-origin POSTs; Sec-Fetch-Site covers
// the rest.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		if o != scheme+r.Host {
			return false
		}
	}
	if sf := r.Header.Get("Sec-Fetch-Site"); sf != "" && sf != "same-origin" && sf != "none" {
		return false
	}
	return true
}

// requireManager lets a manager session through (sliding its expiry), or a bearer caller
// with the right X-Manager-PIN, or a session that sends X-Manager-PIN.
func (s *Server) requireManager(r *http.Request, c caller) *apiError {
	if !c.bearer && c.manager && s.sessions.touchManager(c.sess.id, s.opt.ManagerTTL) {
		return nil
	}
	pin := r.Header.Get("X-Manager-PIN")
	if pin == "" && !c.bearer {
		return errManager
	}
	return s.checkPIN(r, "pin_header", pin)
}

// checkPIN checks a PIN against the lockout of the request's source, logs the outcome
// (the source, never the PIN) and counts it.
func (s *Server) checkPIN(r *http.Request, method, pin string) *apiError {
	src := sourceOf(r.RemoteAddr)
	err, res := s.pin.check(src, pin)
	s.observeLogin(method, string(res))
	l := s.log.WithField("source", src).WithField("method", method)
	switch res {
	case "ok":
		l.Info("manager PIN accepted")
	case "wrong", "locked":
		l.WithField("code", err.Code).Warn("manager PIN refused")
	}
	return err
}

func (s *Server) observeLogin(method, result string) {
	if s.opt.OnLogin != nil {
		s.opt.OnLogin(method, result)
	}
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, sess *session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sess.id, Path: "/",
		Expires: sess.until, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// sessionInfo is what the page learns about its session (never the PIN or the token).
type sessionInfo struct {
	Role         string    `json:"role"` // none, cashier, manager
	CSRF         string    `json:"csrf,omitempty"`
	ManagerUntil time.Time `json:"manager_until,omitzero"`
	Demo         bool      `json:"demo"`
	StoreID      string    `json:"store_id,omitempty"`
	TillID       string    `json:"till_id,omitempty"`
	Merchant     string    `json:"merchant,omitempty"`
	Currency     string    `json:"currency"`
	Today        string    `json:"today"`
	TZOffset     int       `json:"tz_offset"` // seconds east of UTC: the page shows the till's time
	ServerTime   time.Time `json:"server_time"`
	TokenLogin   bool      `json:"token_login"`
	PINLogin     bool      `json:"pin_login"`
	PrintReport  bool      `json:"print_report"`
	QR           bool      `json:"qr"`            // the till takes QR Code Payment ("Show QR")
	DemoCustomer bool      `json:"demo_customer"` // the demo's simulated customer can pay a QR code
}

func (s *Server) info(sess *session) sessionInfo {
	now := s.opt.Now()
	in := sessionInfo{Role: "none", Demo: s.opt.Demo, StoreID: s.opt.StoreID, TillID: s.opt.TillID,
		Merchant: s.opt.MerchantName, Currency: s.opt.Currency, Today: now.In(s.opt.Location).Format(time.DateOnly),
		ServerTime: now, TokenLogin: s.opt.Token != "", PrintReport: s.opt.PrintDayReport != nil,
		QR: s.qrTill() != nil, DemoCustomer: s.opt.Demo && s.opt.DemoCustomerPays != nil}
	_, in.TZOffset = now.In(s.opt.Location).Zone()
	if sess != nil {
		// The PIN is asked only of someone already on the till (security review): the
		// login screen offers the token, the cashier screen the manager PIN.
		in.Role, in.CSRF, in.PINLogin = "cashier", sess.csrf, s.opt.ManagerPIN != ""
		if now.Before(sess.managerUntil) {
			in.Role, in.ManagerUntil = "manager", sess.managerUntil
		}
	}
	return in
}

// handleSession tells the page who it is. The till's kiosk browser (Options.Kiosk) gets a
// cashier session without a login; everybody else logs in with the token, or comes with a
// one-time login link.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod("GET"))
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions.get(c.Value); ok {
			writeJSON(w, http.StatusOK, s.info(&sess))
			return
		}
	}
	if s.opt.Kiosk != nil && sameOrigin(r) && s.opt.Kiosk(r) {
		sess, aerr := s.sessions.create(s.opt.CashierTTL, true, true)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		s.observeLogin("kiosk", "ok")
		s.setSessionCookie(w, r, sess)
		writeJSON(w, http.StatusOK, s.info(sess))
		return
	}
	writeJSON(w, http.StatusOK, s.info(nil))
}

var errLoginFirst = &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
	Message: "Log in to the till first (API token or login link), then enter the manager PIN"}

// handleLogin: {"token":"..."} gives a cashier session; {"pin":"..."} makes a session a
// manager one, and needs a session (cookie and X-CSRF-Token) or the token in the same body.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, errMethod("POST"))
		return
	}
	// Login CSRF: a hostile page could otherwise burn the PIN tries of this till.
	if !sameOrigin(r) {
		writeError(w, errCSRF)
		return
	}
	var req struct {
		PIN   string `json:"pin"`
		Token string `json:"token"`
	}
	if err := s.decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.PIN == "" && req.Token == "" {
		writeError(w, errBadRequest(`Send {"token":"..."} or, logged in, {"pin":"..."}`))
		return
	}
	old, loggedIn := "", false
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions.get(c.Value); ok {
			old = sess.id
			loggedIn = subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(sess.csrf)) == 1
		}
	}
	src := sourceOf(r.RemoteAddr)
	if req.Token != "" {
		if !equalSecret(req.Token, s.opt.Token) {
			s.observeLogin("token", "wrong")
			s.log.WithField("source", src).Warn("token login refused")
			writeError(w, errBadToken)
			return
		}
		loggedIn = true
	}
	mgr := time.Time{}
	if req.PIN != "" {
		if !loggedIn {
			s.observeLogin("pin", "refused")
			writeError(w, errLoginFirst)
			return
		}
		if err := s.checkPIN(r, "pin", req.PIN); err != nil {
			writeError(w, err)
			return
		}
		mgr = s.opt.Now().Add(s.opt.ManagerTTL)
	} else {
		s.observeLogin("token", "ok")
		s.log.WithField("source", src).Info("token login")
	}
	sess, aerr := s.sessions.replace(old, s.opt.CashierTTL, mgr)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.setSessionCookie(w, r, sess)
	writeJSON(w, http.StatusOK, s.info(sess))
}

// monitoring guards /healthz and /metrics (certificate dates, device names and counters
// are for the till's operators, not the shop's LAN): Options.HealthAccess.
func (s *Server) monitoring(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opt.HealthAccess == "token" {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || !equalSecret(strings.TrimSpace(tok), s.opt.Token) {
				writeError(w, &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
					Message: "Send Authorization: Bearer <api token> (http.health_access = \"token\")"})
				return
			}
		} else if !isLoopback(r.RemoteAddr) {
			writeError(w, &apiError{Status: http.StatusForbidden, Code: CodeLoopbackOnly,
				Message: "Health and metrics answer on the till only (set http.health_access = \"token\" to scrape them over the network)"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LoginLink returns a one-time login link (a path, /ui/link?code=...) that opens a cashier
// session for the till's screen: posd demo prints one, POS software or a kiosk start
// script asks POST /api/v1/login-links for one with the token.
func (s *Server) LoginLink(ttl time.Duration) (path string, expires time.Time) {
	code, exp := s.links.create(ttl)
	return "/ui/link?code=" + code, exp
}

// handleLink uses a one-time login link: a cashier session marked as the till's screen,
// then on to the page. A used or expired link is refused, unless the browser already has
// a session (a reload of the link).
func (s *Server) handleLink(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod("GET"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if !s.links.use(r.URL.Query().Get("code")) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			if _, ok := s.sessions.get(c.Value); ok {
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return
			}
		}
		s.observeLogin("link", "wrong")
		s.log.WithField("source", sourceOf(r.RemoteAddr)).Warn("login link refused")
		writeError(w, &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Message: "This login link was used already or has expired: ask for a new one (posd login-link)"})
		return
	}
	sess, aerr := s.sessions.create(s.opt.CashierTTL, false, true)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.observeLogin("link", "ok")
	s.log.WithField("source", sourceOf(r.RemoteAddr)).Info("login link used")
	s.setSessionCookie(w, r, sess)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginLinks makes a one-time login link for a bearer caller (a kiosk start script,
// posd login-link). A browser session cannot make one: it would outlive its logout.
func (s *Server) loginLinks(w http.ResponseWriter, _ *http.Request, c caller) error {
	if !c.bearer {
		return &apiError{Status: http.StatusForbidden, Code: CodeBearerRequired,
			Message: "Login links are made with the API token (posd login-link)"}
	}
	path, exp := s.LoginLink(s.opt.LoginLinkTTL)
	writeJSON(w, http.StatusCreated, map[string]any{"path": path, "expires_at": exp})
	return nil
}

// handleLogout ends the manager role ({"scope":"manager"}: back to the cashier screen)
// or the whole session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, errMethod("POST"))
		return
	}
	c, aerr := s.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if c.bearer {
		writeError(w, errBadRequest("Bearer callers have no session"))
		return
	}
	var req struct {
		Scope string `json:"scope"`
	}
	if r.ContentLength != 0 {
		if err := s.decode(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	if req.Scope == "manager" {
		s.sessions.dropManager(c.sess.id)
		sess, _ := s.sessions.get(c.sess.id)
		writeJSON(w, http.StatusOK, s.info(&sess))
		return
	}
	s.sessions.delete(c.sess.id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, s.info(nil))
}
