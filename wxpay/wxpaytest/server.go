package wxpaytest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a simulator. The zero value is a usable default.
type Options struct {
	// Now is the simulator clock (order times, USERPAYING durations, the 15 s / 7 day rules,
	// statement readiness, Wechatpay-Timestamp). Default time.Now.
	Now func() time.Time
	// Addr is the listen address ("127.0.0.1:8443"); default a free loopback port.
	Addr string
	// Hosts are extra DNS names / IPs for the server certificate (it always covers
	// localhost, 127.0.0.1 and ::1).
	Hosts []string
	// Credentials overrides the built-in throwaway credentials (empty fields take defaults).
	Credentials *Credentials
	// AmountDriven picks a behaviour from the amount's last two digits (AmountTable).
	AmountDriven bool
	// UserPaying200 answers a v3 USERPAYING micropay with 200 and a full body instead of
	// the default 202 with a body carrying only trade_state (docs/wxpay-v3.md §0.3).
	UserPaying200 bool
	// PublicKeyMode signs every v3 answer with the public-key-mode key (Wechatpay-Serial =
	// PublicKeyID). Without it, a request whose Wechatpay-Serial header names the public
	// key ID gets a public-key-mode answer; others get platform-certificate answers.
	PublicKeyMode bool
	// CNYRate is the HKD→CNY rate × 10^8 for mainland-wallet payments (default 92000000).
	CNYRate int64
	// RefundDelay: refunds are PROCESSING for this long (sim clock), then SUCCESS.
	RefundDelay time.Duration
	// StatementDelay: a day's statement (HKT) is ready this long after the day ends
	// (default 9 h: 09:00 the next morning). Before that: NO_STATEMENT_EXIST / No Bill Exist.
	StatementDelay time.Duration
	// RequestSkew: v3 requests whose timestamp is further than this from the sim clock get
	// 401 SIGN_ERROR. 0 means 300 s with the real clock and no check with an injected Now
	// (so a fake sim clock does not break a client on the real clock); < 0 never checks.
	RequestSkew time.Duration
	// Sleep waits d on the simulator clock, or until ctx ends (then false): how
	// FaultSlowUplink holds a request on its way in. Default: a real timer. With a fake
	// Now, pass a function that advances that clock: time passes while the request travels.
	Sleep func(ctx context.Context, d time.Duration) bool
	// RateLimits are the merchant's requests per second by endpoint, on the sim clock (one
	// window per calendar second). All tills of a merchant share them; the simulator serves
	// one merchant, so these are its limits. A request over the limit is not carried out
	// and is answered v2 FREQUENCY_LIMITED / v3 429 RATELIMIT_EXCEEDED, as WeChat does
	// (Request.Fault "ratelimit@<endpoint>"). Nil: no limits. WeChatRateLimits are the
	// published ones.
	RateLimits map[Endpoint]int
	// OnRequest, if set, is called after each request is recorded (from the handler
	// goroutine, without locks held), e.g. for `posd demo` to show WeChat's side live.
	OnRequest func(Request)
}

// Server is a running WeChat Pay simulator (both dialects on one HTTPS port).
type Server struct {
	opts  Options
	creds Credentials
	keys  keys
	srv   *httptest.Server
	caPEM []byte
	pool  *x509.CertPool

	closed    chan struct{}
	closeOnce sync.Once
	hangs     atomic.Int32 // requests currently hanging

	mu         sync.Mutex
	platforms  []platformCert // every platform certificate issued; the last one signs
	orders     map[string]*Order
	byTxID     map[string]*Order
	byCodeURL  map[string]*Order
	order      []string // out_trade_nos in creation order
	codes      map[string]string
	lastQuery  map[string]time.Time
	refunds    map[string]*Refund
	refundByID map[string]string
	seq        int64
	requests   []Request
	violations []Violation
	scripts    map[string]*script // "no:"+out_trade_no or "code:"+auth_code
	global     *script
	outages    []Outage
	stmtDrop   map[string]bool
	stmtDelta  map[string]int64
	stmtCurr   map[string]string
	stmtReady  map[string]time.Time
	panics     []string
	rateWin    time.Time // the second RateLimits are counted in
	rateCount  map[Endpoint]int
}

// WeChatRateLimits are WeChat Pay's published per-merchant limits (wxpay-v2.md §10,
// wxpay-v3.md): query 300/s, micropay and reverse 150/s (v3 Multi-Wallet), refund 150/s,
// refund query 300/s.
var WeChatRateLimits = map[Endpoint]int{
	EPMicroPay: 150, EPQuery: 300, EPReverse: 150, EPRefund: 150, EPRefundQuery: 300,
}

// overLimit counts a request to ep against Options.RateLimits and reports whether it is
// one too many for this second. Caller holds s.mu.
func (s *Server) overLimit(ep Endpoint) bool {
	limit, ok := s.opts.RateLimits[ep]
	if !ok {
		return false
	}
	win := s.opts.Now().Truncate(time.Second)
	if !win.Equal(s.rateWin) {
		s.rateWin, s.rateCount = win, map[Endpoint]int{}
	}
	if s.rateCount[ep] >= limit {
		return true
	}
	s.rateCount[ep]++
	return false
}

// New starts a simulator and panics on failure (like httptest.NewServer). Close it when done.
func New(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic("wxpaytest: " + err.Error())
	}
	return s
}

// Start starts a simulator, returning an error (for `posd demo`, where Addr may be taken).
func Start(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
		if opts.RequestSkew == 0 {
			opts.RequestSkew = 300 * time.Second
		}
	}
	if opts.CNYRate == 0 {
		opts.CNYRate = 92000000
	}
	if opts.StatementDelay == 0 {
		opts.StatementDelay = 9 * time.Hour
	}
	creds := DefaultCredentials()
	if opts.Credentials != nil {
		creds = *opts.Credentials
	}
	k, err := creds.complete()
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	s := &Server{
		opts: opts, creds: creds, keys: k,
		closed:     make(chan struct{}),
		orders:     map[string]*Order{},
		byTxID:     map[string]*Order{},
		byCodeURL:  map[string]*Order{},
		codes:      map[string]string{},
		lastQuery:  map[string]time.Time{},
		refunds:    map[string]*Refund{},
		refundByID: map[string]string{},
		scripts:    map[string]*script{},
		stmtDrop:   map[string]bool{},
		stmtDelta:  map[string]int64{},
		stmtCurr:   map[string]string{},
		stmtReady:  map[string]time.Time{},
	}
	s.platforms = []platformCert{{key: k.platform, certPEM: creds.PlatformCertPEM, serial: creds.PlatformSerial}}
	leaf, caPEM, err := serverCert(opts.Hosts)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	s.caPEM = caPEM
	s.pool = x509.NewCertPool()
	s.pool.AppendCertsFromPEM(caPEM)
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(creds.ClientCertPEM) {
		return nil, errors.New("client certificate: no PEM certificate")
	}
	srv := httptest.NewUnstartedServer(s)
	// net/http logs handler panics (and TLS handshake failures) here; panics are kept so
	// tests can assert there were none, and nothing is printed.
	srv.Config.ErrorLog = log.New(panicLog{s}, "", 0)
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			srv.Listener.Close()
			return nil, fmt.Errorf("listen %s: %w", opts.Addr, err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Listener = &outageListener{Listener: srv.Listener, s: s}
	// WeChat's /secapi/ needs the merchant certificate; other paths work without one, so the
	// handshake asks for it but only verifies it when given (the handler checks presence).
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    clientCAs,
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	s.srv = srv
	return s, nil
}

// Close stops the server; hanging requests are released.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// URL is the base URL (https://127.0.0.1:port), the client's base_url.
func (s *Server) URL() string { return s.srv.URL }

// CACertPEM is the CA that signed the server certificate: the client's ca_file.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// CertPool trusts the server certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool.Clone() }

// Credentials returns the merchant credentials the simulator accepts.
func (s *Server) Credentials() Credentials { return s.creds }

// Now is the simulator clock.
func (s *Server) Now() time.Time { return s.opts.Now() }

// platformCert is one WeChat Pay platform certificate with its key.
type platformCert struct {
	key     *rsa.PrivateKey
	certPEM []byte
	serial  string
}

// signer returns the key and serial answers are signed with now. Caller must not hold s.mu.
func (s *Server) signer() (*rsa.PrivateKey, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.platforms[len(s.platforms)-1]
	return p.key, p.serial
}

// RotatePlatformCert issues a new platform certificate (fresh RSA-2048 key, random serial),
// lists it next to the old ones on /certificates, and signs every later answer with it, as
// WeChat does when it rotates certificates. It returns the new serial. Credentials() keeps
// describing the first certificate.
func (s *Server) RotatePlatformCert() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("platform key: %w", err)
	}
	sn := make([]byte, 20)
	if _, err := rand.Read(sn); err != nil {
		return "", fmt.Errorf("serial: %w", err)
	}
	// Positive, and with a zero top nibble: a serial whose hex form starts with "0" is where
	// printing it as a number instead of as bytes goes wrong.
	sn[0] = 0x04
	now := s.opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sn),
		Subject:               pkix.Name{CommonName: "TEST-ONLY rotated platform", Organization: []string{"test"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("platform certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", fmt.Errorf("platform certificate: %w", err)
	}
	p := platformCert{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: serialHex(cert)}
	s.mu.Lock()
	s.platforms = append(s.platforms, p)
	s.mu.Unlock()
	return p.serial, nil
}

// panicLog keeps net/http's reports of handler panics.
type panicLog struct{ s *Server }

func (l panicLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panic")) {
		l.s.mu.Lock()
		l.s.panics = append(l.s.panics, string(p))
		l.s.mu.Unlock()
	}
	return len(p), nil
}

// handlerPanics returns net/http's reports of handler panics (for tests).
func (s *Server) handlerPanics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.panics...)
}

// hanging reports whether a request is being held by FaultHang.
func (s *Server) hanging() bool { return s.hangs.Load() > 0 }

// CloseClientConnections drops every open connection (a network blip).
func (s *Server) CloseClientConnections() { s.srv.CloseClientConnections() }

// Script queues faults for one order (by out_trade_no or payment code). Scripts by code
// are bound to the out_trade_no of the first micropay that carries the code.
func (s *Server) Script(m Match, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := newScript(faults)
	if m.OutTradeNo != "" {
		s.scripts["no:"+m.OutTradeNo] = sc
	}
	if m.AuthCode != "" {
		s.scripts["code:"+m.AuthCode] = sc
	}
	if m.NativeAmount > 0 {
		s.scripts[nativeAmountKey(m.NativeAmount)] = sc
	}
}

// ScriptAll queues faults for every order without a script of its own.
func (s *Server) ScriptAll(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.global = newScript(faults)
}

// AddOutage refuses every request between o.From and o.Until (sim clock).
func (s *Server) AddOutage(o Outage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outages = append(s.outages, o)
}

// EndOutages ends every outage now (sim clock): for tests whose outage lasts until an
// event (the till has given up and queued the attempt) rather than for a fixed time that
// a busy machine may overrun.
func (s *Server) EndOutages() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for i := range s.outages {
		if s.outages[i].Until.After(now) {
			s.outages[i].Until = now
		}
	}
}

// DropFromStatement leaves an order's rows out of statements (reconciliation tests).
func (s *Server) DropFromStatement(outTradeNo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stmtDrop[outTradeNo] = true
}

// AlterStatementAmount shifts the order amount shown in statements by delta minor units.
func (s *Server) AlterStatementAmount(outTradeNo string, delta int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stmtDelta[outTradeNo] = delta
}

// AlterStatementCurrency shows the order's price (标价币种) and settlement currency as
// currency in statements (reconciliation tests: a currency mismatch).
func (s *Server) AlterStatementCurrency(outTradeNo, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stmtCurr[outTradeNo] = currency
}

// SetStatementReady overrides when the statement of date (YYYYMMDD) becomes available.
func (s *Server) SetStatementReady(date string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stmtReady[date] = at
}

// Orders returns snapshots of every order, in creation order.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	out := make([]Order, 0, len(s.order))
	for _, no := range s.order {
		o := s.orders[no]
		s.advance(o, now)
		out = append(out, o.clone())
	}
	return out
}

// Order returns one order's snapshot.
func (s *Server) Order(outTradeNo string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return Order{}, false
	}
	s.advance(o, s.opts.Now())
	return o.clone(), true
}

// Captured is the money the merchant keeps: paid, minus reversed, minus refunded (minor
// units of the orders' currency).
func (s *Server) Captured() int64 {
	var sum int64
	for _, o := range s.Orders() {
		sum += o.Kept()
	}
	return sum
}

// Requests returns every request received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Violations returns every broken rule, oldest first.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// record appends a request. Caller holds s.mu.
func (s *Server) record(r Request) { s.requests = append(s.requests, r) }

// finish records a served request and reports it to Options.OnRequest.
func (s *Server) finish(r Request) {
	s.mu.Lock()
	s.record(r)
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r)
	}
}

// outageAt returns the outage covering t. Caller holds s.mu.
func (s *Server) outageAt(t time.Time) *Outage {
	for i := range s.outages {
		o := &s.outages[i]
		if !t.Before(o.From) && t.Before(o.Until) {
			return o
		}
	}
	return nil
}

// isBehaviour reports the order-shaping kinds, which all apply to the creating micropay.
func isBehaviour(k FaultKind) bool {
	switch k {
	case FaultUserPaying, FaultUserPayingForever, FaultFail, FaultMainlandWallet:
		return true
	}
	return false
}

// scriptFor finds (and binds) the script of an order. Caller holds s.mu.
func (s *Server) scriptFor(outTradeNo, authCode string) *script {
	if sc, ok := s.scripts["no:"+outTradeNo]; ok && outTradeNo != "" {
		return sc
	}
	if authCode == "" {
		if o, ok := s.orders[outTradeNo]; ok {
			authCode = o.AuthCode
		}
	}
	if sc, ok := s.scripts["code:"+authCode]; ok && authCode != "" {
		if outTradeNo != "" {
			s.scripts["no:"+outTradeNo] = sc
		}
		return sc
	}
	return nil
}

// takeMicroPay returns the order-shaping faults and at most one transport fault for a
// micropay. Caller holds s.mu.
func (s *Server) takeMicroPay(r payReq) (behaviour []Fault, transport *Fault) {
	if s.overLimit(EPMicroPay) {
		return nil, &Fault{Kind: FaultRateLimit, Endpoint: EPMicroPay}
	}
	sc := s.scriptFor(r.outTradeNo, r.authCode)
	if sc == nil && s.opts.AmountDriven && s.orders[r.outTradeNo] == nil {
		if c, ok := amountCase(r.amount); ok {
			sc = newScript(c.Faults)
			s.scripts["no:"+r.outTradeNo] = sc
			if c.StatementDrop {
				s.stmtDrop[r.outTradeNo] = true
			}
			if c.StatementDelta != 0 {
				s.stmtDelta[r.outTradeNo] = c.StatementDelta
			}
		}
	}
	if sc == nil {
		sc = s.global
	}
	if sc == nil {
		return nil, nil
	}
	use := func(it *scripted) Fault {
		if it.left > 0 {
			it.left--
		}
		return it.f
	}
	for _, it := range sc.items {
		if it.left != 0 && it.f.endpoint() == EPMicroPay && !isBehaviour(it.f.Kind) {
			f := use(it)
			transport = &f
			break
		}
	}
	// A request that is not carried out creates no order: its order-shaping faults wait
	// for the micropay that does.
	if !processes(transport) || s.orders[r.outTradeNo] != nil {
		return nil, transport
	}
	for _, it := range sc.items {
		if it.left != 0 && it.f.endpoint() == EPMicroPay && isBehaviour(it.f.Kind) {
			behaviour = append(behaviour, use(it))
		}
	}
	return behaviour, transport
}

// takeFault returns the fault for a non-micropay request. Caller holds s.mu.
func (s *Server) takeFault(ep Endpoint, outTradeNo string) *Fault {
	if s.overLimit(ep) {
		return &Fault{Kind: FaultRateLimit, Endpoint: ep}
	}
	if sc := s.scriptFor(outTradeNo, ""); sc != nil {
		if f, ok := sc.take(ep); ok {
			return &f
		}
		return nil
	}
	if f, ok := s.global.take(ep); ok {
		return &f
	}
	return nil
}

// processes reports whether the request takes effect under fault f.
func processes(f *Fault) bool {
	if f == nil {
		return true
	}
	switch f.Kind {
	case FaultLost, FaultSlow, FaultSlowUplink:
		return true
	case FaultDrop, FaultRateLimit, FaultReverseRetry:
		return false
	case FaultSystemError, FaultBankError, FaultHang, FaultHTTP, FaultForged:
		return f.Processed
	}
	return true
}

// uplink holds a request for the FaultSlowUplink delay and reports whether it arrived
// (the client may give up first). It returns the simulator time of arrival.
func (s *Server) uplink(r *http.Request, f *Fault, sent time.Time) (time.Time, bool) {
	if f == nil || f.Kind != FaultSlowUplink || f.Delay <= 0 {
		return sent, true
	}
	sleep := s.opts.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-ctx.Done():
			case <-s.closed:
			}
			return false
		}
	}
	if !sleep(r.Context(), f.Delay) || r.Context().Err() != nil {
		return sent, false
	}
	return s.opts.Now(), true
}

// answer is a response about to be written.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// deliver writes ans, or misbehaves as f says: drop, hang, delay.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, f *Fault, ans answer) (status int, note string) {
	if f != nil {
		switch f.Kind {
		case FaultLost, FaultDrop:
			dropConn(w)
			return 0, "dropped"
		case FaultHang:
			// Take the connection away from net/http (which would answer 200 when the
			// handler returns) and hold it silently until the client gives up.
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic(http.ErrAbortHandler)
			}
			c, _, err := hj.Hijack()
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			s.hangs.Add(1)
			defer s.hangs.Add(-1)
			// On a socket, the client giving up closes it; an in-memory transport (a test
			// RoundTripper calling ServeHTTP) gives up by cancelling the request context.
			gone := r.Context().Done()
			switch c.(type) {
			case *tls.Conn, *net.TCPConn:
				ch := make(chan struct{})
				go func() {
					io.Copy(io.Discard, c)
					close(ch)
				}()
				gone = ch
			}
			select {
			case <-gone:
			case <-s.closed:
			}
			c.Close()
			return 0, "hung"
		case FaultSlow:
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				dropConn(w) // never let net/http send an implicit empty 200
				return 0, "gave up while slow"
			case <-s.closed:
				t.Stop()
			}
		}
	}
	if ans.status == 0 {
		// No answer was built for this fault: the safest reading is a lost answer.
		dropConn(w)
		return 0, "dropped"
	}
	for k, v := range ans.header {
		w.Header()[k] = v
	}
	if ans.status != http.StatusNoContent {
		w.Header().Set("Content-Length", fmt.Sprint(len(ans.body)))
	}
	w.WriteHeader(ans.status)
	w.Write(ans.body)
	return ans.status, ""
}

// dropConn closes the connection under a request without an answer, with a TCP reset so
// the client sees the failure at once.
func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	raw.Close()
}

// ServeHTTP routes to the v2 or v3 handlers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	s.mu.Lock()
	out := s.outageAt(now)
	s.mu.Unlock()
	if out != nil {
		s.finish(Request{Time: now, Dialect: dialectOf(r.URL.Path), Method: r.Method, Path: r.URL.Path,
			Status: out.Status, Outcome: "outage"})
		if out.Status == 0 {
			dropConn(w)
			return
		}
		http.Error(w, http.StatusText(out.Status), out.Status)
		return
	}
	switch d := dialectOf(r.URL.Path); d {
	case "v2":
		s.serveV2(w, r, now)
	case "v3-global", "v3-hk":
		s.serveV3(w, r, d, now)
	default:
		http.NotFound(w, r)
	}
}

func dialectOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/v3/global/"):
		return "v3-global"
	case strings.HasPrefix(path, "/hk/v3/"):
		return "v3-hk"
	case strings.HasPrefix(path, "/pay/"), strings.HasPrefix(path, "/secapi/"):
		return "v2"
	}
	return ""
}

// outageListener closes connections accepted during a dropping outage.
type outageListener struct {
	net.Listener
	s *Server
}

func (l *outageListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		o := l.s.outageAt(l.s.opts.Now())
		l.s.mu.Unlock()
		if o == nil || o.Status != 0 {
			return c, nil
		}
		if tcp, ok := c.(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
		c.Close()
	}
}

// serverCert makes a throwaway ECDSA CA and a leaf for the loopback names (fast: no RSA).
func serverCert(hosts []string) (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("ca key: %w", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wxpaytest throwaway CA", Organization: []string{"test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("ca cert: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("ca cert: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("leaf key: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "wxpaytest", Organization: []string{"test"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "apihk.mch.weixin.qq.com", "api.mch.weixin.qq.com"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("leaf cert: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, caPEM, nil
}
