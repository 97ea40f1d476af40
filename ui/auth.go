package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
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

// session is a browser's login. The id is the cookie; csrf is handed to the page and must
// come back in X-CSRF-Token on every state-changing call.
type session struct {
	id, csrf     string
	until        time.Time // the session itself
	managerUntil time.Time // the manager role, sliding
}

type sessionStore struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*session
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, m: map[string]*session{}}
}

func (st *sessionStore) create(ttl time.Duration) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.makeRoom(now)
	s := &session{id: randomToken(), csrf: randomToken(), until: now.Add(ttl)}
	st.m[s.id] = s
	return s
}

// maxSessions bounds the memory a client that logs in again and again can take: a till
// has a handful of screens.
const maxSessions = 256

// makeRoom drops expired sessions and, when still full, the one that ends first.
// The lock is held.
func (st *sessionStore) makeRoom(now time.Time) {
	for id, s := range st.m {
		if !now.Before(s.until) {
			delete(st.m, id)
		}
	}
	for len(st.m) >= maxSessions {
		var oldest *session
		for _, s := range st.m {
			if oldest == nil || s.until.Before(oldest.until) {
				oldest = s
			}
		}
		delete(st.m, oldest.id)
	}
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
// keeping its remaining life; managerUntil is set to mgr.
func (st *sessionStore) replace(old string, ttl time.Duration, mgr time.Time) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	until := now.Add(ttl)
	if s, ok := st.m[old]; ok {
		if s.until.After(until) {
			until = s.until
		}
		delete(st.m, old)
	}
	if until.Before(mgr) {
		until = mgr
	}
	st.makeRoom(now)
	s := &session{id: randomToken(), csrf: randomToken(), until: until, managerUntil: mgr}
	st.m[s.id] = s
	return s
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

// pinGuard checks the manager PIN and locks every check after maxTries wrong PINs in a
// row. The lock is global, not per client: the attacker worth stopping is on the shop's
// network and can change address.
type pinGuard struct {
	mu          sync.Mutex
	pin         string
	maxTries    int
	lockout     time.Duration
	now         func() time.Time
	fails       int
	lockedUntil time.Time
}

func newPINGuard(pin string, maxTries int, lockout time.Duration, now func() time.Time) *pinGuard {
	return &pinGuard{pin: pin, maxTries: maxTries, lockout: lockout, now: now}
}

func (g *pinGuard) check(pin string) *apiError {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pin == "" {
		return &apiError{Status: http.StatusForbidden, Code: "no_manager_pin",
			Message: "No manager PIN is configured on this till (http.manager_pin_file)"}
	}
	now := g.now()
	if now.Before(g.lockedUntil) {
		return g.lockedError(now)
	}
	if pin == "" {
		return &apiError{Status: http.StatusUnauthorized, Code: "pin_required",
			Message: "This needs the manager PIN"}
	}
	if equalSecret(pin, g.pin) {
		g.fails = 0
		return nil
	}
	g.fails++
	if g.fails >= g.maxTries {
		g.fails = 0
		g.lockedUntil = now.Add(g.lockout)
		return g.lockedError(now)
	}
	left := g.maxTries - g.fails
	return &apiError{Status: http.StatusForbidden, Code: "wrong_pin",
		Message: "Wrong manager PIN: " + strconv.Itoa(left) + " tries left before the PIN is locked"}
}

func (g *pinGuard) lockedError(now time.Time) *apiError {
	secs := int(g.lockedUntil.Sub(now).Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	mins := (secs + 59) / 60
	return &apiError{Status: http.StatusTooManyRequests, Code: "pin_locked", RetryAfter: secs,
		Message: "Too many wrong PINs: the manager PIN is locked for " + strconv.Itoa(mins) + " more minute(s)"}
}

// caller is who made a request.
type caller struct {
	bearer  bool
	sess    session // when !bearer
	manager bool    // a session with a live manager role
}

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "Log in, or send Authorization: Bearer <api token>"}
	errBadToken = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "Wrong API token"}
	errCSRF = &apiError{Status: http.StatusForbidden, Code: "csrf",
		Message: "Cross-site request refused: reload the page"}
	errManager = &apiError{Status: http.StatusForbidden, Code: "manager_required",
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
	if err := s.pin.check(pin); err != nil {
		s.log.WithField("remote", r.RemoteAddr).WithField("code", err.Code).Warn("manager PIN refused")
		return err
	}
	return nil
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
		ServerTime: now, TokenLogin: s.opt.Token != "", PINLogin: s.opt.ManagerPIN != "",
		PrintReport: s.opt.PrintDayReport != nil, QR: s.qrTill() != nil,
		DemoCustomer: s.opt.Demo && s.opt.DemoCustomerPays != nil}
	_, in.TZOffset = now.In(s.opt.Location).Zone()
	if sess != nil {
		in.Role, in.CSRF = "cashier", sess.csrf
		if now.Before(sess.managerUntil) {
			in.Role, in.ManagerUntil = "manager", sess.managerUntil
		}
	}
	return in
}

// handleSession tells the page who it is; a loopback client gets a cashier session
// without login when CashierNoLogin is set.
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
	if s.opt.CashierNoLogin && isLoopback(r.RemoteAddr) && sameOrigin(r) {
		sess := s.sessions.create(s.opt.CashierTTL)
		s.setSessionCookie(w, r, sess)
		writeJSON(w, http.StatusOK, s.info(sess))
		return
	}
	writeJSON(w, http.StatusOK, s.info(nil))
}

// handleLogin: {"pin":"..."} gives a manager session, {"token":"..."} a cashier one.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, errMethod("POST"))
		return
	}
	// Login CSRF: a hostile page could otherwise burn the PIN tries and lock the manager out.
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
	old := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		old = c.Value
	}
	switch {
	case req.PIN != "":
		if err := s.pin.check(req.PIN); err != nil {
			s.log.WithField("remote", r.RemoteAddr).WithField("code", err.Code).Warn("manager login refused")
			writeError(w, err)
			return
		}
		sess := s.sessions.replace(old, s.opt.CashierTTL, s.opt.Now().Add(s.opt.ManagerTTL))
		s.setSessionCookie(w, r, sess)
		s.log.WithField("remote", r.RemoteAddr).Info("manager logged in")
		writeJSON(w, http.StatusOK, s.info(sess))
	case req.Token != "":
		if !equalSecret(req.Token, s.opt.Token) {
			writeError(w, errBadToken)
			return
		}
		sess := s.sessions.replace(old, s.opt.CashierTTL, time.Time{})
		s.setSessionCookie(w, r, sess)
		writeJSON(w, http.StatusOK, s.info(sess))
	default:
		writeError(w, errBadRequest(`Send {"pin":"..."} or {"token":"..."}`))
	}
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
