package printer

import (
	"strings"
	"testing"
	"time"
)

// TestRender_Location: with Format.Location set, a time recorded in UTC prints in the
// till's zone; without it, in its own.
func TestRender_Location(t *testing.T) {
	r := sampleReceipt()
	r.Time = saleTime.UTC()
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{saleTime.Location(), "2026-11-26 10:00:05"},
		{nil, "2026-11-26 02:00:05"},
	} {
		b, err := Render(r, Format{Encoding: "ascii", Columns: 42, Location: tc.loc})
		if err != nil {
			t.Fatal(err)
		}
		if text, _ := DecodeText(b, "ascii"); !strings.Contains(text, tc.want) {
			t.Errorf("location %v: no %q in\n%s", tc.loc, tc.want, text)
		}
	}
}
