package printer

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/skip2/go-qrcode"
)

func TestDecodeText_Commands(t *testing.T) {
	var b []byte
	b = append(b, 0x1B, 0x40, 0x1C, 0x26)
	b = append(b, 0x1B, 0x61, 0x01, 0x1B, 0x45, 0x01)
	b = append(b, "Hi "...)
	b = append(b, 0x1D, 0x21, 0x11)
	b = append(b, 0xA5, 0x5D) // 包 in Big5
	b = append(b, 0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00, '\n')
	b = append(b, 0x1B, 0x61, 0x32, 0x1B, 0x2D, 0x01)
	b = append(b, "right"...)
	b = append(b, 0x1B, 0x2D, 0x00, '\n')
	b = append(b, QRBytes("https://x", 4)...)
	b = append(b, 0x1D, 0x6B, 0x49, 0x05, '{', 'B', 'A', 'B', 'C') // CODE128
	b = append(b, 0x1D, 0x6B, 0x02, '1', '2', '3', 0x00)           // EAN13, NUL-terminated
	b = append(b, 0x10, 0x04, 0x01)                                // status query prints nothing
	b = append(b, 0x1B, 0x64, 0x02)                                // feed 2 lines
	b = append(b, 0x1D, 0x56, 0x00, 0x1B, 0x70, 0x00, 0x19, 0xFA)
	b = append(b, 0x1B, 0x99)
	got, err := DecodeText(b, "big5")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"C|**Hi ^^包^^**",
		"R|__right__",
		"R|[QR:https://x]",
		"R|[BARCODE:{BABC]",
		"R|[BARCODE:123]",
		"R|",
		"R|",
		"--- cut ---",
		"[DRAWER]",
		"[?1B 99]",
		"",
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestDecodeText_ChineseMode(t *testing.T) {
	// Without FS & the printer is in code-page mode and prints 0xA5 0x5D as two
	// single-byte characters: the decoder must show that, not a Hanzi.
	b := []byte{0x1C, 0x2E, 0xA5, 0x5D, '\n', 0x1C, 0x26, 0xA5, 0x5D, '\n'}
	got, err := DecodeText(b, "big5")
	if err != nil {
		t.Fatal(err)
	}
	if want := "L|?]\nL|包\n"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	gb, _ := newCodec("gb18030")
	enc := gb.append([]byte{0x1C, 0x26}, "金額 㐀 ok")
	got, _ = DecodeText(enc, "gb18030")
	if want := "L|金額 㐀 ok\n"; got != want {
		t.Errorf("gb18030 got %q want %q", got, want)
	}
	if _, err := DecodeText(b, "latin1"); err == nil {
		t.Error("unknown encoding accepted")
	}
}

func TestDecodeText_Truncated(t *testing.T) {
	full := QRBytes("4200001234", 6)
	for i := 0; i < len(full); i++ {
		if _, err := DecodeText(full[:i], "big5"); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := DecodeText([]byte{'a', 0x1D, 0x28, 0x6B, 0x10, 0x00, 0x31}, "ascii")
	if !strings.Contains(got, "[?1D 28 6B 10 00 31]") {
		t.Errorf("truncated GS ( k not reported: %q", got)
	}
}

func TestRenderPNG(t *testing.T) {
	r := sampleReceipt()
	b, err := Render(r, Format{Encoding: "big5", Columns: 42})
	if err != nil {
		t.Fatal(err)
	}
	p, err := RenderPNG(b, "big5")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != 42*pngCellW+2*pngMargin {
		t.Errorf("width %d, want 42 columns", w)
	}
	// Find the QR: the first row, from the top, that has a long run of dark pixels after
	// the text. Then check every module against the QR library's own bitmap.
	q, err := qrcode.New(r.TransactionID, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	px := qrModulePx(6)
	size := len(bm) * px
	x0 := pngMargin + (42*pngCellW-size)/2
	y0 := findQRTop(img, x0, px)
	if y0 < 0 {
		t.Fatal("no QR finder pattern in the preview")
	}
	for row := range bm {
		for col := range bm[row] {
			c := img.At(x0+col*px+px/2, y0+row*px+px/2)
			g, _, _, _ := c.RGBA()
			if dark := g < 0x8000; dark != bm[row][col] {
				t.Fatalf("module (%d,%d): dark=%v, want %v", row, col, dark, bm[row][col])
			}
		}
	}
}

// findQRTop finds the first y where a finder pattern's top edge (7 dark modules) starts at x.
func findQRTop(img image.Image, x, px int) int {
	for y := 0; y < img.Bounds().Dy(); y++ {
		ok := true
		for i := 0; i < 7*px; i++ {
			g, _, _, _ := img.At(x+i, y).RGBA()
			if g >= 0x8000 {
				ok = false
				break
			}
		}
		if ok {
			return y
		}
	}
	return -1
}

// fuzzSeeds are rendered receipts and reports in every encoding plus hostile lengths;
// testdata/fuzz/ holds the same kind of inputs as committed corpus files.
func fuzzSeeds(f *testing.F) {
	r := sampleReceipt()
	for i, enc := range []string{"big5", "gb18030", "ascii"} {
		b, err := Render(r, Format{Encoding: enc, Columns: 32, DrawerKick: true})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i))
		d, _ := RenderReport(sampleReport(), Format{Encoding: enc, Columns: 48})
		f.Add(d, uint8(i))
	}
	f.Add([]byte{0x1D, 0x28, 0x6B, 0xFF, 0xFF, 0x31, 0x50}, uint8(2))
	f.Add([]byte{0x1D, 0x76, 0x30, 0x00, 0xFF, 0xFF, 0xFF, 0xFF}, uint8(0))
	f.Add([]byte{0x1B, 0x2A, 0x21, 0xFF, 0xFF}, uint8(1))
}

func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, e uint8) {
		enc := []string{"big5", "gb18030", "ascii", "big5-hkscs"}[int(e)%4]
		s1, err := DecodeText(b, enc)
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := DecodeText(b, enc)
		if s1 != s2 {
			t.Fatal("decoding is not deterministic")
		}
		if !utf8.ValidString(s1) {
			t.Fatal("decoded text is not valid UTF-8")
		}
	})
}

// FuzzRenderPNG is slower per input (it draws and encodes an image), so it is its own
// target.
func FuzzRenderPNG(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, e uint8) {
		if len(b) > 2048 {
			return
		}
		enc := []string{"big5", "gb18030", "ascii", "big5-hkscs"}[int(e)%4]
		p, err := RenderPNG(b, enc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.DecodeConfig(bytes.NewReader(p)); err != nil {
			t.Fatal(err)
		}
	})
}
