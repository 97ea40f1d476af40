package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"posd/internal/config"
	"posd/internal/daemon"
	"posd/internal/logging"
	"posd/internal/monitor"
	"posd/queue/engine"
	"posd/wxpay"
)

const secCode = "134567890123456789"

// Every level and every output: an engine error that wraps a WeChat error whose body
// echoes the auth_code, in the message, a wrapped error, a struct and a map.
func TestSecurity_LogsNeverCarryFullCode(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		dir := t.TempDir()
		//lint:ignore SA4006 console is read after l.Logger...Fatal, which returns here (ExitFunc is replaced)
		l, console := newTestLogging(t, logging.Config{Level: "trace", Format: format, Dir: dir, FileMaxBytes: 1 << 20, FileKeep: 2, RingSize: 50}, false)
		l.Logger.ExitFunc = func(int) {} // Fatal must not end the test
		l.Redactor.AddSecret("TOKEN-0123456789abcdef", strings.Repeat("k", 32))
		wxErr := &wxpay.Error{Code: "AUTH_CODE_INVALID", Message: "auth_code " + secCode + " invalid",
			Raw: "<xml><auth_code><![CDATA[" + secCode + "]]></auth_code></xml>", HTTP: 200}
		engErr := fmt.Errorf("micropay HK001_T01_261126000001: %w", wxErr)
		log := func(lv logrus.Level) {
			defer func() { _ = recover() }() // Panic level panics after logging
			l.Logger.WithError(engErr).WithFields(logrus.Fields{
				"detail": *wxErr, // a struct value
				"body":   map[string]string{"auth_code": secCode},
				"raw":    []byte(`{"auth_code":"` + secCode + `"}`),
				"key":    "TOKEN-0123456789abcdef",
			}).Logf(lv, "charge %s failed with key %s", secCode, strings.Repeat("k", 32))
		}
		for _, lv := range logrus.AllLevels {
			log(lv)
		}
		l.Logger.WithError(engErr).Fatal("fatal path")
		file, err := os.ReadFile(filepath.Join(dir, logging.LogFileName))
		if err != nil {
			t.Fatal(err)
		}
		ring := fmt.Sprintf("%+v", l.Ring.Entries(logging.LogFilter{MinLevel: logrus.TraceLevel}))
		for name, out := range map[string]string{"console": console.String(), "file": string(file), "ring": ring} {
			if strings.Contains(out, secCode) || strings.Contains(out, "TOKEN-0123456789abcdef") || strings.Contains(out, strings.Repeat("k", 32)) {
				t.Errorf("%s %s leaks: %s", format, name, out)
			}
			for _, lv := range []string{"trace", "debug", "info", "warn", "error", "fatal", "panic"} {
				if !strings.Contains(strings.ToLower(out), lv) {
					t.Errorf("%s %s: level %s missing (the test must see every level)", format, name, lv)
				}
			}
		}
	}
}

// Secret file contents never appear in a problem or warning, whatever is wrong with them.
func TestSecurity_SecretProblemsDoNotEchoValues(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	_, mkey := testPKI(t, dir, "merchant", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	pemBytes, err := os.ReadFile(mkey)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(pemBytes), "\n")
	body := lines[3] // a base64 line of the key
	lines[3] = "!!" + lines[3][2:]
	badKey := filepath.Join(dir, "bad.pem")
	writeFile(t, badKey, strings.Join(lines, "\n"), 0o644)
	values := map[string]string{
		"token":  "SECRET token with spaces 0123456789",
		"pin":    "12ab5678",
		"apiv3":  "APIV3KEY-too-short-0123",
		"apikey": "V2APIKEY-31-chars-0123456789abc",
	}
	for name, v := range values {
		writeFile(t, filepath.Join(dir, name), v+"\n", 0o644)
	}
	cfg, err := parse(t, minimalConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WxPay.PrivateKeyFile = badKey
	cfg.WxPay.APIv3KeyFile = filepath.Join(dir, "apiv3")
	cfg.HTTP.APITokenFile = filepath.Join(dir, "token")
	cfg.HTTP.ManagerPINFile = filepath.Join(dir, "pin")
	_, probs, warns := config.LoadSecrets(&cfg, now)
	v2 := cfg
	v2.WxPay.API = "v2"
	v2.WxPay.APIKeyFile = filepath.Join(dir, "apikey")
	_, probs2, _ := config.LoadSecrets(&v2, now)
	all := fmt.Sprint(append(append(probs, probs2...), warns...))
	if len(probs) < 4 {
		t.Fatalf("want problems for key, apiv3, token and pin: %s", all)
	}
	for name, v := range values {
		if strings.Contains(all, v) {
			t.Errorf("%s value echoed: %s", name, all)
		}
	}
	if strings.Contains(all, body) || strings.Contains(all, "PRIVATE KEY-----\n") {
		t.Errorf("private key PEM echoed: %s", all)
	}
	if !strings.Contains(all, "readable by group or others") {
		t.Errorf("no mode problem: %s", all)
	}
}

// No token, or a blank one, stops the daemon from starting: a bearer "" is never accepted.
func TestSecurity_BlankTokenRefused(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parse(t, minimalConfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]*string{"missing": nil, "empty": new(string), "blank": ptr(" \n\t\n")} {
		p := filepath.Join(dir, name)
		if content != nil {
			writeFile(t, p, *content, 0o600)
		}
		c := cfg
		c.HTTP.APITokenFile = p
		s, probs, _ := config.LoadSecrets(&c, time.Now())
		found := false
		for _, pr := range probs {
			found = found || pr.Key == "http.api_token_file"
		}
		if !found || s.APIToken != "" {
			t.Errorf("%s token file: problems %v, token %q", name, probs, s.APIToken)
		}
	}
	// A ConfigError's text is its problems, one a line.
	if _, err = parse(t, minimalConfig+"[http]\napi_token_file = \"\"\n"); err == nil || !strings.Contains(err.Error(), "http.api_token_file: required") {
		t.Errorf("empty api_token_file: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// /healthz is unauthenticated: it must carry no secret and no code even when a component
// reports an error that contains one.
func TestSecurity_HealthzNoCode(t *testing.T) {
	now := time.Now()
	h := &monitor.HealthSources{
		Status:  func() engine.Status { return engine.Status{Ready: true} },
		Storage: func(context.Context) error { return errors.New("read " + secCode) },
		Now:     func() time.Time { return now },
		Scanners: func() []monitor.ScannerHealth {
			return []monitor.ScannerHealth{{Name: "s0", Error: "bad frame " + secCode + "\r"}}
		},
		Printer: func() monitor.PrinterHealth { return monitor.PrinterHealth{Kind: "tcp", Error: "job " + secCode} },
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if strings.Contains(w.Body.String(), secCode) || !strings.Contains(w.Body.String(), wxpay.MaskCode(secCode)) {
		t.Fatalf("healthz: %s", w.Body)
	}
}

// The daemon itself refuses plain HTTP beyond loopback and an empty API token, even when
// reached without ParseConfig/LoadSecrets (the demo, tests).
func TestSecurity_DaemonRefusesPlainNonLoopbackAndNoToken(t *testing.T) {
	cfg, err := parse(t, minimalConfig)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := newTestLogging(t, logging.Config{Level: "info", Format: "text"}, false)
	cfg.HTTP.Listen = "0.0.0.0:0"
	_, err = daemon.Start(daemon.Parts{Config: cfg, Secrets: &config.Secrets{APIToken: "0123456789abcdef0123"}, Logging: l})
	if err == nil || !strings.Contains(err.Error(), "is not a loopback address: set http.tls_cert_file and http.tls_key_file") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
	cfg.HTTP.Listen = "127.0.0.1:0"
	for _, tok := range []string{"", "  "} {
		_, err = daemon.Start(daemon.Parts{Config: cfg, Secrets: &config.Secrets{APIToken: tok}, Logging: l})
		if err == nil || !strings.Contains(err.Error(), "no API token") {
			t.Fatalf("token %q: %v", tok, err)
		}
	}
}

// Metrics labels are states, endpoints and hosts: a sale whose attempt and WeChat error
// carry a full code (an upstream bug) puts nothing of it into /metrics.
func TestSecurity_MetricsNoCode(t *testing.T) {
	m := monitor.NewMetrics()
	now := time.Now()
	s := &engine.Sale{ID: "S1", Attempts: []engine.Attempt{{OutTradeNo: "A1", State: "paid", Code: secCode, UpdatedAt: now,
		Error: &engine.ErrorInfo{Code: "X", Message: secCode}}},
		Refunds: []engine.Refund{{OutRefundNo: "R1", State: "failed", Error: &engine.ErrorInfo{Code: "X", Message: secCode}, UpdatedAt: now}}}
	m.ObserveSale(s)
	m.ObserveWeChat("micropay", "https://apihk.mch.weixin.qq.com", 400, time.Millisecond, &wxpay.Error{Code: "AUTH_CODE_INVALID", Message: secCode})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprint(mfs); strings.Contains(out, secCode) || strings.Contains(out, secCode[:12]) {
		t.Fatalf("metrics carry the code: %s", out)
	} else if !strings.Contains(out, "paid") {
		t.Fatalf("the sale was not counted: %s", out)
	}
}
