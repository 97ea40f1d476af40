package manager

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"posd/internal/config"
	"posd/internal/testkit"
	"posd/queue"
)

// lockedTill is a till whose journal is held by "the running posd" (an open writer), with
// an API token and manager PIN on disk, and a fake posd API recording what it was asked.
type lockedTill struct {
	cfg config.Config
	mu  sync.Mutex
	got []*http.Request
}

func newLockedTill(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*lockedTill, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	lt := &lockedTill{cfg: config.DefaultConfig()}
	lt.cfg.Storage.Path = filepath.Join(dir, "posd.db")
	db, err := queue.Open(lt.cfg.Storage.Path, queue.Options{Location: lt.cfg.Till.Location()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lt.cfg.HTTP.APITokenFile = filepath.Join(dir, "token")
	lt.cfg.HTTP.ManagerPINFile = filepath.Join(dir, "pin")
	testkit.WriteFile(t, lt.cfg.HTTP.APITokenFile, "0123456789abcdef0123\n", 0o600)
	testkit.WriteFile(t, lt.cfg.HTTP.ManagerPINFile, "314159\n", 0o600)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lt.mu.Lock()
		lt.got = append(lt.got, r)
		lt.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return lt, srv
}

func (lt *lockedTill) last(t *testing.T) *http.Request {
	t.Helper()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if len(lt.got) == 0 {
		t.Fatal("posd's API was not asked")
	}
	return lt.got[len(lt.got)-1]
}

// TestLockedJournalAsksTheRunningPosd: each tool asks its API route with the token and
// the PIN, prints JSON indented (reconcile: the result alone), the journal as sent.
func TestLockedJournalAsksTheRunningPosd(t *testing.T) {
	lt, srv := newLockedTill(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/export/journal":
			w.Write([]byte("sale_id,amount\r\nS1,100\r\n"))
		case "/api/v1/reports/reconciliation":
			w.Write([]byte(`{"result":{"alerts":0},"other":1}`))
		default:
			w.Write([]byte(`{"date":"2026-01-02"}`))
		}
	})
	srv.Start()
	lt.cfg.HTTP.Listen = srv.Listener.Addr().String()
	for _, tc := range []struct {
		req          Request
		method, path string
		want         string
	}{
		{Request{"report", "2026-01-02", ""}, "GET", "/api/v1/reports/day?date=2026-01-02", "{\n  \"date\": \"2026-01-02\"\n}\n"},
		{Request{"reconcile", "2026-01-01", ""}, "POST", "/api/v1/reports/reconciliation?date=2026-01-01", "{\n  \"alerts\": 0\n}\n"},
		{Request{"journal", "2026-01-02", "csv"}, "GET", "/api/v1/export/journal?date=2026-01-02&format=csv", "sale_id,amount\r\nS1,100\r\n"},
	} {
		var out strings.Builder
		if err := Run(context.Background(), &out, &lt.cfg, tc.req); err != nil {
			t.Fatalf("%s: %v", tc.req.Tool, err)
		}
		r := lt.last(t)
		if r.Method != tc.method || r.URL.RequestURI() != tc.path {
			t.Errorf("%s asked %s %s, want %s %s", tc.req.Tool, r.Method, r.URL.RequestURI(), tc.method, tc.path)
		}
		if r.Header.Get("Authorization") != "Bearer 0123456789abcdef0123" || r.Header.Get("X-Manager-PIN") != "314159" {
			t.Errorf("%s: token/PIN headers %q %q", tc.req.Tool, r.Header.Get("Authorization"), r.Header.Get("X-Manager-PIN"))
		}
		if out.String() != tc.want {
			t.Errorf("%s printed %q, want %q", tc.req.Tool, out.String(), tc.want)
		}
	}
}

// TestLockedJournalRefusal: posd's refusal is the tool's error, with posd's words.
func TestLockedJournalRefusal(t *testing.T) {
	lt, srv := newLockedTill(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"code":"pin_required"}}`, http.StatusUnauthorized)
	})
	srv.Start()
	lt.cfg.HTTP.Listen = srv.Listener.Addr().String()
	err := Run(context.Background(), new(strings.Builder), &lt.cfg, Request{"report", "2026-01-02", ""})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "pin_required") {
		t.Errorf("err = %v, want posd's 401 and its message", err)
	}
}

// TestLockedJournalOverTLSTrustsOnlyTheTillsCertificate: with http.tls_cert_file set the
// tool talks HTTPS and accepts exactly that certificate, whatever name it carries.
func TestLockedJournalOverTLSTrustsOnlyTheTillsCertificate(t *testing.T) {
	lt, srv := newLockedTill(t, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{}`)) })
	dir := t.TempDir()
	now := time.Now()
	certFile, keyFile := testkit.PKI(t, dir, "till", now.Add(-time.Hour), now.Add(time.Hour))
	otherCert, otherKey := testkit.PKI(t, dir, "other", now.Add(-time.Hour), now.Add(time.Hour))
	served, err := tls.LoadX509KeyPair(otherCert, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{served}}
	srv.StartTLS()
	lt.cfg.HTTP.Listen = srv.Listener.Addr().String()
	lt.cfg.HTTP.TLSCertFile, lt.cfg.HTTP.TLSKeyFile = certFile, keyFile
	err = Run(context.Background(), new(strings.Builder), &lt.cfg, Request{"report", "2026-01-02", ""})
	if err == nil || !strings.Contains(err.Error(), "not http.tls_cert_file") {
		t.Errorf("a server with another certificate: err = %v, want refused", err)
	}
	lt.cfg.HTTP.TLSCertFile, lt.cfg.HTTP.TLSKeyFile = otherCert, otherKey
	if err := Run(context.Background(), new(strings.Builder), &lt.cfg, Request{"report", "2026-01-02", ""}); err != nil {
		t.Errorf("the till's own certificate: %v", err)
	}
}

// TestStoppedPosdReadsTheJournal: with the journal free the tools read it directly.
func TestStoppedPosdReadsTheJournal(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Till.StoreID, cfg.Till.TillID = "S1", "T9"
	cfg.Storage.Path = filepath.Join(t.TempDir(), "posd.db")
	db, err := queue.Open(cfg.Storage.Path, queue.Options{Location: cfg.Till.Location()})
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // made, then released: posd is not running
	var out strings.Builder
	if err := Run(context.Background(), &out, &cfg, Request{"report", "2026-01-02", ""}); err != nil {
		t.Fatal(err)
	}
	var day map[string]any
	if err := json.Unmarshal([]byte(out.String()), &day); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2026-01-02") || !strings.Contains(out.String(), "T9") {
		t.Errorf("report lacks the day or the till:\n%s", out.String())
	}
}
