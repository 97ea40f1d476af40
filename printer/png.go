package printer

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"

	"github.com/skip2/go-qrcode"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Preview geometry: one pixel is one printer dot, so a column is font A's 12 dots and a
// line its 24.
const (
	pngCellW     = dotsPerCol
	pngLineH     = dotsPerLine
	pngMargin    = 16
	pngMaxCols   = 64    // wider "receipts" are garbage; clip them
	pngMaxHeight = 16000 // pixels (~650 lines); a stream of line feeds must not eat memory
)

// RenderPNG draws ESC/POS bytes as a receipt preview with the system's CJK font
// (DefaultFontPath); see RenderPNGFont.
func RenderPNG(b []byte, enc string) ([]byte, error) {
	return RenderPNGFont(b, enc, "")
}

// RenderPNGFont draws ESC/POS bytes as a receipt preview, one pixel per printer dot:
// text in the font file fontPath (the one printer.font names; "" for the default) with
// the same code that draws raster lines for the printer, so a line printed as an image
// looks exactly as previewed; GS v 0 images dot for dot; bold, underline and enlarged
// text; QR codes as real modules; cuts as dashed lines. Without a usable font, text is
// drawn in a small bitmap font and CJK characters as boxes of their printed width.
func RenderPNGFont(b []byte, enc, fontPath string) ([]byte, error) {
	lines, err := parseDoc(b, enc)
	if err != nil {
		return nil, err
	}
	f, _ := fontFor(fontPath) // nil: the bitmap fallback below
	cols, height, qrs := measurePNG(lines)
	width := cols*pngCellW + 2*pngMargin
	img := image.NewGray(image.Rect(0, 0, width, height))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	drawPNGLines(img, lines, qrs, f, cols)
	var out bytes.Buffer
	pe := png.Encoder{CompressionLevel: png.BestSpeed} // previews are made on demand
	if err := pe.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode receipt preview: %w", err)
	}
	return out.Bytes(), nil
}

// measurePNG sizes the image before drawing (width in columns, height in
// pixels, capped) and encodes each QR line once, so drawing needs no second pass.
func measurePNG(lines []docLine) (cols, height int, qrs map[int][][]bool) {
	cols = 32
	height = 2 * pngMargin
	qrs = make(map[int][][]bool)
	byData := make(map[string][][]bool)
	for i, l := range lines {
		switch l.kind {
		case lineText:
			w, h := lineSize(l.glyphs)
			cols = max(cols, min(w, pngMaxCols))
			height += pngLineH * h
		case lineQR:
			// The same stored symbol can be printed many times; draw at most a few
			// distinct ones (each costs milliseconds to encode).
			bm, ok := byData[l.data]
			if !ok && len(byData) < 8 {
				bm = qrBitmap(l.data)
				byData[l.data] = bm
			} else if !ok {
				bm = qrBitmap("")
			}
			qrs[i] = bm
			height += len(bm)*qrModulePx(l.module) + pngLineH/2
		case lineImage:
			if ri := l.raster; ri != nil {
				cols = max(cols, min((ri.xBytes*8*ri.wMul+pngCellW-1)/pngCellW, pngMaxCols))
				height += ri.rows * ri.hMul
			} else {
				height += pngLineH
			}
		default:
			height += pngLineH
		}
		if height > pngMaxHeight {
			height = pngMaxHeight
			break
		}
	}
	return cols, height, qrs
}

// drawPNGLines paints the lines top to bottom on the blank image, stopping at
// the bottom margin of the (possibly capped) height measurePNG chose.
func drawPNGLines(img *image.Gray, lines []docLine, qrs map[int][][]bool, f *cjkFont, cols int) {
	width, height := img.Rect.Dx(), img.Rect.Dy()
	y := pngMargin
	for i, l := range lines {
		if y >= height-pngMargin {
			break
		}
		switch l.kind {
		case lineText:
			y = drawPNGText(img, l, f, cols, y)
		case lineQR:
			bm := qrs[i]
			px := qrModulePx(l.module)
			x := pngMargin + alignOffset(l.align, cols*pngCellW, len(bm)*px)
			for r, row := range bm {
				for c, on := range row {
					if on {
						fill(img, x+c*px, y+r*px, px, px)
					}
				}
			}
			y += len(bm)*px + pngLineH/2
		case lineImage:
			y = drawPNGImage(img, l, cols, y)
		case lineCut:
			for x := 0; x < width; x += 16 {
				fill(img, x, y+pngLineH/2, 8, 2)
			}
			y += pngLineH
		default:
			drawLabel(img, map[lineKind]string{lineDrawer: "[DRAWER]", lineBarcode: "[BARCODE]", lineUnknown: "[?]"}[l.kind], y)
			y += pngLineH
		}
	}
}

// drawPNGText draws one text line glyph by glyph, with the outline font when it
// has the glyph and the bitmap font otherwise; it returns the next line's y.
func drawPNGText(img *image.Gray, l docLine, f *cjkFont, cols, y int) int {
	w, h := lineSize(l.glyphs)
	x := pngMargin + alignOffset(l.align, cols, w)*pngCellW
	for _, g := range l.glyphs {
		gy := y + pngLineH*(h-int(g.st.h))
		if f == nil || !drawGlyphs(img, x, gy, []glyph{g}, f) {
			drawGlyph(img, x, gy, g)
		}
		x += int(g.cols) * int(g.st.w) * pngCellW
	}
	return y + pngLineH*h
}

// drawPNGImage draws a raster image line dot for dot, or a placeholder label
// when the image could not be decoded; it returns the next line's y.
func drawPNGImage(img *image.Gray, l docLine, cols, y int) int {
	if ri := l.raster; ri != nil {
		w := ri.xBytes * 8 * ri.wMul
		x := pngMargin + alignOffset(l.align, cols*pngCellW, w)
		for ry := 0; ry < ri.rows; ry++ {
			for rx := 0; rx < ri.xBytes*8; rx++ {
				if ri.dot(rx, ry) {
					fill(img, x+rx*ri.wMul, y+ry*ri.hMul, ri.wMul, ri.hMul)
				}
			}
		}
		return y + ri.rows*ri.hMul
	}
	drawLabel(img, "[IMAGE]", y)
	return y + pngLineH
}

// lineSize is a text line's width in columns and height in text lines.
func lineSize(gs []glyph) (w, h int) {
	h = 1
	for _, g := range gs {
		w += int(g.cols) * int(g.st.w)
		h = max(h, int(g.st.h))
	}
	return w, h
}

func alignOffset(align byte, avail, used int) int {
	switch align {
	case 'C':
		return max(0, (avail-used)/2)
	case 'R':
		return max(0, avail-used)
	}
	return 0
}

// qrModulePx converts the printer's module size in dots (12 dots per column in font A)
// to preview pixels.
func qrModulePx(dots int) int {
	dots = min(max(dots, 1), 16) // printers accept 1–16
	return max(1, dots*pngCellW/12)
}

func qrBitmap(data string) [][]bool {
	var q *qrcode.QRCode
	err := errors.New("QR data too long for a receipt preview")
	if len(data) <= 512 { // a receipt's QR is a transaction id; long ones cost seconds
		q, err = qrcode.New(data, qrcode.Medium)
	}
	if err != nil {
		// Too long or empty: a crossed box says "a QR code the printer would refuse".
		bm := make([][]bool, 21)
		for i := range bm {
			bm[i] = make([]bool, 21)
			bm[i][0], bm[i][20], bm[i][i], bm[i][20-i] = true, true, true, true
		}
		for i := range bm[0] {
			bm[0][i], bm[20][i] = true, true
		}
		return bm
	}
	q.DisableBorder = true
	return q.Bitmap()
}

func fill(img *image.Gray, x, y, w, h int) {
	r := image.Rect(x, y, x+w, y+h).Intersect(img.Rect)
	for yy := r.Min.Y; yy < r.Max.Y; yy++ {
		row := img.Pix[img.PixOffset(r.Min.X, yy):img.PixOffset(r.Max.X, yy)]
		clear(row) // 0 is black
	}
}

func drawLabel(img *image.Gray, label string, y int) {
	x := pngMargin
	for _, r := range label {
		drawGlyph(img, x, y, glyph{r: r, cols: 1, st: glyphStyle{w: 1, h: 1}})
		x += pngCellW
	}
}

// drawGlyph is the fallback without a font: the 7×13 bitmap font (doubled in height to
// fill the 24-dot line) for ASCII, a box of the printed width for anything else.
func drawGlyph(img *image.Gray, x, y int, g glyph) {
	sx, sy := int(g.st.w), 2*int(g.st.h)
	cellW := int(g.cols) * pngCellW * int(g.st.w)
	cellH := pngLineH * int(g.st.h)
	face := basicfont.Face7x13
	dr, mask, mp, _, ok := face.Glyph(fixed.P(0, face.Ascent), g.r)
	alpha, isAlpha := mask.(*image.Alpha)
	if g.cols != 1 || !ok || !isAlpha || g.r == '\ufffd' {
		// No glyph in the bitmap font (e.g. CJK): a box of the printed width.
		fill(img, x+sx, y+1, cellW-2*sx, 1)
		fill(img, x+sx, y+cellH-2, cellW-2*sx, 1)
		fill(img, x+sx, y+1, 1, cellH-2)
		fill(img, x+cellW-sx-1, y+1, 1, cellH-2)
	} else if g.r != ' ' {
		x += (cellW - 7*sx) / 2
		for gy := 0; gy < dr.Dy(); gy++ {
			for gx := 0; gx < dr.Dx(); gx++ {
				if alpha.AlphaAt(mp.X+gx, mp.Y+gy).A < 0x80 {
					continue
				}
				px, py := x+(dr.Min.X+gx)*sx, y+(dr.Min.Y+gy)*sy
				fill(img, px, py, sx, sy)
				if g.st.bold {
					fill(img, px+1, py, sx, sy)
				}
			}
		}
	}
	if g.st.under {
		fill(img, x, y+cellH-2, cellW, 2)
	}
}
