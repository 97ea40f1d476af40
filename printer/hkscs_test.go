package printer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/traditionalchinese"
)

// Cantonese text a Hong Kong café prints daily: 嘅, 咗 and 枱 exist only in HKSCS (冇 is in Big5).
const (
	hkDescription = "凍檸茶 走冰 冇糖 嘅 咗"
	hkReference   = "枱號12"
)

func hkscsReceipt() Receipt {
	r := sampleReceipt()
	r.Lang = LangZH
	r.MerchantName = "茶餐廳 HK Café"
	r.Description = hkDescription
	r.Reference = hkReference
	return r
}

// iconv runs glibc's iconv, the cross-check: its BIG5-HKSCS converter has tables of its
// own, not the charmap file the encoder embeds.
func iconv(t *testing.T, in []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("iconv", args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iconv %v: %v: %s", args, err, stderr.Bytes())
	}
	return out
}

func TestHKSCS_GoldenReceipt(t *testing.T) {
	f := Format{Encoding: EncodingBig5HKSCS, Columns: 42, Raster: RasterOff}
	b, err := Render(hkscsReceipt(), f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeText(b, f.Encoding)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{hkDescription, hkReference, "茶餐廳 HK Café"} {
		if !strings.Contains(got, want) {
			t.Errorf("decoded receipt lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "?") {
		t.Errorf("a character fell back to '?':\n%s", got)
	}
	checkWidths(t, got, f.Columns)
	path := filepath.Join("testdata", "sale_hkscs_zh_42.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(path); err != nil {
		t.Fatalf("%v (run go test -update)", err)
	} else if got != string(want) {
		t.Errorf("%s differs (-update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}

	// glibc reads the whole ESC/POS stream (commands are ASCII bytes) back to the same text.
	u := string(iconv(t, b, "-f", "BIG5-HKSCS", "-t", "UTF-8"))
	for _, want := range []string{hkDescription, hkReference} {
		if !strings.Contains(u, want) {
			t.Errorf("iconv -f BIG5-HKSCS of the receipt lacks %q", want)
		}
	}
	// And glibc encodes the texts to exactly the bytes on the receipt.
	c, _ := newCodec(EncodingBig5HKSCS)
	for _, s := range []string{hkDescription, hkReference} {
		want := iconv(t, []byte(s), "-f", "UTF-8", "-t", "BIG5-HKSCS")
		if enc := c.append(nil, s); !bytes.Equal(enc, want) {
			t.Errorf("%q: encoder % X, iconv % X", s, enc, want)
		}
		if !bytes.Contains(b, want) {
			t.Errorf("receipt does not carry %q as % X", s, want)
		}
	}

	// Plain Big5 cannot: the same receipt there has '?' for 嘅, 咗 and 枱.
	plain, err := Render(hkscsReceipt(), Format{Encoding: EncodingBig5, Columns: 42, Raster: RasterOff})
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := DecodeText(plain, EncodingBig5)
	if strings.Contains(pt, hkDescription) || !strings.Contains(pt, "?號12") {
		t.Errorf("plain Big5 printed HKSCS characters it has no codes for:\n%s", pt)
	}
}

// TestHKSCS_TableAgainstGlibc checks every code of the table: glibc decodes it to the
// same character, and x/text's WHATWG Big5 index (a third, independent table) agrees on
// every ideograph.
func TestHKSCS_TableAgainstGlibc(t *testing.T) {
	m := hkscsTable()
	runes := make([]rune, 0, len(m))
	var in bytes.Buffer
	for r, c := range m {
		runes = append(runes, r)
		in.Write(c[:])
		in.WriteByte('\n')
	}
	// One iconv for all codes: line i is code i, decoded.
	lines := strings.Split(string(iconv(t, in.Bytes(), "-f", "BIG5-HKSCS", "-t", "UTF-8")), "\n")
	if len(lines) != len(runes)+1 {
		t.Fatalf("iconv returned %d lines for %d codes", len(lines)-1, len(runes))
	}
	dec := traditionalchinese.Big5.NewDecoder()
	whatwgDiffer := 0
	for i, r := range runes {
		c := m[r]
		if lines[i] != string(r) {
			t.Errorf("%U %c: table has % X, glibc decodes it to %q", r, r, c, lines[i])
		}
		var out [8]byte
		dec.Reset()
		n, _, err := dec.Transform(out[:], c[:], true)
		if got, _ := utf8.DecodeRune(out[:n]); err != nil || got != r {
			whatwgDiffer++
			if unicode.Is(unicode.Han, r) {
				t.Errorf("%U %c: table has % X, the WHATWG index decodes it to %q", r, r, c, out[:n])
			}
		}
	}
	// The two indexes differ on a few dozen symbols (• vs ‧, ～ vs ∼): logged, not failed.
	t.Logf("%d codes; glibc agrees on all, the WHATWG index differs on %d symbols", len(runes), whatwgDiffer)
	for _, r := range "嘅咗冇枱啲嚟喺" {
		if _, ok := m[r]; !ok {
			t.Errorf("%c missing from the HKSCS table", r)
		}
	}
}

// TestHKSCS_EveryCodeRoundTrips: every character of the table, printed as text, decodes
// back to itself through the project's decoder (the receipt text and preview).
func TestHKSCS_EveryCodeRoundTrips(t *testing.T) {
	m := hkscsTable()
	var in strings.Builder
	runes := make([]rune, 0, len(m))
	for r := range m {
		runes = append(runes, r)
		in.WriteRune(r)
	}
	b, err := Render(Receipt{Kind: KindSale, SaleID: "s", Description: in.String()}, Format{Encoding: EncodingBig5HKSCS, Columns: 48, Raster: RasterOff})
	if err != nil {
		t.Fatal(err)
	}
	text, err := DecodeText(b, EncodingBig5HKSCS)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.NewReplacer("\n", "", "L|", "", "C|", "", "R|", "").Replace(text)
	for _, r := range runes {
		if !strings.ContainsRune(got, r) {
			t.Errorf("%U %c does not decode back", r, r)
		}
	}
	if strings.Contains(got, "?") {
		t.Errorf("some code decoded to '?'")
	}
}
