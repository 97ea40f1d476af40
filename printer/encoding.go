package printer

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// Encodings the printer can be configured with (interfaces.md [printer] encoding).
const (
	EncodingBig5    = "big5"
	EncodingGB18030 = "gb18030"
	EncodingASCII   = "ascii"
)

// codec turns text into printer bytes for one encoding and measures it in columns: a
// character that encodes to one byte is one column; a two-byte (or four-byte GB18030)
// character prints as a full-width glyph, two columns.
type codec struct {
	name    string
	enc     *encoding.Encoder // gb18030
	big5    map[rune][2]byte  // big5
	chinese bool              // needs FS & (Chinese mode) for bytes >= 0x80
	scratch [8]byte
}

func newCodec(name string) (*codec, error) {
	switch name {
	case EncodingBig5:
		return &codec{name: name, big5: big5Table(), chinese: true}, nil
	case EncodingGB18030:
		return &codec{name: name, enc: simplifiedchinese.GB18030.NewEncoder(), chinese: true}, nil
	case EncodingASCII, "":
		return &codec{name: EncodingASCII}, nil
	}
	return nil, fmt.Errorf("printer encoding %q: want big5, gb18030 or ascii", name)
}

func decoderFor(name string) (*encoding.Decoder, error) {
	switch name {
	case EncodingBig5:
		return traditionalchinese.Big5.NewDecoder(), nil
	case EncodingGB18030:
		return simplifiedchinese.GB18030.NewDecoder(), nil
	case EncodingASCII, "":
		return nil, nil
	}
	return nil, fmt.Errorf("printer encoding %q: want big5, gb18030 or ascii", name)
}

// rune appends r's bytes to dst and returns the columns it takes. Control characters
// become spaces (text from a sale's description must never inject printer commands) and
// characters the code page lacks become '?'.
func (c *codec) rune(dst []byte, r rune) ([]byte, int) {
	if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
		return append(dst, ' '), 1
	}
	if r < 0x7F {
		return append(dst, byte(r)), 1
	}
	if c.big5 != nil {
		if b, ok := c.big5[r]; ok {
			return append(dst, b[0], b[1]), 2
		}
		return append(dst, '?'), 1
	}
	if c.enc == nil {
		return append(dst, '?'), 1
	}
	var src [utf8.UTFMax]byte
	n := utf8.EncodeRune(src[:], r)
	c.enc.Reset()
	nDst, _, err := c.enc.Transform(c.scratch[:], src[:n], true)
	if err != nil || nDst == 0 {
		return append(dst, '?'), 1
	}
	// Printer GB18030 fonts cover the BMP at most, not the four-byte codes of the
	// other planes.
	if r > 0xFFFF {
		return append(dst, '?'), 1
	}
	if nDst == 1 {
		// A single byte >= 0x80 would be read as half of a Hanzi in Chinese mode.
		if c.scratch[0] >= 0x80 {
			return append(dst, '?'), 1
		}
		return append(dst, c.scratch[0]), 1
	}
	return append(dst, c.scratch[:nDst]...), 2
}

// width is the number of columns s takes once encoded.
func (c *codec) width(s string) int {
	w := 0
	var buf [8]byte
	for _, r := range s {
		_, n := c.rune(buf[:0], r)
		w += n
	}
	return w
}

// append appends the encoded s to dst.
func (c *codec) append(dst []byte, s string) []byte {
	for _, r := range s {
		dst, _ = c.rune(dst, r)
	}
	return dst
}

// wrap splits s into lines of at most cols columns, breaking at the last space when
// there is one, otherwise between characters.
func (c *codec) wrap(s string, cols int) []string {
	if cols < 2 {
		cols = 2
	}
	var lines []string
	var buf [8]byte
	for len(s) > 0 {
		w, cut, lastSpace := 0, len(s), -1
		for i, r := range s {
			_, n := c.rune(buf[:0], r)
			if w+n > cols {
				cut = i
				break
			}
			if r == ' ' {
				lastSpace = i
			}
			w += n
		}
		if cut < len(s) && lastSpace > 0 {
			cut = lastSpace
		}
		if cut == 0 { // a single character wider than the line: take it anyway
			_, size := utf8.DecodeRuneInString(s)
			cut = size
		}
		line := s[:cut]
		s = s[cut:]
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		lines = append(lines, trimRightSpace(line))
	}
	return lines
}

func trimRightSpace(s string) string {
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

var (
	big5Once sync.Once
	big5Map  map[rune][2]byte
)

// big5Table maps runes to plain Big5 codes (lead 0xA1–0xF9), built by decoding every
// code. x/text's Big5 encoder is the WHATWG one: it prefers HKSCS codes for some common
// characters (包 → FA BD instead of A5 5D), which a Big5 printer font prints as garbage.
func big5Table() map[rune][2]byte {
	big5Once.Do(func() {
		m := make(map[rune][2]byte, 14000)
		dec := traditionalchinese.Big5.NewDecoder()
		var out [8]byte
		for lead := 0xA1; lead <= 0xF9; lead++ {
			for trail := 0x40; trail <= 0xFE; trail++ {
				if trail > 0x7E && trail < 0xA1 {
					continue
				}
				dec.Reset()
				n, _, err := dec.Transform(out[:], []byte{byte(lead), byte(trail)}, true)
				r, size := utf8.DecodeRune(out[:n])
				if err != nil || r == utf8.RuneError || size != n || r < 0x80 {
					continue
				}
				if _, dup := m[r]; !dup {
					m[r] = [2]byte{byte(lead), byte(trail)}
				}
			}
		}
		big5Map = m
	})
	return big5Map
}
