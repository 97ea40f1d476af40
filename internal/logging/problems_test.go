package logging

import (
	"strings"
	"testing"
)

// TestConfig_Problems: each mistake in [log] comes back under its own key.
func TestConfig_Problems(t *testing.T) {
	ok := Config{Level: "info", Format: "text", FileMaxBytes: 10 << 20, FileKeep: 5, RingSize: 1000}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no file", func(c *Config) { c.FileMaxBytes = 0 }, ""},
		{"level", func(c *Config) { c.Level = "loud" }, "level: must be one of debug, info, warn, error"},
		{"format", func(c *Config) { c.Format = "xml" }, "format: must be one of text, json"},
		{"tiny file", func(c *Config) { c.FileMaxBytes = 100 }, "file_max_bytes: 0 (no log file) or at least 65536"},
		{"keep", func(c *Config) { c.FileKeep = 101 }, "file_keep: between 0 and 100"},
		{"ring", func(c *Config) { c.RingSize = -1 }, "ring_size: between 0 and 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			ps := c.Problems()
			switch {
			case tc.want == "" && len(ps) > 0:
				t.Fatalf("valid section: %v", ps)
			case tc.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].String(), tc.want)):
				t.Fatalf("problems %v, want exactly %q", ps, tc.want)
			}
		})
	}
}
