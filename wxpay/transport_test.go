package wxpay

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// closedAddr returns an address on which nothing listens: connecting is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

type observed struct {
	mu    sync.Mutex
	calls []string
}

func (o *observed) fn(endpoint, host string, status int, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := endpoint + " " + host + " "
	if err != nil {
		s += "err"
	} else {
		s += http.StatusText(status)
	}
	o.calls = append(o.calls, s)
}

func newTestTransport(t *testing.T, primary, backup string, srv *httptest.Server, obs Observer) *transport {
	t.Helper()
	tr, err := newTransport(transportConfig{BaseURL: primary, BackupBaseURL: backup, RootCAs: poolOf(srv), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.closeIdle)
	return tr
}

func poolOf(srv *httptest.Server) *x509.CertPool {
	if srv == nil || srv.TLS == nil {
		return nil
	}
	return srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

func TestTransport_BackupOnlyOnDialFailure(t *testing.T) {
	var hits atomic.Int32
	backup := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok "+r.URL.RequestURI())
	}))
	defer backup.Close()
	obs := &observed{}
	tr := newTestTransport(t, "https://"+closedAddr(t), backup.URL, backup, obs.fn)
	resp, err := tr.do(context.Background(), "query", "GET", "/v3/x?a=1", nil, http.Header{}, 5*time.Second, 1024)
	if err != nil {
		t.Fatalf("do: %v", err)
	}
	if string(resp.Body) != "ok /v3/x?a=1" || hits.Load() != 1 {
		t.Fatalf("body %q hits %d", resp.Body, hits.Load())
	}
	if len(obs.calls) != 2 || !strings.HasSuffix(obs.calls[0], "err") || !strings.HasSuffix(obs.calls[1], "OK") {
		t.Fatalf("observer calls %v", obs.calls)
	}
}

func TestTransport_AllHostsUnreachableIsNotSent(t *testing.T) {
	tr := newTestTransport(t, "https://"+closedAddr(t), "https://"+closedAddr(t), nil, nil)
	_, err := tr.do(context.Background(), "micropay", "POST", "/p", []byte("x"), http.Header{}, 5*time.Second, 1024)
	if !errors.Is(err, ErrNotSent) {
		t.Fatalf("want ErrNotSent, got %v", err)
	}
}

func TestTransport_NoBackupAfterRequestLeft(t *testing.T) {
	cases := map[string]http.HandlerFunc{
		// reads the request, then drops the connection without answering: lost response
		"LostResponse": func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		},
		// answers half a body then resets
		"ResetMidBody": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
					tc.SetLinger(0)
				}
				conn.Close()
			}
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			var backupHits atomic.Int32
			backup := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { backupHits.Add(1) }))
			defer backup.Close()
			primary := httptest.NewTLSServer(h)
			defer primary.Close()
			// both httptest servers share the same test CA
			tr := newTestTransport(t, primary.URL, backup.URL, primary, nil)
			_, err := tr.do(context.Background(), "micropay", "POST", "/pay", []byte("{}"), http.Header{}, 5*time.Second, 1024)
			var te *TransportError
			if !errors.As(err, &te) {
				t.Fatalf("want TransportError, got %v", err)
			}
			if errors.Is(err, ErrNotSent) || backupHits.Load() != 0 {
				t.Fatalf("backup tried after the request left (hits %d, err %v)", backupHits.Load(), err)
			}
		})
	}
}

func TestTransport_Timeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tr := newTestTransport(t, srv.URL, "", srv, nil)
	_, err := tr.do(context.Background(), "micropay", "POST", "/pay", []byte("{}"), http.Header{}, 100*time.Millisecond, 1024)
	var te *TransportError
	if !errors.As(err, &te) || !te.Timeout {
		t.Fatalf("want timeout TransportError, got %#v", err)
	}
}

func TestTransport_SizeLimit(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("a", 2048))
	}))
	defer srv.Close()
	tr := newTestTransport(t, srv.URL, "", srv, nil)
	_, err := tr.do(context.Background(), "query", "GET", "/q", nil, http.Header{}, 5*time.Second, 1024)
	var te *TransportError
	if !errors.As(err, &te) || !te.TooLarge {
		t.Fatalf("want TooLarge TransportError, got %v", err)
	}
	resp, err := tr.do(context.Background(), "query", "GET", "/q", nil, http.Header{}, 5*time.Second, 4096)
	if err != nil || len(resp.Body) != 2048 {
		t.Fatalf("within limit: %v", err)
	}
}

func TestTransport_TLSVerificationAlwaysOn(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// no extra CA: the test certificate is not trusted, and the failure is not "not sent"
	tr := newTestTransport(t, srv.URL, "https://"+closedAddr(t), nil, nil)
	_, err := tr.do(context.Background(), "query", "GET", "/q", nil, http.Header{}, 5*time.Second, 1024)
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("want TransportError for an untrusted certificate, got %v", err)
	}
	if _, err := newTransport(transportConfig{BaseURL: "http://example.com"}); err == nil {
		t.Fatal("plain http base url accepted")
	}
}

func TestTransport_CancelledBeforeSending(t *testing.T) {
	tr := newTestTransport(t, "https://127.0.0.1:1", "", nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tr.do(ctx, "query", "GET", "/q", nil, http.Header{}, time.Second, 10)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
