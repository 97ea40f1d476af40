package demo

import (
	"path/filepath"
	"regexp"
	"testing"

	"posd/wxpay/wxpaytest"
)

// TestConfigPointsAtTheSimulator: the demo's configuration points at the simulator with
// its credentials (held in memory: no key files), uses virtual devices and fresh secrets.
func TestConfigPointsAtTheSimulator(t *testing.T) {
	sim, err := wxpaytest.Start(wxpaytest.Options{AmountDriven: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	cfg, s, err := Config(sim, dir, "127.0.0.1:0", "debug")
	if err != nil {
		t.Fatal(err)
	}
	creds := sim.Credentials()
	if cfg.WxPay.BaseURL != sim.URL() || cfg.WxPay.MchID != creds.MchID || cfg.WxPay.MerchantSerialNo != creds.MerchantSerial {
		t.Errorf("wxpay config %+v does not point at the simulator", cfg.WxPay)
	}
	if len(cfg.Scanner) != 1 || cfg.Scanner[0].Kind != "virtual" || cfg.Printer.Kind != "virtual" {
		t.Errorf("devices: scanner %+v printer kind %q, want virtual ones", cfg.Scanner, cfg.Printer.Kind)
	}
	if cfg.Storage.Path != filepath.Join(dir, "posd.db") || cfg.Log.Dir != filepath.Join(dir, "logs") || cfg.Log.Level != "debug" {
		t.Errorf("storage %q, logs %q at %q: want under %s", cfg.Storage.Path, cfg.Log.Dir, cfg.Log.Level, dir)
	}
	if s.PrivateKey == nil || len(s.PlatformCerts) != 1 || s.APIv3Key != creds.APIv3Key {
		t.Errorf("secrets lack the simulator's key, platform certificate or APIv3 key")
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.APIToken) || !regexp.MustCompile(`^[0-9]{6}$`).MatchString(s.ManagerPIN) {
		t.Errorf("token %q / PIN %q: want 32 hex digits and 6 digits", s.APIToken, s.ManagerPIN)
	}
	_, s2, err := Config(sim, dir, "127.0.0.1:0", "info")
	if err != nil {
		t.Fatal(err)
	}
	if s2.APIToken == s.APIToken {
		t.Errorf("two demos got the same API token")
	}
}
