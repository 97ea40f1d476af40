package printer

import (
	"image"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// runeCols is how many columns r takes when drawn rather than printed from the code
// page: East Asian wide and full-width characters two, the rest one.
func runeCols(r rune) uint8 {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// drawGlyphs draws a line of glyphs into img from (x, y), each in its printer cell
// (12×24 dots per column, times the glyph's size), the way a printer draws text: ink is
// 1 bit (alpha ≥ ½), bold strikes each dot twice one dot apart, underline is a 2-dot rule
// at the cell's foot. It returns false when the font lacks a glyph (that cell stays blank).
func drawGlyphs(img *image.Gray, x, y int, gs []glyph, f *cjkFont) bool {
	all := true
	for _, g := range gs {
		sw, sh := max(int(g.st.w), 1), max(int(g.st.h), 1)
		cellW := int(g.cols) * dotsPerCol * sw
		if g.r != ' ' {
			c := f.cell(g.r, g.cols)
			if c == nil {
				all = false
			} else {
				b := c.Bounds()
				for cy := 0; cy < b.Dy(); cy++ {
					for cx := 0; cx < b.Dx(); cx++ {
						if c.Pix[c.PixOffset(cx, cy)] < 0x80 {
							continue
						}
						fill(img, x+cx*sw, y+cy*sh, sw, sh)
						if g.st.bold {
							fill(img, x+cx*sw+1, y+cy*sh, sw, sh)
						}
					}
				}
			}
		}
		if g.st.under {
			fill(img, x, y+dotsPerLine*sh-2, cellW, 2)
		}
		x += cellW
	}
	return all
}

// rasterLine draws one printed line as a GS v 0 image as wide as the paper (cols
// columns), with the line's alignment applied inside the image, so the printer's own
// alignment setting cannot move it.
func rasterLine(gs []glyph, cols int, align byte, f *cjkFont) []byte {
	w, h := lineSize(gs)
	img := image.NewGray(image.Rect(0, 0, cols*dotsPerCol, h*dotsPerLine))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	x := alignOffset(align, cols, w) * dotsPerCol
	drawGlyphs(img, x, 0, gs, f)
	return rasterBytes(img)
}

// rasterBytes is GS v 0 (normal density) for a 1-bit image: dark pixels print.
func rasterBytes(img *image.Gray) []byte {
	b := img.Bounds()
	xBytes := (b.Dx() + 7) / 8
	out := make([]byte, 0, 8+xBytes*b.Dy())
	out = append(out, 0x1D, 0x76, 0x30, 0x00, byte(xBytes), byte(xBytes>>8), byte(b.Dy()), byte(b.Dy()>>8))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		var acc byte
		for x := 0; x < xBytes*8; x++ {
			if x < b.Dx() && img.Pix[img.PixOffset(b.Min.X+x, y)] < 0x80 {
				acc |= 0x80 >> (x % 8)
			}
			if x%8 == 7 {
				out = append(out, acc)
				acc = 0
			}
		}
	}
	return out
}

// glyphsOf lays s out in printer cells with the codec's widths; characters the code page
// lacks take their drawn width.
func (c *codec) glyphsOf(s string, st glyphStyle) []glyph {
	gs := make([]glyph, 0, utf8.RuneCountInString(s))
	var buf [8]byte
	for _, r := range s {
		cols := runeCols(r)
		if c.canEncode(r) {
			_, n := c.rune(buf[:0], r)
			cols = uint8(n)
		}
		if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
			r = ' '
		}
		gs = append(gs, glyph{r: r, cols: cols, st: st})
	}
	return gs
}
