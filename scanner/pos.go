package scanner

import (
	"fmt"
	"strings"
	"time"
)

// POSLayout is a vendor's layout of the HID POS (usage page 0x8C) scanned-data report.
type POSLayout int

const (
	// LayoutHoneywell: ID 0x02, length, 3-byte AIM ID, data from byte 5, code ID at 61,
	// continuation flag at bit 0 of byte 63. Also Zebra and Datalogic (docs/hardware.md §2.2);
	// some devices put the AIM ID one byte later, which is detected.
	LayoutHoneywell POSLayout = iota
	// LayoutNewland: ID 0x02, length, data from byte 2, symbology at 62, continuation at 63.
	LayoutNewland
)

// VendorNewland is Fujian Newland's USB vendor ID.
const VendorNewland = 0x1eab

// ParseLayout maps the config value; "auto" or "" picks by vendor ID.
func ParseLayout(s string, vendorID uint16) (POSLayout, error) {
	switch s {
	case "", "auto":
		if vendorID == VendorNewland {
			return LayoutNewland, nil
		}
		return LayoutHoneywell, nil
	case "honeywell":
		return LayoutHoneywell, nil
	case "newland":
		return LayoutNewland, nil
	}
	return 0, fmt.Errorf("layout %q: want auto, honeywell or newland", s)
}

// MaxPOSCode bounds a code reassembled from continuation reports.
const MaxPOSCode = 4096

const posReportID = 0x02

// POSDecoder reassembles codes from HID POS scanned-data reports. Reports with another
// report ID (status, attributes) are ignored. A code split over several reports is joined
// until a report without the continuation flag; a partial code is dropped after Gap. The
// AIM ID of the first report is kept (whether continuation reports repeat it is not known).
// It is pure: the caller supplies the time of each report.
type POSDecoder struct {
	Layout POSLayout
	Gap    time.Duration

	buf      []byte
	sym      string
	pending  bool
	overflow bool
	last     time.Time
	dropped  int
}

// NewPOSDecoder returns a decoder for layout and gap (0: DefaultInterKeyGap).
func NewPOSDecoder(layout POSLayout, gap time.Duration) *POSDecoder {
	if gap <= 0 {
		gap = DefaultInterKeyGap
	}
	return &POSDecoder{Layout: layout, Gap: gap, buf: make([]byte, 0, 64)}
}

// Dropped counts partial codes dropped after a gap and codes refused as too long.
func (d *POSDecoder) Dropped() int { return d.dropped }

// Reset forgets any partial code.
func (d *POSDecoder) Reset() { d.buf, d.sym, d.pending, d.overflow = d.buf[:0], "", false, false }

// Feed decodes one input report (with its report ID in byte 0, as hidapi returns it) and
// calls emit for a finished code.
func (d *POSDecoder) Feed(report []byte, at time.Time, emit func(code, symbology string)) {
	if len(report) < 3 || report[0] != posReportID {
		return
	}
	if d.pending && at.Sub(d.last) > d.Gap {
		d.dropped++
		d.Reset()
	}
	d.last = at
	full := len(report) >= 64
	more := full && report[63]&1 != 0
	var data []byte
	var sym string
	n := int(report[1])
	switch d.Layout {
	case LayoutNewland:
		data = clip(report, 2, n, 58)
		if full && report[62] >= 0x21 && report[62] < 0x7F {
			sym = string(rune(report[62]))
		}
	default:
		start := 5
		switch {
		case len(report) >= 5 && report[2] == ']':
			sym = string(report[2:5])
		case len(report) >= 6 && report[3] == ']':
			sym, start = string(report[3:6]), 6
		}
		data = clip(report, start, n, 61)
		if sym == "" && full && report[61] >= 0x21 && report[61] < 0x7F {
			sym = string(rune(report[61])) // Honeywell Code ID
		}
	}
	if !d.pending {
		d.sym = sym
	}
	d.pending = true
	if !d.overflow {
		if len(d.buf)+len(data) > MaxPOSCode {
			d.overflow = true
			d.buf = d.buf[:0]
		} else {
			d.buf = append(d.buf, data...)
		}
	}
	if more {
		return
	}
	if d.overflow {
		d.dropped++
	} else if code := strings.TrimRight(string(d.buf), "\r\n"); code != "" {
		emit(code, d.sym)
	}
	d.Reset()
}

// clip returns up to n bytes of r from start, never past end (where a 64-byte report's
// trailer begins) nor past the report.
func clip(r []byte, start, n, end int) []byte {
	if len(r) < 64 {
		end = len(r)
	}
	if start >= end {
		return nil
	}
	return r[start:min(start+n, end)]
}
