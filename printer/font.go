package printer

import (
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Raster modes (docs/interfaces.md, [printer] raster): what to do with a character the
// printer's code page lacks.
const (
	RasterLine    = "line"    // print the lines holding such characters as images (default)
	RasterReceipt = "receipt" // print every text line as an image
	RasterOff     = "off"     // print '?' for them
)

// Printer dot geometry: font A is 12×24 dots, so a column is 12 dots and a line 24.
const (
	dotsPerCol  = 12
	dotsPerLine = 24
	// Where the baseline sits in a 24-dot line: CJK fonts draw ideographs in an em box
	// running from 0.88 em above the baseline to 0.12 em below it.
	baselineDots = 21
)

// fontPaths are where Linux distributions put a CJK font, best first: Noto Sans CJK
// (Debian/Ubuntu fonts-noto-cjk, Fedora, Arch), then the older free CJK fonts.
var fontPaths = []string{
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/arphic/uming.ttc",
}

var (
	defaultFontOnce sync.Once
	defaultFontPath string
)

// DefaultFontPath is the CJK font receipts are drawn with when printer.font is not set:
// the first of the known paths that exists, else what fontconfig picks for Hong Kong
// Chinese; "" when the system has none.
func DefaultFontPath() string {
	defaultFontOnce.Do(func() {
		for _, p := range fontPaths {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				defaultFontPath = p
				return
			}
		}
		out, err := exec.Command("fc-match", "-f", "%{file}", ":lang=zh-hk").Output()
		if err != nil {
			return
		}
		p := strings.TrimSpace(string(out))
		if f, err := openFont(p); err == nil && f.has('嘅') {
			defaultFontPath = p
		}
	})
	return defaultFontPath
}

// ErrNoFont: no CJK font is configured or installed.
var ErrNoFont = errors.New("no CJK font found (install fonts-noto-cjk or set printer.font)")

// cjkFont draws printer cells from an OpenType/TrueType font (a .ttc collection too).
// Faces are not safe for concurrent use, hence the mutex; drawn cells are cached, as a
// receipt repeats the same few dozen characters.
type cjkFont struct {
	path string
	name string
	sf   *sfnt.Font

	mu    sync.Mutex
	face  font.Face
	buf   sfnt.Buffer
	cells map[cellKey]*image.Alpha
}

type cellKey struct {
	r    rune
	cols uint8
}

const maxCachedCells = 8192

var (
	fontsMu sync.Mutex
	fonts   = map[string]*cjkFont{}
)

// fontFor returns the font of a format: printer.font, else the system's default.
func fontFor(path string) (*cjkFont, error) {
	if path == "" {
		path = DefaultFontPath()
	}
	if path == "" {
		return nil, ErrNoFont
	}
	return openFont(path)
}

// openFont loads a font file once per process. In a collection it takes the Hong Kong
// face (Noto Sans CJK HK draws characters in Hong Kong's standard forms), else the
// Traditional Chinese one, else the first.
func openFont(path string) (*cjkFont, error) {
	fontsMu.Lock()
	defer fontsMu.Unlock()
	if f, ok := fonts[path]; ok {
		return f, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("printer font: %w", err)
	}
	coll, err := sfnt.ParseCollection(data)
	if err != nil {
		return nil, fmt.Errorf("printer font %s: %w", path, err)
	}
	var pick *sfnt.Font
	pickName := ""
	rank := 99
	var buf sfnt.Buffer
	for i := 0; i < coll.NumFonts(); i++ {
		f, err := coll.Font(i)
		if err != nil {
			continue
		}
		name, _ := f.Name(&buf, sfnt.NameIDFamily)
		r := 3
		switch {
		case strings.HasSuffix(name, " HK"):
			r = 0
		case strings.HasSuffix(name, " TC"):
			r = 1
		case i == 0:
			r = 2
		}
		if r < rank {
			pick, pickName, rank = f, name, r
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("printer font %s: no usable font in the file", path)
	}
	face, err := opentype.NewFace(pick, &opentype.FaceOptions{Size: dotsPerLine, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("printer font %s: %w", path, err)
	}
	f := &cjkFont{path: path, name: pickName, sf: pick, face: face, cells: map[cellKey]*image.Alpha{}}
	fonts[path] = f
	return f, nil
}

// has reports whether the font has a glyph for r.
func (f *cjkFont) has(r rune) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.sf.GlyphIndex(&f.buf, r)
	return err == nil && i != 0
}

// cell returns r drawn in a cell of cols columns at normal size: (cols×12)×24 dots, ink
// as alpha. A glyph wider than its cell (a proportional Latin W in a 12-dot column) is
// narrowed to fit, as the printer's own font would be; nil when the font lacks r.
func (f *cjkFont) cell(r rune, cols uint8) *image.Alpha {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := cellKey{r, cols}
	if c, ok := f.cells[k]; ok {
		return c
	}
	cellW := int(cols) * dotsPerCol
	cell := image.NewAlpha(image.Rect(0, 0, cellW, dotsPerLine))
	if i, err := f.sf.GlyphIndex(&f.buf, r); err != nil || i == 0 {
		return nil
	}
	adv, ok := f.face.GlyphAdvance(r)
	if !ok {
		return nil
	}
	advW := max(1, adv.Ceil())
	dr, mask, mp, _, ok := f.face.Glyph(fixed.P(0, baselineDots), r)
	if ok && mask != nil {
		// Scale horizontally by cellW/advW when the glyph is wider than the cell; centre
		// it when narrower.
		scale := 1.0
		off := (cellW - advW) / 2
		if advW > cellW {
			scale, off = float64(cellW)/float64(advW), 0
		}
		for y := max(dr.Min.Y, 0); y < min(dr.Max.Y, dotsPerLine); y++ {
			for x := 0; x < cellW; x++ {
				// The source column under this dot's centre.
				sx := int((float64(x-off)+0.5)/scale) - dr.Min.X
				if (float64(x-off)+0.5)/scale < float64(dr.Min.X) || sx >= dr.Dx() {
					continue
				}
				_, _, _, a := mask.At(mp.X+sx, mp.Y+y-dr.Min.Y).RGBA()
				cell.Pix[cell.PixOffset(x, y)] = uint8(a >> 8)
			}
		}
	}
	if len(f.cells) >= maxCachedCells {
		clear(f.cells)
	}
	f.cells[k] = cell
	return cell
}
