package wxpay

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"posd/internal/discard"
)

// API dialect names, as in the [wxpay] api config key.
const (
	APIv3Global = "v3-global" // Multi-Wallet on /v3/global/... (default)
	APIv3HK     = "v3-hk"     // legacy Multi-Wallet on /hk/v3/...
	APIv2       = "v2"        // cross-border XML API
)

// v2 signature types (the exact strings WeChat expects in sign_type).
const (
	SignTypeHMACSHA256 = "HMAC-SHA256"
	SignTypeMD5        = "MD5"
)

// Config is the [wxpay] section with its files loaded. Only the fields of the chosen API
// matter; New checks that they are present.
type Config struct {
	API           string         // APIv3Global (default), APIv3HK or APIv2
	BaseURL       string         // e.g. https://apihk.mch.weixin.qq.com
	BackupBaseURL string         // optional; tried only when BaseURL cannot be dialled
	PathPrefix    string         // v3 only: overrides the dialect's prefix (/v3/global, /hk/v3)
	RootCAs       *x509.CertPool // nil: system roots

	Currency             string // ISO 4217, default HKD
	MerchantCategoryCode string // v3 micropay merchant_category_code
	// NotifyURL is sent with QR Code Payment orders because WeChat requires it; posd
	// never listens on it (a till behind NAT cannot be reached) and polls instead.
	NotifyURL string
	AppID     string
	MchID     string
	SubMchID  string // non-empty: institutional (service provider) mode
	SubAppID  string

	// v2 credentials.
	APIKey     string           // 32-char API key
	SignType   string           // SignTypeHMACSHA256 (default) or SignTypeMD5
	ClientCert *tls.Certificate // mutual TLS for /secapi/ (reverse, refund)

	// v3 credentials.
	PrivateKey       *rsa.PrivateKey
	MerchantSerialNo string              // serial of the merchant API certificate
	APIv3Key         string              // 32 bytes; decrypts downloaded platform certificates
	PlatformCerts    []*x509.Certificate // pinned: never downloaded when set
	PublicKey        *rsa.PublicKey      // WeChat Pay public-key mode, with PublicKeyID
	PublicKeyID      string              // PUB_KEY_ID_...
	CertRefresh      time.Duration       // platform certificate refresh interval, default 12h

	// Defaults for scene_info / device_info when a PayRequest leaves them empty.
	DeviceID     string
	StoreID      string
	StoreName    string
	StoreAddress string
	ClientIP     string // the till's IP (spbill_create_ip, device_ip)

	Timeouts          Timeouts
	MaxResponseBytes  int64 // default DefaultMaxResponseBytes
	MaxStatementBytes int64 // default DefaultMaxStatementBytes
	Observer          Observer
	Logger            logrus.FieldLogger // default: discard

	// Injection points for tests and benchmarks.
	Now          func() time.Time  // default time.Now
	Nonce        func() string     // default: 32 random alphanumerics
	RoundTripper http.RoundTripper // replaces the HTTPS transport (in-memory benchmarks)
	// SecRoundTripper replaces the mutual-TLS transport of v2 /secapi/ calls.
	SecRoundTripper http.RoundTripper
}

// CertificateExpirer is implemented by the v3 client: the soonest expiry among the platform
// certificates in use (zero when unknown, e.g. public-key mode), for /healthz and metrics.
type CertificateExpirer interface {
	CertificateExpiry() time.Time
}

// CertificateRefresher is implemented by the v3 client: download the platform
// certificates now (a no-op with pinned certificates or a public key), for a daemon timer
// or `posd check-config`. Calls refresh stale certificates by themselves as well.
type CertificateRefresher interface {
	RefreshCertificates(ctx context.Context) error
}

// New builds the Client of cfg.API.
func New(cfg Config) (Client, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	switch cfg.API {
	case APIv3Global, APIv3HK:
		return newV3(cfg)
	case APIv2:
		return newV2(cfg)
	default:
		return nil, fmt.Errorf("wxpay: unknown api %q (want %q, %q or %q)", cfg.API, APIv3Global, APIv3HK, APIv2)
	}
}

func (c *Config) fill() error {
	if c.API == "" {
		c.API = APIv3Global
	}
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.MchID == "" {
		return errors.New("wxpay: mch_id is empty")
	}
	if c.AppID == "" {
		return errors.New("wxpay: appid is empty")
	}
	if c.BaseURL == "" {
		return errors.New("wxpay: base_url is empty")
	}
	c.Timeouts = c.Timeouts.withDefaults()
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxStatementBytes <= 0 {
		c.MaxStatementBytes = DefaultMaxStatementBytes
	}
	if c.CertRefresh <= 0 {
		c.CertRefresh = 12 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Nonce == nil {
		c.Nonce = randomNonce
	}
	if c.Logger == nil {
		c.Logger = discard.Logger()
	}
	c.Logger = c.Logger.WithField("component", "wxpay")
	return nil
}

func (c *Config) institutional() bool { return c.SubMchID != "" }

func (c *Config) transportConfig(clientCert *tls.Certificate, rt http.RoundTripper) transportConfig {
	return transportConfig{
		BaseURL:       c.BaseURL,
		BackupBaseURL: c.BackupBaseURL,
		RootCAs:       c.RootCAs,
		ClientCert:    clientCert,
		RoundTripper:  rt,
		DialTimeout:   c.Timeouts.Dial,
		Observer:      c.Observer,
	}
}

// infoEnabled tells whether Info entries would be written, so the payment path does not
// build log fields for a silent logger.
func infoEnabled(l logrus.FieldLogger) bool {
	switch x := l.(type) {
	case *logrus.Entry:
		return x.Logger.IsLevelEnabled(logrus.InfoLevel)
	case *logrus.Logger:
		return x.IsLevelEnabled(logrus.InfoLevel)
	}
	return true
}
