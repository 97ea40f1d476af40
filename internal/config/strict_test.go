package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// check-config is as strict as run (security review): a port out of range, a secret file
// readable by group or others, a short PIN and a certificate with somebody else's key
// are refused, each with the reason and what to do.
func TestSecurity_CheckConfigStrict(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:http", "127.0.0.1:-1"} {
		_, err := parse(t, minimalConfig+"[http]\nlisten = \""+listen+"\"\n")
		if ps := problems(err); len(ps) != 1 || !strings.HasPrefix(ps[0], "http.listen: ") || !strings.Contains(ps[0], "1 to 65535") {
			t.Errorf("listen %s: %v", listen, err)
		}
	}

	now := time.Now()
	dir := t.TempDir()
	_, mkey := testPKI(t, dir, "merchant", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	writeFile(t, filepath.Join(dir, "apiv3"), strings.Repeat("k", 32), 0o600)
	writeFile(t, filepath.Join(dir, "token"), "0123456789abcdef0123\n", 0o600)
	writeFile(t, filepath.Join(dir, "pin"), "246813\n", 0o600)
	base := func() Config {
		cfg, err := parse(t, minimalConfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg.WxPay.PrivateKeyFile = mkey
		cfg.WxPay.APIv3KeyFile = filepath.Join(dir, "apiv3")
		cfg.HTTP.APITokenFile = filepath.Join(dir, "token")
		cfg.HTTP.ManagerPINFile = filepath.Join(dir, "pin")
		return cfg
	}
	cfg := base()
	if _, probs, warns := LoadSecrets(&cfg, now); len(probs)+len(warns) != 0 {
		t.Fatalf("good secrets: %v %v", probs, warns)
	}
	for _, tc := range []struct{ key, file string }{
		{"http.api_token_file", "token"}, {"http.manager_pin_file", "pin"},
		{"wxpay.apiv3_key_file", "apiv3"}, {"wxpay.private_key_file", "merchant.key"},
	} {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
			p := filepath.Join(dir, tc.file)
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			cfg := base()
			_, probs, _ := LoadSecrets(&cfg, now)
			all := fmt.Sprint(probs)
			if len(probs) != 1 || probs[0].Key != tc.key || !strings.Contains(all, "chmod 600 "+p) {
				t.Errorf("%s mode %04o: %s", tc.key, mode, all)
			}
			if err := os.Chmod(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, pin := range []string{"2468", "12345"} {
		writeFile(t, filepath.Join(dir, "short"), pin+"\n", 0o600)
		cfg := base()
		cfg.HTTP.ManagerPINFile = filepath.Join(dir, "short")
		_, probs, _ := LoadSecrets(&cfg, now)
		if len(probs) != 1 || probs[0].Key != "http.manager_pin_file" || !strings.Contains(probs[0].Msg, "at least 6 digits") {
			t.Errorf("PIN %s: %v", pin, probs)
		}
	}
	// The HTTPS certificate with another certificate's key.
	crt, _ := testPKI(t, dir, "till", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	_, otherKey := testPKI(t, dir, "other", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	cfg = base()
	cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile = crt, otherKey
	if _, probs, _ := LoadSecrets(&cfg, now); len(probs) != 1 || probs[0].Key != "http.tls_key_file" || !strings.Contains(probs[0].Msg, "does not match") {
		t.Errorf("mismatched pair: %v", probs)
	}
}

// A listen address other machines can reach needs TLS; the error says what to set.
func TestSecurity_NonLoopbackListenNeedsTLS(t *testing.T) {
	for _, l := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.10:8080", "till1.shop.lan:8080", "127.0.0.1.evil.example:80"} {
		_, err := parse(t, minimalConfig+"[http]\nlisten = \""+l+"\"\n")
		wantProblem(t, err, "is not a loopback address: set http.tls_cert_file and http.tls_key_file")
		// Half a pair is not TLS either.
		_, err = parse(t, minimalConfig+"[http]\nlisten = \""+l+"\"\ntls_cert_file = \"/c.pem\"\n")
		wantProblem(t, err, "http.listen")
	}
}
