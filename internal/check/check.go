// Package check is the shape of a configuration mistake, shared by every section of
// posd.toml: each package that owns a section (scanner, printer, wxpay, logging) lists
// its own Problems, naming the key at fault, and the config package puts the section's
// prefix in front. Nobody parses an error string back into a key.
package check

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key string // "printer.columns", "scanner[0].device"; within a section: "columns"
	Msg string // what is wrong and what would be right
}

func (p Problem) String() string { return p.Key + ": " + p.Msg }

// List collects problems; its helpers return whether the value passed.
type List []Problem

// Add records a problem with key.
func (l *List) Add(key, format string, args ...any) {
	*l = append(*l, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Required reports whether v is set, recording "required" when it is not.
func (l *List) Required(key, v string) bool {
	if strings.TrimSpace(v) == "" {
		l.Add(key, "required")
		return false
	}
	return true
}

// OneOf reports whether v is one of allowed, recording the choices when it is not.
func (l *List) OneOf(key, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	l.Add(key, "must be one of %s (got %q)", strings.Join(allowed, ", "), v)
	return false
}

// Under puts prefix (a section name such as "printer." or "scanner[0].") in front of each
// problem's key.
func Under(prefix string, ps []Problem) []Problem {
	out := make([]Problem, len(ps))
	for i, p := range ps {
		out[i] = Problem{Key: prefix + p.Key, Msg: p.Msg}
	}
	return out
}
