package scanner

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func hexReports(t testing.TB, lines ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, l := range lines {
		b, err := hex.DecodeString(strings.ReplaceAll(l, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func feedKeyboard(d *KeyboardDecoder, reports [][]byte, step time.Duration) []string {
	var got []string
	at := t0
	for _, r := range reports {
		at = at.Add(step)
		d.Feed(r, at, func(c string) { got = append(got, c) })
	}
	return got
}

// The fixture of docs/hardware.md §1.3, written out by hand rather than generated.
func TestKeyboardDecoder_HardwareFixture(t *testing.T) {
	var lines []string
	for _, u := range []string{"1E", "20", "21", "22", "23", "24", "25", "26", "27", "1E", "1F", "20", "21", "22", "23", "24", "25", "26", "28"} {
		lines = append(lines, "0000"+u+"0000000000", "0000000000000000")
	}
	got := feedKeyboard(NewKeyboardDecoder(nil, 0), hexReports(t, lines...), time.Millisecond)
	if !slices.Equal(got, []string{"134567890123456789"}) {
		t.Fatalf("got %q", got)
	}
}

func TestKeyboardDecoder_Keymaps(t *testing.T) {
	// '1' as a French scanner types it: LShift + 0x1E.
	shifted1 := hexReports(t, "02001E0000000000", "0000000000000000", "0000280000000000")
	for km, want := range map[string]string{"us": "!", "uk": "!", "de": "!", "fr": "1"} {
		got := feedKeyboard(NewKeyboardDecoder(Keymaps[km], 0), shifted1, time.Millisecond)
		if !slices.Equal(got, []string{want}) {
			t.Errorf("%s: got %q, want %q", km, got, want)
		}
	}
	// A scanner set to US, decoded with the AZERTY table (docs/hardware.md §1.4).
	var lines []string
	for u := 0x1E; u <= 0x27; u++ {
		lines = append(lines, hex.EncodeToString([]byte{0, 0, byte(u), 0, 0, 0, 0, 0}), "0000000000000000")
	}
	lines = append(lines, "0000280000000000")
	got := feedKeyboard(NewKeyboardDecoder(Keymaps["fr"], 0), hexReports(t, lines...), time.Millisecond)
	if !slices.Equal(got, []string{"&é\"'(-è_çà"}) {
		t.Errorf("fr on US digits: %q", got)
	}
	// A character key the keymap cannot type leaves a mark instead of vanishing, so the
	// code is refused as garbage rather than shortened into something else.
	noTilde := hexReports(t, "00001E0000000000", "0000000000000000", "0200350000000000", "0000280000000000")
	got = feedKeyboard(NewKeyboardDecoder(Keymaps["fr"], 0), noTilde, time.Millisecond)
	if !slices.Equal(got, []string{"&\uFFFD"}) {
		t.Errorf("unmapped key on fr: %q", got)
	}
	if _, err := LookupKeymap("jp"); err == nil {
		t.Error("unknown keymap accepted")
	}
}

func TestKeyboardDecoder_Quirks(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"no release between identical keys is one key press",
			[]string{"00001E0000000000", "00001E0000000000", "0000280000000000"}, []string{"1"}},
		{"two keys in one report, then one of them released",
			[]string{"00001E1F00000000", "00001F0000000000", "0000000000000000", "0000280000000000"}, []string{"12"}},
		{"ctrl and gui shortcuts are not text",
			[]string{"0100040000000000", "0800050000000000", "0000060000000000", "0000280000000000"}, []string{"c"}},
		{"modifier sent as a usage in a key slot",
			[]string{"0000E10400000000", "0000000000000000", "0000280000000000"}, []string{"A"}},
		{"CapsLock and F-keys ignored",
			[]string{"0000390000000000", "00003A0000000000", "0000040000000000", "0000280000000000"}, []string{"a"}},
		{"shifted grave is a tilde on a US scanner",
			[]string{"00001E0000000000", "0000000000000000", "0200350000000000", "0000280000000000"}, []string{"1~"}},
		{"other report lengths ignored",
			[]string{"00001E00000000", "0000000000000000", "0000280000000000"}, nil},
		{"POSTFail and undefined slots ignored",
			[]string{"0000020000000000", "0000030000000000", "00001E0000000000", "0000280000000000"}, []string{"1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := feedKeyboard(NewKeyboardDecoder(nil, 0), hexReports(t, c.lines...), time.Millisecond)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestKeyboardDecoder_GapAndOverflow(t *testing.T) {
	d := NewKeyboardDecoder(nil, 50*time.Millisecond)
	rep := func(u byte) []byte { return []byte{0, 0, u, 0, 0, 0, 0, 0} }
	var got []string
	emit := func(c string) { got = append(got, c) }
	d.Feed(rep(0x1E), t0, emit)
	d.Feed(rep(0), t0.Add(10*time.Millisecond), emit)
	// 60 ms of silence: the partial "1" is gone, the Enter ends nothing.
	d.Feed(rep(0x28), t0.Add(70*time.Millisecond), emit)
	if len(got) != 0 || d.Dropped() != 1 {
		t.Fatalf("got %q, dropped %d", got, d.Dropped())
	}
	// A code longer than MaxKeyboardCode is refused at its terminator.
	at := t0.Add(time.Second)
	for i := 0; i < MaxKeyboardCode+1; i++ {
		at = at.Add(time.Millisecond)
		d.Feed(rep(0x1E), at, emit)
		d.Feed(rep(0), at, emit)
	}
	d.Feed(rep(0x28), at, emit)
	if len(got) != 0 || d.Dropped() != 2 {
		t.Fatalf("overflow: got %d codes, dropped %d", len(got), d.Dropped())
	}
	d.Feed(rep(0), at, emit)
	d.Feed(rep(0x1F), at, emit)
	d.Feed(rep(0x28), at, emit)
	if !slices.Equal(got, []string{"2"}) {
		t.Fatalf("after overflow: %q", got)
	}
}

func TestPOSDecoder_Layouts(t *testing.T) {
	if l, _ := ParseLayout("auto", VendorNewland); l != LayoutNewland {
		t.Error("auto layout for Newland")
	}
	if l, _ := ParseLayout("", 0x0c2e); l != LayoutHoneywell {
		t.Error("auto layout for Honeywell")
	}
	if _, err := ParseLayout("microscan", 0); err == nil {
		t.Error("unknown layout accepted")
	}
	// docs/hardware.md §2.2 single-report fixture, written out by hand.
	r, _ := hex.DecodeString("02125D5131" + hex.EncodeToString([]byte(testCode)))
	r = append(r, make([]byte, 64-len(r))...)
	r[61] = 0x73
	var code, sym string
	NewPOSDecoder(LayoutHoneywell, 0).Feed(r, t0, func(c, s string) { code, sym = c, s })
	if code != testCode || sym != "]Q1" {
		t.Fatalf("got %q %q", code, sym)
	}
	// The length byte is trusted only inside the report: a lying length cannot read the trailer.
	r[1] = 0xFF
	NewPOSDecoder(LayoutHoneywell, 0).Feed(r, t0, func(c, s string) { code = c })
	if len(code) != 56 {
		t.Fatalf("length clipped to %d, want 56", len(code))
	}
	// Short reports (no trailer) are read as far as they go.
	NewPOSDecoder(LayoutNewland, 0).Feed([]byte{2, 5, '1', '2', '3'}, t0, func(c, s string) { code = c })
	if code != "123" {
		t.Fatalf("short report: %q", code)
	}
}

func TestFramer(t *testing.T) {
	cases := []struct {
		term  Terminator
		input string
		want  []string
	}{
		{TermAuto, "123\r456\n789\r\n0\n\r", []string{"123", "456", "789", "0"}},
		{TermCR, "123\r\n456\r", []string{"123", "\n456"}},
		{TermLF, "123\r\n456\n", []string{"123\r", "456"}},
		{TermCRLF, "12\r3\r\n456\r\n\r\n", []string{"12\r3", "456"}},
		{TermCRLF, "abc\r\rdef\r\n", []string{"abc\r\rdef"}},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 2, 3, 100} { // every split of the stream into reads
			var f Framer
			f.Term = c.term
			var got []string
			in := []byte(c.input)
			for i := 0; i < len(in); i += chunk {
				f.Feed(in[i:min(i+chunk, len(in))], func(l []byte, err error) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, string(l))
				})
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("term %d %q chunk %d: got %q, want %q", c.term, c.input, chunk, got, c.want)
			}
		}
	}
}

func TestFramer_TooLong(t *testing.T) {
	var f Framer
	var got []string
	var errs int
	emit := func(l []byte, err error) {
		if errors.Is(err, ErrLineTooLong) {
			errs++
			return
		}
		got = append(got, string(l))
	}
	exact := strings.Repeat("7", MaxLineLen)
	f.Feed([]byte(exact+"\r"), emit)
	f.Feed([]byte(strings.Repeat("8", MaxLineLen+1)), emit)
	f.Feed([]byte(strings.Repeat("8", 500)+"\r"+testCode+"\r"), emit)
	if errs != 1 || !slices.Equal(got, []string{exact, testCode}) {
		t.Fatalf("errs %d, got %q", errs, got)
	}
}

func TestSplitAIM(t *testing.T) {
	for in, want := range map[string][2]string{
		"]Q1" + testCode:   {"]Q1", testCode},
		"]E04006381333931": {"]E0", "4006381333931"},
		"]d2abc":           {"]d2", "abc"},
		testCode:           {"", testCode},
		"]Q":               {"", "]Q"},
		"]1Q123":           {"", "]1Q123"},
	} {
		aim, rest := SplitAIM(in)
		if aim != want[0] || rest != want[1] {
			t.Errorf("SplitAIM(%q) = %q, %q", in, aim, rest)
		}
	}
}
