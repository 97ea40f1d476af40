package printer

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/width"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// saleTime is in the till's zone: a receipt prints each time in its own zone unless
// Format.Location says otherwise (the daemon sets it to the till's).
var saleTime = time.Date(2026, 11, 26, 10, 0, 5, 0, time.FixedZone("HKT", 8*3600))

func sampleReceipt() Receipt {
	return Receipt{
		Kind: KindSale, MerchantName: "Example Store 示例商店", StoreID: "HK001", TillID: "T01",
		Time: saleTime, SaleID: "s_20261126_0001", Reference: "R-1", Description: "Groceries 雜貨",
		Amount: 1050, Currency: "HKD", TransactionID: "4200001234202611261234567890",
		OutTradeNo: "HK001T0120261126000001A1", Code: "13**********6789",
	}
}

func sampleReport() DayReport {
	return DayReport{
		MerchantName: "Example Store 示例商店", Date: "2026-11-26", StoreID: "HK001", TillID: "T01",
		Number: 42, Currency: "HKD",
		Sales:    map[string]int{"paid": 3, "cancelled": 1, "awaiting_scan": 1},
		Attempts: map[string]int{"paid": 3, "failed": 2, "reversed": 1},
		Paid:     Money{Count: 3, Amount: 35050},
		Wallets: []WalletTotal{
			{Wallet: "CNY", Count: 1, Amount: 10000, PayerAmount: 9220},
			{Wallet: "HKD", Count: 2, Amount: 25050, PayerAmount: 25050},
		},
		Refunds:     Money{Count: 1, Amount: 500},
		RefundsOpen: Money{Count: 1, Amount: 200},
		Net:         34550, Unresolved: 0,
		Problems:    []string{"s_9: attempt X paid but the sale is cancelled"},
		GeneratedAt: time.Date(2026, 11, 26, 22, 0, 0, 0, saleTime.Location()), // 14:00 UTC
	}
}

// goldenCases are the receipts pinned in testdata: English and Traditional Chinese in
// both Chinese encodings, the widths, every kind, copies and the day report.
func goldenCases() map[string]func() ([]byte, Format, error) {
	rec := func(mod func(*Receipt), f Format) func() ([]byte, Format, error) {
		return func() ([]byte, Format, error) {
			r := sampleReceipt()
			mod(&r)
			b, err := Render(r, f)
			return b, f, err
		}
	}
	rep := func(mod func(*DayReport), f Format) func() ([]byte, Format, error) {
		return func() ([]byte, Format, error) {
			d := sampleReport()
			mod(&d)
			b, err := RenderReport(d, f)
			return b, f, err
		}
	}
	none := func(*Receipt) {}
	return map[string]func() ([]byte, Format, error){
		"sale_en_big5_42":      rec(func(r *Receipt) { r.Lang = LangEN }, Format{Encoding: "big5", Columns: 42}),
		"sale_zh_big5_42":      rec(func(r *Receipt) { r.Lang = LangZH }, Format{Encoding: "big5", Columns: 42}),
		"sale_en_gb18030_42":   rec(func(r *Receipt) { r.Lang = LangEN }, Format{Encoding: "gb18030", Columns: 42}),
		"sale_zh_gb18030_42":   rec(func(r *Receipt) { r.Lang = LangZH }, Format{Encoding: "gb18030", Columns: 42}),
		"sale_both_big5_32":    rec(none, Format{Encoding: "big5", Columns: 32}),
		"sale_both_gb18030_48": rec(none, Format{Encoding: "gb18030", Columns: 48}),
		"sale_ascii_32":        rec(none, Format{Encoding: "ascii", Columns: 32}),
		"sale_cny_drawer_merchantcopy_big5_42": rec(func(r *Receipt) {
			r.PayerCurrency, r.PayerAmount = "CNY", 968
		}, Format{Encoding: "big5", Columns: 42, DrawerKick: true, MerchantCopy: true}),
		"sale_copy_big5_42": rec(func(r *Receipt) { r.Copy = true }, Format{Encoding: "big5", Columns: 42, DrawerKick: true}),
		"sale_interrupted_zh_big5_42": rec(func(r *Receipt) {
			r.Lang, r.Interrupted = LangZH, true
		}, Format{Encoding: "big5", Columns: 42, DrawerKick: true}),
		"refund_both_big5_42": rec(func(r *Receipt) {
			r.Kind, r.RefundAmount, r.OutRefundNo, r.RefundID, r.Reason = KindRefund, 500, "HK001T01R000001", "50300001234202611260000000001", "退貨 returned"
		}, Format{Encoding: "big5", Columns: 42}),
		"reversal_both_gb18030_42": rec(func(r *Receipt) {
			r.Kind, r.TransactionID, r.Note = KindReversal, "", "The customer did not confirm in time; ask for a new code."
		}, Format{Encoding: "gb18030", Columns: 42}),
		"zreport_both_big5_42":  rep(func(*DayReport) {}, Format{Encoding: "big5", Columns: 42}),
		"zreport_zh_gb18030_32": rep(func(d *DayReport) { d.Lang = LangZH }, Format{Encoding: "gb18030", Columns: 32}),
		"zreport_en_ascii_48":   rep(func(d *DayReport) { d.Lang, d.Copy = LangEN, true }, Format{Encoding: "ascii", Columns: 48}),
		// Cantonese: as HKSCS text, and on a plain Big5 printer with those lines drawn.
		"zreport_hkscs_zh_42": rep(func(d *DayReport) { d.Lang, d.MerchantName = LangZH, "咗記茶餐廳 枱號12" }, Format{Encoding: "big5-hkscs", Columns: 42}),
		"sale_raster_zh_big5_42": rec(func(r *Receipt) {
			r.Lang, r.MerchantName, r.Description, r.Reference = LangZH, "咗記茶餐廳", hkDescription, hkReference
		}, Format{Encoding: "big5", Columns: 42, Raster: RasterLine}),
	}
}

// TestRender_GoldenBytes pins one receipt byte for byte (a hex dump), so a change in
// the commands that the text decoding does not show (sizes, cut kind, code page) fails.
func TestRender_GoldenBytes(t *testing.T) {
	r := sampleReceipt()
	r.PayerCurrency, r.PayerAmount = "CNY", 968
	b, err := Render(r, Format{Encoding: "big5", Columns: 42, DrawerKick: true})
	if err != nil {
		t.Fatal(err)
	}
	got := hex.Dump(b)
	path := filepath.Join("testdata", "sale_cny_big5_42.hex")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (-update to accept):\n%s", path, got)
	}
}

func TestRender_Golden(t *testing.T) {
	for name, mk := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			b, f, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeText(b, f.Encoding)
			if err != nil {
				t.Fatal(err)
			}
			checkWidths(t, got, f.Columns)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (-update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// checkWidths fails when a printed text line is wider than the paper: CJK characters
// count two columns, the decoder's marks none.
func checkWidths(t *testing.T, text string, cols int) {
	t.Helper()
	marks := strings.NewReplacer("**", "", "__", "", "^^", "")
	for _, line := range strings.Split(text, "\n") {
		if len(line) < 2 || line[1] != '|' || strings.HasPrefix(line[2:], "[QR:") {
			continue
		}
		s := marks.Replace(line[2:])
		w := 0
		for _, r := range s {
			switch width.LookupRune(r).Kind() {
			case width.EastAsianWide, width.EastAsianFullwidth:
				w += 2
			default:
				w++
			}
		}
		if w > cols {
			t.Errorf("line %q is %d columns, paper has %d", s, w, cols)
		}
	}
}

func TestRender_Bytes(t *testing.T) {
	r := sampleReceipt()
	b, err := Render(r, Format{Encoding: "big5", Columns: 42, DrawerKick: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0x1B, 0x40, 0x1C, 0x26}) {
		t.Errorf("big5 receipt starts % X, want ESC @ FS &", b[:4])
	}
	cut := []byte{0x1D, 0x56, 0x42, 0x00}
	kick := []byte{0x1B, 0x70, 0x00, 0x32, 0x32}
	if !bytes.HasSuffix(b, append(append([]byte{}, cut...), kick...)) {
		t.Errorf("paid receipt ends % X, want cut then drawer kick", b[len(b)-12:])
	}
	if !bytes.Contains(b, QRBytes(r.TransactionID, 6)) {
		t.Error("receipt lacks the QR of the transaction id")
	}
	// Text only: with raster on, the image bytes of the Chinese lines are >= 0x80.
	a, err := Render(r, Format{Encoding: "ascii", Columns: 32, Raster: RasterOff})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a, []byte{0x1B, 0x40, 0x1C, 0x2E, 0x1B, 0x74, 0x00}) {
		t.Errorf("ascii receipt starts % X, want ESC @ FS . ESC t 0", a[:7])
	}
	for _, c := range a {
		if c >= 0x80 {
			t.Fatalf("ascii receipt has byte %#x", c)
		}
	}
	// The drawer opens only for the first print of a confirmed payment.
	for name, mod := range map[string]func(*Receipt){
		"copy":        func(r *Receipt) { r.Copy = true },
		"interrupted": func(r *Receipt) { r.Interrupted = true },
		"refund":      func(r *Receipt) { r.Kind, r.RefundAmount = KindRefund, 100 },
		"reversal":    func(r *Receipt) { r.Kind = KindReversal },
		"no txn":      func(r *Receipt) { r.TransactionID = "" },
	} {
		rr := sampleReceipt()
		mod(&rr)
		b, err := Render(rr, Format{Encoding: "big5", Columns: 42, DrawerKick: true})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, kick) {
			t.Errorf("%s: drawer kick sent", name)
		}
	}
}

// The QR and cut sequences are byte-exact to docs/hardware.md §5.1–5.2.
func TestQRBytes_Fixture(t *testing.T) {
	want := []byte{
		0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00,
		0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06,
		0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31,
		0x1D, 0x28, 0x6B, 0x15, 0x00, 0x31, 0x50, 0x30,
		0x31, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
		0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30,
	}
	if got := QRBytes("134567890123456789", 6); !bytes.Equal(got, want) {
		t.Errorf("QRBytes:\n got % X\nwant % X", got, want)
	}
	long := strings.Repeat("9", 300) // pL/pH: 303 = 0x012F
	got := QRBytes(long, 3)
	if got[25+3] != 0x2F || got[25+4] != 0x01 {
		t.Errorf("store length bytes % X, want 2F 01", got[28:30])
	}
	if !bytes.Equal(cmdCutPartial, []byte{0x1D, 0x56, 0x42, 0x00}) {
		t.Errorf("cut % X", cmdCutPartial)
	}
	if !bytes.Equal(cmdDrawerKickPin, []byte{0x1B, 0x70, 0x00, 0x32, 0x32}) {
		t.Errorf("drawer kick % X", cmdDrawerKickPin)
	}
}

func TestCodec_Fallback(t *testing.T) {
	for _, tc := range []struct {
		enc, in, want string
		cols          int
	}{
		{"big5", "金額", "\xaa\xf7\xc3B", 4},
		{"gb18030", "金額", "\xbd\xf0\xee~", 4},
		{"big5", "€5", "\xa3\xe1" + "5", 3},     // Big5 has the euro sign (A3E1)
		{"big5", "𨋢", "?", 1},                   // HKSCS character, not in Big5
		{"gb18030", "𨋢", "?", 1},                // beyond the BMP
		{"gb18030", "㐀", "\x81\x39\xee\x39", 2}, // CJK extension A: four bytes, in the BMP
		{"ascii", "é金", "??", 2},
		{"big5", "a\x1b@\x1dVb", "a @ Vb", 6}, // control bytes never reach the printer
		{"gb18030", "😀", "?", 1},
	} {
		c, err := newCodec(tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		got := string(c.append(nil, tc.in))
		if got != tc.want {
			t.Errorf("%s %q: got %q want %q", tc.enc, tc.in, got, tc.want)
		}
		if w := c.width(tc.in); w != tc.cols {
			t.Errorf("%s %q: width %d want %d", tc.enc, tc.in, w, tc.cols)
		}
	}
	if _, err := newCodec("utf-8"); err == nil {
		t.Error("utf-8 accepted")
	}
}

func TestCodec_Wrap(t *testing.T) {
	c, _ := newCodec("big5")
	lines := c.wrap("多謝惠顧多謝惠顧 thank you very much", 10)
	for _, l := range lines {
		if w := c.width(l); w > 10 {
			t.Errorf("line %q is %d columns", l, w)
		}
	}
	if got := strings.Join(lines, "|"); got != "多謝惠顧多|謝惠顧|thank you|very much" {
		t.Errorf("wrap: %q", got)
	}
	if !utf8.ValidString(strings.Join(lines, "")) {
		t.Error("wrap split a character")
	}
}

func BenchmarkRender(b *testing.B) {
	r := sampleReceipt()
	r.PayerCurrency, r.PayerAmount = "CNY", 968
	f := Format{Encoding: "big5", Columns: 42, DrawerKick: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(r, f); err != nil {
			b.Fatal(err)
		}
	}
}
