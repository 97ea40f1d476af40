package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/sirupsen/logrus"

	"posd/printer"
	"posd/queue/engine"
	"posd/scanner"
)

// DefaultConfigPath is where `posd run` looks when -config is not given (interfaces.md).
const DefaultConfigPath = "/etc/posd/posd.toml"

// Config is the whole of posd.toml. Names are the contract of interfaces.md; keys added here
// (engine, log.dir, http.tls_*, ...) extend it without renaming anything.
type Config struct {
	Till      TillConfig       `toml:"till"`
	WxPay     WxPayConfig      `toml:"wxpay"`
	Scanner   []scanner.Config `toml:"scanner"`
	Printer   printer.Config   `toml:"printer"`
	Storage   StorageConfig    `toml:"storage"`
	HTTP      HTTPConfig       `toml:"http"`
	Log       LogConfig        `toml:"log"`
	Engine    EngineConfig     `toml:"engine"`
	Reconcile ReconcileConfig  `toml:"reconcile"`
}

// ReconcileConfig is the daily reconciliation against WeChat's statement.
type ReconcileConfig struct {
	Auto       bool     `toml:"auto"`        // reconcile yesterday once the statement is ready
	ReadyAfter Duration `toml:"ready_after"` // after midnight HKT (WeChat: from 10:00)
	Retry      Duration `toml:"retry"`       // while not ready or WeChat is unreachable
}

// TillConfig identifies the till.
type TillConfig struct {
	StoreID      string `toml:"store_id"`
	TillID       string `toml:"till_id"`
	MerchantName string `toml:"merchant_name"`
}

// WxPayConfig is the WeChat Pay account and dialect.
type WxPayConfig struct {
	API                  string   `toml:"api"`
	BaseURL              string   `toml:"base_url"`
	BackupBaseURL        string   `toml:"backup_base_url"`
	CAFile               string   `toml:"ca_file"`
	Currency             string   `toml:"currency"`
	MerchantCategoryCode string   `toml:"merchant_category_code"`
	AppID                string   `toml:"appid"`
	MchID                string   `toml:"mch_id"`
	SubMchID             string   `toml:"sub_mch_id"`
	SubAppID             string   `toml:"sub_appid"`
	APIKeyFile           string   `toml:"api_key_file"`
	SignType             string   `toml:"sign_type"`
	ClientCertFile       string   `toml:"client_cert_file"`
	ClientKeyFile        string   `toml:"client_key_file"`
	PrivateKeyFile       string   `toml:"private_key_file"`
	MerchantSerialNo     string   `toml:"merchant_serial_no"`
	APIv3KeyFile         string   `toml:"apiv3_key_file"`
	PlatformCertFiles    []string `toml:"platform_cert_files"`
	PublicKeyFile        string   `toml:"public_key_file"`
	PublicKeyID          string   `toml:"public_key_id"`
}

// StorageConfig is the journal.
type StorageConfig struct {
	Path          string `toml:"path"`
	RetentionDays int    `toml:"retention_days"` // sales older than this are pruned (at least 400)
}

// HTTPConfig is the local API and web UI.
type HTTPConfig struct {
	Listen         string `toml:"listen"`
	APITokenFile   string `toml:"api_token_file"`
	ManagerPINFile string `toml:"manager_pin_file"`
	TLSCertFile    string `toml:"tls_cert_file"`
	TLSKeyFile     string `toml:"tls_key_file"`
	// AllowedHosts are host names browsers may use for the UI besides IP literals and
	// localhost (the UI refuses other Host headers: DNS rebinding).
	AllowedHosts []string `toml:"allowed_hosts"`
}

// LogConfig is logging.
type LogConfig struct {
	Level        string `toml:"level"`
	Format       string `toml:"format"`
	Dir          string `toml:"dir"`            // posd.log; default $LOGS_DIRECTORY or /var/log/posd
	FileMaxBytes int64  `toml:"file_max_bytes"` // 0: no log file; logrotate rotates it (/etc/logrotate.d/posd)
	FileKeep     int    `toml:"file_keep"`      // unused: logrotate's "rotate" keeps the copies
	RingSize     int    `toml:"ring_size"`      // entries kept in memory for the UI
}

// EngineConfig tunes the payment engine within WeChat's rules (payment-policy.md).
type EngineConfig struct {
	PollUntil    Duration `toml:"poll_until"`
	ReverseFloor Duration `toml:"reverse_floor"`
	QueueRate    float64  `toml:"queue_rate"`
}

// Duration is a time.Duration written as "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses "30s", "1m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like \"30s\": %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// DefaultConfig is every default of interfaces.md. Directory defaults follow systemd's
// StateDirectory=/LogsDirectory= when those variables are set.
func DefaultConfig() Config {
	state := "/var/lib/posd"
	if d := firstDir(os.Getenv("STATE_DIRECTORY")); d != "" {
		state = d
	}
	logs := "/var/log/posd"
	if d := firstDir(os.Getenv("LOGS_DIRECTORY")); d != "" {
		logs = d
	}
	return Config{
		WxPay: WxPayConfig{
			API:                  "v3-global",
			BaseURL:              "https://apihk.mch.weixin.qq.com",
			Currency:             "HKD",
			MerchantCategoryCode: "5411",
			SignType:             "HMAC-SHA256",
		},
		Printer: printer.Config{Kind: "none", Encoding: "big5", Columns: 42},
		Storage: StorageConfig{Path: filepath.Join(state, "posd.db"), RetentionDays: 400},
		HTTP: HTTPConfig{
			Listen:         "127.0.0.1:8080",
			APITokenFile:   "/etc/posd/api_token",
			ManagerPINFile: "/etc/posd/manager_pin",
		},
		Log: LogConfig{
			Level: "info", Format: "text", Dir: logs,
			FileMaxBytes: 10 << 20, FileKeep: 5, RingSize: 1000,
		},
		Engine: EngineConfig{
			PollUntil:    Duration{30 * time.Second},
			ReverseFloor: Duration{15 * time.Second},
			QueueRate:    5,
		},
		Reconcile: ReconcileConfig{Auto: true, ReadyAfter: Duration{10 * time.Hour}, Retry: Duration{30 * time.Minute}},
	}
}

// firstDir takes the first of systemd's colon-separated directory list.
func firstDir(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Problem is one thing wrong with the configuration, naming the key at fault.
type Problem struct {
	Key string
	Msg string
}

func (p Problem) String() string { return p.Key + ": " + p.Msg }

// ConfigError lists every problem found, so IT fixes the file in one go.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ReadConfigFile opens and parses path.
func ReadConfigFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &ConfigError{[]Problem{{"config", fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))}}}
	}
	defer f.Close()
	return ParseConfig(f)
}

// ParseConfig decodes TOML over the defaults, refuses unknown keys, and validates.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	// Scanner tables get their defaults after decoding: TOML arrays replace the slice.
	md, err := toml.NewDecoder(r).Decode(&cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			key := "config"
			if pe.Position.Line > 0 {
				key = fmt.Sprintf("config line %d", pe.Position.Line)
			}
			return Config{}, &ConfigError{[]Problem{{key, pe.Message}}}
		}
		return Config{}, &ConfigError{[]Problem{{"config", err.Error()}}}
	}
	var probs []Problem
	for _, k := range md.Undecoded() {
		probs = append(probs, Problem{k.String(), "unknown key"})
	}
	probs = append(probs, cfg.Validate()...)
	if len(probs) > 0 {
		return cfg, &ConfigError{probs}
	}
	return cfg, nil
}

var (
	idRE       = regexp.MustCompile(`^[0-9A-Za-z]{1,8}$`)
	digitsRE   = regexp.MustCompile(`^[0-9]+$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	serialNoRE = regexp.MustCompile(`^[0-9A-Fa-f]{8,64}$`)
	// scannerKeyRE: a scanner.Config error starting with one of its keys.
	scannerKeyRE = regexp.MustCompile(`^(device|baud|vendor_id|product_id|mode|keymap|layout|data_bits|parity|stop_bits|terminator|inter_key_gap|interface|name)$`)
)

// Validate checks values that do not need the files they name (check-config does those).
func (c *Config) Validate() []Problem {
	var p []Problem
	bad := func(key, format string, args ...any) { p = append(p, Problem{key, fmt.Sprintf(format, args...)}) }
	oneOf := func(key, v string, allowed ...string) bool {
		for _, a := range allowed {
			if v == a {
				return true
			}
		}
		bad(key, "must be one of %s (got %q)", strings.Join(allowed, ", "), v)
		return false
	}
	required := func(key, v string) bool {
		if strings.TrimSpace(v) == "" {
			bad(key, "required")
			return false
		}
		return true
	}

	// out_trade_no carries store and till ids and is at most 32 characters.
	if required("till.store_id", c.Till.StoreID) && !idRE.MatchString(c.Till.StoreID) {
		bad("till.store_id", "1 to 8 letters or digits (it is part of out_trade_no)")
	}
	if required("till.till_id", c.Till.TillID) && !idRE.MatchString(c.Till.TillID) {
		bad("till.till_id", "1 to 8 letters or digits (it is part of out_trade_no)")
	}
	if idRE.MatchString(c.Till.StoreID) && idRE.MatchString(c.Till.TillID) {
		if err := engine.CheckIDs(c.Till.StoreID, c.Till.TillID); err != nil {
			bad("till.till_id", "%v", err)
		}
	}
	if len(c.Till.MerchantName) > 127 {
		bad("till.merchant_name", "at most 127 characters")
	}

	w := &c.WxPay
	oneOf("wxpay.api", w.API, "v3-global", "v3-hk", "v2")
	checkURL := func(key, v string) {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			bad(key, "must be an https:// URL (got %q)", v)
		}
	}
	if required("wxpay.base_url", w.BaseURL) {
		checkURL("wxpay.base_url", w.BaseURL)
	}
	if w.BackupBaseURL != "" {
		checkURL("wxpay.backup_base_url", w.BackupBaseURL)
	}
	if !currencyRE.MatchString(w.Currency) {
		bad("wxpay.currency", "a 3-letter ISO 4217 code such as HKD (got %q)", w.Currency)
	}
	required("wxpay.appid", w.AppID)
	if required("wxpay.mch_id", w.MchID) && !digitsRE.MatchString(w.MchID) {
		bad("wxpay.mch_id", "digits only (got %q)", w.MchID)
	}
	if w.SubMchID != "" && !digitsRE.MatchString(w.SubMchID) {
		bad("wxpay.sub_mch_id", "digits only (got %q)", w.SubMchID)
	}
	if w.SubAppID != "" && w.SubMchID == "" {
		bad("wxpay.sub_appid", "only with wxpay.sub_mch_id (service-provider mode)")
	}
	switch w.API {
	case "v2":
		required("wxpay.api_key_file", w.APIKeyFile)
		oneOf("wxpay.sign_type", w.SignType, "HMAC-SHA256", "MD5")
		// Reverse and refund are /secapi/ calls: mutual TLS is not optional.
		required("wxpay.client_cert_file", w.ClientCertFile)
		required("wxpay.client_key_file", w.ClientKeyFile)
	case "v3-global", "v3-hk":
		required("wxpay.private_key_file", w.PrivateKeyFile)
		if required("wxpay.merchant_serial_no", w.MerchantSerialNo) && !serialNoRE.MatchString(w.MerchantSerialNo) {
			bad("wxpay.merchant_serial_no", "the certificate serial number in hex (got %q)", w.MerchantSerialNo)
		}
		if w.MerchantCategoryCode != "" && (len(w.MerchantCategoryCode) != 4 || !digitsRE.MatchString(w.MerchantCategoryCode)) {
			bad("wxpay.merchant_category_code", "4 digits (got %q)", w.MerchantCategoryCode)
		}
		if w.PublicKeyFile != "" && w.PublicKeyID == "" {
			bad("wxpay.public_key_id", "required with wxpay.public_key_file")
		}
		if w.PublicKeyID != "" && w.PublicKeyFile == "" {
			bad("wxpay.public_key_file", "required with wxpay.public_key_id")
		}
		// Without pinned certificates or a public key, platform certificates are downloaded,
		// and they arrive encrypted with the APIv3 key.
		if len(w.PlatformCertFiles) == 0 && w.PublicKeyFile == "" {
			if w.APIv3KeyFile == "" {
				bad("wxpay.apiv3_key_file", "required unless wxpay.platform_cert_files or wxpay.public_key_file is set")
			}
		}
	}

	for i, s := range c.Scanner {
		k := fmt.Sprintf("scanner[%d]", i)
		if s.Kind != "serial" && s.Kind != "hid" {
			oneOf(k+".kind", s.Kind, "serial", "hid")
			continue
		}
		if s.Kind == "serial" && s.Device == "" && s.VendorID == "" {
			bad(k+".device", "required (or vendor_id and product_id to find the port)")
			continue
		}
		if err := s.Validate(); err != nil {
			// scanner.Config names the entry itself; keep only the reason.
			msg := strings.TrimPrefix(err.Error(), "scanner "+s.DisplayName()+": ")
			key := k
			if f, rest, ok := strings.Cut(msg, ": "); ok && scannerKeyRE.MatchString(f) {
				key, msg = k+"."+f, rest
			} else if f, _, ok := strings.Cut(msg, " "); ok && scannerKeyRE.MatchString(f) {
				key = k + "." + f
			}
			bad(key, "%s", msg)
		}
	}

	pr := &c.Printer
	if pr.Kind == "tcp" && pr.Address != "" {
		if _, port, err := net.SplitHostPort(pr.Address); err != nil || port == "" {
			bad("printer.address", "host:port such as 192.168.1.50:9100 (got %q)", pr.Address)
		}
	}
	if err := pr.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if key, msg, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(key, "printer.") {
				bad(key, "%s", msg)
			} else {
				bad("printer", "%s", line)
			}
		}
	}

	required("storage.path", c.Storage.Path)
	if c.Storage.RetentionDays < 400 {
		bad("storage.retention_days", "at least 400 (refunds are allowed for a year; got %d)", c.Storage.RetentionDays)
	}

	h := &c.HTTP
	if required("http.listen", h.Listen) {
		host, _, err := net.SplitHostPort(h.Listen)
		switch {
		case err != nil:
			bad("http.listen", "host:port such as 127.0.0.1:8080 (got %q)", h.Listen)
		case !isLoopback(host) && (h.TLSCertFile == "" || h.TLSKeyFile == ""):
			bad("http.listen", "%q is not a loopback address: set http.tls_cert_file and http.tls_key_file, or listen on 127.0.0.1", h.Listen)
		}
	}
	if (h.TLSCertFile == "") != (h.TLSKeyFile == "") {
		bad("http.tls_cert_file", "http.tls_cert_file and http.tls_key_file go together")
	}
	required("http.api_token_file", h.APITokenFile)
	required("http.manager_pin_file", h.ManagerPINFile)

	if _, err := logrus.ParseLevel(c.Log.Level); err != nil {
		oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	}
	oneOf("log.format", c.Log.Format, "text", "json")
	if c.Log.FileMaxBytes < 0 || (c.Log.FileMaxBytes > 0 && c.Log.FileMaxBytes < 64<<10) {
		bad("log.file_max_bytes", "0 (no log file) or at least 65536 (got %d)", c.Log.FileMaxBytes)
	}
	if c.Log.FileKeep < 0 || c.Log.FileKeep > 100 {
		bad("log.file_keep", "between 0 and 100 (got %d)", c.Log.FileKeep)
	}
	if c.Log.RingSize < 0 || c.Log.RingSize > 100000 {
		bad("log.ring_size", "between 0 and 100000 (got %d)", c.Log.RingSize)
	}

	e := &c.Engine
	// payment-policy.md: reverse no earlier than 15 s, and settle within 45 s.
	if e.PollUntil.Duration < 15*time.Second || e.PollUntil.Duration > 45*time.Second {
		bad("engine.poll_until", "between 15s and 45s (got %s)", e.PollUntil.Duration)
	}
	if e.ReverseFloor.Duration < 15*time.Second || e.ReverseFloor.Duration > e.PollUntil.Duration {
		bad("engine.reverse_floor", "at least 15s and at most engine.poll_until (got %s)", e.ReverseFloor.Duration)
	}
	if e.QueueRate <= 0 || e.QueueRate > 100 {
		bad("engine.queue_rate", "calls per second, above 0 and at most 100 (got %g)", e.QueueRate)
	}
	r := &c.Reconcile
	if r.ReadyAfter.Duration < 0 || r.ReadyAfter.Duration >= 24*time.Hour {
		bad("reconcile.ready_after", "a time after midnight below 24h, such as \"10h\" (got %s)", r.ReadyAfter.Duration)
	}
	if r.Retry.Duration < time.Minute {
		bad("reconcile.retry", "at least 1m (got %s)", r.Retry.Duration)
	}
	return p
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// credStores are systemd's credential stores. posd.service loads "credential:NAME" from
// posd.NAME there, so tools run by hand (check-config, report) find the same files.
var credStores = []string{"/etc/credstore", "/run/credstore"}

// ResolveSecretPath maps "credential:NAME" to $CREDENTIALS_DIRECTORY/NAME (systemd
// LoadCredential=); other values are file paths. Outside the unit (no
// $CREDENTIALS_DIRECTORY) it falls back to posd.NAME in the credential store, which is
// readable by root only.
func ResolveSecretPath(v string) (string, error) {
	name, ok := strings.CutPrefix(v, "credential:")
	if !ok {
		return v, nil
	}
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", fmt.Errorf("bad credential name %q", name)
	}
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		for _, store := range credStores {
			p := filepath.Join(store, "posd."+name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s needs $CREDENTIALS_DIRECTORY (LoadCredential=%s:... in the unit), or run as root with %s/posd.%s", v, name, credStores[0], name)
	}
	return filepath.Join(dir, name), nil
}

// isCredential reports whether v comes from systemd's credential store, whose copies are
// private to the unit whatever their mode says.
func isCredential(v string) bool { return strings.HasPrefix(v, "credential:") }
