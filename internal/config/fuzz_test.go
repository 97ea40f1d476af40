package config

import (
	"strings"
	"testing"
)

// FuzzParseConfig: posd.toml comes from outside (IT edits it). Whatever it holds, parsing
// returns a config or problems each naming a key; it never panics.
func FuzzParseConfig(f *testing.F) {
	f.Add(minimalConfig)
	f.Add(minimalConfig + "[http]\nlisten = \"0.0.0.0:1\"\n")
	f.Add("[[scanner]]\nkind = \"hid\"\nvendor_id = \"0c2e\"\n")
	f.Add("[engine]\npoll_until = \"1h\"\n[printer]\ncolumns = -1\n")
	f.Add("[wxpay]\nplatform_cert_files = [1, 2]\n")
	f.Fuzz(func(t *testing.T, src string) {
		_, err := ParseConfig(strings.NewReader(src))
		if err == nil {
			return
		}
		ce, ok := err.(*ConfigError)
		if !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		for _, p := range ce.Problems {
			if p.Key == "" || p.Msg == "" {
				t.Fatalf("problem without key or message: %+v", p)
			}
		}
	})
}
