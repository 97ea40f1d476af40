package wxpay

import (
	"strings"
	"testing"
)

// codeWindow reports whether s holds an 18-digit window shaped like a WeChat payment code
// (prefix 10–15, or 160) anywhere, also inside a longer digit run.
func codeWindow(s string) (string, bool) {
	for i := 0; i+18 <= len(s); i++ {
		w := s[i : i+18]
		if allDigits(w) && (w[0] == '1' && w[1] >= '0' && w[1] <= '5' || strings.HasPrefix(w, "160")) {
			return w, true
		}
	}
	return "", false
}

func TestMaskCodeRuns_Windows(t *testing.T) {
	code := "134567890123456789"
	for _, tc := range []struct{ in, want string }{
		{"code " + code + " refused", "code 13************6789 refused"},
		// A double scan: 36 digits, two codes back to back.
		{code + code, "13******************************6789"},
		// A code followed by more digits, and one behind a longer prefix.
		{"x" + code + "0000000", "x13************67890000000"},
		{"99999999" + code + "99", "9999999913************678999"},
		{"160123456789012345", "16************2345"},
		{"9916012345678901234599999", "9916***************599999"},
		// Short runs and runs without a code window stay.
		{"order 20261126 amount 1050", "order 20261126 amount 1050"},
		{"tx 4200000000202611261234567890", "tx 4200000000202611261234567890"},
	} {
		got := MaskCodeRuns(tc.in)
		if got != tc.want {
			t.Errorf("MaskCodeRuns(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if w, ok := codeWindow(got); ok {
			t.Errorf("MaskCodeRuns(%q) left the code-shaped window %s", tc.in, w)
		}
	}
}

func FuzzMaskCodeRuns(f *testing.F) {
	f.Add("134567890123456789134567890123456789")
	f.Add("00134567890123456789000000")
	f.Add("a160123456789012345b")
	f.Fuzz(func(t *testing.T, s string) {
		out := MaskCodeRuns(s)
		if w, ok := codeWindow(out); ok {
			t.Fatalf("code-shaped window %s survived in %q", w, out)
		}
		if len(out) != len(s) {
			t.Fatalf("masking changed the length: %q → %q", s, out)
		}
	})
}
