package logging

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseLogLine: `posd logs` reads files from the logs directory, which anything may
// have written to.
func FuzzParseLogLine(f *testing.F) {
	f.Add([]byte(`{"level":"warning","msg":"paper out","time":"2026-11-26T10:00:00.5+08:00","component":"printer"}`))
	f.Add([]byte(`{"level":"info","msg":"x","n":1.5,"nested":{"a":[1,2]}}`))
	f.Add([]byte(`time="2026-11-26T10:00:00Z" level=info msg=text`))
	f.Add([]byte(`{"level":`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok := parseLogLine(line)
		if !ok {
			return
		}
		if e.Level == "" {
			t.Fatal("entry without level accepted")
		}
		_ = e.String()
		LogFilter{Grep: "x"}.Match(e)
	})
}

// FuzzRedact: whatever a component logs, no 16–24-digit run and no code-shaped
// 18-digit window (10–15 or 160, also inside a longer run) survives redaction.
func FuzzRedact(f *testing.F) {
	f.Add("code 134567890123456789 refused")
	f.Add("1234567890123456a1234567890123456789012")
	f.Add("tx 4200000000202611261234567890")
	r := NewRedactor()
	f.Fuzz(func(t *testing.T, s string) {
		out := r.Redact(s)
		run := 0
		for i := 0; i < len(out); i++ {
			if out[i] >= '0' && out[i] <= '9' {
				run++
				continue
			}
			if run >= 16 && run <= 24 {
				t.Fatalf("digit run of %d survived in %q", run, out)
			}
			run = 0
		}
		if run >= 16 && run <= 24 {
			t.Fatalf("digit run of %d survived in %q", run, out)
		}
		for i := 0; i+18 <= len(out); i++ {
			w := out[i : i+18]
			if strings.Trim(w, "0123456789") == "" && (w[0] == '1' && w[1] <= '5' || strings.HasPrefix(w, "160")) {
				t.Fatalf("code-shaped window %s survived in %q", w, out)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("redaction broke UTF-8: %q", out)
		}
	})
}
