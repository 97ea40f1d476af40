package scanner

import (
	"time"
	"unicode/utf8"
)

// MaxKeyboardCode bounds a code typed in keyboard mode. QR codes can be long, payment codes
// are 18 digits; past this the code is refused at its terminator.
const MaxKeyboardCode = 512

// Modifier bits of byte 0 of a boot keyboard report (docs/hardware.md §1.1).
const (
	modLCtrl  = 0x01
	modLShift = 0x02
	modLAlt   = 0x04
	modLGUI   = 0x08
	modRCtrl  = 0x10
	modRShift = 0x20
	modRAlt   = 0x40 // AltGr on European layouts
	modRGUI   = 0x80
)

// KeyboardDecoder turns the input reports of a scanner in HID keyboard mode into codes.
//
// It follows Linux usbkbd: a key counts when its usage is in this report and was not in
// the previous one. So a scanner that sends no release between keys ("1E" then "20") works,
// an identical report repeated adds nothing, and a repeated digit ("11") needs a report
// without that key in between, exactly as for the host's own keyboard driver. Shift and
// AltGr are read from the same report as the key, so Shift in its own report before the key
// works too. Rollover error reports (slots 0x01–0x03) are ignored. Enter, keypad Enter or Tab
// ends a code; a partial code is dropped after Gap without reports.
//
// It accepts 8-byte boot reports and 9-byte reports that start with a report ID (karalabe/hid
// cannot read the report descriptor, so the length tells them apart). It is pure: the
// caller supplies the time of each report.
type KeyboardDecoder struct {
	Keymap *Keymap
	Gap    time.Duration

	prev     [6]byte
	buf      []byte
	overflow bool
	last     time.Time
	altCode  int  // Alt mode: decimal character code typed on the keypad while LAlt is held
	altKeys  bool // at least one keypad digit typed under LAlt
	dropped  int
}

// NewKeyboardDecoder returns a decoder for keymap (nil: us) and gap (0: DefaultInterKeyGap).
func NewKeyboardDecoder(keymap *Keymap, gap time.Duration) *KeyboardDecoder {
	if keymap == nil {
		keymap = Keymaps["us"]
	}
	if gap <= 0 {
		gap = DefaultInterKeyGap
	}
	return &KeyboardDecoder{Keymap: keymap, Gap: gap, buf: make([]byte, 0, 64)}
}

// Dropped counts partial codes dropped after a gap and codes refused as too long.
func (d *KeyboardDecoder) Dropped() int { return d.dropped }

// Reset forgets the previous report and any partial code (after a reopen).
func (d *KeyboardDecoder) Reset() {
	d.prev = [6]byte{}
	d.buf = d.buf[:0]
	d.overflow = false
	d.altCode, d.altKeys = 0, false
}

// Feed decodes one input report received at time at, and calls emit for a finished code.
func (d *KeyboardDecoder) Feed(report []byte, at time.Time, emit func(code string)) {
	var mod byte
	var keys []byte
	switch len(report) {
	case 8:
		mod, keys = report[0], report[2:8]
	case 9:
		mod, keys = report[1], report[3:9]
	default:
		return // not a keyboard report (another report of a composite device)
	}
	for _, k := range keys {
		if k >= 0x01 && k <= 0x03 {
			return // ErrorRollOver / POSTFail / ErrorUndefined: no key information
		}
	}
	if (len(d.buf) > 0 || d.overflow || d.altKeys) && at.Sub(d.last) > d.Gap {
		d.dropped++
		d.buf, d.overflow = d.buf[:0], false
		d.altCode, d.altKeys = 0, false
	}
	d.last = at
	for _, k := range keys {
		if k >= 0xE0 && k <= 0xE7 {
			mod |= 1 << (k - 0xE0) // modifier sent as a usage in a key slot
		}
	}
	if d.altKeys && mod&modLAlt == 0 {
		// Alt mode: releasing Alt types the character whose decimal code was entered.
		if d.altCode >= 0x20 && d.altCode < 0x7F {
			d.add(rune(d.altCode))
		}
		d.altCode, d.altKeys = 0, false
	}
	for _, k := range keys {
		if k == 0 || k >= 0xE0 || contains(d.prev[:], k) {
			continue
		}
		d.press(k, mod, emit)
	}
	copy(d.prev[:], keys)
}

func (d *KeyboardDecoder) press(k, mod byte, emit func(string)) {
	switch k {
	case usageEnter, usageKPEnter, usageTab:
		if d.overflow {
			d.dropped++
		} else if len(d.buf) > 0 {
			emit(string(d.buf))
		}
		d.buf, d.overflow = d.buf[:0], false
		return
	}
	if mod&(modLCtrl|modRCtrl|modLGUI|modRGUI) != 0 {
		return // a shortcut, not text
	}
	if mod&modLAlt != 0 {
		if k >= usageKP1 && k <= usageKP0 {
			d.altCode = d.altCode*10 + int((k-usageKP1+1)%10)
			d.altKeys = true
		}
		return
	}
	r, ok := d.Keymap.Lookup(k, mod&(modLShift|modRShift) != 0, mod&modRAlt != 0)
	if !ok {
		if !isTextUsage(k) {
			return // CapsLock, F-keys, arrows: not part of a code
		}
		// A character key this keymap cannot type: keep a visible mark rather than
		// silently shortening the code into something that might pass the checks.
		r = utf8.RuneError
	}
	d.add(r)
}

func (d *KeyboardDecoder) add(r rune) {
	if d.overflow {
		return
	}
	if len(d.buf)+utf8.RuneLen(r) > MaxKeyboardCode {
		d.overflow = true
		d.buf = d.buf[:0]
		return
	}
	d.buf = utf8.AppendRune(d.buf, r)
}

func isTextUsage(k byte) bool {
	return k >= 0x04 && k <= 0x27 || k >= 0x2C && k <= 0x38 || k >= 0x54 && k <= 0x57 || k >= 0x59 && k <= 0x64
}

func contains(s []byte, b byte) bool {
	for _, x := range s {
		if x == b {
			return true
		}
	}
	return false
}
