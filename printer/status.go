package printer

import (
	"fmt"
	"strings"
	"time"
)

// Status is what the printer said to DLE EOT 1, 2 and 4 (docs/hardware.md §5.5).
type Status struct {
	Offline      bool      `json:"offline"`
	CoverOpen    bool      `json:"cover_open"`
	PaperOut     bool      `json:"paper_out"`
	PaperNearEnd bool      `json:"paper_near_end"`
	Error        bool      `json:"error"` // an error occurred (DLE EOT 2 bit 6)
	Raw          []byte    `json:"raw,omitempty"`
	At           time.Time `json:"at"`
}

// Blocked reports whether printing now would be lost or wait inside the printer: no
// paper, the cover open, or offline for another reason.
func (s Status) Blocked() bool { return s.PaperOut || s.CoverOpen || s.Offline }

// String is a short state for logs and the UI: "ready", "paper out", "cover open"...
func (s Status) String() string {
	var parts []string
	if s.PaperOut {
		parts = append(parts, "paper out")
	}
	if s.CoverOpen {
		parts = append(parts, "cover open")
	}
	if s.Offline && !s.PaperOut && !s.CoverOpen {
		parts = append(parts, "offline")
	}
	if s.Error {
		parts = append(parts, "error")
	}
	if s.PaperNearEnd && !s.PaperOut {
		parts = append(parts, "paper low")
	}
	if len(parts) == 0 {
		return "ready"
	}
	return strings.Join(parts, ", ")
}

// validStatusByte reports whether b is a DLE EOT reply: bits 0 and 7 clear, 1 and 4 set.
// An Automatic Status Back byte has bit 1 clear and is rejected.
func validStatusByte(b byte) bool { return b&0x93 == 0x12 }

// ParseStatus decodes the replies to DLE EOT 1 (printer), 2 (offline cause) and 4 (roll
// paper sensor).
func ParseStatus(printer, offline, paper byte) (Status, error) {
	for _, b := range []byte{printer, offline, paper} {
		if !validStatusByte(b) {
			return Status{}, fmt.Errorf("status byte %#02x is not a DLE EOT reply: %w", b, ErrNoStatus)
		}
	}
	return Status{
		Offline:      printer&0x08 != 0,
		CoverOpen:    offline&0x04 != 0,
		PaperOut:     offline&0x20 != 0 || paper&0x60 != 0,
		Error:        offline&0x40 != 0,
		PaperNearEnd: paper&0x0C != 0,
		Raw:          []byte{printer, offline, paper},
	}, nil
}
