package scanner

import "fmt"

// Terminator is what ends a code on a serial line.
type Terminator int

const (
	TermAuto Terminator = iota // CR, LF or CR LF (a LF right after a CR is part of the same end)
	TermCR
	TermLF
	TermCRLF
)

// ParseTerminator maps the config value ("auto", "cr", "lf", "crlf"; "" is auto).
func ParseTerminator(s string) (Terminator, error) {
	switch s {
	case "", "auto":
		return TermAuto, nil
	case "cr":
		return TermCR, nil
	case "lf":
		return TermLF, nil
	case "crlf":
		return TermCRLF, nil
	}
	return 0, fmt.Errorf("%q: want auto, cr, lf or crlf", s)
}

// Framer assembles serial bytes into codes. Reads deliver a code in pieces (at 9600 baud one
// byte per read is normal), so the Framer keeps the partial line between calls. A line
// longer than MaxLineLen is refused, and the Framer resynchronises at the next terminator.
// It is pure: no I/O and no clock, so it can be fuzzed.
type Framer struct {
	Term Terminator

	buf      [MaxLineLen]byte
	n        int
	overflow bool // discarding until the next terminator
	afterCR  bool // the previous byte was CR (auto: swallow a LF; crlf: a LF ends the line)
}

// Feed consumes p and calls emit for each complete line (without terminator; the slice is
// only valid during the call) or with ErrLineTooLong for a refused line. Empty lines are
// skipped.
func (f *Framer) Feed(p []byte, emit func(line []byte, err error)) {
	for _, b := range p {
		switch f.Term {
		case TermAuto:
			if b == '\n' && f.afterCR {
				f.afterCR = false
				continue // second half of CR LF: the line already ended at the CR
			}
			f.afterCR = b == '\r'
			if b == '\r' || b == '\n' {
				f.finish(emit)
				continue
			}
		case TermCR:
			if b == '\r' {
				f.finish(emit)
				continue
			}
		case TermLF:
			if b == '\n' {
				f.finish(emit)
				continue
			}
		case TermCRLF:
			if f.afterCR {
				f.afterCR = false
				if b == '\n' {
					f.finish(emit)
					continue
				}
				f.put('\r') // a lone CR is data
			}
			if b == '\r' {
				f.afterCR = true // held back until we know whether LF follows
				continue
			}
		}
		f.put(b)
	}
}

func (f *Framer) put(b byte) {
	if f.overflow {
		return
	}
	if f.n == len(f.buf) {
		f.overflow = true
		f.n = 0
		return
	}
	f.buf[f.n] = b
	f.n++
}

func (f *Framer) finish(emit func([]byte, error)) {
	switch {
	case f.overflow:
		emit(nil, ErrLineTooLong)
	case f.n > 0:
		emit(f.buf[:f.n], nil)
	}
	f.n = 0
	f.overflow = false
}

// Reset drops any partial line (after a reopen: the rest of that line is lost).
func (f *Framer) Reset() { f.n, f.overflow, f.afterCR = 0, false, false }

// SplitAIM splits an AIM symbology identifier ("]" + code character + modifier, e.g.
// "]Q1", "]E0", "]d2") off the front of a code. It returns ("", code) when there is none.
func SplitAIM(code string) (aim, rest string) {
	if len(code) >= 3 && code[0] == ']' && isAlpha(code[1]) && isAlnum(code[2]) {
		return code[:3], code[3:]
	}
	return "", code
}

func isAlpha(b byte) bool { return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' }
func isAlnum(b byte) bool { return isAlpha(b) || b >= '0' && b <= '9' }
