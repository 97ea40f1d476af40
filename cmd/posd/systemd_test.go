package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"posd/internal/manpage"
)

// needTool returns the path of a tool the test needs. .ci/run installs them (apt packages
// systemd and dpkg); on a developer machine without them the test is skipped, in CI it fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (apt-get install systemd dpkg)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// unitForTest copies systemd/posd.service into a temp dir with ExecStart pointing at the
// binary under test (verify checks that the executable exists).
func unitForTest(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../systemd/posd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/bin/posd", posdBinary(t))
	p := filepath.Join(t.TempDir(), "posd.service")
	writeFile(t, p, unit, 0o644)
	return p
}

func TestSystemdUnit_Verify(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	out, err := exec.Command(sa, "verify", unitForTest(t)).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdUnit_Security(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", unitForTest(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for posd\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: %.1f", score)
	if score > 2.0 {
		t.Fatalf("exposure %.1f, want ≤ 2.0:\n%s", score, out)
	}
}

// TestSystemdUnit_Contract checks what posd relies on in its own unit.
func TestSystemdUnit_Contract(t *testing.T) {
	b, err := os.ReadFile("../../systemd/posd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure",
		"StateDirectory=posd", "LogsDirectory=posd", "LoadCredential=api_token:",
		"ExecStart=/usr/bin/posd run -config /etc/posd/posd.toml",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", // libusb hotplug
		"DevicePolicy=closed", "DeviceAllow=char-usb_device rw", "DeviceAllow=char-ttyACM rw",
		"DeviceAllow=char-ttyUSB rw", "DeviceAllow=char-usb rw", "DeviceAllow=char-hidraw rw",
		"Wants=modprobe@usbserial.service", "After=modprobe@usbserial.service",
		"SupplementaryGroups=dialout lp plugdev",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("posd.service lacks %q", want)
		}
	}
	for _, bad := range []string{"PrivateDevices=yes", "PrivateUsers=yes", "PrivateNetwork=yes"} {
		if strings.Contains(unit, bad) {
			t.Errorf("posd.service has %q, which takes the devices or the network away", bad)
		}
	}
	su, err := os.ReadFile("../../systemd/posd.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"m posd dialout", "m posd lp", "m posd plugdev", "u posd "} {
		if !strings.Contains(string(su), g) {
			t.Errorf("posd.sysusers lacks %q", g)
		}
	}
}

// TestDeb builds the package with systemd/mkdeb.sh (what `make deb` runs) and checks its
// contents and control data with dpkg-deb.
func TestDeb(t *testing.T) {
	dd := needTool(t, "dpkg-deb")
	out := t.TempDir()
	res, err := exec.Command("bash", "../../systemd/mkdeb.sh", posdBinary(t), "1.2.3", out).CombinedOutput()
	if err != nil {
		t.Fatalf("mkdeb.sh: %v\n%s", err, res)
	}
	deb := strings.TrimSpace(string(res))
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("mkdeb.sh printed %q", deb)
	}
	list, err := exec.Command(dd, "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, list)
	}
	files := map[string]string{} // path → mode/owner column
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 {
			files[strings.TrimPrefix(f[len(f)-1], ".")] = f[0] + " " + f[1]
		}
	}
	want := map[string]string{
		"/usr/bin/posd":                      "-rwxr-xr-x root/root",
		"/lib/systemd/system/posd.service":   "-rw-r--r-- root/root",
		"/usr/lib/sysusers.d/posd.conf":      "-rw-r--r-- root/root",
		"/usr/lib/tmpfiles.d/posd.conf":      "-rw-r--r-- root/root",
		"/etc/posd/posd.toml":                "-rw-r--r-- root/root",
		"/usr/share/doc/posd/install.md":     "-rw-r--r-- root/root",
		"/usr/share/doc/posd/copyright":      "-rw-r--r-- root/root",
		"/usr/share/doc/posd/changelog.gz":   "-rw-r--r-- root/root",
		"/etc/logrotate.d/posd":              "-rw-r--r-- root/root",
		"/usr/share/man/man8/posd.8.gz":      "-rw-r--r-- root/root",
		"/usr/share/man/man5/posd.toml.5.gz": "-rw-r--r-- root/root",
		"/usr/share/lintian/overrides/posd":  "-rw-r--r-- root/root",
	}
	if _, err := os.Stat("../../systemd/60-posd-scanners.rules"); err == nil {
		want["/lib/udev/rules.d/60-posd-scanners.rules"] = "-rw-r--r-- root/root"
	}
	for p, mode := range want {
		if got, ok := files[p]; !ok {
			t.Errorf("package lacks %s\n%s", p, list)
		} else if got != mode {
			t.Errorf("%s: %s, want %s", p, got, mode)
		}
	}
	info, err := exec.Command(dd, "-I", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -I: %v\n%s", err, info)
	}
	for _, w := range []string{"Package: posd", "Version: 1.2.3", "Depends: libc6", "Recommends: udev, logrotate, fonts-noto-cjk", "postinst", "prerm", "postrm", "conffiles"} {
		if !strings.Contains(string(info), w) {
			t.Errorf("control data lacks %q:\n%s", w, info)
		}
	}
	conf, err := exec.Command(dd, "-I", deb, "conffiles").CombinedOutput()
	if err != nil || strings.TrimSpace(string(conf)) != "/etc/posd/posd.toml\n/etc/logrotate.d/posd" {
		t.Errorf("conffiles = %q, %v", conf, err)
	}
	post, err := exec.Command(dd, "-I", deb, "postinst").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"systemd-sysusers", "systemd-tmpfiles", "udevadm trigger", "daemon-reload", "deb-systemd-helper enable"} {
		if !strings.Contains(string(post), w) {
			t.Errorf("postinst lacks %q", w)
		}
	}
	// The maintainer scripts are valid sh.
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", "../../systemd/deb/"+s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
	}
}

// TestSysusersTmpfiles applies posd.sysusers and posd.tmpfiles to a scratch root: user
// posd in dialout, lp and plugdev; /etc/posd, /var/lib/posd, /var/log/posd with their modes.
func TestSysusersTmpfiles(t *testing.T) {
	su := needTool(t, "systemd-sysusers")
	tf := needTool(t, "systemd-tmpfiles")
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown in the scratch root (CI runs as root)")
	}
	root := t.TempDir()
	for _, d := range []string{"etc", "var/lib", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Debian's base groups, as base-passwd installs them.
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(root, "etc/group"), "root:x:0:\nlp:x:7:\ndialout:x:20:\nplugdev:x:46:\n", 0o644)
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	if out, err := exec.Command(su, "--root="+root, abs("../../systemd/posd.sysusers")).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	if !regexp.MustCompile(`(?m)^posd:x:\d+:\d+:.*:/var/lib/posd:/usr/sbin/nologin$`).Match(passwd) {
		t.Fatalf("passwd:\n%s", passwd)
	}
	for _, g := range []string{"lp", "dialout", "plugdev"} {
		if !regexp.MustCompile(`(?m)^` + g + `:x:\d+:posd$`).Match(group) {
			t.Errorf("posd is not in group %s:\n%s", g, group)
		}
	}
	if out, err := exec.Command(tf, "--root="+root, "--create", abs("../../systemd/posd.tmpfiles")).CombinedOutput(); err != nil {
		t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
	}
	for p, mode := range map[string]os.FileMode{"etc/posd": 0o750, "var/lib/posd": 0o700, "var/log/posd": 0o750} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("/%s: %v %v, want mode %04o", p, fi, err, mode)
		}
	}
}

// TestManPages: docs/man/posd.8 and posd.toml.5 are what `posd man` generates from the
// usage text, every command's -h and configs/posd.toml; regenerate with `make man`.
func TestManPages(t *testing.T) {
	pages, err := ManPages("../../configs/posd.toml")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range pages {
		got, err := os.ReadFile("../../docs/man/" + name)
		if err != nil || string(got) != string(want) {
			t.Errorf("docs/man/%s is out of step with -h or configs/posd.toml (%v): run `make man`", name, err)
		}
	}
	p8 := string(pages["posd.8"])
	// Every command of the usage text and every flag -h prints is in posd(8).
	for _, c := range manpage.Commands(usage) {
		if !strings.Contains(p8, manpage.Escape(c.Synopsis)) {
			t.Errorf("posd.8 lacks %q", c.Synopsis)
		}
		fh, _ := flagHelp(strings.Fields(c.Synopsis)[1])
		for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(fh, -1) {
			if !strings.Contains(p8, `\fB\-`+manpage.Escape(m[1])+`\fR`) {
				t.Errorf("posd.8 lacks flag -%s of %s", m[1], c.Synopsis)
			}
		}
	}
	if len(manpage.Commands(usage)) < 9 {
		t.Errorf("usage parsed into %d commands", len(manpage.Commands(usage)))
	}
	// Every key of the example config is in posd.toml(5).
	ex, _ := os.ReadFile("../../configs/posd.toml")
	for _, m := range regexp.MustCompile(`(?m)^([a-z_0-9]+)\s*=`).FindAllStringSubmatch(string(ex), -1) {
		if !strings.Contains(string(pages["posd.toml.5"]), `\fB`+manpage.Escape(m[1])+`\fR`) {
			t.Errorf("posd.toml.5 lacks key %s", m[1])
		}
	}
	if mn, err := exec.LookPath("man"); err == nil {
		for name := range pages {
			var stderr strings.Builder
			cmd := exec.Command(mn, "--warnings", "-l", "../../docs/man/"+name)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("man --warnings %s: %v\n%s", name, err, stderr.String())
			}
		}
	}
}
