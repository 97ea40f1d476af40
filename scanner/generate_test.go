package scanner

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// typeOpts describe how a simulated scanner types a code in keyboard mode.
type typeOpts struct {
	noRelease      bool // no release report between keys (only between two identical keys)
	shiftOwnReport bool // Shift pressed in a report of its own before the key, released after
	rightShift     bool
	reportID       byte // nonzero: 9-byte reports that start with this report ID
	keypadDigits   bool // digits on the keypad (0x59–0x62)
	altMode        bool // every character as LAlt + its decimal code on the keypad
	term           byte // terminator usage; 0 = Enter
	dupReports     bool // every report sent twice
	every          time.Duration
}

func (o typeOpts) report(mod, key byte) timedReport {
	every := o.every
	if every == 0 {
		every = time.Millisecond
	}
	r := []byte{mod, 0, key, 0, 0, 0, 0, 0}
	if o.reportID != 0 {
		r = append([]byte{o.reportID}, r...)
	}
	return timedReport{every, r}
}

// typeCode generates the reports a scanner set to keymap km sends for code + terminator.
func typeCode(t testing.TB, km *Keymap, code string, o typeOpts) []timedReport {
	t.Helper()
	type stroke struct{ mod, usage byte }
	var strokes []stroke
	for _, r := range code {
		if o.altMode {
			strokes = append(strokes, stroke{0xFF, byte(r)}) // expanded below
			continue
		}
		if o.keypadDigits && r >= '0' && r <= '9' {
			strokes = append(strokes, stroke{0, usageKP1 + byte((r-'0'+9)%10)})
			continue
		}
		ks, ok := km.Stroke(r)
		if !ok {
			t.Fatalf("keymap %s cannot type %q", km.Name, r)
		}
		var mod byte
		switch {
		case ks.AltGr:
			mod = modRAlt
		case ks.Shift && o.rightShift:
			mod = modRShift
		case ks.Shift:
			mod = modLShift
		}
		strokes = append(strokes, stroke{mod, ks.Usage})
	}
	term := o.term
	if term == 0 {
		term = usageEnter
	}
	strokes = append(strokes, stroke{0, term})

	var out []timedReport
	add := func(r timedReport) {
		out = append(out, r)
		if o.dupReports {
			out = append(out, r)
		}
	}
	for i, s := range strokes {
		if s.mod == 0xFF { // Alt mode: LAlt held, decimal code on the keypad, LAlt released
			add(o.report(modLAlt, 0))
			for _, d := range strings.Split(itoa(int(s.usage)), "") {
				add(o.report(modLAlt, usageKP1+byte((d[0]-'0'+9)%10)))
				add(o.report(modLAlt, 0))
			}
			add(o.report(0, 0))
			continue
		}
		if o.shiftOwnReport && s.mod != 0 {
			add(o.report(s.mod, 0))
		}
		add(o.report(s.mod, s.usage))
		if o.shiftOwnReport && s.mod != 0 {
			add(o.report(s.mod, 0))
		}
		last := i == len(strokes)-1
		if !o.noRelease || last || strokes[i+1].usage == s.usage {
			add(o.report(0, 0))
		}
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// posReports builds HID POS scanned-data reports for data, split into chunks of 56 bytes.
func posReports(layout POSLayout, aim string, data []byte, aimShift bool, codeID byte) []timedReport {
	var out []timedReport
	for off := 0; off < len(data) || off == 0; off += 56 {
		chunk := data[off:min(off+56, len(data))]
		r := make([]byte, 64)
		r[0] = posReportID
		r[1] = byte(len(chunk))
		switch layout {
		case LayoutNewland:
			copy(r[2:], chunk)
			r[62] = codeID
		default:
			start := 2
			if aimShift {
				start = 3
			}
			copy(r[start:], aim)
			copy(r[start+3:], chunk)
			r[61] = codeID
		}
		if off+56 < len(data) {
			r[63] = 1
		}
		out = append(out, timedReport{time.Millisecond, r})
		if off+56 >= len(data) {
			break
		}
	}
	return out
}

const testCode = "134567890123456789"

// generatedRecordings are the fixtures in testdata/reports, built from the keymaps and
// the quirks of docs/hardware.md §1.3–1.4 and §2.2.
func generatedRecordings(t testing.TB) []*recording {
	us, uk, de, fr := Keymaps["us"], Keymaps["uk"], Keymaps["de"], Keymaps["fr"]
	long := []byte(strings.Repeat("0123456789", 6)) // 60 bytes: 56 + 4, the Access-IS example
	var recs []*recording
	kb := func(name, comment string, km *Keymap, want []string, reps ...[]timedReport) {
		recs = append(recs, &recording{name: name, comment: []string{comment}, mode: "keyboard", keymap: km.Name, want: want, reports: slices.Concat(reps...)})
	}
	pos := func(name, comment, layout string, want []string, reps ...[]timedReport) {
		recs = append(recs, &recording{name: name, comment: []string{comment}, mode: "pos", layout: layout, want: want, reports: slices.Concat(reps...)})
	}
	for _, km := range []*Keymap{us, uk, de, fr} {
		kb("kb-"+km.Name+"-wechat", "scanner set to keyboard country "+km.Name+": press + release per character, Enter (fr: top-row digits with Shift)",
			km, []string{testCode}, typeCode(t, km, testCode, typeOpts{}))
	}
	kb("kb-us-alnum-shift-own-report", "Shift sent in its own report before and after each upper-case key", us,
		[]string{"AB12cd-X_Y"}, typeCode(t, us, "AB12cd-X_Y", typeOpts{shiftOwnReport: true}))
	kb("kb-us-right-shift", "upper case with right Shift", us, []string{"Q1W2"}, typeCode(t, us, "Q1W2", typeOpts{rightShift: true}))
	kb("kb-de-qwertz", "German scanner: y and z swapped, symbols moved", de, []string{"Zy-12#"}, typeCode(t, de, "Zy-12#", typeOpts{}))
	kb("kb-de-altgr", "German scanner: @ is AltGr+q", de, []string{"a@b"}, typeCode(t, de, "a@b", typeOpts{}))
	kb("kb-fr-azerty-letters", "French scanner: a/q, z/w and m moved", fr, []string{"aqzwm1"}, typeCode(t, fr, "aqzwm1", typeOpts{}))
	kb("kb-us-no-release", "no release report between different keys; repeated digits need one between them", us,
		[]string{"110022334455667788"}, typeCode(t, us, "110022334455667788", typeOpts{noRelease: true}))
	kb("kb-us-repeated-digits", "repeated digits with release reports in between", us,
		[]string{"111111111111111111"}, typeCode(t, us, "111111111111111111", typeOpts{}))
	kb("kb-us-9byte", "numbered reports: 9 bytes starting with report ID 1", us,
		[]string{"154567890123456789"}, typeCode(t, us, "154567890123456789", typeOpts{reportID: 1}))
	kb("kb-us-9byte-no-release", "numbered reports without releases", us,
		[]string{"101010101010101010"}, typeCode(t, us, "101010101010101010", typeOpts{reportID: 1, noRelease: true}))
	kb("kb-us-keypad", "digits sent as keypad usages", us,
		[]string{"104567890123456789"}, typeCode(t, us, "104567890123456789", typeOpts{keypadDigits: true}))
	kb("kb-us-keypad-fr", "keypad digits do not depend on the keyboard country", fr,
		[]string{"104567890123456789"}, typeCode(t, fr, "104567890123456789", typeOpts{keypadDigits: true}))
	kb("kb-us-alt-mode", "Alt mode: LAlt held, decimal character code on the keypad", us,
		[]string{"12A"}, typeCode(t, us, "12A", typeOpts{altMode: true}))
	kb("kb-us-tab", "Tab as terminator", us, []string{testCode}, typeCode(t, us, testCode, typeOpts{term: usageTab}))
	kb("kb-us-kp-enter", "keypad Enter as terminator", us, []string{testCode}, typeCode(t, us, testCode, typeOpts{term: usageKPEnter}))
	kb("kb-us-duplicate-reports", "every report sent twice: an identical report adds no key", us,
		[]string{"122334455667788990"}, typeCode(t, us, "122334455667788990", typeOpts{dupReports: true}))
	rollover := typeCode(t, us, testCode, typeOpts{})
	rollover = slices.Insert(rollover, 7, timedReport{time.Millisecond, []byte{0, 0, 1, 1, 1, 1, 1, 1}})
	kb("kb-us-rollover", "an ErrorRollOver report in the middle is ignored", us, []string{testCode}, rollover)
	partial := typeCode(t, us, "1345678", typeOpts{})
	partial = partial[:len(partial)-2] // no Enter
	next := typeCode(t, us, testCode, typeOpts{})
	next[0].after = 500 * time.Millisecond
	kb("kb-us-gap", "a partial code (no Enter) is dropped after the inter-key gap", us, []string{testCode}, partial, next)
	kb("kb-us-two-codes", "two codes back to back", us, []string{testCode, "4006381333931"},
		typeCode(t, us, testCode, typeOpts{}), typeCode(t, us, "4006381333931", typeOpts{}))
	kb("kb-us-enter-only", "Enter with nothing typed gives no code", us, nil, typeCode(t, us, "", typeOpts{}))

	pos("pos-honeywell-single", "Honeywell layout, ]Q1 + code, Code ID 's' (QR)", "honeywell", []string{testCode},
		posReports(LayoutHoneywell, "]Q1", []byte(testCode), false, 's'))
	pos("pos-honeywell-continuation", "60 bytes split 56 + 4 with the continuation flag (Access-IS example)", "honeywell",
		[]string{string(long)}, posReports(LayoutHoneywell, "]Q1", long, false, 's'))
	pos("pos-honeywell-aim-shifted", "AIM ID one byte later (seen on some devices)", "honeywell", []string{testCode},
		posReports(LayoutHoneywell, "]Q1", []byte(testCode), true, 0))
	pos("pos-honeywell-trailing-cr", "a CR suffix inside the data is removed", "honeywell", []string{testCode},
		posReports(LayoutHoneywell, "]E0", []byte(testCode+"\r"), false, 0))
	other := []timedReport{{time.Millisecond, append([]byte{0x15, 0x01}, make([]byte, 62)...)}}
	pos("pos-other-report-ignored", "a report with another ID (status) is ignored", "honeywell", []string{testCode},
		other, posReports(LayoutHoneywell, "]Q1", []byte(testCode), false, 's'))
	pos("pos-newland-single", "Newland layout: data from byte 2, symbology at 62", "newland", []string{testCode},
		posReports(LayoutNewland, "", []byte(testCode), false, 'Q'))
	pos("pos-newland-continuation", "Newland, 130 bytes over three reports", "newland",
		[]string{strings.Repeat("ABCDEFGHIJ", 13)}, posReports(LayoutNewland, "", []byte(strings.Repeat("ABCDEFGHIJ", 13)), false, 'Q'))
	lost := posReports(LayoutHoneywell, "]Q1", long, false, 's')[:1]
	again := posReports(LayoutHoneywell, "]Q1", []byte(testCode), false, 's')
	again[0].after = time.Second
	pos("pos-honeywell-lost-continuation", "a first part whose continuation never comes is dropped after the gap", "honeywell",
		[]string{testCode}, lost, again)
	for _, r := range recs {
		r.name += ".txt"
	}
	return recs
}

// TestGenerateRecordings keeps testdata/reports in step with the generator; run with
// -update to rewrite the files.
func TestGenerateRecordings(t *testing.T) {
	for _, r := range generatedRecordings(t) {
		path := filepath.Join("testdata", "reports", r.name)
		data := r.encode()
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGenerateRecordings -update)", err)
		}
		if !bytes.Equal(old, data) {
			t.Errorf("%s differs from the generator (run go test -run TestGenerateRecordings -update)", path)
		}
	}
}

// TestRecordings decodes every recorded stream, generated or captured by hand.
func TestRecordings(t *testing.T) {
	for _, r := range loadRecordings(t) {
		t.Run(r.name, func(t *testing.T) {
			got := r.decode(t)
			if !slices.Equal(got, r.want) {
				t.Errorf("decoded %q, want %q", got, r.want)
			}
		})
	}
}
