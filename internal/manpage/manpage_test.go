package manpage

import (
	"strings"
	"testing"
)

const usage = `x: demo

Usage:
  x run [-config PATH]        run it
  x demo [-listen ADDR]       the whole thing, on a
                              second line
  x version                   version

Exit status: 0 ok.
`

func TestCommandsJoinContinuationLines(t *testing.T) {
	got := Commands(strings.ReplaceAll(usage, "x ", "posd "))
	want := []Command{
		{"posd run [-config PATH]", "run it"},
		{"posd demo [-listen ADDR]", "the whole thing, on a second line"},
		{"posd version", "version"},
	}
	if len(got) != len(want) {
		t.Fatalf("Commands = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("command %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		`-config`: `\-config`,
		`a\b`:     `a\eb`,
		`.TH`:     `\&.TH`,
		`'quote`:  `\&'quote`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPagesRenderFlagsAndKeys(t *testing.T) {
	asked := map[string]int{}
	help := func(cmd string) (string, error) {
		asked[cmd]++
		if cmd == "run" {
			return "  -config string\n    \tconfig file (default \"/etc/posd/posd.toml\")\n", nil
		}
		return "", nil
	}
	ex := []byte("# posd.toml: the till's configuration\n\n[till]\nstore_id = \"S1\" # the store\n")
	pages, err := Pages(strings.ReplaceAll(usage, "x ", "posd "), help, ex)
	if err != nil {
		t.Fatal(err)
	}
	p8, p5 := string(pages["posd.8"]), string(pages["posd.toml.5"])
	for _, s := range []string{`\fBposd run [\-config PATH]\fR`, `\fB\-config\fR \fIstring\fR`, `config file (default "/etc/posd/posd.toml")`, "second line"} {
		if !strings.Contains(p8, s) {
			t.Errorf("posd.8 lacks %q:\n%s", s, p8)
		}
	}
	if asked["run"] != 1 || asked["version"] != 1 {
		t.Errorf("flag help asked %v, want each command once", asked)
	}
	for _, s := range []string{".SS [till]", `\fBstore_id\fR = "S1"`, "the store", "posd.toml: the till's configuration"} {
		if !strings.Contains(p5, s) {
			t.Errorf("posd.toml.5 lacks %q:\n%s", s, p5)
		}
	}
}
