package printer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/transform"
)

// Encodings the printer can be configured with (docs/interfaces.md, [printer] encoding).
const (
	EncodingBig5 = "big5"
	// EncodingBig5HKSCS is Big5 plus the Hong Kong Supplementary Character Set: the
	// Cantonese characters (嘅 咗 枱 啲 …) that plain Big5 fonts lack.
	EncodingBig5HKSCS = "big5-hkscs"
	EncodingGB18030   = "gb18030"
	EncodingASCII     = "ascii"
)

// codec turns text into printer bytes for one encoding and measures it in columns: a
// character that encodes to one byte is one column; a two-byte (or four-byte GB18030)
// character prints as a full-width glyph, two columns.
type codec struct {
	name    string
	enc     *encoding.Encoder // gb18030
	big5    map[rune][2]byte  // big5, big5-hkscs
	chinese bool              // needs FS & (Chinese mode) for bytes >= 0x80
	// drawn: characters the code page lacks will be drawn (raster), so they take their
	// drawn width in the layout rather than the one column of '?'.
	drawn   bool
	scratch [8]byte
}

func newCodec(name string) (*codec, error) {
	switch name {
	case EncodingBig5:
		return &codec{name: name, big5: big5Table(), chinese: true}, nil
	case EncodingBig5HKSCS:
		return &codec{name: name, big5: hkscsTable(), chinese: true}, nil
	case EncodingGB18030:
		return &codec{name: name, enc: simplifiedchinese.GB18030.NewEncoder(), chinese: true}, nil
	case EncodingASCII, "":
		return &codec{name: EncodingASCII}, nil
	}
	return nil, fmt.Errorf("printer encoding %q: want big5, big5-hkscs, gb18030 or ascii", name)
}

func decoderFor(name string) (*encoding.Decoder, error) {
	switch name {
	case EncodingBig5:
		return traditionalchinese.Big5.NewDecoder(), nil
	case EncodingBig5HKSCS:
		// The inverse of the encoder's table, so the preview shows what an HKSCS-2008 font
		// prints; x/text's WHATWG index differs on a few symbols (A1 45 is ‧ there, • in
		// HKSCS-2008) and decodes compatibility codes HKSCS fonts leave empty.
		return &encoding.Decoder{Transformer: hkscsDecoder{m: hkscsInverse()}}, nil
	case EncodingGB18030:
		return simplifiedchinese.GB18030.NewDecoder(), nil
	case EncodingASCII, "":
		return nil, nil
	}
	return nil, fmt.Errorf("printer encoding %q: want big5, big5-hkscs, gb18030 or ascii", name)
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

// canEncode reports whether the printer's code page has r (controls become spaces, so
// they count as printable).
func (c *codec) canEncode(r rune) bool {
	var buf [8]byte
	b, _ := c.rune(buf[:0], r)
	return len(b) != 1 || b[0] != '?' || r == '?'
}

// missing returns the characters of s the code page lacks, each once.
func (c *codec) missing(s string) []rune {
	var out []rune
	for _, r := range s {
		if !c.canEncode(r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// width is the number of columns s takes once encoded.
func (c *codec) width(s string) int {
	w := 0
	var buf [8]byte
	for _, r := range s {
		w += c.cols(buf[:0], r)
	}
	return w
}

// cols is the columns r takes on paper: as encoded, or as drawn when it is drawn.
func (c *codec) cols(scratch []byte, r rune) int {
	b, n := c.rune(scratch, r)
	if c.drawn && n == 1 && b[len(b)-1] == '?' && r != '?' {
		return int(runeCols(r))
	}
	return n
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
			n := c.cols(buf[:0], r)
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
	big5Once  sync.Once
	big5Map   map[rune][2]byte
	hkscsOnce sync.Once
	hkscsMap  map[rune][2]byte
)

// Big5 code ranges in the order the encoder prefers them when a character has more than
// one code: the two ideograph blocks first (so 十 is A4 51, not the numeral at A2 CC),
// then the symbols, then the ETEN extensions that most Big5 printer fonts also carry.
var big5Ranges = [][2]int{{0xA440, 0xC67E}, {0xC940, 0xF9D5}, {0xA140, 0xA3FE}, {0xC6A1, 0xC8FE}, {0xF9D6, 0xF9FE}}

// big5Table maps runes to plain Big5 codes (lead 0xA1–0xF9), built by decoding every
// code. x/text's Big5 encoder is the WHATWG one: it prefers HKSCS codes for some common
// characters (包 → FA BD instead of A5 5D), which a Big5 printer font prints as garbage.
func big5Table() map[rune][2]byte {
	big5Once.Do(func() {
		m := make(map[rune][2]byte, 14000)
		addBig5Codes(m, big5Ranges)
		big5Map = m
	})
	return big5Map
}

// big5HKSCSCharmap is glibc's BIG5-HKSCS charmap ("last updated from the HKSCS-2008
// standard"), copied unchanged from Debian's locales package (2.36-9+deb12u14,
// /usr/share/i18n/charmaps/BIG5-HKSCS.gz). It has one code per character, the codes
// Hong Kong's printer fonts follow. The WHATWG index in x/text is no substitute for
// encoding: it also decodes compatibility codes (嘅 at FB 48 besides 9D EF) that
// HKSCS-2008 fonts leave empty.
//
//go:embed charmaps/BIG5-HKSCS.gz
var big5HKSCSCharmap []byte

// hkscsTable maps runes to their Big5-HKSCS codes. HKSCS keeps the codes of Big5's
// ideographs, so a receipt without Cantonese characters is the same bytes in both
// encodings.
func hkscsTable() map[rune][2]byte {
	hkscsOnce.Do(func() {
		m, err := parseCharmap(big5HKSCSCharmap)
		if err != nil {
			// The charmap is compiled in; a broken one is a build defect the tests catch.
			panic(fmt.Sprintf("printer: embedded BIG5-HKSCS charmap: %v", err))
		}
		hkscsMap = m
	})
	return hkscsMap
}

// parseCharmap reads the two-byte lines of a gzipped glibc charmap, "<U5605> /x9d/xef <CJK>".
// Lines mapping several code points to one code (a letter and a combining mark) are
// skipped: no single character prints as them.
func parseCharmap(gz []byte) (map[rune][2]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("open charmap: %w", err)
	}
	m := make(map[rune][2]byte, 19000)
	sc := bufio.NewScanner(zr)
	inMap := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "CHARMAP":
			inMap = true
			continue
		case line == "END CHARMAP":
			inMap = false
			continue
		case !inMap || !strings.HasPrefix(line, "<U"):
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || strings.Count(f[0], "<U") != 1 || len(f[1]) != 8 {
			continue
		}
		u, err1 := strconv.ParseUint(strings.TrimSuffix(f[0][2:], ">"), 16, 32)
		b, err2 := strconv.ParseUint(strings.ReplaceAll(f[1], "/x", ""), 16, 16)
		if err1 != nil || err2 != nil || b < 0x8000 {
			return nil, fmt.Errorf("charmap line %q: bad code", line)
		}
		m[rune(u)] = [2]byte{byte(b >> 8), byte(b)}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read charmap: %w", err)
	}
	if len(m) < 17000 {
		return nil, fmt.Errorf("charmap has %d two-byte codes, want the whole HKSCS-2008 set", len(m))
	}
	return m, nil
}

// addBig5Codes decodes every code in ranges and records the rune → code mappings that
// decode to exactly one character; the first code seen for a character wins.
func addBig5Codes(m map[rune][2]byte, ranges [][2]int) {
	dec := traditionalchinese.Big5.NewDecoder()
	var out [8]byte
	for _, rg := range ranges {
		for code := rg[0]; code <= rg[1]; code++ {
			lead, trail := code>>8, code&0xFF
			if trail < 0x40 || (trail > 0x7E && trail < 0xA1) || trail > 0xFE {
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
}

var (
	hkscsInvOnce sync.Once
	hkscsInv     map[[2]byte]rune
)

func hkscsInverse() map[[2]byte]rune {
	hkscsInvOnce.Do(func() {
		t := hkscsTable()
		hkscsInv = make(map[[2]byte]rune, len(t))
		for r, c := range t {
			hkscsInv[c] = r
		}
	})
	return hkscsInv
}

var errNotHKSCS = errors.New("not a Big5-HKSCS code")

// hkscsDecoder decodes Big5-HKSCS bytes with the inverse of the encoder's table.
type hkscsDecoder struct {
	transform.NopResetter
	m map[[2]byte]rune
}

func (h hkscsDecoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if c < 0x80 {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = c
			nDst, nSrc = nDst+1, nSrc+1
			continue
		}
		if nSrc+1 >= len(src) {
			if !atEOF {
				return nDst, nSrc, transform.ErrShortSrc
			}
			return nDst, nSrc, errNotHKSCS
		}
		r, ok := h.m[[2]byte{c, src[nSrc+1]}]
		if !ok {
			return nDst, nSrc, errNotHKSCS
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += 2
	}
	return nDst, nSrc, nil
}
