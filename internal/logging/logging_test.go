package logging

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"posd/internal/testkit"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("sk_live_0123456789", "1234") // the short one is ignored
	for _, tc := range []struct{ in, want string }{
		{"code 134567890123456789 refused", "code 13************6789 refused"},
		{"no digits here", "no digits here"},
		{"order 20261126 amount 1050", "order 20261126 amount 1050"},           // short runs stay
		{"tx 4200000000202611261234567890", "tx 4200000000202611261234567890"}, // 28 digits: not a code
		{"a16 1234567890123456 b", "a16 12**********3456 b"},                   // 16 digits
		{"key sk_live_0123456789 leaked", "key [REDACTED] leaked"},
		{"pin 1234", "pin 1234"},
		// Longer than 24 digits (security review): a double scan, a code followed by digits.
		{"scan 134567890123456789134567890123456789", "scan 13******************************6789"},
		{"scan 1345678901234567890000000", "scan 13************67890000000"},
		{"id 7777777160123456789012345", "id 777777716************2345"},
	} {
		if got := r.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func newTestLogging(t *testing.T, cfg Config, journal bool) (*Logging, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := NewLogging(cfg, &buf, journal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, &buf
}

func TestLogging_RedactsEveryOutput(t *testing.T) {
	dir := t.TempDir()
	l, console := newTestLogging(t, Config{Level: "debug", Format: "json", Dir: dir, FileMaxBytes: 1 << 20, FileKeep: 2, RingSize: 10}, false)
	l.Redactor.AddSecret("SECRETSECRETSECRET")
	code := "134567890123456789"
	l.Logger.WithFields(logrus.Fields{
		"component":      "scanner",
		"code":           code,
		"err":            errors.New("bad code " + code),
		"num":            int64(134567890123456789),
		"out_trade_no":   "HK001_T01_261126000001", // our own id: stays readable
		"transaction_id": "4200002026112612345678901234",
	}).Warnf("scanned %s with SECRETSECRETSECRET", code)

	file, err := os.ReadFile(filepath.Join(dir, LogFileName))
	if err != nil {
		t.Fatal(err)
	}
	ring := fmt.Sprint(l.Ring.Entries(LogFilter{MinLevel: logrus.TraceLevel}))
	for name, out := range map[string]string{"console": console.String(), "file": string(file), "ring": ring} {
		if strings.Contains(out, code) || strings.Contains(out, "SECRETSECRETSECRET") {
			t.Errorf("%s leaks a secret: %s", name, out)
		}
		if !strings.Contains(out, "13************6789") || !strings.Contains(out, "HK001_T01_261126000001") {
			t.Errorf("%s lacks the masked code or the out_trade_no: %s", name, out)
		}
	}
}

func TestLogging_Journal(t *testing.T) {
	// The stream only (no journal socket to write to natively).
	old := journalEnabled
	t.Cleanup(func() { journalEnabled = old })
	journalEnabled = func() bool { return false }
	l, out := newTestLogging(t, Config{Level: "debug", Format: "text"}, true)
	l.Logger.WithField("component", "printer").Error("paper out")
	l.Logger.Info("ready")
	l.Logger.Debug("detail")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	for i, prefix := range []string{"<3>", "<6>", "<7>"} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d = %q, want prefix %s", i, lines[i], prefix)
		}
		if strings.Contains(lines[i], "time=") {
			t.Errorf("line %d has a timestamp under journald: %q", i, lines[i])
		}
	}
	if !strings.Contains(lines[0], "component=printer") {
		t.Errorf("fields missing: %q", lines[0])
	}
}

func TestStderrIsJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("JOURNAL_STREAM", "")
	if StderrIsJournal(f) {
		t.Fatal("unset JOURNAL_STREAM reported as journal")
	}
	dev, ino := testkit.StatDevIno(t, f)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", dev, ino))
	if !StderrIsJournal(f) {
		t.Fatal("matching JOURNAL_STREAM not recognised")
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", dev, ino+1))
	if StderrIsJournal(f) {
		t.Fatal("inherited JOURNAL_STREAM of another stream accepted")
	}
}

func TestRing(t *testing.T) {
	l, _ := newTestLogging(t, Config{Level: "debug", Format: "text", RingSize: 3}, false)
	l.Logger.Info("one")
	l.Logger.Warn("two printer")
	l.Logger.Error("three printer")
	l.Logger.Info("four")
	all := l.Ring.Entries(LogFilter{MinLevel: logrus.TraceLevel})
	if len(all) != 3 || all[0].Message != "two printer" || all[2].Message != "four" {
		t.Fatalf("ring keeps the last 3 oldest first: %+v", all)
	}
	warn := l.Ring.Entries(LogFilter{MinLevel: logrus.WarnLevel})
	if len(warn) != 2 {
		t.Fatalf("warn filter: %+v", warn)
	}
	g := l.Ring.Entries(LogFilter{MinLevel: logrus.TraceLevel, Grep: "PRINTER", N: 1})
	if len(g) != 1 || g[0].Message != "three printer" {
		t.Fatalf("grep+n: %+v", g)
	}
}

// TestLogFile_Logrotate rotates posd.log the way /etc/logrotate.d/posd does (rename,
// SIGHUP, compress the older copies): no line is lost, and `posd logs` reads across
// posd.log, posd.log.1 and posd.log.2.gz, oldest first.
func TestLogFile_Logrotate(t *testing.T) {
	dir := t.TempDir()
	l, _ := newTestLogging(t, Config{Level: "info", Format: "text", Dir: dir, FileMaxBytes: 64 << 10, FileKeep: 2}, false)
	base := filepath.Join(dir, LogFileName)
	for i := range 3000 {
		if i == 1000 || i == 2000 {
			// logrotate: posd.log.1 → posd.log.2.gz, posd.log → posd.log.1, then SIGHUP.
			if b, err := os.ReadFile(base + ".1"); err == nil {
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(b)
				zw.Close()
				writeFile(t, base+".2.gz", z.String(), 0o640)
				os.Remove(base + ".1")
			}
			if err := os.Rename(base, base+".1"); err != nil {
				t.Fatal(err)
			}
			l.Logger.WithField("i", -i).Info("written to the renamed file before the reopen")
			if err := l.Reopen(); err != nil {
				t.Fatal(err)
			}
		}
		l.Logger.WithField("i", i).Info("a line that takes some room in the log file")
	}
	l.Logger.Warn("the last word")
	names, _ := filepath.Glob(filepath.Join(dir, "posd.log*"))
	if len(names) != 3 {
		t.Fatalf("want posd.log, .1, .2.gz; got %v", names)
	}
	got, err := ReadLogFiles(dir, LogFilter{MinLevel: logrus.InfoLevel, N: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[4].Message != "the last word" || got[3].Fields["i"] != "2999" {
		t.Fatalf("tail: %+v", got)
	}
	w, _ := ReadLogFiles(dir, LogFilter{MinLevel: logrus.WarnLevel})
	if len(w) != 1 {
		t.Fatalf("warn: %+v", w)
	}
	// Every line is somewhere, oldest first across files.
	all, _ := ReadLogFiles(dir, LogFilter{MinLevel: logrus.TraceLevel})
	if len(all) != 3000+2+1 {
		t.Fatalf("%d entries, want %d", len(all), 3003)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatalf("out of order at %d", i)
		}
	}
	if _, err := ReadLogFiles(t.TempDir(), LogFilter{}); err == nil {
		t.Fatal("empty directory: want an error")
	}
}

// TestLogrotateConfig runs the packaged /etc/logrotate.d/posd with logrotate itself on a
// scratch directory: posd.log is rotated and, after the postrotate SIGHUP (sent to this
// process, where reopenOnHUP listens), new lines land in a new posd.log.
func TestLogrotateConfig(t *testing.T) {
	lr := needTool(t, "logrotate")
	dir := t.TempDir()
	l, _ := newTestLogging(t, Config{Level: "info", Format: "text", Dir: dir, FileMaxBytes: 1, FileKeep: 2}, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reopened := make(chan struct{}, 1)
	l.Logger.AddHook(hookFunc(func(e *logrus.Entry) {
		if e.Message == "log file reopened" {
			reopened <- struct{}{}
		}
	}))
	l.ReopenOnHUP(ctx)
	l.Logger.Info("before the rotation")
	conf, err := os.ReadFile("../../systemd/posd.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	c := strings.ReplaceAll(string(conf), "/var/log/posd/", dir+"/")
	// The packaged postrotate signals the unit's main process; here that is this test.
	c = regexp.MustCompile(`(?m)^\s*systemctl kill .*$`).ReplaceAllString(c, fmt.Sprintf("\t\tkill -HUP %d", os.Getpid()))
	c = regexp.MustCompile(`(?m)^\s*(su|create) .*$`).ReplaceAllString(c, "")
	if !strings.Contains(c, "kill -HUP") {
		t.Fatalf("no postrotate to adapt in:\n%s", conf)
	}
	cp := filepath.Join(t.TempDir(), "posd")
	writeFile(t, cp, c, 0o644)
	out, err := exec.Command(lr, "-f", "-s", filepath.Join(t.TempDir(), "state"), cp).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s\n%s", err, out, c)
	}
	select {
	case <-reopened:
	case <-time.After(10 * time.Second):
		t.Fatal("no reopen after logrotate's SIGHUP")
	}
	l.Logger.Info("after the rotation")
	old, _ := os.ReadFile(filepath.Join(dir, LogFileName+".1"))
	cur, _ := os.ReadFile(filepath.Join(dir, LogFileName))
	if !strings.Contains(string(old), "before the rotation") || !strings.Contains(string(cur), "after the rotation") || strings.Contains(string(cur), "before the rotation") {
		t.Fatalf("posd.log.1:\n%s\nposd.log:\n%s", old, cur)
	}
}

type hookFunc func(*logrus.Entry)

func (hookFunc) Levels() []logrus.Level       { return logrus.AllLevels }
func (f hookFunc) Fire(e *logrus.Entry) error { f(e); return nil }

// TestLogging_JournalNative: under journald, entries are sent with structured fields
// (SALE_ID, OUT_TRADE_NO, PRIORITY by level), masked, and not written to stderr; when the
// journal socket refuses, the stderr stream still carries the line.
func TestLogging_JournalNative(t *testing.T) {
	type sent struct {
		msg  string
		p    journal.Priority
		vars map[string]string
	}
	var got []sent
	fail := false
	oldSend, oldEnabled := journalSend, journalEnabled
	t.Cleanup(func() { journalSend, journalEnabled = oldSend, oldEnabled })
	journalEnabled = func() bool { return true }
	journalSend = func(msg string, p journal.Priority, vars map[string]string) error {
		if fail {
			return errors.New("journal socket refused")
		}
		got = append(got, sent{msg, p, vars})
		return nil
	}
	l, stderr := newTestLogging(t, Config{Level: "debug", Format: "text"}, true)
	code := "134567890123456789"
	l.Logger.WithFields(logrus.Fields{"component": "engine", "sale": "S-261126-0001", "out_trade_no": "HK001_T01_261126000001",
		"code": code, "error": errors.New("refused " + code), "9 odd-key": 1}).Warn("attempt unresolved for " + code)
	l.Logger.Info("ready")
	if len(got) != 2 || stderr.Len() != 0 {
		t.Fatalf("sent %+v, stderr %q", got, stderr.String())
	}
	v := got[0].vars
	if got[0].p != journal.PriWarning || got[1].p != journal.PriInfo {
		t.Errorf("priorities %d, %d", got[0].p, got[1].p)
	}
	for k, want := range map[string]string{"SALE_ID": "S-261126-0001", "OUT_TRADE_NO": "HK001_T01_261126000001",
		"POSD_COMPONENT": "engine", "SYSLOG_IDENTIFIER": "posd", "CODE": "13************6789", "ODD_KEY": "1"} {
		if v[k] != want {
			t.Errorf("%s = %q, want %q (all: %v)", k, v[k], want, v)
		}
	}
	for k, val := range v {
		if strings.Contains(val, code) || !regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`).MatchString(k) {
			t.Errorf("field %s=%q", k, val)
		}
	}
	if strings.Contains(got[0].msg, code) {
		t.Errorf("message carries the code: %q", got[0].msg)
	}
	fail = true
	l.Logger.Error("paper out")
	if !strings.HasPrefix(stderr.String(), "<3>") || !strings.Contains(stderr.String(), "paper out") {
		t.Fatalf("fallback line %q", stderr.String())
	}
}

func BenchmarkLogging_Redact(b *testing.B) {
	var buf bytes.Buffer
	l, _ := NewLogging(Config{Level: "info", Format: "text", RingSize: 100}, &buf, false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		l.Logger.WithField("component", "engine").WithField("out_trade_no", "HK001T01000001").Info("attempt paid")
	}
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	testkit.WriteFile(t, path, data, mode)
}

// needTool returns the path of a tool the test needs: .ci/run installs it (apt); on a
// developer machine without it the test is skipped, in CI it fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestJournald writes through the real journald (CI starts one, systemd is not PID 1
// there) and reads the entry back the way IT does, by field: journalctl OUT_TRADE_NO=...
func TestJournald(t *testing.T) {
	jc := needTool(t, "journalctl")
	if !journal.Enabled() {
		if os.Getenv("CI") != "" {
			t.Fatal("no journald socket: .ci/run starts systemd-journald for this test")
		}
		t.Skip("journald not running")
	}
	l, stderr := newTestLogging(t, Config{Level: "info", Format: "text"}, true)
	otn := fmt.Sprintf("HK001_T01_%d", time.Now().UnixNano()%1e12)
	code := "134567890123456789"
	l.Logger.WithFields(logrus.Fields{"component": "engine", "sale": "S-TEST-0001", "out_trade_no": otn, "code": code}).
		Warn("attempt unresolved after scanning " + code)
	if stderr.Len() != 0 {
		t.Fatalf("written to stderr instead of the journal: %q", stderr.String())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command(jc, "--no-pager", "-o", "json", "OUT_TRADE_NO="+otn).CombinedOutput()
		if err == nil && bytes.Contains(out, []byte(otn)) {
			var e map[string]any
			if err := json.Unmarshal(bytes.SplitN(out, []byte("\n"), 2)[0], &e); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for k, want := range map[string]string{"SALE_ID": "S-TEST-0001", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "posd",
				"POSD_COMPONENT": "engine", "CODE": "13************6789"} {
				if e[k] != want {
					t.Errorf("%s = %v, want %s", k, e[k], want)
				}
			}
			if bytes.Contains(out, []byte(code)) {
				t.Errorf("the journal holds the payment code: %s", out)
			}
			t.Logf("journalctl OUT_TRADE_NO=%s: %s", otn, e["MESSAGE"])
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("journalctl OUT_TRADE_NO=%s found nothing: %v %s", otn, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
