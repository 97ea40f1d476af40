package scanner

import (
	"fmt"
	"sort"
)

// Keymap turns HID keyboard usages (page 0x07) into characters for one keyboard country.
// A scanner in keyboard mode picks usages to match the country it is set to, not the host's
// layout (docs/hardware.md §1.4), so the keymap must be the scanner's setting.
type Keymap struct {
	Name  string
	plain map[byte]rune
	shift map[byte]rune
	altGr map[byte]rune
}

// Lookup returns the character for usage with the given modifier state.
func (k *Keymap) Lookup(usage byte, shift, altGr bool) (rune, bool) {
	m := k.plain
	switch {
	case altGr:
		m = k.altGr
	case shift:
		m = k.shift
	}
	r, ok := m[usage]
	return r, ok
}

// Keystroke is one way to type a character: a usage with Shift and/or AltGr held.
type Keystroke struct {
	Usage        byte
	Shift, AltGr bool
}

// Stroke finds how a scanner set to this keyboard country types r (used to generate test
// fixtures from the keymaps). Usages below the keypad are preferred over keypad ones.
func (k *Keymap) Stroke(r rune) (Keystroke, bool) {
	for _, keypad := range []bool{false, true} {
		for _, t := range []struct {
			m            map[byte]rune
			shift, altGr bool
		}{{k.plain, false, false}, {k.shift, true, false}, {k.altGr, false, true}} {
			usages := make([]int, 0, len(t.m))
			for u := range t.m {
				if isKeypad(byte(u)) == keypad {
					usages = append(usages, int(u))
				}
			}
			sort.Ints(usages)
			for _, u := range usages {
				if t.m[byte(u)] == r {
					return Keystroke{byte(u), t.shift, t.altGr}, true
				}
			}
		}
	}
	return Keystroke{}, false
}

func isKeypad(u byte) bool { return u >= 0x54 && u <= 0x63 }

// Keymaps are the supported keyboard countries.
var Keymaps = map[string]*Keymap{
	"us": usKeymap(),
	"uk": ukKeymap(),
	"de": deKeymap(),
	"fr": frKeymap(),
}

// LookupKeymap returns the named keymap; "" is "us".
func LookupKeymap(name string) (*Keymap, error) {
	if name == "" {
		name = "us"
	}
	k, ok := Keymaps[name]
	if !ok {
		return nil, fmt.Errorf("%q: want us, uk, de or fr", name)
	}
	return k, nil
}

const (
	usageEnter   = 0x28
	usageTab     = 0x2B
	usageKPEnter = 0x58
	usageKP1     = 0x59
	usageKP0     = 0x62
)

// set assigns chars to consecutive usages starting at first.
func set(m map[byte]rune, first byte, chars string) {
	u := first
	for _, r := range chars {
		if r != 0 {
			m[u] = r
		}
		u++
	}
}

func usKeymap() *Keymap {
	k := &Keymap{Name: "us", plain: map[byte]rune{}, shift: map[byte]rune{}, altGr: map[byte]rune{}}
	set(k.plain, 0x04, "abcdefghijklmnopqrstuvwxyz1234567890")
	set(k.shift, 0x04, "ABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^&*()")
	k.plain[0x2C], k.shift[0x2C] = ' ', ' '
	set(k.plain, 0x2D, "-=[]\\\\;'`,./") // 0x32 (non-US #) types \ on a US scanner
	set(k.shift, 0x2D, "_+{}||:\"~<>?")
	k.plain[0x64], k.shift[0x64] = '\\', '|'
	// The keypad does not depend on the country, nor (in raw HID) on NumLock.
	for _, m := range []map[byte]rune{k.plain, k.shift} {
		set(m, 0x54, "/*-+")
		set(m, usageKP1, "1234567890.")
	}
	return k
}

func ukKeymap() *Keymap {
	k := usKeymap()
	k.Name = "uk"
	k.shift[0x1F], k.shift[0x20] = '"', '£'
	k.plain[0x34], k.shift[0x34] = '\'', '@'
	k.plain[0x32], k.shift[0x32] = '#', '~'
	k.plain[0x31], k.shift[0x31] = '#', '~'
	k.shift[0x35] = '¬'
	k.altGr[0x21] = '€'
	return k
}

func deKeymap() *Keymap {
	k := usKeymap()
	k.Name = "de"
	k.plain[0x1C], k.plain[0x1D] = 'z', 'y' // QWERTZ
	k.shift[0x1C], k.shift[0x1D] = 'Z', 'Y'
	set(k.shift, 0x1E, "!\"§$%&/()=")
	set(k.plain, 0x2D, "ß´ü+##öä^,.-")
	set(k.shift, 0x2D, "?`Ü*''ÖÄ°;:_")
	k.plain[0x64], k.shift[0x64] = '<', '>'
	k.altGr[0x14], k.altGr[0x08] = '@', '€'
	set(k.altGr, 0x24, "{[]}\\")
	k.altGr[0x30], k.altGr[0x64] = '~', '|'
	return k
}

func frKeymap() *Keymap {
	k := usKeymap()
	k.Name = "fr"
	// AZERTY: a/q and z/w swapped, m where US has ';', ',' where US has m.
	k.plain[0x04], k.plain[0x14], k.plain[0x1A], k.plain[0x1D] = 'q', 'a', 'z', 'w'
	k.shift[0x04], k.shift[0x14], k.shift[0x1A], k.shift[0x1D] = 'Q', 'A', 'Z', 'W'
	k.plain[0x33], k.shift[0x33] = 'm', 'M'
	k.plain[0x10], k.shift[0x10] = ',', '?'
	// The top-row digits need Shift.
	set(k.plain, 0x1E, "&é\"'(-è_çà")
	set(k.shift, 0x1E, "1234567890")
	set(k.plain, 0x2D, ")=^$**")
	set(k.shift, 0x2D, "°+¨£µµ")
	k.plain[0x34], k.shift[0x34] = 'ù', '%'
	k.plain[0x35] = '²'
	delete(k.shift, 0x35)
	set(k.plain, 0x36, ";:!")
	set(k.shift, 0x36, "./§")
	k.plain[0x64], k.shift[0x64] = '<', '>'
	set(k.altGr, 0x1F, "~#{[|`\\^@")
	k.altGr[0x2D], k.altGr[0x2E], k.altGr[0x08] = ']', '}', '€'
	return k
}
