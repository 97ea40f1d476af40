package config

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Secrets is everything posd.toml names by file, read and parsed. Values never reach logs:
// Redactor.AddSecret is called with each of them.
type Secrets struct {
	APIKey        string              // v2 API key (32 characters)
	APIv3Key      string              // v3 APIv3 key (32 bytes)
	PrivateKey    *rsa.PrivateKey     // v3 merchant key
	ClientCert    *tls.Certificate    // v2 /secapi/ mutual TLS
	PlatformCerts []*x509.Certificate // v3 pinned platform certificates
	PublicKey     *rsa.PublicKey      // v3 public-key mode
	RootCAs       *x509.CertPool      // wxpay.ca_file; nil = system roots
	APIToken      string
	ManagerPIN    string
	HTTPCert      *tls.Certificate // http.tls_*; nil = plain HTTP on loopback

	// Certs is every certificate with an expiry, for health, metrics and check-config.
	Certs []CertInfo
}

// CertInfo is one certificate posd relies on.
type CertInfo struct {
	Key      string    `json:"key"` // config key naming the file
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
}

// DaysLeft is the whole days until expiry at now (negative once expired).
func (c CertInfo) DaysLeft(now time.Time) int {
	return int(c.NotAfter.Sub(now).Hours() / 24)
}

// secretKeys are the keys whose files hold secrets: they must not be readable by others.
var secretKeys = map[string]bool{
	"wxpay.api_key_file": true, "wxpay.client_key_file": true, "wxpay.private_key_file": true,
	"wxpay.apiv3_key_file": true, "http.api_token_file": true, "http.manager_pin_file": true,
	"http.tls_key_file": true,
}

// MinPINDigits is the shortest manager PIN posd takes: with the login lockout (5 tries,
// then 1, 5, 30 minutes...) a million PINs take years to try from one address.
const MinPINDigits = 6

// loader reads the files a Config names, collecting problems (fatal) and warnings.
type loader struct {
	now      time.Time
	problems []Problem
	warnings []Problem
}

func (l *loader) bad(key, format string, args ...any) {
	l.problems = append(l.problems, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// read returns the bytes of the file named by key = value.
func (l *loader) read(key, value string) ([]byte, bool) {
	path, err := ResolveSecretPath(value)
	if err != nil {
		l.bad(key, "%v", err)
		return nil, false
	}
	fi, err := os.Stat(path)
	if err != nil {
		l.bad(key, "cannot read %s: %v", path, unwrapPathError(err))
		return nil, false
	}
	if fi.IsDir() {
		l.bad(key, "%s is a directory", path)
		return nil, false
	}
	// run and check-config refuse alike (security review): a secret another account on the
	// till can read is not a secret.
	if secretKeys[key] && !isCredential(value) && fi.Mode().Perm()&0o077 != 0 {
		l.bad(key, "%s is readable by group or others (mode %04o): run chmod 600 %s (owned by the user posd runs as), or use credential:NAME", path, fi.Mode().Perm(), path)
		return nil, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		l.bad(key, "cannot read %s: %v", path, unwrapPathError(err))
		return nil, false
	}
	return b, true
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// text reads a one-line secret, trimming the trailing newline editors add.
func (l *loader) text(key, value string) (string, bool) {
	b, ok := l.read(key, value)
	if !ok {
		return "", false
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(s) == "" {
		l.bad(key, "the file is empty")
		return "", false
	}
	return s, true
}

// certs parses every CERTIFICATE block of a PEM file and checks validity at l.now.
func (l *loader) certs(key, value string) []*x509.Certificate {
	b, ok := l.read(key, value)
	if !ok {
		return nil
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			l.bad(key, "bad certificate: %v", err)
			return nil
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		l.bad(key, "no PEM CERTIFICATE in the file")
		return nil
	}
	for _, c := range out {
		if left := c.NotAfter.Sub(l.now); left > 0 && left < 30*24*time.Hour {
			l.warnings = append(l.warnings, Problem{Key: key, Msg: fmt.Sprintf("certificate %q expires on %s (%d days left)", c.Subject.CommonName, c.NotAfter.Format("2006-01-02"), int(left.Hours()/24))})
		}
		switch {
		case l.now.After(c.NotAfter):
			l.bad(key, "certificate %q expired on %s", c.Subject.CommonName, c.NotAfter.Format("2006-01-02"))
		case l.now.Before(c.NotBefore):
			l.bad(key, "certificate %q is not valid before %s (is the clock right?)", c.Subject.CommonName, c.NotBefore.Format("2006-01-02"))
		}
	}
	return out
}

// privateKey parses an RSA key in PKCS#1 or PKCS#8 PEM.
func (l *loader) privateKey(key, value string) (*rsa.PrivateKey, []byte) {
	b, ok := l.read(key, value)
	if !ok {
		return nil, nil
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				l.bad(key, "bad RSA private key: %v", err)
				return nil, nil
			}
			return k, b
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				l.bad(key, "bad private key: %v", err)
				return nil, nil
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				l.bad(key, "not an RSA key (%T)", k)
				return nil, nil
			}
			return rk, b
		}
	}
	l.bad(key, "no PEM private key in the file")
	return nil, nil
}

// keyPair parses a certificate and its private key for TLS.
func (l *loader) keyPair(certKey, certVal, keyKey, keyVal string) *tls.Certificate {
	certs := l.certs(certKey, certVal)
	_, keyPEM := l.privateKey(keyKey, keyVal)
	if certs == nil || keyPEM == nil {
		return nil
	}
	var certPEM bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	pair, err := tls.X509KeyPair(certPEM.Bytes(), keyPEM)
	if err != nil {
		l.bad(keyKey, "does not match %s: %v", certKey, err)
		return nil
	}
	return &pair
}

// LoadSecrets reads and checks every file cfg names. problems are fatal; warnings (such as
// a key file readable by others) are logged.
func LoadSecrets(cfg *Config, now time.Time) (s *Secrets, problems, warnings []Problem) {
	l := &loader{now: now}
	s = &Secrets{}
	w := &cfg.WxPay
	addCerts := func(key string, cs []*x509.Certificate) {
		for _, c := range cs {
			s.Certs = append(s.Certs, CertInfo{Key: key, Subject: c.Subject.CommonName, NotAfter: c.NotAfter})
		}
	}

	if w.CAFile != "" {
		if cs := l.certs("wxpay.ca_file", w.CAFile); cs != nil {
			s.RootCAs = x509.NewCertPool()
			for _, c := range cs {
				s.RootCAs.AddCert(c)
			}
		}
	}
	switch w.API {
	case "v2":
		if k, ok := l.text("wxpay.api_key_file", w.APIKeyFile); ok {
			if len(k) != 32 {
				l.bad("wxpay.api_key_file", "the API key is 32 characters (the file has %d)", len(k))
			}
			s.APIKey = k
		}
		s.ClientCert = l.keyPair("wxpay.client_cert_file", w.ClientCertFile, "wxpay.client_key_file", w.ClientKeyFile)
		if s.ClientCert != nil {
			addCerts("wxpay.client_cert_file", []*x509.Certificate{s.ClientCert.Leaf})
		}
	default: // v3
		s.PrivateKey, _ = l.privateKey("wxpay.private_key_file", w.PrivateKeyFile)
		if w.APIv3KeyFile != "" {
			if k, ok := l.text("wxpay.apiv3_key_file", w.APIv3KeyFile); ok {
				if len(k) != 32 {
					l.bad("wxpay.apiv3_key_file", "the APIv3 key is 32 bytes (the file has %d)", len(k))
				}
				s.APIv3Key = k
			}
		}
		for i, f := range w.PlatformCertFiles {
			key := fmt.Sprintf("wxpay.platform_cert_files[%d]", i)
			cs := l.certs(key, f)
			s.PlatformCerts = append(s.PlatformCerts, cs...)
			addCerts(key, cs)
		}
		if w.PublicKeyFile != "" {
			s.PublicKey = l.publicKey("wxpay.public_key_file", w.PublicKeyFile)
		}
	}

	h := &cfg.HTTP
	if t, ok := l.text("http.api_token_file", h.APITokenFile); ok {
		if len(t) < 16 || strings.ContainsFunc(t, unicode.IsSpace) {
			l.bad("http.api_token_file", "the token must be at least 16 characters without spaces (generate one with: openssl rand -hex 24)")
		} else {
			s.APIToken = t
		}
	}
	if p, ok := l.text("http.manager_pin_file", h.ManagerPINFile); ok {
		p = strings.TrimSpace(p)
		if len(p) < MinPINDigits || len(p) > 12 || !digitsRE.MatchString(p) {
			l.bad("http.manager_pin_file", "the PIN must be %d to 12 digits, at least %d digits so that it cannot be guessed within the login lockout (a 4-digit PIN falls in about a week)", MinPINDigits, MinPINDigits)
		} else {
			s.ManagerPIN = p
		}
	}
	if h.TLSCertFile != "" && h.TLSKeyFile != "" {
		s.HTTPCert = l.keyPair("http.tls_cert_file", h.TLSCertFile, "http.tls_key_file", h.TLSKeyFile)
		if s.HTTPCert != nil {
			addCerts("http.tls_cert_file", []*x509.Certificate{s.HTTPCert.Leaf})
		}
	}
	sort.SliceStable(s.Certs, func(i, j int) bool { return s.Certs[i].NotAfter.Before(s.Certs[j].NotAfter) })
	return s, l.problems, l.warnings
}

// publicKey parses WeChat Pay's RSA public key (PKIX "PUBLIC KEY" PEM).
func (l *loader) publicKey(key, value string) *rsa.PublicKey {
	b, ok := l.read(key, value)
	if !ok {
		return nil
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		l.bad(key, "no PEM public key in the file")
		return nil
	}
	var pub crypto.PublicKey
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		err = fmt.Errorf("PEM block %q is not a public key", blk.Type)
	}
	if err != nil {
		l.bad(key, "bad public key: %v", err)
		return nil
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		l.bad(key, "not an RSA public key (%T)", pub)
		return nil
	}
	return rk
}

// SecretValues lists the secret strings the log redactor must never let through.
func (s *Secrets) SecretValues() []string {
	return []string{s.APIKey, s.APIv3Key, s.APIToken}
}

// APIAccess reads what a command on the till needs to call the running daemon's local
// API: the bearer token and, when posd listens with TLS, its certificate (to trust it).
func APIAccess(cfg *Config) (token string, cert *tls.Certificate, err error) {
	l := &loader{now: time.Now()}
	token, ok := l.text("http.api_token_file", cfg.HTTP.APITokenFile)
	if cfg.HTTP.TLSCertFile != "" && cfg.HTTP.TLSKeyFile != "" {
		cert = l.keyPair("http.tls_cert_file", cfg.HTTP.TLSCertFile, "http.tls_key_file", cfg.HTTP.TLSKeyFile)
	}
	if len(l.problems) > 0 || !ok {
		return "", nil, &ConfigError{l.problems}
	}
	return token, cert, nil
}
