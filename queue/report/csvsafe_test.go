package report

import "testing"

// A spreadsheet runs a cell as a formula when it starts with =, +, -, @, and also after a
// leading tab or carriage return (security review: "\t=1+1" passed).
func TestCSVSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"\tplain", "'\tplain"},
		{"lunch", "lunch"},
		{"", ""},
	} {
		if got := csvSafe(tc.in); got != tc.want {
			t.Errorf("csvSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
