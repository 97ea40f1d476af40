package wxpay

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Platform-certificate refresh limits: an unknown serial may trigger a download at most
// once a minute (a forged answer must not make the till hammer WeChat), a failed bootstrap
// is retried at most every 5 s.
const (
	certRetryInterval     = time.Minute
	certBootstrapInterval = 5 * time.Second
)

// keyStore maps Wechatpay-Serial values (platform certificate serials or a PUB_KEY_ID_...)
// to the keys that verify WeChat's answers.
type keyStore struct {
	mu      sync.RWMutex
	keys    map[string]*rsa.PublicKey
	certs   map[string]*x509.Certificate
	fetched time.Time // last successful download
	lastTry time.Time // last download attempt
	pinned  bool      // pinned certificates or public-key mode: never download

	dl sync.Mutex // one download at a time
}

func newKeyStore(cfg *Config) *keyStore {
	ks := &keyStore{keys: map[string]*rsa.PublicKey{}, certs: map[string]*x509.Certificate{}}
	for _, c := range cfg.PlatformCerts {
		if pk, ok := c.PublicKey.(*rsa.PublicKey); ok {
			s := normSerial(CertificateSerial(c))
			ks.keys[s] = pk
			ks.certs[s] = c
			ks.pinned = true
		}
	}
	if cfg.PublicKey != nil && cfg.PublicKeyID != "" {
		ks.keys[cfg.PublicKeyID] = cfg.PublicKey
		ks.pinned = true
	}
	return ks
}

func (ks *keyStore) lookup(serial string) *rsa.PublicKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if k := ks.keys[serial]; k != nil {
		return k
	}
	return ks.keys[normSerial(serial)]
}

// normSerial folds the spellings of one certificate serial (case, leading zeros), so
// "0a1b" and "A1B" find the same key. Public-key IDs are not hex and stay as they are.
func normSerial(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return s
		}
	}
	s = strings.TrimLeft(strings.ToUpper(s), "0")
	if s == "" {
		return "0"
	}
	return s
}

func (ks *keyStore) state() (n int, fetched time.Time) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return len(ks.keys), ks.fetched
}

// expiry is the soonest NotAfter among the certificates in use; zero when none is known.
func (ks *keyStore) expiry() time.Time {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	var soonest time.Time
	for _, c := range ks.certs {
		if soonest.IsZero() || c.NotAfter.Before(soonest) {
			soonest = c.NotAfter
		}
	}
	return soonest
}

// certificateList is the /certificates answer (docs/wxpay-v3.md §6.3).
type certificateList struct {
	Data []struct {
		SerialNo           string `json:"serial_no"`
		EffectiveTime      string `json:"effective_time"`
		ExpireTime         string `json:"expire_time"`
		EncryptCertificate struct {
			Algorithm      string `json:"algorithm"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
			Ciphertext     string `json:"ciphertext"`
		} `json:"encrypt_certificate"`
	} `json:"data"`
}

// decryptAEAD opens an AEAD_AES_256_GCM field: key = the APIv3 key's bytes, nonce = the
// nonce string's bytes, input = base64(ciphertext || 16-byte tag).
func decryptAEAD(apiv3Key, nonce, associatedData, ciphertextB64 string) ([]byte, error) {
	if len(apiv3Key) != 32 {
		return nil, fmt.Errorf("apiv3 key is %d bytes, want 32", len(apiv3Key))
	}
	ct, err := base64.StdEncoding.DecodeString(ciphertextB64)
	if err != nil {
		return nil, fmt.Errorf("decode ciphertext: %w", err)
	}
	block, err := aes.NewCipher([]byte(apiv3Key))
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil || len(nonce) == 0 {
		return nil, fmt.Errorf("gcm nonce of %d bytes: %v", len(nonce), err)
	}
	pt, err := gcm.Open(nil, []byte(nonce), ct, []byte(associatedData))
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return pt, nil
}

// parseCertificateList decrypts every entry and keeps the certificates valid at now.
// Decryption under the APIv3 key (known only to the merchant and WeChat) authenticates
// them; the serial inside must match the listed serial_no.
func parseCertificateList(body []byte, apiv3Key string, now time.Time) (map[string]*x509.Certificate, error) {
	var list certificateList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("parse certificate list: %w", err)
	}
	out := map[string]*x509.Certificate{}
	var errs []error
	for _, d := range list.Data {
		e := d.EncryptCertificate
		if e.Algorithm != "AEAD_AES_256_GCM" {
			errs = append(errs, fmt.Errorf("certificate %s: algorithm %q", d.SerialNo, e.Algorithm))
			continue
		}
		pemBytes, err := decryptAEAD(apiv3Key, e.Nonce, e.AssociatedData, e.Ciphertext)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s: %w", d.SerialNo, err))
			continue
		}
		certs, err := ParseCertificates(pemBytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s: %w", d.SerialNo, err))
			continue
		}
		c := certs[0]
		if s := CertificateSerial(c); !strings.EqualFold(s, d.SerialNo) {
			errs = append(errs, fmt.Errorf("certificate %s: serial inside is %s", d.SerialNo, s))
			continue
		}
		if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
			errs = append(errs, fmt.Errorf("certificate %s: not an RSA key", d.SerialNo))
			continue
		}
		if now.After(c.NotAfter) || now.Add(5*time.Minute).Before(c.NotBefore) {
			errs = append(errs, fmt.Errorf("certificate %s: not valid at %s", d.SerialNo, now.Format(time.RFC3339)))
			continue
		}
		out[normSerial(CertificateSerial(c))] = c
	}
	if len(out) == 0 {
		errs = append(errs, errors.New("no usable platform certificate"))
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ensureKeys makes sure answers can be verified before a request is sent. Without any key
// it downloads the certificates (a failure means the call is not made: its answer could
// not be trusted). With stale keys and refreshStale it refreshes, keeping the old keys on
// failure.
func (c *v3Client) ensureKeys(ctx context.Context, refreshStale bool) error {
	if c.keys.pinned {
		return nil
	}
	n, fetched := c.keys.state()
	if n == 0 {
		if err := c.refreshCertificates(ctx, certBootstrapInterval); err != nil {
			return fmt.Errorf("download platform certificates: %w", err)
		}
		return nil
	}
	if refreshStale && c.cfg.Now().Sub(fetched) >= c.cfg.CertRefresh {
		if err := c.refreshCertificates(ctx, certRetryInterval); err != nil {
			c.log.WithError(err).Warn("platform certificate refresh failed; keeping the current ones")
		}
	}
	return nil
}

var errRefreshTooSoon = errors.New("certificate download attempted too recently")

// RefreshCertificates downloads the platform certificates now (for a daemon timer or
// check-config). It does nothing in pinned or public-key mode.
func (c *v3Client) RefreshCertificates(ctx context.Context) error {
	if c.keys.pinned {
		return nil
	}
	return c.refreshCertificates(ctx, 0)
}

func (c *v3Client) refreshCertificates(ctx context.Context, minInterval time.Duration) error {
	ks := c.keys
	ks.dl.Lock()
	defer ks.dl.Unlock()
	now := c.cfg.Now()
	ks.mu.RLock()
	lastTry, fetched := ks.lastTry, ks.fetched
	ks.mu.RUnlock()
	if !lastTry.IsZero() && now.Sub(lastTry) < minInterval {
		if fetched.Equal(lastTry) {
			return nil // someone else just downloaded successfully
		}
		return errRefreshTooSoon
	}
	ks.mu.Lock()
	ks.lastTry = now
	ks.mu.Unlock()

	resp, apiErr, err := c.send(ctx, "certificates", http.MethodGet, c.path(c.paths.certificates), "", nil, c.cfg.Timeouts.Query, c.cfg.MaxResponseBytes)
	if err != nil {
		return err
	}
	if apiErr != nil {
		return apiErr
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("certificates: HTTP %d: %s", resp.Status, truncate(resp.Body, 200))
	}
	certs, err := parseCertificateList(resp.Body, c.cfg.APIv3Key, now)
	if err != nil {
		return err
	}
	// The list is itself signed by a platform certificate: verify it with the old keys or,
	// on first use, with the certificate it just delivered (decrypted under the APIv3 key).
	serial := resp.Header.Get("Wechatpay-Serial")
	key := ks.lookup(serial)
	if c2, ok := certs[normSerial(serial)]; ok {
		key = c2.PublicKey.(*rsa.PublicKey)
	}
	if e := c.verifyWith(resp, resp.Body, key); e != nil {
		return e
	}
	keys := make(map[string]*rsa.PublicKey, len(certs))
	for s, cert := range certs {
		keys[s] = cert.PublicKey.(*rsa.PublicKey)
	}
	ks.mu.Lock()
	ks.keys, ks.certs, ks.fetched = keys, certs, now
	ks.lastTry = now
	ks.mu.Unlock()
	c.log.WithField("certificates", len(certs)).Info("platform certificates refreshed")
	return nil
}

// CertificateExpiry is the soonest expiry among the platform certificates in use.
func (c *v3Client) CertificateExpiry() time.Time { return c.keys.expiry() }

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
