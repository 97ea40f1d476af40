package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	dev, ino := statDevIno(t, f)
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

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	l, _ := newTestLogging(t, Config{Level: "info", Format: "text", Dir: dir, FileMaxBytes: 64 << 10, FileKeep: 2}, false)
	for i := range 3000 {
		l.Logger.WithField("i", i).Info("a line that takes some room in the rotated log file")
	}
	l.Logger.Warn("the last word")
	names, _ := filepath.Glob(filepath.Join(dir, "posd.log*"))
	if len(names) != 3 {
		t.Fatalf("want posd.log, .1, .2; got %v", names)
	}
	for _, n := range names {
		fi, _ := os.Stat(n)
		if fi.Size() > 64<<10 {
			t.Errorf("%s is %d bytes, over the limit", n, fi.Size())
		}
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
	// Entries come oldest first across files.
	all, _ := ReadLogFiles(dir, LogFilter{MinLevel: logrus.TraceLevel})
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatalf("out of order at %d", i)
		}
	}
	if _, err := ReadLogFiles(t.TempDir(), LogFilter{}); err == nil {
		t.Fatal("empty directory: want an error")
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
