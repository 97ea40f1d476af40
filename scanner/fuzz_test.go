package scanner

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Reports are fed in slices of 8 or 9 bytes, chosen by the first byte of the input.
func FuzzKeyboardDecoder(f *testing.F) {
	for _, r := range generatedRecordings(f) {
		if r.mode == "keyboard" {
			var b bytes.Buffer
			size := len(r.reports[0].data)
			b.WriteByte(byte(size))
			for _, rep := range r.reports {
				b.Write(rep.data)
			}
			f.Add(b.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		size := 8 + int(data[0]&1)
		for _, km := range Keymaps {
			d := NewKeyboardDecoder(km, 0)
			at := t0
			for i := 1; i+size <= len(data); i += size {
				at = at.Add(time.Millisecond)
				d.Feed(data[i:i+size], at, func(code string) {
					if code == "" || len(code) > MaxKeyboardCode || !utf8.ValidString(code) {
						t.Fatalf("bad code %q", code)
					}
				})
			}
		}
	})
}

// Reports of 64 bytes (or a short tail) with the layout chosen by the first byte.
func FuzzPOSDecoder(f *testing.F) {
	for _, r := range generatedRecordings(f) {
		if r.mode == "pos" {
			b := []byte{0}
			if r.layout == "newland" {
				b[0] = 1
			}
			for _, rep := range r.reports {
				b = append(b, rep.data...)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		d := NewPOSDecoder(POSLayout(data[0]&1), 0)
		at := t0
		for i := 1; i < len(data); i += 64 {
			at = at.Add(time.Millisecond)
			d.Feed(data[i:min(i+64, len(data))], at, func(code, sym string) {
				if code == "" || len(code) > MaxPOSCode || strings.HasSuffix(code, "\r") {
					t.Fatalf("bad code %q", code)
				}
			})
		}
	})
}

// The first byte picks the terminator; the rest is the byte stream, cut into reads at
// every position given by the second byte, and the result must not depend on the cuts.
func FuzzFramer(f *testing.F) {
	f.Add([]byte{0, 3}, []byte("]Q1134567890123456789\r\n4006381333931\n"))
	f.Add([]byte{3, 1}, []byte("12\r3\r\n456\r\n"))
	f.Add([]byte{1, 7}, []byte(strings.Repeat("9", 70)+"\r123\r"))
	f.Add([]byte{2, 2}, []byte("a\nb\r\nc"))
	f.Fuzz(func(t *testing.T, ctl, data []byte) {
		if len(ctl) < 2 || ctl[1] == 0 {
			return
		}
		term := Terminator(ctl[0] % 4)
		run := func(chunk int) (lines []string, errs int) {
			fr := Framer{Term: term}
			for i := 0; i < len(data); i += chunk {
				fr.Feed(data[i:min(i+chunk, len(data))], func(l []byte, err error) {
					if err != nil {
						errs++
						return
					}
					if len(l) == 0 || len(l) > MaxLineLen {
						t.Fatalf("bad line %q", l)
					}
					lines = append(lines, string(l))
				})
			}
			return
		}
		l1, e1 := run(len(data) + 1)
		l2, e2 := run(int(ctl[1]))
		if e1 != e2 || strings.Join(l1, "\x00") != strings.Join(l2, "\x00") {
			t.Fatalf("splitting changed the result: %q/%d vs %q/%d", l1, e1, l2, e2)
		}
	})
}
