package scanner

import (
	"fmt"
	"strings"
	"testing"
)

// TestConfig_Problems: each mistake in a [[scanner]] entry comes back under its own key,
// so posd check-config can name it without parsing the message.
func TestConfig_Problems(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "key: message substring"; "" = valid
	}{
		{"serial", Config{Kind: "serial", Device: "/dev/ttyACM0"}, ""},
		{"serial by USB id", Config{Kind: "serial", VendorID: "0c2e", ProductID: "0b61"}, ""},
		{"hid", Config{Kind: "hid", VendorID: "0c2e", ProductID: "0b61", Mode: "pos"}, ""},
		{"virtual", Config{Kind: "virtual", Name: "virtual scanner"}, ""},
		{"kind", Config{Kind: "bt"}, `kind: must be one of serial, hid, virtual (got "bt")`},
		{"serial without port", Config{Kind: "serial"}, "device: required"},
		{"data bits", Config{Kind: "serial", Device: "/dev/x", DataBits: 9}, "data_bits: data_bits 9: want 5–8"},
		{"parity", Config{Kind: "serial", Device: "/dev/x", Parity: "weird"}, "parity: "},
		{"stop bits", Config{Kind: "serial", Device: "/dev/x", StopBits: 3}, "stop_bits: "},
		{"terminator", Config{Kind: "serial", Device: "/dev/x", Terminator: "tab"}, "terminator: "},
		{"hid without id", Config{Kind: "hid"}, "vendor_id: "},
		{"hid mode", Config{Kind: "hid", VendorID: "0c2e", Mode: "x"}, `mode: mode "x": want keyboard or pos`},
		{"keymap", Config{Kind: "hid", VendorID: "0c2e", Keymap: "klingon"}, "keymap: "},
		{"layout", Config{Kind: "hid", VendorID: "0c2e", Layout: "zebra"}, "layout: "},
		{"vendor id", Config{Kind: "hid", VendorID: "xyz"}, `vendor_id: "xyz" is not a 4-digit hex USB ID`},
		{"product id", Config{Kind: "hid", VendorID: "0c2e", ProductID: "12345"}, "product_id: "},
		{"gap", Config{Kind: "hid", VendorID: "0c2e", InterKeyGap: -1}, "inter_key_gap: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.cfg.Problems()
			got := fmt.Sprint(ps)
			switch {
			case tc.want == "" && len(ps) > 0:
				t.Fatalf("valid entry: %s", got)
			case tc.want != "" && (len(ps) == 0 || !strings.Contains(ps[0].String(), tc.want)):
				t.Fatalf("problems %s, want first %q", got, tc.want)
			}
			if err := tc.cfg.Validate(); (err == nil) != (tc.want == "") {
				t.Fatalf("Validate %v disagrees with Problems %s", err, got)
			}
		})
	}
}
