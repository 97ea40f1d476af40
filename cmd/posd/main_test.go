package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"posd/wxpay"
	"runtime"
	"strings"
	"testing"
	"time"

	"posd/queue/engine"
)

// runMain runs one command in-process and returns its exit code and output.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb}
	err := m.Run(context.Background(), args)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return ExitCode(err, &errb), out.String(), errb.String()
}

func TestMain_Usage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"help"}, 0},
		{[]string{"run", "-nope"}, 2},
		{[]string{"check-config", "extra-arg"}, 2},
		{[]string{"logs", "-level", "loud"}, 2},
		{[]string{"demo", "-listen", "0.0.0.0:8080"}, 2},
		{[]string{"report", "-config", "/nonexistent/posd.toml"}, 2},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != tc.code {
			t.Errorf("posd %v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
		}
	}
}

func TestMain_Version(t *testing.T) {
	code, out, _ := runMain(t, "version")
	if code != 0 || !strings.HasPrefix(out, "posd ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit ") {
		t.Fatalf("version: %d %q", code, out)
	}
	// The Makefile's -ldflags stamp reaches the binary.
	bin := filepath.Join(t.TempDir(), "posd")
	build := exec.Command("go", "build", "-ldflags", "-X main.Version=9.8.7 -X main.Commit=abc1234", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(b), "posd 9.8.7") || !strings.Contains(string(b), "commit abc1234") {
		t.Fatalf("stamped version: %v %q", err, b)
	}
}

func TestMain_CheckConfig(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	_, key := testPKI(t, dir, "merchant", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	writeFile(t, filepath.Join(dir, "apiv3"), strings.Repeat("x", 32), 0o600)
	writeFile(t, filepath.Join(dir, "token"), "token-token-token-token", 0o600)
	writeFile(t, filepath.Join(dir, "pin"), "1357", 0o644) // readable by others: a warning only
	cfg := strings.NewReplacer(
		"/etc/posd/apiclient_key.pem", key,
		"/etc/posd/apiv3_key", filepath.Join(dir, "apiv3"),
	).Replace(minimalConfig) + "[http]\napi_token_file = \"" + filepath.Join(dir, "token") + "\"\nmanager_pin_file = \"" + filepath.Join(dir, "pin") + "\"\n"
	good := filepath.Join(dir, "good.toml")
	writeFile(t, good, cfg, 0o644)

	code, out, stderr := runMain(t, "check-config", "-config", good)
	if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(stderr, "warning: http.manager_pin_file:") {
		t.Fatalf("good config: %d %q %q", code, out, stderr)
	}

	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, strings.Replace(cfg, `mch_id = "1900000109"`, "mch_id = \"1900000109\"\napi = \"v4\"\ntypo = 1", 1), 0o644)
	code, _, stderr = runMain(t, "check-config", "-config", bad)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 2 || len(lines) != 2 || !strings.HasPrefix(lines[0], "wxpay.typo: unknown key") || !strings.HasPrefix(lines[1], "wxpay.api: must be one of v3-global, v3-hk, v2") {
		t.Fatalf("bad config: exit %d, stderr:\n%s", code, stderr)
	}

	missing := filepath.Join(dir, "missing.toml")
	writeFile(t, missing, strings.Replace(cfg, filepath.Join(dir, "apiv3"), filepath.Join(dir, "nope"), 1), 0o644)
	code, _, stderr = runMain(t, "check-config", "-config", missing)
	if code != 2 || !strings.Contains(stderr, "\nwxpay.apiv3_key_file: cannot read") {
		t.Fatalf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestMain_Logs(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLogging(LogConfig{Level: "debug", Format: "text", Dir: dir, FileMaxBytes: 1 << 20, FileKeep: 1}, &bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	l.Logger.WithField("component", "printer").Warn("paper out")
	l.Logger.Info("sale paid")
	l.Logger.WithField("component", "scanner").Error("scanner unplugged")
	l.Close()
	code, out, stderr := runMain(t, "logs", "-dir", dir, "-level", "warn")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "WARNING paper out component=printer") {
		t.Fatalf("logs -level warn: %d %q %q", code, out, stderr)
	}
	_, out, _ = runMain(t, "logs", "-dir", dir, "-grep", "SCANNER", "-n", "1")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "scanner unplugged") {
		t.Fatalf("logs -grep: %q", out)
	}
	if code, _, _ := runMain(t, "logs", "-dir", t.TempDir()); code != 1 {
		t.Fatalf("no log files: exit %d, want 1", code)
	}
}

func TestExitCode(t *testing.T) {
	var b bytes.Buffer
	if ExitCode(nil, &b) != 0 || ExitCode(errors.New("x"), &b) != 1 ||
		ExitCode(&ConfigError{[]Problem{{"k", "m"}}}, &b) != 2 || ExitCode(&UsageError{"u"}, &b) != 2 {
		t.Fatal("exit codes")
	}
	if !strings.Contains(b.String(), "k: m") {
		t.Fatalf("config problems not printed: %q", b.String())
	}
}

func TestHealth(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	h := &HealthSources{
		Status:  func() engine.Status { return engine.Status{} },
		Storage: func(context.Context) error { return nil },
		Now:     func() time.Time { return now },
		Certs: func() []CertInfo {
			return []CertInfo{{Key: "wxpay.platform_cert_files[0]", NotAfter: now.Add(10 * 24 * time.Hour)}}
		},
	}
	doc := h.Check(context.Background())
	if doc.Status != "starting" || doc.Ready {
		t.Fatalf("before recovery: %+v", doc)
	}
	h.Status = func() engine.Status { return engine.Status{Ready: true, WeChatReachable: true, LastWeChatOK: now} }
	doc = h.Check(context.Background())
	if doc.Status != "degraded" || doc.Certificates[0].DaysLeft != 10 { // expiring within 14 days
		t.Fatalf("expiring certificate: %+v", doc)
	}
	h.Now = func() time.Time { return now.Add(-30 * 24 * time.Hour) }
	if doc = h.Check(context.Background()); doc.Status != "ok" || doc.WeChat.LastSuccess == nil {
		t.Fatalf("healthy: %+v", doc)
	}
	h.Storage = func(context.Context) error { return errors.New("disk full") }
	if doc = h.Check(context.Background()); doc.Storage.OK || doc.Storage.Error != "disk full" || doc.Status != "degraded" {
		t.Fatalf("storage failure: %+v", doc)
	}
}

func TestMetrics_ObserveSale(t *testing.T) {
	m := NewMetrics()
	// A sale paid before this process started is not counted again when it changes.
	old := &engine.Sale{ID: "S0", Attempts: []engine.Attempt{{OutTradeNo: "A0", State: "paid", UpdatedAt: m.start.Add(-time.Hour)}}}
	m.ObserveSale(old)
	now := time.Now()
	s := &engine.Sale{ID: "S1", Attempts: []engine.Attempt{{OutTradeNo: "A1", State: "paying", UpdatedAt: now}}}
	m.ObserveSale(s)
	s.Attempts[0].State, s.Attempts[0].Reverses = "reversed", 2
	m.ObserveSale(s)
	m.ObserveSale(s) // the same change seen twice counts once
	s.Attempts = append(s.Attempts, engine.Attempt{OutTradeNo: "A2", State: "paid", UpdatedAt: now})
	m.ObserveSale(s)
	got := map[string]float64{}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			name := mf.GetName()
			for _, lp := range mt.GetLabel() {
				name += "/" + lp.GetValue()
			}
			if c := mt.GetCounter(); c != nil {
				got[name] = c.GetValue()
			}
		}
	}
	if got["posd_payments_total/reversed"] != 1 || got["posd_payments_total/paid"] != 1 || got["posd_reverses_total"] != 2 {
		t.Fatalf("counters: %v", got)
	}
	m.ObserveWeChat("micropay", "https://apihk.mch.weixin.qq.com", 200, 120*time.Millisecond, nil)
	m.SetCertificates([]CertInfo{{Key: "k", NotAfter: time.Now().Add(48 * time.Hour)}}, time.Now())
	mfs, _ = m.Registry.Gather()
	var hist, cert bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "posd_wechat_request_duration_seconds":
			mt := mf.GetMetric()[0]
			labels := map[string]string{}
			for _, lp := range mt.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			hist = mt.GetHistogram().GetSampleCount() == 1 && labels["host"] == "apihk.mch.weixin.qq.com" && labels["endpoint"] == "micropay" && labels["result"] == "2xx"
		case "posd_certificate_expiry_days":
			cert = mf.GetMetric()[0].GetGauge().GetValue() == 1
		}
	}
	if !hist || !cert {
		t.Fatalf("histogram %v, certificate gauge %v", hist, cert)
	}
}

// TestCheckCodeFor: codes starting 160 are Multi-Wallet payment codes, accepted on the v3
// APIs and refused on v2.
func TestCheckCodeFor(t *testing.T) {
	const code = "160123456789012345"
	for api, ok := range map[string]bool{wxpay.APIv3Global: true, wxpay.APIv3HK: true, wxpay.APIv2: false} {
		if err := checkCodeFor(api)(code); (err == nil) != ok {
			t.Errorf("%s: CheckCode(%s) = %v", api, code, err)
		}
	}
}

// posd logs prints the shop's clock (till.time_zone, Hong Kong by default) whatever zone
// the process runs in: run with TZ=UTC to see the difference.
func TestMain_LogsInShopTime(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLogging(LogConfig{Level: "info", Format: "text", Dir: dir, FileMaxBytes: 1 << 20, FileKeep: 1}, &bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 2, 15, 0, 0, time.UTC) // 10:15 in Hong Kong
	l.Logger.WithTime(at).Info("sale paid")
	l.Close()
	code, out, stderr := runMain(t, "logs", "-config", filepath.Join(dir, "none.toml"), "-dir", dir)
	if code != 0 || !strings.HasPrefix(out, "2026-11-25 10:15:00.000 INFO") {
		t.Fatalf("logs: %d %q %q", code, out, stderr)
	}
}
