package printer

import (
	"fmt"
	"strings"
	"testing"
)

// TestConfig_Problems: each mistake in [printer] comes back under its own key.
func TestConfig_Problems(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // "key: message substring", in order
	}{
		{"none", Config{Kind: "none", Encoding: "big5"}, nil},
		{"tcp", Config{Kind: "tcp", Address: "192.168.1.50:9100", Encoding: "big5", Columns: 42}, nil},
		{"virtual", Config{Kind: "virtual", Encoding: "big5"}, nil},
		{"kind", Config{Kind: "bluetooth", Encoding: "big5"}, []string{`kind: "bluetooth" is not tcp, usb, serial, file or none`}},
		{"tcp without address", Config{Kind: "tcp", Encoding: "big5"}, []string{"address: required for kind tcp"}},
		{"tcp without port", Config{Kind: "tcp", Address: "nohost", Encoding: "big5"}, []string{"address: host:port"}},
		{"usb without device", Config{Kind: "usb", Encoding: "big5"}, []string{"device: required for kind usb"}},
		{"encoding and columns", Config{Kind: "none", Encoding: "utf8", Columns: 500}, []string{"encoding: ", "columns: 500 is not 32, 42 or 48"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := Open(tc.cfg); (err == nil) != (len(tc.want) == 0) {
				t.Fatalf("Open: %T, %v", p, err)
			} else if _, virtual := p.(*Virtual); virtual != (tc.cfg.Kind == "virtual") {
				t.Fatalf("Open(%s) = %T", tc.cfg.Kind, p)
			}
			ps := tc.cfg.Problems()
			if len(ps) != len(tc.want) {
				t.Fatalf("problems %v, want %q", ps, tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(ps[i].String(), w) {
					t.Fatalf("problem %d is %q, want %q", i, ps[i], w)
				}
			}
			err := tc.cfg.Validate()
			if (err == nil) != (len(tc.want) == 0) || err != nil && !strings.Contains(err.Error(), "printer."+tc.want[0]) {
				t.Fatalf("Validate: %v, problems %s", err, fmt.Sprint(ps))
			}
		})
	}
}
