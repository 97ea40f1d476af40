package printer

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// testFont is the system CJK font the raster tests draw with; .ci/run installs
// fonts-noto-cjk, so its absence is a broken test machine, not a reason to skip.
func testFont(t testing.TB) *cjkFont {
	t.Helper()
	f, err := fontFor("")
	if err != nil {
		t.Fatalf("%v: the raster tests need a CJK font (apt-get install fonts-noto-cjk)", err)
	}
	return f
}

// referenceCell draws r by another path than the printer's: font.Drawer on an RGBA
// canvas at four times the size, then each 4×4 block averaged to one dot (ink when at
// least half covered). It shares only the font file with cjkFont.cell.
func referenceCell(t *testing.T, f *cjkFont, r rune) [][]bool {
	t.Helper()
	const k = 4
	face, err := opentype.NewFace(f.sf, &opentype.FaceOptions{Size: dotsPerLine * k, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	w := 2 * dotsPerCol * k
	canvas := image.NewRGBA(image.Rect(0, 0, w, dotsPerLine*k))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: canvas, Src: image.Black, Face: face, Dot: fixed.P(0, baselineDots*k)}
	d.DrawString(string(r))
	out := make([][]bool, dotsPerLine)
	for y := range out {
		out[y] = make([]bool, 2*dotsPerCol)
		for x := range out[y] {
			dark := 0
			for dy := 0; dy < k; dy++ {
				for dx := 0; dx < k; dx++ {
					if canvas.RGBAAt(x*k+dx, y*k+dy).R < 0x80 {
						dark++
					}
				}
			}
			out[y][x] = dark*2 >= k*k
		}
	}
	return out
}

// iou compares two ink masks: shared dots over dots inked in either.
func iou(a, b [][]bool) float64 {
	inter, union := 0, 0
	for y := range a {
		for x := range a[y] {
			if a[y][x] && b[y][x] {
				inter++
			}
			if a[y][x] || b[y][x] {
				union++
			}
		}
	}
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
}

// TestRaster_DrawsTheGlyphs prints the Cantonese receipt on a plain Big5 printer: the
// lines holding 嘅, 咗 and 枱 go out as GS v 0 images. Each character's cell in the
// image must match that character's independent reference rendering, and match it
// better than any other character of the receipt's lines matches.
func TestRaster_DrawsTheGlyphs(t *testing.T) {
	f := testFont(t)
	b, err := Render(hkscsReceipt(), Format{Encoding: EncodingBig5, Columns: 42, Raster: RasterLine})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := parseDoc(b, EncodingBig5)
	if err != nil {
		t.Fatal(err)
	}
	var images []*rasterImage
	for _, l := range lines {
		if l.kind == lineImage && l.raster != nil {
			images = append(images, l.raster)
		}
	}
	// The merchant name (double height), the reference line and the item line; the other
	// lines are plain Big5 and stay text.
	if len(images) != 3 {
		t.Fatalf("%d raster lines, want 3", len(images))
	}
	text, _ := DecodeText(b, EncodingBig5)
	if strings.Contains(text, "?") {
		t.Errorf("a '?' was printed:\n%s", text)
	}
	type want struct {
		img  *rasterImage
		text string
		col  int // the column the text starts at
	}
	ref, item := "參考編號", "項目: "+hkDescription
	cases := []want{
		{images[1], ref, 0},
		{images[1], hkReference, 42 - 6}, // right-aligned: 枱號 are 4 columns, 12 two
		{images[2], item, 0},
	}
	candidates := map[rune][][]bool{}
	for _, c := range cases {
		for _, r := range c.text {
			if runeCols(r) == 2 {
				candidates[r] = referenceCell(t, f, r)
			}
		}
	}
	for _, c := range cases {
		if c.img.xBytes*8 != 42*dotsPerCol || c.img.rows != dotsPerLine {
			t.Fatalf("raster line %dx%d, want %dx%d", c.img.xBytes*8, c.img.rows, 42*dotsPerCol, dotsPerLine)
		}
		col := c.col
		for _, r := range c.text {
			n := int(runeCols(r))
			if n == 2 {
				cell := make([][]bool, dotsPerLine)
				for y := range cell {
					cell[y] = make([]bool, 2*dotsPerCol)
					for x := range cell[y] {
						cell[y][x] = c.img.dot(col*dotsPerCol+x, y)
					}
				}
				own := iou(cell, candidates[r])
				if own < 0.6 {
					t.Errorf("%c at column %d: overlap %.2f with its reference rendering", r, col, own)
				}
				for o, m := range candidates {
					if o != r && iou(cell, m) >= own {
						t.Errorf("%c at column %d looks more like %c (%.2f ≥ %.2f)", r, col, o, iou(cell, m), own)
					}
				}
			}
			col += n
		}
	}
}

// TestRaster_PreviewIsThePrintout: the receipt preview draws text with the code that draws
// raster lines, so a receipt printed in HKSCS text and the same receipt printed wholly
// as images preview to the same pixels.
func TestRaster_PreviewIsThePrintout(t *testing.T) {
	testFont(t)
	r := hkscsReceipt()
	text, err := Render(r, Format{Encoding: EncodingBig5HKSCS, Columns: 42, Raster: RasterOff})
	if err != nil {
		t.Fatal(err)
	}
	raster, err := Render(r, Format{Encoding: EncodingBig5HKSCS, Columns: 42, Raster: RasterReceipt})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := DecodeText(raster, EncodingBig5HKSCS); strings.Contains(s, "L|項目") || !strings.Contains(s, "[IMAGE raster 504x24]") {
		t.Fatalf("receipt mode left text lines:\n%s", s)
	}
	a := decodePNG(t, text, EncodingBig5HKSCS)
	c := decodePNG(t, raster, EncodingBig5HKSCS)
	if a.Bounds() != c.Bounds() {
		t.Fatalf("preview sizes differ: text %v, raster %v", a.Bounds(), c.Bounds())
	}
	diff, ink := 0, 0
	for i := range a.Pix {
		if a.Pix[i] != c.Pix[i] {
			diff++
		}
		if a.Pix[i] < 0x80 {
			ink++
		}
	}
	if diff != 0 || ink < 5000 {
		t.Errorf("%d of %d pixels differ (ink %d)", diff, len(a.Pix), ink)
	}
}

func decodePNG(t *testing.T, b []byte, enc string) *image.Gray {
	t.Helper()
	p, err := RenderPNG(b, enc)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("preview is %T, want *image.Gray", img)
	}
	return g
}

// TestRaster_NoFontPrintsQuestionMarks: a font that cannot be opened leaves the receipt
// printable, with '?' as before, and says so through TextProblems.
func TestRaster_NoFontPrintsQuestionMarks(t *testing.T) {
	f := Format{Encoding: EncodingBig5, Columns: 42, Font: "/nonexistent/font.ttc"}
	b, err := Render(hkscsReceipt(), f)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := DecodeText(b, EncodingBig5)
	if !strings.Contains(s, "?號12") || strings.Contains(s, "[IMAGE") {
		t.Errorf("without a font:\n%s", s)
	}
}

func TestFont_Load(t *testing.T) {
	t0 := time.Now()
	f := testFont(t)
	t.Logf("font %s (%s), loaded in %v", f.path, f.name, time.Since(t0))
	for _, r := range "嘅咗冇枱號凍檸茶A1" {
		if !f.has(r) {
			t.Errorf("%s lacks %c", f.name, r)
		}
	}
}

func benchRender(b *testing.B, f Format) {
	r := hkscsReceipt()
	if _, err := Render(r, f); err != nil { // font loading is a one-off, outside the loop
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(r, f); err != nil {
			b.Fatal(err)
		}
	}
}

// The baseline: the Cantonese receipt as HKSCS text.
func BenchmarkRenderHKSCS_Text(b *testing.B) {
	benchRender(b, Format{Encoding: EncodingBig5HKSCS, Columns: 42, Raster: RasterOff})
}

// Plain Big5 printer: three lines drawn.
func BenchmarkRenderHKSCS_RasterLine(b *testing.B) {
	testFont(b)
	benchRender(b, Format{Encoding: EncodingBig5, Columns: 42, Raster: RasterLine})
}

// Every line drawn.
func BenchmarkRenderHKSCS_RasterReceipt(b *testing.B) {
	testFont(b)
	benchRender(b, Format{Encoding: EncodingBig5, Columns: 42, Raster: RasterReceipt})
}

// Drawing a glyph without the cache: the cost of a receipt's first new characters.
func BenchmarkFontCellUncached(b *testing.B) {
	f := testFont(b)
	rs := []rune("凍檸茶走冰冇糖嘅咗枱號")
	i := 0
	for b.Loop() {
		f.mu.Lock()
		clear(f.cells)
		f.mu.Unlock()
		f.cell(rs[i%len(rs)], 2)
		i++
	}
}

func BenchmarkRenderPNG(b *testing.B) {
	testFont(b)
	p, err := Render(hkscsReceipt(), Format{Encoding: EncodingBig5HKSCS, Columns: 42})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := RenderPNG(p, EncodingBig5HKSCS); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConfig_TextProblems(t *testing.T) {
	testFont(t)
	texts := map[string]string{"till.merchant_name": "咗記茶餐廳", "x.plain": "茶餐廳 Cafe"}
	for _, c := range []struct {
		cfg  Config
		want string // "" for no problem
	}{
		{Config{Encoding: "big5", Raster: RasterOff}, `till.merchant_name: "咗" is not in big5 and printer.raster is off`},
		{Config{Encoding: "big5"}, ""},
		{Config{Encoding: "big5-hkscs", Raster: RasterOff}, ""},
		{Config{Encoding: "big5", Font: "/nonexistent.ttc"}, `printer.font: printer font: open /nonexistent.ttc`},
		{Config{Encoding: "big5-hkscs", Font: "/nonexistent.ttc"}, `printer.font: printer font: open /nonexistent.ttc`},
		{Config{Encoding: "ascii", Raster: RasterReceipt}, ""},
	} {
		got := c.cfg.TextProblems(texts)
		if c.want == "" && len(got) != 0 || c.want != "" && (len(got) == 0 || !strings.HasPrefix(got[0], c.want)) {
			t.Errorf("%+v: %q, want %q", c.cfg, got, c.want)
		}
	}
	if err := (Config{Kind: "none", Raster: "sometimes"}).Validate(); err == nil || !strings.Contains(err.Error(), "printer.raster") {
		t.Errorf("raster value not checked: %v", err)
	}
}
