package scanner

// This is the only file that calls github.com/karalabe/hid (cgo; it bundles hidapi and
// libusb). What that library gives on Linux (docs/hardware.md §3):
//
//   - Open detaches the kernel's usbhid driver from the interface and claims it through
//     libusb. While posd holds the scanner its keystrokes reach no console, X session or
//     other program: the hold is exclusive. Close re-attaches usbhid. (Whether usbhid
//     re-binds by itself after posd crashes without Close is not confirmed.)
//   - Open errors are opaque ("hidapi: failed to open device"): permission and busy look
//     the same, so the message names both.
//   - Enumerate never reports errors: without /dev/bus/usb, without AF_NETLINK (systemd
//     RestrictAddressFamilies=) or without cgo it just finds nothing.
//   - UsagePage/Usage are always 0 on Linux, so HID POS interfaces are chosen by VID/PID
//     and interface number, never by usage page.

import (
	"fmt"
	"strings"

	"github.com/karalabe/hid"
)

func openHID(cfg Config, o OpenOptions) (Source, error) {
	if !hid.Supported() {
		return nil, fmt.Errorf("scanner %s: HID support not built in (posd built without cgo)", cfg.Name)
	}
	vid, _ := parseID(cfg.VendorID)
	pid, _ := parseID(cfg.ProductID)
	infos, err := hid.Enumerate(vid, pid)
	if err != nil {
		return nil, fmt.Errorf("enumerate hid: %w", err)
	}
	var info *hid.DeviceInfo
	for i := range infos {
		if matchHID(cfg, infos[i].Path, infos[i].VendorID, infos[i].ProductID, infos[i].Interface) {
			info = &infos[i]
			break
		}
	}
	if info == nil {
		return nil, fmt.Errorf("hid %04x:%04x: %w (unplugged, or no access to /dev/bus/usb: see 60-posd-scanners.rules)", vid, pid, ErrNotFound)
	}
	var dec reportDecoder
	if cfg.Mode == "pos" {
		dec, err = posReportDecoder(cfg, info.VendorID, o)
	} else {
		dec, err = keyboardReportDecoder(cfg, o)
	}
	if err != nil {
		return nil, err
	}
	dev, err := info.Open()
	if err != nil {
		// Right after a hotplug udev may not have applied the group yet; the supervisor
		// retries with backoff.
		return nil, fmt.Errorf("open hid %s (%04x:%04x): %w (no permission, or held by another program)", info.Path, info.VendorID, info.ProductID, err)
	}
	return startHIDSource(cfg.Name, info.Path, dev, dec, o), nil
}

// matchHID reports whether a HID interface is the one cfg names.
func matchHID(cfg Config, path string, vid, pid uint16, iface int) bool {
	if cfg.Device != "" && cfg.Device != path {
		return false
	}
	if cfg.VendorID != "" {
		if v, _ := parseID(cfg.VendorID); v != vid {
			return false
		}
	}
	if cfg.ProductID != "" {
		if p, _ := parseID(cfg.ProductID); p != pid {
			return false
		}
	}
	return cfg.Interface == nil || *cfg.Interface == iface
}

func listHID() ([]DeviceInfo, error) {
	if !hid.Supported() {
		return nil, fmt.Errorf("HID support not built in (posd built without cgo)")
	}
	infos, err := hid.Enumerate(0, 0)
	if err != nil {
		return nil, fmt.Errorf("enumerate hid: %w", err)
	}
	out := make([]DeviceInfo, 0, len(infos))
	for _, in := range infos {
		out = append(out, DeviceInfo{
			Kind: "hid", Path: in.Path,
			VendorID: fmt.Sprintf("%04x", in.VendorID), ProductID: fmt.Sprintf("%04x", in.ProductID),
			Manufacturer: strings.TrimSpace(in.Manufacturer), Product: strings.TrimSpace(in.Product),
			Serial: in.Serial, Interface: in.Interface,
		})
	}
	return out, nil
}
