package config

import (
	"os"
	"path/filepath"
	"posd/internal/testkit"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// minimalConfig is the smallest valid v3 file; tests append or replace lines.
const minimalConfig = `
[till]
store_id = "HK001"
till_id = "T01"
[wxpay]
appid = "wx8888888888888888"
mch_id = "1900000109"
private_key_file = "/etc/posd/apiclient_key.pem"
merchant_serial_no = "3775B6A45ACD588826D15E583A95F5DD00000001"
apiv3_key_file = "/etc/posd/apiv3_key"
`

func parse(t *testing.T, s string) (Config, error) {
	t.Helper()
	return ParseConfig(strings.NewReader(s))
}

func problems(err error) []string {
	ce, ok := err.(*ConfigError)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.String())
	}
	return out
}

func wantProblem(t *testing.T, err error, substr string) {
	t.Helper()
	for _, p := range problems(err) {
		if strings.Contains(p, substr) {
			return
		}
	}
	t.Fatalf("no problem containing %q in %q (err %v)", substr, problems(err), err)
}

func TestParseConfig_Example(t *testing.T) {
	f, err := os.Open("../../configs/posd.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		t.Fatalf("the documented example must be valid:\n%v", err)
	}
	if cfg.Till.StoreID != "HK001" || cfg.WxPay.API != "v3-global" || len(cfg.Scanner) != 1 || cfg.Printer.Kind != "tcp" {
		t.Fatalf("example decoded wrongly: %+v", cfg)
	}
	if cfg.Engine.PollUntil.Duration != 30*time.Second || cfg.Log.FileKeep != 5 {
		t.Fatalf("engine/log keys: %+v %+v", cfg.Engine, cfg.Log)
	}
}

// TestParseConfig_ExampleHasEveryKey keeps configs/posd.toml complete: every key of the
// Config struct (including the scanner and printer packages' tables) appears in it, set
// or commented out, so IT sees every option and its default.
func TestParseConfig_ExampleHasEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../configs/posd.toml")
	if err != nil {
		t.Fatal(err)
	}
	example := string(b)
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) && ft != reflect.TypeOf(time.Time{}) {
				if !strings.Contains(example, "["+tag+"]") && !strings.Contains(example, "[["+tag+"]]") {
					t.Errorf("configs/posd.toml has no [%s] table", tag)
				}
				walk(prefix+tag+".", ft)
				continue
			}
			if !regexp.MustCompile(`(?m)^#? ?` + regexp.QuoteMeta(tag) + ` = `).MatchString(example) {
				t.Errorf("configs/posd.toml does not show %s%s", prefix, tag)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
}

func TestParseConfig_Defaults(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/posd")
	t.Setenv("LOGS_DIRECTORY", "")
	cfg, err := parse(t, minimalConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WxPay.BaseURL != "https://apihk.mch.weixin.qq.com" || cfg.WxPay.Currency != "HKD" ||
		cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.Storage.Path != "/var/lib/posd/posd.db" ||
		cfg.Log.Level != "info" || cfg.Log.Dir != "/var/log/posd" || cfg.Printer.Kind != "none" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestParseConfig_StateDirectory(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/srv/state:/other")
	t.Setenv("LOGS_DIRECTORY", "/srv/logs")
	cfg, err := parse(t, minimalConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Path != "/srv/state/posd.db" || cfg.Log.Dir != "/srv/logs" {
		t.Fatalf("got %q %q", cfg.Storage.Path, cfg.Log.Dir)
	}
}

func TestParseConfig_Problems(t *testing.T) {
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"UnknownKey", "[till]\nstore_idd = \"x\"", "till.store_idd: unknown key"},
		{"UnknownSection", "[tills]\nx = 1", "tills.x: unknown key"},
		{"BadAPI", `api = "v4"`, `wxpay.api: must be one of v3-global, v3-hk, v2 (got "v4")`},
		{"HTTPBaseURL", `base_url = "http://example.com"`, "wxpay.base_url: must be an https:// URL"},
		{"Currency", `currency = "hkd"`, "wxpay.currency:"},
		{"SubMchID", `sub_mch_id = "19x"`, "wxpay.sub_mch_id: digits only"},
		{"NotifyURLQuery", `notify_url = "https://shop.example.com/n?till=1"`, "wxpay.notify_url: notify_url \"https://shop.example.com/n?till=1\": WeChat does not allow parameters"},
		{"NotifyURLLoopback", `notify_url = "http://127.0.0.1/notify"`, "wxpay.notify_url: notify_url \"http://127.0.0.1/notify\": must be reachable from the internet"},
		{"V2NeedsKey", `api = "v2"`, "wxpay.api_key_file: required"},
		{"V2NeedsCert", `api = "v2"`, "wxpay.client_cert_file: required"},
		{"SignType", "api = \"v2\"\nsign_type = \"SHA1\"", "wxpay.sign_type: must be one of HMAC-SHA256, MD5"},
		{"PublicKeyID", `public_key_file = "/x.pem"`, "wxpay.public_key_id: required with wxpay.public_key_file"},
		{"Printer", "[printer]\nkind = \"bluetooth\"", "printer.kind: \"bluetooth\" is not tcp, usb, serial, file or none"},
		{"PrinterAddress", "[printer]\nkind = \"tcp\"\naddress = \"nohost\"", "printer.address: host:port"},
		{"PrinterColumns", "[printer]\ncolumns = 500", "printer.columns: 500 is not 32, 42 or 48"},
		{"Encoding", "[printer]\nencoding = \"utf8\"", "printer.encoding:"},
		{"ScannerKind", "[[scanner]]\nkind = \"bt\"", "scanner[0].kind: must be one of serial, hid"},
		{"ScannerDevice", "[[scanner]]\nkind = \"serial\"", "scanner[0].device: required"},
		{"ScannerHID", "[[scanner]]\nkind = \"hid\"\nvendor_id = \"xyz\"\nproduct_id = \"0b61\"", "scanner[0].vendor_id: \"xyz\" is not a 4-digit hex USB ID"},
		{"ScannerMode", "[[scanner]]\nkind = \"hid\"\nvendor_id = \"0c2e\"\nproduct_id = \"0b61\"\nmode = \"x\"", "scanner[0].mode: mode \"x\": want keyboard or pos"},
		{"PublicListen", "[http]\nlisten = \"0.0.0.0:8080\"", "http.listen: \"0.0.0.0:8080\" is not a loopback address"},
		{"TLSPair", "[http]\ntls_cert_file = \"/c.pem\"", "http.tls_cert_file: http.tls_cert_file and http.tls_key_file go together"},
		{"LogLevel", "[log]\nlevel = \"loud\"", "log.level: must be one of debug, info, warn, error"},
		{"LogFormat", "[log]\nformat = \"xml\"", "log.format: must be one of text, json"},
		{"PollUntil", "[engine]\npoll_until = \"60s\"", "engine.poll_until: between 15s and 45s"},
		{"ReverseFloor", "[engine]\nreverse_floor = \"5s\"", "engine.reverse_floor:"},
		{"Duration", "[engine]\npoll_until = \"soon\"", "soon"},
		{"Syntax", "[till\n", "config line"},
		{"Retention", "[storage]\nretention_days = 30", "storage.retention_days: at least 400"},
		{"TillID", "[till]\nmerchant_name = \"x\"", "till.till_id: 1 to 8 letters or digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := minimalConfig
			if !strings.HasPrefix(tc.extra, "[") {
				// a [wxpay] key: put it into that table
				src = strings.Replace(src, "[wxpay]\n", "[wxpay]\n"+tc.extra+"\n", 1)
			} else if strings.HasPrefix(tc.extra, "[till]") {
				src = strings.Replace(src, "[till]\n", tc.extra+"\n", 1)
				src = strings.Replace(src, `till_id = "T01"`, `till_id = "T-01/2"`, 1)
			} else {
				src += tc.extra + "\n"
			}
			_, err := parse(t, src)
			wantProblem(t, err, tc.want)
		})
	}
}

func TestParseConfig_NonLoopbackWithTLS(t *testing.T) {
	_, err := parse(t, minimalConfig+"[http]\nlisten = \"0.0.0.0:8443\"\ntls_cert_file = \"/c.pem\"\ntls_key_file = \"/k.pem\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"127.0.0.1:1", "[::1]:8080", "localhost:8080"} {
		if _, err := parse(t, minimalConfig+"[http]\nlisten = \""+l+"\"\n"); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
}

func TestResolveSecretPath(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "/run/credentials/posd.service")
	got, err := ResolveSecretPath("credential:api_key")
	if err != nil || got != "/run/credentials/posd.service/api_key" {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, _ := ResolveSecretPath("/etc/posd/k"); got != "/etc/posd/k" {
		t.Fatalf("plain path: %q", got)
	}
	for _, bad := range []string{"credential:", "credential:../x", "credential:a/b"} {
		if _, err := ResolveSecretPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	store := t.TempDir()
	old := credStores
	credStores = []string{store}
	t.Cleanup(func() { credStores = old })
	if _, err := ResolveSecretPath("credential:api_key"); err == nil || !strings.Contains(err.Error(), "CREDENTIALS_DIRECTORY") {
		t.Fatalf("unset dir: %v", err)
	}
	// Outside the unit, the credential store that posd.service loads from.
	writeFile(t, filepath.Join(store, "posd.api_key"), "k", 0o600)
	if got, err := ResolveSecretPath("credential:api_key"); err != nil || got != filepath.Join(store, "posd.api_key") {
		t.Fatalf("credential store fallback: %q, %v", got, err)
	}
}

// testPKI writes a key and a self-signed certificate valid from notBefore to notAfter.
func testPKI(t testing.TB, dir, name string, notBefore, notAfter time.Time) (certPath, keyPath string) {
	return testkit.PKI(t, dir, name, notBefore, notAfter)
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	testkit.WriteFile(t, path, data, mode)
}

func TestLoadSecrets(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	creds := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	_, mkey := testPKI(t, dir, "merchant", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	plat, _ := testPKI(t, dir, "platform", now.Add(-time.Hour), now.AddDate(0, 0, 40))
	old, _ := testPKI(t, dir, "old", now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0))
	writeFile(t, filepath.Join(creds, "apiv3_key"), strings.Repeat("k", 32)+"\n", 0o400)
	writeFile(t, filepath.Join(dir, "token"), "0123456789abcdef0123\n", 0o600)
	writeFile(t, filepath.Join(dir, "pin"), "246813\n", 0o600)

	base := func() Config {
		cfg, err := parse(t, minimalConfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg.WxPay.PrivateKeyFile = mkey
		cfg.WxPay.APIv3KeyFile = "credential:apiv3_key"
		cfg.WxPay.PlatformCertFiles = []string{plat}
		cfg.HTTP.APITokenFile = filepath.Join(dir, "token")
		cfg.HTTP.ManagerPINFile = filepath.Join(dir, "pin")
		return cfg
	}

	t.Run("OK", func(t *testing.T) {
		cfg := base()
		s, probs, warns := LoadSecrets(&cfg, now)
		if len(probs) != 0 {
			t.Fatalf("problems: %v", probs)
		}
		if s.PrivateKey == nil || s.APIv3Key != strings.Repeat("k", 32) || s.APIToken != "0123456789abcdef0123" || s.ManagerPIN != "246813" || len(s.PlatformCerts) != 1 {
			t.Fatalf("secrets not loaded: %+v", s)
		}
		if len(warns) != 0 {
			t.Fatalf("warnings: %v", warns)
		}
		if len(s.Certs) != 1 || s.Certs[0].DaysLeft(now) != 39 && s.Certs[0].DaysLeft(now) != 40 {
			t.Fatalf("certs: %+v", s.Certs)
		}
	})
	t.Run("ExpiringSoon", func(t *testing.T) {
		cfg := base()
		soon, _ := testPKI(t, dir, "soon", now.Add(-time.Hour), now.AddDate(0, 0, 12))
		cfg.WxPay.PlatformCertFiles = []string{soon}
		_, probs, warns := LoadSecrets(&cfg, now)
		if len(probs) != 0 || len(warns) != 1 || warns[0].Key != "wxpay.platform_cert_files[0]" || !strings.Contains(warns[0].Msg, "days left") {
			t.Fatalf("problems %v, warnings %v", probs, warns)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		cfg := base()
		cfg.WxPay.PlatformCertFiles = []string{old}
		_, probs, _ := LoadSecrets(&cfg, now)
		if len(probs) != 1 || probs[0].Key != "wxpay.platform_cert_files[0]" || !strings.Contains(probs[0].Msg, "expired") {
			t.Fatalf("problems: %v", probs)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		cfg := base()
		cfg.WxPay.PrivateKeyFile = filepath.Join(dir, "absent.pem")
		cfg.WxPay.APIv3KeyFile = "credential:nope"
		_, probs, _ := LoadSecrets(&cfg, now)
		var keys []string
		for _, p := range probs {
			keys = append(keys, p.Key)
		}
		if strings.Join(keys, ",") != "wxpay.private_key_file,wxpay.apiv3_key_file" {
			t.Fatalf("problems: %v", probs)
		}
	})
	t.Run("NotAKey", func(t *testing.T) {
		cfg := base()
		cfg.WxPay.PrivateKeyFile = plat // a certificate, not a key
		_, probs, _ := LoadSecrets(&cfg, now)
		if len(probs) != 1 || probs[0].Key != "wxpay.private_key_file" {
			t.Fatalf("problems: %v", probs)
		}
	})
	t.Run("BadPINAndToken", func(t *testing.T) {
		cfg := base()
		writeFile(t, filepath.Join(dir, "badpin"), "12ab", 0o600)
		writeFile(t, filepath.Join(dir, "short"), "abc", 0o600)
		cfg.HTTP.ManagerPINFile = filepath.Join(dir, "badpin")
		cfg.HTTP.APITokenFile = filepath.Join(dir, "short")
		_, probs, _ := LoadSecrets(&cfg, now)
		if len(probs) != 2 {
			t.Fatalf("problems: %v", probs)
		}
	})
	t.Run("V2KeyPairMismatch", func(t *testing.T) {
		cfg := base()
		c1, _ := testPKI(t, dir, "c1", now.Add(-time.Hour), now.AddDate(1, 0, 0))
		_, k2 := testPKI(t, dir, "c2", now.Add(-time.Hour), now.AddDate(1, 0, 0))
		writeFile(t, filepath.Join(dir, "apikey"), strings.Repeat("a", 32), 0o600)
		cfg.WxPay.API = "v2"
		cfg.WxPay.APIKeyFile = filepath.Join(dir, "apikey")
		cfg.WxPay.ClientCertFile = c1
		cfg.WxPay.ClientKeyFile = k2
		_, probs, _ := LoadSecrets(&cfg, now)
		if len(probs) != 1 || probs[0].Key != "wxpay.client_key_file" || !strings.Contains(probs[0].Msg, "does not match") {
			t.Fatalf("problems: %v", probs)
		}
	})
}

// Store and till ids whose out_trade_no (10-digit sequence) + refund suffix (R50) could
// exceed 32 characters are refused at config time; those that always fit are taken.
func TestParseConfig_IDsFitRefundNumbers(t *testing.T) {
	for _, tc := range []struct {
		store, till string
		ok          bool
	}{
		{"HK001", "T01", true},
		{"ABCDEFGH", "T12", true},   // 11 together: the longest that always fits
		{"ABCDEFGH", "T123", false}, // 12: R50 on a 10-digit sequence makes 33
		{"ABCDEFGH", "T1234567", false},
	} {
		src := strings.Replace(minimalConfig, `store_id = "HK001"`, `store_id = "`+tc.store+`"`, 1)
		src = strings.Replace(src, `till_id = "T01"`, `till_id = "`+tc.till+`"`, 1)
		_, err := parse(t, src)
		if tc.ok && err != nil {
			t.Errorf("%s/%s refused: %v", tc.store, tc.till, err)
		}
		if !tc.ok {
			wantProblem(t, err, "refund number could exceed 32 characters")
		}
	}
}

func TestParseConfig_TimeZone(t *testing.T) {
	c, err := parse(t, minimalConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, off := time.Date(2026, 11, 25, 12, 0, 0, 0, c.Till.Location()).Zone(); off != 8*3600 {
		t.Fatalf("default zone offset %d, want Hong Kong's +08:00", off)
	}
	c, err = parse(t, strings.Replace(minimalConfig, `till_id = "T01"`, "till_id = \"T01\"\ntime_zone = \"Asia/Singapore\"", 1))
	if err != nil || c.Till.Location().String() != "Asia/Singapore" {
		t.Fatalf("time_zone: %v %v", c.Till.Location(), err)
	}
	_, err = parse(t, strings.Replace(minimalConfig, `till_id = "T01"`, "till_id = \"T01\"\ntime_zone = \"Hong Kong\"", 1))
	wantProblem(t, err, "till.time_zone")
}
