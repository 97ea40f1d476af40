package main

// Test helpers shared by the end-to-end, CLI and security tests. The config and logging
// packages have their own copies: test files do not cross package boundaries.

import (
	"bytes"
	"os"
	"posd/internal/testkit"
	"strings"
	"testing"
	"time"

	"posd/internal/config"
	"posd/internal/logging"
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

func parse(t *testing.T, s string) (config.Config, error) {
	t.Helper()
	return config.ParseConfig(strings.NewReader(s))
}

// testPKI writes a key and a self-signed certificate valid from notBefore to notAfter.
func testPKI(t testing.TB, dir, name string, notBefore, notAfter time.Time) (certPath, keyPath string) {
	return testkit.PKI(t, dir, name, notBefore, notAfter)
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	testkit.WriteFile(t, path, data, mode)
}

func newTestLogging(t *testing.T, cfg logging.Config, journal bool) (*logging.Logging, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := logging.NewLogging(cfg, &buf, journal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, &buf
}
