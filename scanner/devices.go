package scanner

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.bug.st/serial/enumerator"
)

// DeviceInfo is a serial port or HID interface found on this machine, for posd devices.
type DeviceInfo struct {
	Kind         string // "serial" or "hid"
	Path         string // /dev/ttyACM0, or the hidapi path "1-2.3:1.0"
	VendorID     string // lower-case hex, "" for a non-USB serial port
	ProductID    string
	Manufacturer string
	Product      string
	Serial       string
	Interface    int // HID interface number
}

// ListDevices lists serial ports (with USB IDs where sysfs has them) and HID interfaces.
// It returns what it found even when one of the two listings failed, with that error.
func ListDevices() ([]DeviceInfo, error) {
	var out []DeviceInfo
	var errs []error
	ports, err := enumerator.GetDetailedPortsList()
	if err != nil {
		errs = append(errs, fmt.Errorf("list serial ports: %w", err))
	}
	for _, p := range ports {
		if p.Name == "" {
			continue
		}
		name := p.Name
		if !strings.HasPrefix(name, "/") {
			name = "/dev/" + name
		}
		out = append(out, DeviceInfo{
			Kind: "serial", Path: name,
			VendorID: strings.ToLower(p.VID), ProductID: strings.ToLower(p.PID),
			Manufacturer: p.Manufacturer, Product: p.Product, Serial: p.SerialNumber,
		})
	}
	hids, err := listHID()
	if err != nil {
		errs = append(errs, err)
	}
	out = append(out, hids...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind // serial first
		}
		return out[i].Path < out[j].Path
	})
	return out, errors.Join(errs...)
}

// WriteDevices lists this machine's devices for posd devices: one line per device, the
// configured ones marked, each followed by a [[scanner]] snippet for posd.toml.
func WriteDevices(w io.Writer, configured []Config) error {
	devs, listErr := ListDevices()
	if err := WriteDeviceList(w, devs, configured); err != nil {
		return err
	}
	if listErr != nil {
		_, err := fmt.Fprintf(w, "warning: %v\n", listErr)
		return err
	}
	return nil
}

// knownVendors names the scanner vendors of docs/hardware.md §1.5 (usb.ids names).
var knownVendors = map[string]string{
	"0c2e": "Honeywell (Metrologic)",
	"05e0": "Zebra (Symbol)",
	"05f9": "Datalogic (PSC)",
	"1eab": "Newland",
	"067e": "Intermec",
}

// WriteDeviceList is WriteDevices for a given list (testable without hardware).
func WriteDeviceList(w io.Writer, devs []DeviceInfo, configured []Config) error {
	var b strings.Builder
	if len(devs) == 0 {
		b.WriteString("No serial ports or HID devices found.\n" +
			"HID needs read-write access to /dev/bus/usb (see 60-posd-scanners.rules) and a cgo build;\n" +
			"serial needs the dialout group.\n")
	}
	for _, d := range devs {
		fmt.Fprintf(&b, "%-6s %s", d.Kind, d.Path)
		if d.VendorID != "" {
			fmt.Fprintf(&b, "  %s:%s", d.VendorID, d.ProductID)
		}
		if d.Kind == "hid" {
			fmt.Fprintf(&b, "  interface %d", d.Interface)
		}
		desc := strings.TrimSpace(d.Manufacturer + " " + d.Product)
		if v, ok := knownVendors[d.VendorID]; ok && !strings.Contains(strings.ToLower(desc), strings.ToLower(strings.Fields(v)[0])) {
			desc = strings.TrimSpace(v + " " + desc)
		}
		if desc != "" {
			fmt.Fprintf(&b, "  %q", desc)
		}
		if name := configuredAs(d, configured); name != "" {
			fmt.Fprintf(&b, "  [configured: %s]", name)
		}
		b.WriteString("\n")
		for _, line := range strings.Split(strings.TrimRight(snippet(d), "\n"), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// snippet is the [[scanner]] entry for d, with the keys of docs/interfaces.md.
func snippet(d DeviceInfo) string {
	var b strings.Builder
	b.WriteString("[[scanner]]\n")
	fmt.Fprintf(&b, "kind = %q\n", d.Kind)
	switch d.Kind {
	case "serial":
		fmt.Fprintf(&b, "device = %q\n", d.Path)
		if d.VendorID != "" {
			// By USB ID the port is found again when its name changes on replug.
			fmt.Fprintf(&b, "vendor_id = %q\nproduct_id = %q\n", d.VendorID, d.ProductID)
		}
		b.WriteString("baud = 9600\n")
	case "hid":
		fmt.Fprintf(&b, "vendor_id = %q\nproduct_id = %q\n", d.VendorID, d.ProductID)
		mode := "keyboard"
		if d.VendorID == "1eab" && strings.HasSuffix(d.ProductID, "10") {
			mode = "pos" // Newland: PID xx10 is the HID POS interface
		}
		fmt.Fprintf(&b, "mode = %q\nkeymap = \"us\"\ninterface = %d\n", mode, d.Interface)
		fmt.Fprintf(&b, "# device = %q   # pins this USB port, to tell identical scanners apart\n", d.Path)
	}
	return b.String()
}

func configuredAs(d DeviceInfo, configured []Config) string {
	for _, c := range configured {
		if c.Kind != d.Kind {
			continue
		}
		switch d.Kind {
		case "serial":
			if c.Device == d.Path && c.VendorID == "" {
				return c.DisplayName()
			}
			if c.VendorID != "" && d.VendorID != "" {
				v1, _ := parseID(c.VendorID)
				v2, _ := parseID(d.VendorID)
				p1, _ := parseID(c.ProductID)
				p2, _ := parseID(d.ProductID)
				if v1 == v2 && (c.ProductID == "" || p1 == p2) {
					return c.DisplayName()
				}
			}
		case "hid":
			v, _ := parseID(d.VendorID)
			p, _ := parseID(d.ProductID)
			if matchHID(c, d.Path, v, p, d.Interface) {
				return c.DisplayName()
			}
		}
	}
	return ""
}
