package wxpay

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeouts bound each kind of call, from the first byte sent to the last byte read.
// Zero fields take the defaults of DefaultTimeouts.
type Timeouts struct {
	MicroPay  time.Duration // longer: WeChat may hold a micropay while it asks the bank
	Query     time.Duration
	Reverse   time.Duration
	Refund    time.Duration
	Statement time.Duration // large file
	Dial      time.Duration // TCP connect only: short, so a backup host still fits in the budget
}

// DefaultTimeouts are the deadlines used for zero Timeouts fields (docs/wxpay-v2.md §10: SDKs use
// 10–15 s for micropay and 6–10 s for the rest; the engine queries after any timeout).
var DefaultTimeouts = Timeouts{
	MicroPay:  20 * time.Second,
	Query:     10 * time.Second,
	Reverse:   10 * time.Second,
	Refund:    10 * time.Second,
	Statement: 60 * time.Second,
	Dial:      5 * time.Second,
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return Timeouts{
		MicroPay:  pick(t.MicroPay, d.MicroPay),
		Query:     pick(t.Query, d.Query),
		Reverse:   pick(t.Reverse, d.Reverse),
		Refund:    pick(t.Refund, d.Refund),
		Statement: pick(t.Statement, d.Statement),
		Dial:      pick(t.Dial, d.Dial),
	}
}

// Response size limits: an API answer is a few KiB; a day's statement can be large but is
// still bounded so a broken or hostile peer cannot exhaust the till's memory.
const (
	DefaultMaxResponseBytes  = 1 << 20
	DefaultMaxStatementBytes = 64 << 20
)

// Observer is told about every HTTP attempt, for metrics: the endpoint name (micropay,
// query, reverse, refund, refundquery, statement, certificates), the host tried, the HTTP
// status (0 when none arrived), the time taken and the transport error, if any.
type Observer func(endpoint, host string, status int, d time.Duration, err error)

// ErrNotSent is wrapped by the error a Client method returns when the request provably never
// reached WeChat (every host failed at the dial stage: DNS, connection refused, unreachable).
// Nothing happened at WeChat, so the caller may treat the call as not made.
var ErrNotSent = errors.New("request not sent: no WeChat Pay host reachable")

// TransportError is a failure after the request may have left: the outcome is unknown.
type TransportError struct {
	Endpoint string
	Host     string
	Timeout  bool // the deadline passed (before or while reading the answer)
	TooLarge bool // the answer exceeded the size limit
	Err      error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s via %s: %v", e.Endpoint, e.Host, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// dialError marks an error returned by the dialer itself: no TCP connection was made, so
// no byte of any request went out on it (database/sql's ErrBadConn rule: retry elsewhere
// only what provably did not happen).
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// transportConfig is what the HTTP layer needs from Config.
type transportConfig struct {
	BaseURL       string
	BackupBaseURL string
	RootCAs       *x509.CertPool
	ClientCert    *tls.Certificate // nil: no client certificate on this transport
	RoundTripper  http.RoundTripper
	DialTimeout   time.Duration
	Observer      Observer
}

// transport sends one request to the primary host and, only after a dial failure there,
// to the backup host. It never resends after anything may have been written.
type transport struct {
	bases    []string // base URLs without trailing slash: primary, then backup
	hosts    []string
	client   *http.Client
	observer Observer
}

func newTransport(c transportConfig) (*transport, error) {
	t := &transport{observer: c.Observer}
	for _, b := range []string{c.BaseURL, c.BackupBaseURL} {
		if b == "" {
			continue
		}
		u, err := url.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("parse base url %q: %w", b, err)
		}
		if u.Scheme != "https" {
			// TLS verification is always on: a plain-HTTP base URL is a configuration error.
			return nil, fmt.Errorf("base url %q: scheme must be https", b)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("base url %q: no host", b)
		}
		t.bases = append(t.bases, strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"))
		t.hosts = append(t.hosts, u.Host)
	}
	if len(t.bases) == 0 {
		return nil, errors.New("no base url")
	}
	rt := c.RoundTripper
	if rt == nil {
		dialTimeout := c.DialTimeout
		if dialTimeout <= 0 {
			dialTimeout = DefaultTimeouts.Dial
		}
		dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		tlsConf := &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
		if c.ClientCert != nil {
			tlsConf.Certificates = []tls.Certificate{*c.ClientCert}
		}
		rt = &http.Transport{
			// No proxy: a proxy would accept the connection and hide whether WeChat was reached.
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, &dialError{err}
				}
				return conn, nil
			},
			TLSClientConfig:     tlsConf,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			// HTTP/1.1 only: one request per connection keeps "what was sent" simple to reason about.
			ForceAttemptHTTP2:  false,
			DisableCompression: false,
		}
	}
	t.client = &http.Client{
		Transport: rt,
		// Redirects are never part of the API; following one would resend a payment elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return t, nil
}

// closeIdle drops idle keep-alive connections.
func (t *transport) closeIdle() { t.client.CloseIdleConnections() }

// response is a complete HTTP answer, body read in full (within the limit).
type response struct {
	Status int
	Header http.Header
	Body   []byte
	Host   string
}

// do sends method pathQuery (path plus raw query, as signed) with body and header to the
// primary host, then to the backup only if the primary could not be dialled. The deadline
// covers the whole call, backup included. An error is either *TransportError (unknown
// outcome), an error wrapping ErrNotSent, or the parent context's error when it was done
// before anything was sent.
func (t *transport) do(ctx context.Context, endpoint, method, pathQuery string, body []byte, header http.Header, timeout time.Duration, limit int64) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var dialErrs []error
	for i, base := range t.bases {
		resp, err := t.attempt(ctx, endpoint, t.hosts[i], method, base+pathQuery, body, header, limit)
		if err == nil {
			return resp, nil
		}
		var de *dialError
		if errors.As(err, &de) {
			dialErrs = append(dialErrs, err)
			continue
		}
		te := &TransportError{Endpoint: endpoint, Host: t.hosts[i], Err: err}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			te.Timeout = true
		}
		var tl *tooLargeError
		if errors.As(err, &tl) {
			te.TooLarge = true
		}
		return nil, te
	}
	return nil, fmt.Errorf("%s: %w: %w", endpoint, ErrNotSent, errors.Join(dialErrs...))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("answer larger than %d bytes", e.limit)
}

func (t *transport) attempt(ctx context.Context, endpoint, host, method, rawURL string, body []byte, header http.Header, limit int64) (resp *response, err error) {
	start := time.Now()
	status := 0
	defer func() {
		if t.observer != nil {
			t.observer(endpoint, host, status, time.Since(start), err)
		}
	}()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		// Caught before anything was sent: the caller ends up with ErrNotSent.
		return nil, &dialError{fmt.Errorf("build request: %w", err)}
	}
	req.Header = header
	hr, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer hr.Body.Close()
	status = hr.StatusCode
	var buf []byte
	// Preallocate from Content-Length, capped: the header is only a claim.
	if n := hr.ContentLength; n > 0 && n <= limit && n <= 1<<20 {
		buf = make([]byte, 0, n+bytes.MinRead) // ReadFrom wants MinRead spare bytes
	}
	w := bytes.NewBuffer(buf)
	n, err := w.ReadFrom(io.LimitReader(hr.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if n > limit {
		return nil, &tooLargeError{limit}
	}
	return &response{Status: hr.StatusCode, Header: hr.Header, Body: w.Bytes(), Host: host}, nil
}
