package wxpaytest

import (
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The keys are fixed throwaway test keys (see testdata/README.md), embedded so that a
// simulator starts in microseconds instead of generating RSA keys per test.
//
//go:embed testdata/merchant_key.pem testdata/merchant_cert.pem testdata/platform_key.pem testdata/platform_cert.pem testdata/pubkey_mode_key.pem testdata/pubkey_mode_pub.pem
var keyFS embed.FS

// Default identities: the same numbers as the test vectors in docs/wxpay-v3.md §6.6.
const (
	DefaultMchID    = "1900000100"
	DefaultAppID    = "wx8888888888888888"
	DefaultSubMchID = "1900000109"
	// DefaultAPIKey is the v2 API key of the worked example in docs/wxpay-v2.md §3.3.
	DefaultAPIKey = "192006250b4c09247ec02edce69f6a2d"
	// DefaultAPIv3Key is the APIv3 key of the AEAD vector in docs/wxpay-v3.md §6.6.
	DefaultAPIv3Key    = "TESTONLYapiv3key0123456789abcdef"
	DefaultPublicKeyID = "PUB_KEY_ID_0114000000000000000000000000000001"
)

// Credentials is everything a merchant holds (and what the simulator checks against).
// All keys are throwaway test keys: never use them outside tests and demos.
type Credentials struct {
	MchID    string // direct mchid, or the institution's sp_mchid
	AppID    string // direct appid, or sp_appid
	SubMchID string // institutional mode sub_mchid
	SubAppID string // optional institutional sub_appid ("" = not checked)

	// v2 (XML)
	APIKey        string // 32-char API key for MD5 / HMAC-SHA256 signing
	ClientCertPEM []byte // merchant client certificate for /secapi/ (mutual TLS)
	ClientKeyPEM  []byte // its private key (same key as the v3 merchant key, as WeChat issues them)

	// v3 (JSON)
	MerchantKeyPEM    []byte // PKCS#8 merchant private key (apiclient_key.pem)
	MerchantCertPEM   []byte
	MerchantSerial    string         // serial_no in the Authorization header
	MerchantPublicKey *rsa.PublicKey // what the simulator verifies requests with
	APIv3Key          string         // 32 bytes, AEAD key of /certificates

	PlatformKeyPEM  []byte // the "WeChat Pay platform" private key (simulator side)
	PlatformCertPEM []byte // what a client pins or downloads from /certificates
	PlatformSerial  string

	PublicKeyID      string // public-key mode: Wechatpay-Serial of answers signed with PublicKeyPEM's key
	PublicKeyPEM     []byte // SPKI public key (public_key_file)
	PublicKeyPrivPEM []byte // the simulator's private half
}

// keys are the parsed private keys used by the server.
type keys struct {
	merchantPub *rsa.PublicKey
	platform    *rsa.PrivateKey
	pubMode     *rsa.PrivateKey
}

func mustRead(name string) []byte {
	b, err := keyFS.ReadFile("testdata/" + name)
	if err != nil {
		panic("wxpaytest: embedded key missing: " + err.Error())
	}
	return b
}

// DefaultCredentials returns the built-in throwaway credentials.
func DefaultCredentials() Credentials {
	c := Credentials{
		MchID:            DefaultMchID,
		AppID:            DefaultAppID,
		SubMchID:         DefaultSubMchID,
		APIKey:           DefaultAPIKey,
		ClientCertPEM:    mustRead("merchant_cert.pem"),
		ClientKeyPEM:     mustRead("merchant_key.pem"),
		MerchantKeyPEM:   mustRead("merchant_key.pem"),
		MerchantCertPEM:  mustRead("merchant_cert.pem"),
		APIv3Key:         DefaultAPIv3Key,
		PlatformKeyPEM:   mustRead("platform_key.pem"),
		PlatformCertPEM:  widePlatformCert(),
		PublicKeyID:      DefaultPublicKeyID,
		PublicKeyPEM:     mustRead("pubkey_mode_pub.pem"),
		PublicKeyPrivPEM: mustRead("pubkey_mode_key.pem"),
	}
	return c
}

var (
	wideOnce sync.Once
	widePEM  []byte
)

// widePlatformCert re-issues the vector platform certificate (same key, same serial) with a
// validity of 2000–2099, so that tests may run the simulator clock at any date; the vector
// certificate itself only starts on 2026-11-26. RSA PKCS#1 v1.5 is deterministic, so the
// bytes are the same on every run.
func widePlatformCert() []byte {
	wideOnce.Do(func() {
		key, err := parseRSAKey(mustRead("platform_key.pem"))
		if err != nil {
			panic("wxpaytest: platform key: " + err.Error())
		}
		orig, err := parseCert(mustRead("platform_cert.pem"))
		if err != nil {
			panic("wxpaytest: platform certificate: " + err.Error())
		}
		tmpl := &x509.Certificate{
			SerialNumber:          orig.SerialNumber,
			Subject:               orig.Subject,
			NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:              time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic("wxpaytest: platform certificate: " + err.Error())
		}
		widePEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	})
	return append([]byte(nil), widePEM...)
}

// complete fills derived fields (serials, public key) and parses the keys.
func (c *Credentials) complete() (keys, error) {
	var k keys
	def := DefaultCredentials()
	if c.MchID == "" {
		c.MchID = def.MchID
	}
	if c.AppID == "" {
		c.AppID = def.AppID
	}
	if c.SubMchID == "" {
		c.SubMchID = def.SubMchID
	}
	if c.APIKey == "" {
		c.APIKey = def.APIKey
	}
	if c.APIv3Key == "" {
		c.APIv3Key = def.APIv3Key
	}
	if len(c.APIv3Key) != 32 {
		return k, fmt.Errorf("APIv3 key must be 32 bytes, got %d", len(c.APIv3Key))
	}
	if c.MerchantKeyPEM == nil {
		c.MerchantKeyPEM, c.MerchantCertPEM = def.MerchantKeyPEM, def.MerchantCertPEM
	}
	if c.ClientCertPEM == nil {
		c.ClientCertPEM, c.ClientKeyPEM = c.MerchantCertPEM, c.MerchantKeyPEM
	}
	if c.PlatformKeyPEM == nil {
		c.PlatformKeyPEM, c.PlatformCertPEM = def.PlatformKeyPEM, def.PlatformCertPEM
	}
	if c.PublicKeyPrivPEM == nil {
		c.PublicKeyPrivPEM, c.PublicKeyPEM = def.PublicKeyPrivPEM, def.PublicKeyPEM
	}
	if c.PublicKeyID == "" {
		c.PublicKeyID = def.PublicKeyID
	}
	mcert, err := parseCert(c.MerchantCertPEM)
	if err != nil {
		return k, fmt.Errorf("merchant certificate: %w", err)
	}
	pub, ok := mcert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return k, errors.New("merchant certificate: not an RSA key")
	}
	c.MerchantPublicKey = pub
	c.MerchantSerial = serialHex(mcert)
	k.merchantPub = pub
	pcert, err := parseCert(c.PlatformCertPEM)
	if err != nil {
		return k, fmt.Errorf("platform certificate: %w", err)
	}
	c.PlatformSerial = serialHex(pcert)
	if k.platform, err = parseRSAKey(c.PlatformKeyPEM); err != nil {
		return k, fmt.Errorf("platform key: %w", err)
	}
	if k.pubMode, err = parseRSAKey(c.PublicKeyPrivPEM); err != nil {
		return k, fmt.Errorf("public-key-mode key: %w", err)
	}
	return k, nil
}

// serialHex is the serial as WeChat prints it: the serial's bytes in upper-case hex, so a
// leading zero nibble is kept (40 characters for a 20-byte serial, like openssl).
func serialHex(c *x509.Certificate) string {
	return strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
}

func parseCert(p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseRSAKey(p []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, errors.New("no PEM key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	}
	rk, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	return rk, nil
}
