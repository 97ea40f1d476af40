package printer

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
)

// The decoder reads ESC/POS bytes back into lines of styled characters. It knows the
// commands posd emits and the length rules of the common others (docs/hardware.md §5.8), so a
// capture from any generator decodes without losing sync; it never panics on garbage.

type glyphStyle struct {
	bold, under bool
	w, h        uint8 // character size multipliers, 1–8
}

type glyph struct {
	r    rune
	cols uint8 // 1, or 2 for a double-byte character
	st   glyphStyle
}

type lineKind uint8

const (
	lineText lineKind = iota
	lineQR
	lineCut
	lineDrawer
	lineBarcode
	lineImage
	lineUnknown
)

type docLine struct {
	kind   lineKind
	align  byte // 'L', 'C', 'R'
	glyphs []glyph
	data   string // QR or barcode data, or a note
	module int    // QR module size in dots
	raster *rasterImage
}

// rasterImage is a GS v 0 image as the printer received it: rows of xBytes bytes, the
// high bit leftmost, 1 = a dot printed; wMul and hMul from its mode (double width/height).
type rasterImage struct {
	xBytes, rows int
	wMul, hMul   int
	bits         []byte
}

func (ri *rasterImage) dot(x, y int) bool {
	return ri.bits[y*ri.xBytes+x/8]&(0x80>>(x%8)) != 0
}

type decoder struct {
	in      []byte
	pos     int
	dec     *encoding.Decoder
	enc     string
	chinese bool
	align   byte
	st      glyphStyle
	qrData  string
	qrMod   int
	cur     []glyph
	lines   []docLine
}

func (d *decoder) reset() {
	d.align = 'L'
	d.st = glyphStyle{w: 1, h: 1}
	d.qrMod = 3
}

// need returns the next n bytes of the command that starts at pos, or false when the
// input ends first.
func (d *decoder) need(n int) ([]byte, bool) {
	if n < 0 || d.pos+n > len(d.in) {
		return nil, false
	}
	return d.in[d.pos : d.pos+n], true
}

func (d *decoder) flush() {
	d.lines = append(d.lines, docLine{kind: lineText, align: d.align, glyphs: d.cur})
	d.cur = nil
}

func (d *decoder) special(k lineKind, data string) {
	if len(d.cur) > 0 {
		d.flush()
	}
	d.lines = append(d.lines, docLine{kind: k, align: d.align, data: data, module: d.qrMod})
}

func parseDoc(b []byte, enc string) ([]docLine, error) {
	dec, err := decoderFor(enc)
	if err != nil {
		return nil, err
	}
	// Chinese-market printers power on in Chinese mode (docs/hardware.md §5.4).
	d := &decoder{in: b, dec: dec, enc: enc, chinese: dec != nil}
	d.reset()
	for d.pos < len(d.in) {
		c := d.in[d.pos]
		switch {
		case c == 0x0A:
			d.pos++
			d.flush()
		case c == 0x1B:
			d.esc()
		case c == 0x1D:
			d.gs()
		case c == 0x1C:
			d.fs()
		case c == 0x10:
			d.dle()
		case c == 0x09:
			d.pos++
			d.cur = append(d.cur, glyph{r: ' ', cols: 1, st: d.st})
		case c < 0x20 || c == 0x7F:
			d.pos++ // CR, FF and other controls print nothing here
		case c < 0x80:
			d.pos++
			d.cur = append(d.cur, glyph{r: rune(c), cols: 1, st: d.st})
		default:
			d.multibyte()
		}
	}
	if len(d.cur) > 0 {
		d.flush()
	}
	return d.lines, nil
}

func (d *decoder) multibyte() {
	c := d.in[d.pos]
	if !d.chinese || d.dec == nil || c == 0x80 || c == 0xFF {
		d.pos++
		d.cur = append(d.cur, glyph{r: '?', cols: 1, st: d.st})
		return
	}
	n := 2
	if d.enc == EncodingGB18030 && d.pos+1 < len(d.in) && d.in[d.pos+1] >= 0x30 && d.in[d.pos+1] <= 0x39 {
		n = 4
	}
	seq, ok := d.need(n)
	if !ok {
		d.pos = len(d.in)
		d.cur = append(d.cur, glyph{r: '?', cols: 1, st: d.st})
		return
	}
	var out [8]byte
	d.dec.Reset()
	nDst, _, err := d.dec.Transform(out[:], seq, true)
	r, size := utf8.DecodeRune(out[:nDst])
	if err != nil || r == utf8.RuneError || size != nDst {
		// Not a valid pair: print one replacement and resync on the next byte.
		d.pos++
		d.cur = append(d.cur, glyph{r: '?', cols: 1, st: d.st})
		return
	}
	d.pos += n
	d.cur = append(d.cur, glyph{r: r, cols: 2, st: d.st})
}

// take returns the next n bytes of the command at d.pos. A command cut short by the end
// of the input is shown as unknown bytes and ends decoding.
func (d *decoder) take(n int) ([]byte, bool) {
	q, ok := d.need(n)
	if !ok {
		d.unknown(d.in[d.pos:])
		d.pos = len(d.in)
	}
	return q, ok
}

func (d *decoder) unknown(p []byte) {
	d.special(lineUnknown, fmt.Sprintf("% X", p))
}

func (d *decoder) esc() {
	p, ok := d.take(2)
	if !ok {
		return
	}
	arg := d.take
	switch p[1] {
	case '@':
		d.pos += 2
		d.reset()
	case 'a':
		if q, ok := arg(3); ok {
			d.align = "LCR"[min(int(q[2]&3), 2)]
			d.pos += 3
		}
	case 'E', 'G':
		if q, ok := arg(3); ok {
			d.st.bold = q[2]&1 == 1
			d.pos += 3
		}
	case '-':
		if q, ok := arg(3); ok {
			d.st.under = q[2]&3 != 0 && q[2] != '0'
			d.pos += 3
		}
	case '!':
		d.escPrintMode()
	case 'd':
		d.escFeedLines()
	case 'p':
		if _, ok := arg(5); ok {
			d.special(lineDrawer, "")
			d.pos += 5
		}
	case 'i', 'm':
		d.special(lineCut, "")
		d.pos += 2
	case '2', '<', 'v', 'S', 'L', 0x0C: // two-byte commands without an argument
		d.pos += 2
	case '$', '\\':
		if _, ok := arg(4); ok {
			d.pos += 4
		}
	case 'c':
		if _, ok := arg(4); ok {
			d.pos += 4
		}
	case 'D', 'B':
		d.escTabsOrBeep(p[1])
	case '*':
		d.escBitImage()
	case 'M', 't', 'R', ' ', '3', 'U', 'V', '{', 'J', 'K', 'r', 'T', '%', '?', '=', 'e':
		if _, ok := arg(3); ok {
			d.pos += 3
		}
	default:
		d.unknown(p)
		d.pos += 2
	}
}

func (d *decoder) gs() {
	p, ok := d.take(2)
	if !ok {
		return
	}
	arg := d.take
	switch p[1] {
	case '!':
		if q, ok := arg(3); ok {
			d.st.w = q[2]>>4&7 + 1
			d.st.h = q[2]&7 + 1
			d.pos += 3
		}
	case 'V':
		if q, ok := arg(3); ok {
			n := 3
			if q[2] >= 65 {
				n = 4 // functions B, C, D carry a feed amount
			}
			if _, ok := arg(n); ok {
				d.special(lineCut, "")
				d.pos += n
			}
		}
	case '(':
		d.gsFunction()
	case 'k':
		d.gsBarcode()
	case 'v':
		d.gsRaster()
	case 'L', 'W', 'P', '$', '\\':
		if _, ok := arg(4); ok {
			d.pos += 4
		}
	case 'B', 'H', 'f', 'h', 'w', 'a', 'r', 'I', 'b', 'E':
		if _, ok := arg(3); ok {
			d.pos += 3
		}
	default:
		d.unknown(p)
		d.pos += 2
	}
}

// escPrintMode decodes ESC ! n, which sets bold, underline and double
// height/width together (and clears whichever bits are off).
func (d *decoder) escPrintMode() {
	if q, ok := d.take(3); ok {
		n := q[2]
		d.st.bold = n&0x08 != 0
		d.st.under = n&0x80 != 0
		d.st.h, d.st.w = 1, 1
		if n&0x10 != 0 {
			d.st.h = 2
		}
		if n&0x20 != 0 {
			d.st.w = 2
		}
		d.pos += 3
	}
}

// escFeedLines decodes ESC d n: it ends the line being built, then adds n
// empty lines, as the paper would show them.
func (d *decoder) escFeedLines() {
	if q, ok := d.take(3); ok {
		if len(d.cur) > 0 {
			d.flush()
		}
		for i := 0; i < int(q[2]); i++ {
			d.flush()
		}
		d.pos += 3
	}
}

// escTabsOrBeep skips ESC B (beeper, fixed length) or ESC D (tab positions,
// a list that ends at NUL) without printing anything.
func (d *decoder) escTabsOrBeep(cmd byte) {
	// Tab positions / beeper variants: the tab list ends at NUL.
	if cmd == 'B' {
		if _, ok := d.take(4); ok {
			d.pos += 4
		}
		return
	}
	end := d.pos + 2
	for end < len(d.in) && d.in[end] != 0 && end-d.pos < 34 {
		end++
	}
	d.pos = min(end+1, len(d.in))
}

// escBitImage records ESC * as an image line and skips its column data, whose
// length depends on the dot density (3 bytes a column in 24-dot modes).
func (d *decoder) escBitImage() {
	if q, ok := d.take(5); ok {
		n := int(q[3]) + int(q[4])*256
		if q[2] >= 32 {
			n *= 3
		}
		d.special(lineImage, fmt.Sprintf("bit image %d columns", int(q[3])+int(q[4])*256))
		d.pos = min(d.pos+5+n, len(d.in))
	}
}

// gsFunction decodes GS ( k, the QR functions: it keeps the module size and
// stored data and emits a QR line when the printer is told to print them.
func (d *decoder) gsFunction() {
	q, ok := d.take(5)
	if !ok {
		return
	}
	n := int(q[3]) + int(q[4])*256
	body, ok := d.take(5 + n)
	if !ok {
		return
	}
	if q[2] == 'k' && n >= 2 && body[5] == 0x31 {
		switch body[6] {
		case 0x43: // module size
			if n >= 3 {
				d.qrMod = int(body[7])
			}
		case 0x50: // store data
			if n >= 3 {
				d.qrData = string(body[8:])
			}
		case 0x51: // print the stored symbol
			d.special(lineQR, d.qrData)
		}
	}
	d.pos += 5 + n
}

// gsBarcode decodes GS k in both of its forms: NUL-terminated data (m < 65)
// or a length byte (m >= 65).
func (d *decoder) gsBarcode() {
	q, ok := d.take(3)
	if !ok {
		return
	}
	if q[2] < 65 {
		end := d.pos + 3
		for end < len(d.in) && d.in[end] != 0 {
			end++
		}
		d.special(lineBarcode, string(d.in[d.pos+3:end]))
		d.pos = min(end+1, len(d.in))
		return
	}
	q, ok = d.take(4)
	if !ok {
		return
	}
	n := int(q[3])
	body, ok := d.take(4 + n)
	if !ok {
		return
	}
	d.special(lineBarcode, string(body[4:]))
	d.pos += 4 + n
}

// gsRaster decodes GS v 0, a raster image, keeping its dots when all of them
// have arrived.
func (d *decoder) gsRaster() {
	q, ok := d.take(8)
	if !ok {
		return
	}
	x, y := int(q[4])+int(q[5])*256, int(q[6])+int(q[7])*256
	d.special(lineImage, fmt.Sprintf("raster %dx%d", x*8, y))
	if body, ok := d.need(8 + x*y); ok && x > 0 && y > 0 {
		// Kept for the preview, which draws the dots the printer would.
		d.lines[len(d.lines)-1].raster = &rasterImage{xBytes: x, rows: y, wMul: int(q[3]&1) + 1, hMul: int(q[3]>>1&1) + 1, bits: body[8:]}
	}
	d.pos = min(d.pos+8+x*y, len(d.in))
}

func (d *decoder) fs() {
	p, ok := d.take(2)
	if !ok {
		return
	}
	n := 2
	switch p[1] {
	case '&':
		d.chinese = true
	case '.':
		d.chinese = false
	case '!', 'W', '-', 'C':
		n = 3
	case 'S', 'p':
		n = 4
	case '2':
		n = 4 + 72
	case '(':
		if q, ok := d.need(5); ok {
			n = 5 + int(q[3]) + int(q[4])*256
		} else {
			n = 5
		}
	default:
		d.unknown(p)
	}
	if _, ok := d.take(n); !ok {
		return
	}
	d.pos += n
}

func (d *decoder) dle() {
	p, ok := d.take(2)
	if !ok {
		return
	}
	n := 3
	if p[1] == 0x14 { // DLE DC4 fn m t: real-time pulse
		n = 5
	}
	if _, ok := d.take(n); !ok {
		return
	}
	if p[1] == 0x14 {
		d.special(lineDrawer, "")
	}
	d.pos += n
}

// DecodeText turns ESC/POS bytes into readable text, one printed line per text line:
//
//	L|text            a left-aligned line (C| centred, R| right-aligned)
//	**bold** __underlined__ ^^enlarged^^   emphasis marks inside a line
//	C|[QR:data]       a QR code (data as stored with GS ( k)
//	--- cut ---       a paper cut
//	[DRAWER]          a cash drawer kick
//	[?1B 99]          a command the decoder does not know
//
// enc is the printer's encoding for two-byte text (big5, gb18030 or ascii).
func DecodeText(b []byte, enc string) (string, error) {
	lines, err := parseDoc(b, enc)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, l := range lines {
		switch l.kind {
		case lineText:
			sb.WriteByte(l.align)
			sb.WriteByte('|')
			writeStyled(&sb, l.glyphs)
		case lineQR:
			fmt.Fprintf(&sb, "%c|[QR:%s]", l.align, printable(l.data))
		case lineBarcode:
			fmt.Fprintf(&sb, "%c|[BARCODE:%s]", l.align, printable(l.data))
		case lineImage:
			fmt.Fprintf(&sb, "%c|[IMAGE %s]", l.align, l.data)
		case lineCut:
			sb.WriteString("--- cut ---")
		case lineDrawer:
			sb.WriteString("[DRAWER]")
		case lineUnknown:
			fmt.Fprintf(&sb, "[?%s]", l.data)
		}
		sb.WriteByte('\n')
	}
	return sb.String(), nil
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F || r == utf8.RuneError {
			return '.'
		}
		return r
	}, s)
}

func writeStyled(sb *strings.Builder, gs []glyph) {
	var st glyphStyle
	st.w, st.h = 1, 1
	big := func(s glyphStyle) bool { return s.w > 1 || s.h > 1 }
	for _, g := range gs {
		if g.st.bold != st.bold {
			sb.WriteString("**")
		}
		if g.st.under != st.under {
			sb.WriteString("__")
		}
		if big(g.st) != big(st) {
			sb.WriteString("^^")
		}
		st = g.st
		sb.WriteRune(g.r)
	}
	if big(st) {
		sb.WriteString("^^")
	}
	if st.under {
		sb.WriteString("__")
	}
	if st.bold {
		sb.WriteString("**")
	}
}
