package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"posd/internal/config"
	"posd/internal/logging"
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
	writeFile(t, filepath.Join(dir, "pin"), "135791", 0o600)
	cfg := strings.NewReplacer(
		"/etc/posd/apiclient_key.pem", key,
		"/etc/posd/apiv3_key", filepath.Join(dir, "apiv3"),
	).Replace(minimalConfig) + "[http]\napi_token_file = \"" + filepath.Join(dir, "token") + "\"\nmanager_pin_file = \"" + filepath.Join(dir, "pin") + "\"\n"
	good := filepath.Join(dir, "good.toml")
	writeFile(t, good, cfg, 0o644)

	code, out, stderr := runMain(t, "check-config", "-config", good)
	if code != 0 || !strings.Contains(out, "ok") || stderr != "" {
		t.Fatalf("good config: %d %q %q", code, out, stderr)
	}

	// A Cantonese shop name on a plain Big5 printer with images off: 咗 would print as '?'.
	hk := filepath.Join(dir, "hk.toml")
	writeFile(t, hk, strings.Replace(cfg, `till_id = "T01"`, "till_id = \"T01\"\nmerchant_name = \"咗記茶餐廳\"", 1)+"[printer]\nkind = \"none\"\nencoding = \"big5\"\nraster = \"off\"\n", 0o644)
	code, out, stderr = runMain(t, "check-config", "-config", hk)
	if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(stderr, `warning: printer: till.merchant_name: "咗" is not in big5`) {
		t.Fatalf("Cantonese name, raster off: %d %q %q", code, out, stderr)
	}
	writeFile(t, hk, strings.Replace(cfg, `till_id = "T01"`, "till_id = \"T01\"\nmerchant_name = \"咗記茶餐廳\"", 1)+"[printer]\nkind = \"none\"\nencoding = \"big5-hkscs\"\n", 0o644)
	if code, _, stderr = runMain(t, "check-config", "-config", hk); code != 0 || strings.Contains(stderr, "warning: printer") {
		t.Fatalf("Cantonese name, big5-hkscs: %d %q", code, stderr)
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
	if code != 2 || !strings.Contains(stderr, "wxpay.apiv3_key_file: cannot read") {
		t.Fatalf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestMain_Logs(t *testing.T) {
	dir := t.TempDir()
	l, err := logging.NewLogging(logging.Config{Level: "debug", Format: "text", Dir: dir, FileMaxBytes: 1 << 20, FileKeep: 1}, &bytes.Buffer{}, false)
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
		ExitCode(&config.ConfigError{Problems: []config.Problem{{Key: "k", Msg: "m"}}}, &b) != 2 || ExitCode(&UsageError{"u"}, &b) != 2 {
		t.Fatal("exit codes")
	}
	if !strings.Contains(b.String(), "k: m") {
		t.Fatalf("config problems not printed: %q", b.String())
	}
}

// posd logs prints the shop's clock (till.time_zone, Hong Kong by default) whatever zone
// the process runs in: run with TZ=UTC to see the difference.
func TestMain_LogsInShopTime(t *testing.T) {
	dir := t.TempDir()
	l, err := logging.NewLogging(logging.Config{Level: "info", Format: "text", Dir: dir, FileMaxBytes: 1 << 20, FileKeep: 1}, &bytes.Buffer{}, false)
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
