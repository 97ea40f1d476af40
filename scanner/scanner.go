// Package scanner reads payment codes from barcode scanners: serial (go.bug.st/serial),
// USB HID in keyboard mode and USB HID POS mode (github.com/karalabe/hid).
//
// A Source yields Scans. The Supervisor opens every configured scanner, reopens it with
// backoff after an unplug or error, drops a code scanned twice within a short window, and
// hands each code to one handler. The byte-level work is done by pure decoders that hold
// no I/O (KeyboardDecoder, POSDecoder, Framer) so that they can be fuzzed and tested from
// recorded report streams in testdata/.
//
// Full codes never reach the logs: everything logged goes through wxpay.MaskCode.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"posd/internal/check"
)

// Scan is one scanned code.
type Scan struct {
	Code      string    // the code, terminator and AIM prefix removed
	Device    string    // name of the scanner that read it (Config.Name)
	Symbology string    // AIM identifier such as "]Q1" or "]E0", or a vendor code ID; "" if unknown
	At        time.Time // when the last byte of the code arrived
}

// Source is a source of scanned codes: one open scanner, or a fake.
//
// Next blocks until a code arrives, the context ends, or the device fails. An error other
// than the context's means the device is gone or unusable; the caller closes the Source and
// opens a new one. Close may be called at any time, from any goroutine, also while Next
// blocks; Next then returns ErrClosed.
type Source interface {
	Next(ctx context.Context) (Scan, error)
	Close() error
}

var (
	// ErrClosed is returned by Next after Close.
	ErrClosed = errors.New("scanner closed")
	// ErrNotFound: no device matches the configuration (not plugged in, wrong VID/PID).
	ErrNotFound = errors.New("scanner not found")
	// ErrPortBusy: another program (or another scanner entry) holds the device.
	ErrPortBusy = errors.New("scanner port busy")
	// ErrLineTooLong: a serial line exceeded MaxLineLen before its terminator.
	ErrLineTooLong = errors.New("scanned line too long")
)

// MaxLineLen is the longest code accepted from a serial scanner, in bytes. Payment codes are
// 18 digits and product barcodes at most 14; anything much longer is noise or a
// misconfigured terminator, and refusing it bounds memory.
const MaxLineLen = 64

// Config is one [[scanner]] entry of posd.toml (docs/interfaces.md). Only kind, device, baud,
// vendor_id, product_id, mode and keymap are named there; the rest are extensions with
// defaults that suit common scanners.
type Config struct {
	Name string `toml:"name"` // for logs, status and metrics; default derived from device or VID:PID
	Kind string `toml:"kind"` // "serial", "hid", or "virtual" (codes typed in the web UI)

	// Device: serial port path (/dev/ttyACM0). For hid, an optional hidapi path
	// ("1-2.3:1.0", stable per physical USB port) to tell identical scanners apart.
	Device string `toml:"device"`
	// VendorID and ProductID (hex, "0c2e") select the device: required for hid; for serial
	// they find a USB serial port whose name changed on replug (ttyACM0 → ttyACM1).
	VendorID  string `toml:"vendor_id"`
	ProductID string `toml:"product_id"`
	// Interface selects one interface of a composite HID device (nil: the first one).
	Interface *int `toml:"interface"`

	// Serial line settings. Zero values mean 9600 8N1.
	Baud     int    `toml:"baud"`
	DataBits int    `toml:"data_bits"` // 5–8
	Parity   string `toml:"parity"`    // "none", "odd", "even", "mark", "space"
	StopBits int    `toml:"stop_bits"` // 1 or 2
	// Terminator ends a serial code: "auto" (CR, LF or CR LF; default), "cr", "lf", "crlf".
	Terminator string `toml:"terminator"`
	// StripAIM removes an AIM symbology prefix ("]Q1", "]E0", …) from serial and keyboard
	// codes and reports it as Scan.Symbology. HID POS reports carry it in its own field.
	StripAIM bool `toml:"strip_aim"`

	// HID settings.
	Mode   string `toml:"mode"`   // "keyboard" (default) or "pos" (usage page 0x8C)
	Keymap string `toml:"keymap"` // keyboard country the scanner is set to: "us" (default), "uk", "de", "fr"
	Layout string `toml:"layout"` // pos report layout: "auto" (default: by vendor), "honeywell", "newland"
	// InterKeyGap: a partial code older than this is dropped (keyboard and pos); default 200ms.
	InterKeyGap time.Duration `toml:"inter_key_gap"`
}

// DefaultInterKeyGap is used when Config.InterKeyGap is zero. Scanners type a whole code
// within a few tens of milliseconds; a longer silence means the rest is not coming.
const DefaultInterKeyGap = 200 * time.Millisecond

// Validate reports the first problem with the entry, naming the entry and the key.
func (c Config) Validate() error {
	if ps := c.Problems(); len(ps) > 0 {
		return fmt.Errorf("scanner %s: %s", c.DisplayName(), ps[0])
	}
	return nil
}

// Problems lists what is wrong with the entry, each naming its key within the
// [[scanner]] table (kind, device, data_bits...).
func (c Config) Problems() []check.Problem {
	var p check.List
	switch c.Kind {
	case "serial":
		c.serialProblems(&p)
	case "hid":
		c.hidProblems(&p)
	case "virtual":
		return p // codes typed in the web UI: nothing to set
	default:
		p.OneOf("kind", c.Kind, "serial", "hid", "virtual")
		return p
	}
	if _, err := parseID(c.VendorID); err != nil {
		p.Add("vendor_id", "%v", err)
	}
	if _, err := parseID(c.ProductID); err != nil {
		p.Add("product_id", "%v", err)
	}
	if c.InterKeyGap < 0 {
		p.Add("inter_key_gap", "must not be negative")
	}
	return p
}

func (c Config) serialProblems(p *check.List) {
	if c.Device == "" && c.VendorID == "" {
		p.Add("device", "required (a serial scanner needs device or vendor_id and product_id to find the port)")
	}
	if c.DataBits != 0 && (c.DataBits < 5 || c.DataBits > 8) {
		p.Add("data_bits", "data_bits %d: want 5–8", c.DataBits)
	}
	switch c.Parity {
	case "", "none", "odd", "even", "mark", "space":
	default:
		p.Add("parity", "parity %q: want none, odd, even, mark or space", c.Parity)
	}
	if c.StopBits != 0 && c.StopBits != 1 && c.StopBits != 2 {
		p.Add("stop_bits", "stop_bits %d: want 1 or 2", c.StopBits)
	}
	if _, err := ParseTerminator(c.Terminator); err != nil {
		p.Add("terminator", "%v", err)
	}
}

func (c Config) hidProblems(p *check.List) {
	if c.VendorID == "" && c.Device == "" {
		p.Add("vendor_id", "vendor_id (and product_id) or device is required for a hid scanner")
	}
	switch c.Mode {
	case "", "keyboard", "pos":
	default:
		p.Add("mode", "mode %q: want keyboard or pos", c.Mode)
	}
	if _, err := LookupKeymap(c.Keymap); err != nil {
		p.Add("keymap", "%v", err)
	}
	switch c.Layout {
	case "", "auto", "honeywell", "newland":
	default:
		p.Add("layout", "layout %q: want auto, honeywell or newland", c.Layout)
	}
}

// DisplayName is Name, or a name derived from the device or its USB IDs.
func (c Config) DisplayName() string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Device != "":
		return c.Device
	case c.VendorID != "":
		name := c.Kind + " " + strings.ToLower(c.VendorID) + ":" + strings.ToLower(c.ProductID)
		if c.Interface != nil {
			name += fmt.Sprintf(" interface %d", *c.Interface)
		}
		return name
	}
	return c.Kind
}

func (c Config) gap() time.Duration {
	if c.InterKeyGap > 0 {
		return c.InterKeyGap
	}
	return DefaultInterKeyGap
}

// parseID parses a USB vendor or product ID written in hex ("0c2e", "0x0C2E"); "" is 0.
func parseID(s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimPrefix(strings.ToLower(s), "0x")
	v, err := strconv.ParseUint(t, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a 4-digit hex USB ID", s)
	}
	return uint16(v), nil
}

// DeviceStatus is one scanner's state, for /healthz, metrics and the UI's alerts.
type DeviceStatus struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Device      string    `json:"device,omitempty"` // what is open now (path), if connected
	Connected   bool      `json:"connected"`
	Since       time.Time `json:"since,omitzero"` // when Connected last changed
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastScan    time.Time `json:"last_scan,omitzero"`
	Scans       uint64    `json:"scans"`   // codes delivered (after dedup)
	Reopens     uint64    `json:"reopens"` // successful opens after the first
}
