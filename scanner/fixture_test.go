package scanner

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the generated report streams in testdata/reports")

// A recording is a stream of HID input reports with the codes it must decode to.
// File format (testdata/reports/*.txt), one item a line:
//
//	# comment
//	mode: keyboard | pos          (default keyboard)
//	keymap: us | uk | de | fr     (keyboard)
//	layout: honeywell | newland   (pos)
//	want: CODE                    (one line per code, in order; none = nothing decoded)
//	+DURATION HEX BYTES           (a report, DURATION after the previous one, e.g. +2ms)
type recording struct {
	name    string
	comment []string
	mode    string
	keymap  string
	layout  string
	want    []string
	reports []timedReport
}

type timedReport struct {
	after time.Duration
	data  []byte
}

func (r *recording) encode() []byte {
	var b bytes.Buffer
	for _, c := range r.comment {
		fmt.Fprintf(&b, "# %s\n", c)
	}
	fmt.Fprintf(&b, "mode: %s\n", r.mode)
	if r.keymap != "" {
		fmt.Fprintf(&b, "keymap: %s\n", r.keymap)
	}
	if r.layout != "" {
		fmt.Fprintf(&b, "layout: %s\n", r.layout)
	}
	for _, w := range r.want {
		fmt.Fprintf(&b, "want: %s\n", w)
	}
	for _, rep := range r.reports {
		fmt.Fprintf(&b, "+%v % X\n", rep.after, rep.data)
	}
	return b.Bytes()
}

func parseRecording(name string, data []byte) (*recording, error) {
	r := &recording{name: name, mode: "keyboard"}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "mode: "):
			r.mode = strings.TrimPrefix(line, "mode: ")
		case strings.HasPrefix(line, "keymap: "):
			r.keymap = strings.TrimPrefix(line, "keymap: ")
		case strings.HasPrefix(line, "layout: "):
			r.layout = strings.TrimPrefix(line, "layout: ")
		case strings.HasPrefix(line, "want: "):
			r.want = append(r.want, strings.TrimPrefix(line, "want: "))
		case strings.HasPrefix(line, "+"):
			f := strings.Fields(line)
			d, err := time.ParseDuration(f[0][1:])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			raw, err := hex.DecodeString(strings.Join(f[1:], ""))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			r.reports = append(r.reports, timedReport{d, raw})
		default:
			return nil, fmt.Errorf("%s:%d: cannot parse %q", name, n, line)
		}
	}
	return r, sc.Err()
}

// decode plays the recording through the decoder its header names.
func (r *recording) decode(t testing.TB) []string {
	t.Helper()
	var got []string
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	switch r.mode {
	case "keyboard":
		km, err := LookupKeymap(r.keymap)
		if err != nil {
			t.Fatal(err)
		}
		d := NewKeyboardDecoder(km, 0)
		for _, rep := range r.reports {
			at = at.Add(rep.after)
			d.Feed(rep.data, at, func(code string) { got = append(got, code) })
		}
	case "pos":
		layout, err := ParseLayout(r.layout, 0)
		if err != nil {
			t.Fatal(err)
		}
		d := NewPOSDecoder(layout, 0)
		for _, rep := range r.reports {
			at = at.Add(rep.after)
			d.Feed(rep.data, at, func(code, sym string) { got = append(got, code) })
		}
	default:
		t.Fatalf("%s: mode %q", r.name, r.mode)
	}
	return got
}

func loadRecordings(t testing.TB) []*recording {
	t.Helper()
	files, err := filepath.Glob("testdata/reports/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in testdata/reports (run go test -run TestGenerateRecordings -update): %v", err)
	}
	var out []*recording
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := parseRecording(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
