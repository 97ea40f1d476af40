package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"posd/internal/check"
	"posd/internal/logging"
	"posd/printer"
	"posd/queue/engine"
	"posd/scanner"
	"posd/wxpay"
)

// DefaultConfigPath is where `posd run` looks when -config is not given (interfaces.md).
const DefaultConfigPath = "/etc/posd/posd.toml"

// Config is the whole of posd.toml. Names are the contract of interfaces.md; keys added here
// (engine, log.dir, http.tls_*, ...) extend it without renaming anything.
type Config struct {
	Till      TillConfig       `toml:"till"`
	WxPay     wxpay.Section    `toml:"wxpay"`
	Scanner   []scanner.Config `toml:"scanner"`
	Printer   printer.Config   `toml:"printer"`
	Storage   StorageConfig    `toml:"storage"`
	HTTP      HTTPConfig       `toml:"http"`
	Log       logging.Config   `toml:"log"`
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
		WxPay: wxpay.Section{
			API:                  "v3-global",
			BaseURL:              "https://apihk.mch.weixin.qq.com",
			Currency:             wxpay.DefaultCurrency,
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
		Log: logging.Config{
			Level: "info", Format: "text", Dir: logs,
			FileMaxBytes: 10 << 20, FileKeep: 5, RingSize: 1000,
		},
		Engine: EngineConfig{
			PollUntil:    Duration{30 * time.Second},
			ReverseFloor: Duration{15 * time.Second},
			QueueRate:    20,
		},
		Reconcile: ReconcileConfig{Auto: true, ReadyAfter: Duration{10 * time.Hour}, Retry: Duration{30 * time.Minute}},
	}
}

// Location is the till's time zone: sales belong to the day they were made on in it,
// receipts and reports print its time. The daemon opens the journal with it, and every
// other part takes it from the journal.
func (c *Config) Location() *time.Location { return engine.HongKong() }

// firstDir takes the first of systemd's colon-separated directory list.
func firstDir(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Problem is one thing wrong with the configuration, naming the key at fault.
type Problem = check.Problem

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
		return Config{}, &ConfigError{[]Problem{{Key: "config", Msg: fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))}}}
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
			return Config{}, &ConfigError{[]Problem{{Key: key, Msg: pe.Message}}}
		}
		return Config{}, &ConfigError{[]Problem{{Key: "config", Msg: err.Error()}}}
	}
	var probs []Problem
	for _, k := range md.Undecoded() {
		probs = append(probs, Problem{Key: k.String(), Msg: "unknown key"})
	}
	probs = append(probs, cfg.Validate()...)
	if len(probs) > 0 {
		return cfg, &ConfigError{probs}
	}
	return cfg, nil
}

var (
	idRE     = regexp.MustCompile(`^[0-9A-Za-z]{1,8}$`)
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
)

// Validate checks values that do not need the files they name (check-config does those).
// Each section that belongs to a package is checked by that package; the keys come back
// structured, with the section's prefix put in front here.
func (c *Config) Validate() []Problem {
	var p []Problem
	p = append(p, c.tillProblems()...)
	p = append(p, check.Under("wxpay.", c.WxPay.Problems())...)
	for i, s := range c.Scanner {
		p = append(p, check.Under(fmt.Sprintf("scanner[%d].", i), s.Problems())...)
	}
	p = append(p, check.Under("printer.", c.Printer.Problems())...)
	p = append(p, c.storageProblems()...)
	p = append(p, c.httpProblems()...)
	p = append(p, check.Under("log.", c.Log.Problems())...)
	p = append(p, c.engineProblems()...)
	return p
}

func (c *Config) tillProblems() []Problem {
	var p check.List
	bad, required := p.Add, p.Required

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
	return p
}

func (c *Config) storageProblems() []Problem {
	var p check.List
	bad, required := p.Add, p.Required

	required("storage.path", c.Storage.Path)
	if c.Storage.RetentionDays < 400 {
		bad("storage.retention_days", "at least 400 (refunds are allowed for a year; got %d)", c.Storage.RetentionDays)
	}
	return p
}

func (c *Config) httpProblems() []Problem {
	var p check.List
	bad, required := p.Add, p.Required

	h := &c.HTTP
	if required("http.listen", h.Listen) {
		host, _, err := net.SplitHostPort(h.Listen)
		switch {
		case err != nil:
			bad("http.listen", "host:port such as 127.0.0.1:8080 (got %q)", h.Listen)
		case !IsLoopback(host) && (h.TLSCertFile == "" || h.TLSKeyFile == ""):
			bad("http.listen", "%q is not a loopback address: set http.tls_cert_file and http.tls_key_file, or listen on 127.0.0.1", h.Listen)
		}
	}
	if (h.TLSCertFile == "") != (h.TLSKeyFile == "") {
		bad("http.tls_cert_file", "http.tls_cert_file and http.tls_key_file go together")
	}
	required("http.api_token_file", h.APITokenFile)
	required("http.manager_pin_file", h.ManagerPINFile)
	return p
}

// engineProblems checks [engine] and [reconcile].
func (c *Config) engineProblems() []Problem {
	var p check.List
	bad := p.Add

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

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
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
