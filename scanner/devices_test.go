package scanner

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

var sampleDevices = []DeviceInfo{
	{Kind: "serial", Path: "/dev/ttyACM0", VendorID: "0c2e", ProductID: "0720", Manufacturer: "Honeywell", Product: "Voyager 1200g"},
	{Kind: "serial", Path: "/dev/ttyS0"},
	{Kind: "hid", Path: "1-2:1.0", VendorID: "05e0", ProductID: "1200", Product: "Symbol Bar Code Scanner", Interface: 0},
	{Kind: "hid", Path: "1-3:1.1", VendorID: "1eab", ProductID: "1310", Interface: 1},
}

func TestWriteDeviceList(t *testing.T) {
	one := 1
	configured := []Config{
		{Name: "counter", Kind: "serial", VendorID: "0C2E", ProductID: "0720"},
		{Kind: "hid", VendorID: "1eab", ProductID: "1310", Mode: "pos", Interface: &one},
	}
	var b strings.Builder
	if err := WriteDeviceList(&b, sampleDevices, configured); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`serial /dev/ttyACM0  0c2e:0720  "Honeywell Voyager 1200g"  [configured: counter]`,
		"serial /dev/ttyS0\n",
		`hid    1-2:1.0  05e0:1200  interface 0  "Zebra (Symbol) Symbol Bar Code Scanner"` + "\n",
		`hid    1-3:1.1  1eab:1310  interface 1  "Newland"  [configured: hid 1eab:1310 interface 1]`,
		`mode = "pos"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Every snippet is valid TOML that decodes into a valid Config with the same device.
	snippets := strings.Split(out, "[[scanner]]")[1:]
	if len(snippets) != len(sampleDevices) {
		t.Fatalf("%d snippets for %d devices", len(snippets), len(sampleDevices))
	}
	for i, s := range snippets {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "    ") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		var file struct{ Scanner []Config }
		if _, err := toml.Decode("[[scanner]]\n"+strings.Join(lines, "\n"), &file); err != nil {
			t.Fatalf("snippet %d: %v\n%s", i, err, s)
		}
		c := file.Scanner[0]
		if err := c.Validate(); err != nil {
			t.Errorf("snippet %d: %v", i, err)
		}
		d := sampleDevices[i]
		if c.Kind != d.Kind || configuredAs(d, []Config{c}) == "" {
			t.Errorf("snippet %d does not select its device: %+v", i, c)
		}
	}
}

func TestWriteDeviceList_Empty(t *testing.T) {
	var b strings.Builder
	WriteDeviceList(&b, nil, nil)
	if !strings.Contains(b.String(), "No serial ports or HID devices found") {
		t.Fatal(b.String())
	}
}

// ListDevices works without hardware (in CI it finds ttyS ports at most) and WriteDevices
// prints something either way.
func TestWriteDevices_RealMachine(t *testing.T) {
	var b strings.Builder
	if err := WriteDevices(&b, nil); err != nil {
		t.Fatal(err)
	}
	if b.Len() == 0 {
		t.Fatal("no output")
	}
}

func TestConfig_TOMLKeys(t *testing.T) {
	var file struct{ Scanner []Config }
	_, err := toml.Decode(`
[[scanner]]
kind = "serial"
device = "/dev/ttyACM0"
baud = 9600
terminator = "crlf"
strip_aim = true

[[scanner]]
kind = "hid"
vendor_id = "0c2e"
product_id = "0b61"
mode = "keyboard"
keymap = "fr"
inter_key_gap = "80ms"
`, &file)
	if err != nil {
		t.Fatal(err)
	}
	s, h := file.Scanner[0], file.Scanner[1]
	if s.Device != "/dev/ttyACM0" || s.Baud != 9600 || s.Terminator != "crlf" || !s.StripAIM {
		t.Errorf("serial: %+v", s)
	}
	if h.VendorID != "0c2e" || h.ProductID != "0b61" || h.Keymap != "fr" || h.InterKeyGap.Milliseconds() != 80 {
		t.Errorf("hid: %+v", h)
	}
}

// The udev rules give the posd groups 0660 access to the four scanner vendors, for the
// libusb device node, hidraw and tty, and never make a node world-accessible.
func TestUdevRules(t *testing.T) {
	f, err := os.Open("../systemd/60-posd-scanners.rules")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	covered := map[string]bool{}
	mode := regexp.MustCompile(`MODE="(\d+)"`)
	vendor := regexp.MustCompile(`ATTRS?\{idVendor\}=="([^"]+)"`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || !strings.Contains(line, "idVendor") {
			continue
		}
		m := mode.FindStringSubmatch(line)
		if m == nil || m[1] != "0660" {
			t.Errorf("rule without MODE 0660: %s", line)
		}
		if strings.Contains(line, "uaccess") || !regexp.MustCompile(`GROUP="(plugdev|dialout|posd)"`).MatchString(line) {
			t.Errorf("rule without a posd group: %s", line)
		}
		v := vendor.FindStringSubmatch(line)
		if v == nil || v[1] != strings.ToLower(v[1]) {
			t.Errorf("vendor ID missing or not lower case: %s", line)
			continue
		}
		for _, sub := range []string{`SUBSYSTEM=="usb"`, `SUBSYSTEM=="hidraw"`, `SUBSYSTEM=="tty"`} {
			if strings.Contains(line, sub) {
				covered[v[1]+" "+sub] = true
			}
		}
	}
	for _, v := range []string{"0c2e", "05e0", "05f9", "1eab"} {
		for _, sub := range []string{`SUBSYSTEM=="usb"`, `SUBSYSTEM=="hidraw"`, `SUBSYSTEM=="tty"`} {
			if !covered[v+" "+sub] {
				t.Errorf("no rule for %s %s", v, sub)
			}
		}
	}
}
