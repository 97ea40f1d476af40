package wxpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParsePrivateKey reads an RSA private key from PEM (PKCS#8 "PRIVATE KEY", as in WeChat's
// apiclient_key.pem, or PKCS#1 "RSA PRIVATE KEY").
func ParsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("parse private key: no PEM private key block")
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse private key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("parse private key: %T is not RSA", k)
			}
			return rk, nil
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse private key: %w", err)
			}
			return k, nil
		}
	}
}

// ParseCertificates reads every CERTIFICATE block of a PEM file.
func ParseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("parse certificate: no PEM certificate block")
	}
	return certs, nil
}

// ParsePublicKey reads an RSA public key from PEM ("PUBLIC KEY" SPKI, as WeChat Pay's
// public-key mode hands out, or "RSA PUBLIC KEY" PKCS#1).
func ParsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("parse public key: no PEM public key block")
		}
		switch b.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse public key: %w", err)
			}
			rk, ok := k.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("parse public key: %T is not RSA", k)
			}
			return rk, nil
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse public key: %w", err)
			}
			return k, nil
		}
	}
}

// CertificateSerial is a certificate's serial number as WeChat writes it: upper-case hex.
func CertificateSerial(c *x509.Certificate) string {
	return strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
}

// v3AuthScheme is the Authorization scheme of APIv3 (docs/wxpay-v3.md §6.1).
const v3AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// v3RequestMessage is the string to sign: method, canonical URL (path and raw query as
// sent), timestamp, nonce and body, each followed by LF, the last one included.
func v3RequestMessage(method, canonicalURL, timestamp, nonce string, body []byte) []byte {
	m := make([]byte, 0, len(method)+len(canonicalURL)+len(timestamp)+len(nonce)+len(body)+5)
	m = append(m, method...)
	m = append(m, '\n')
	m = append(m, canonicalURL...)
	m = append(m, '\n')
	m = append(m, timestamp...)
	m = append(m, '\n')
	m = append(m, nonce...)
	m = append(m, '\n')
	m = append(m, body...)
	return append(m, '\n')
}

// v3ResponseMessage is the string a WeChat answer is signed over: timestamp, nonce, body.
func v3ResponseMessage(timestamp, nonce string, body []byte) []byte {
	m := make([]byte, 0, len(timestamp)+len(nonce)+len(body)+3)
	m = append(m, timestamp...)
	m = append(m, '\n')
	m = append(m, nonce...)
	m = append(m, '\n')
	m = append(m, body...)
	return append(m, '\n')
}

// v3Sign is SHA256withRSA (PKCS#1 v1.5) over msg, base64 (standard, padded).
func v3Sign(key *rsa.PrivateKey, msg []byte) (string, error) {
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign request: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// v3Verify checks a base64 SHA256withRSA signature over msg.
func v3Verify(pub *rsa.PublicKey, msg []byte, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("decode signature: %w", err)
	}
	sum := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	return nil
}

// v3Authorization builds the Authorization header value, in wechatpay-go's parameter order.
func v3Authorization(mchid, nonce, timestamp, serial, signature string) string {
	var b strings.Builder
	b.Grow(len(v3AuthScheme) + len(mchid) + len(nonce) + len(timestamp) + len(serial) + len(signature) + 64)
	b.WriteString(v3AuthScheme)
	b.WriteString(` mchid="`)
	b.WriteString(mchid)
	b.WriteString(`",nonce_str="`)
	b.WriteString(nonce)
	b.WriteString(`",timestamp="`)
	b.WriteString(timestamp)
	b.WriteString(`",serial_no="`)
	b.WriteString(serial)
	b.WriteString(`",signature="`)
	b.WriteString(signature)
	b.WriteString(`"`)
	return b.String()
}

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"

// randomNonce returns 32 random alphanumerics (what the SDKs send as nonce_str).
func randomNonce() string {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a fixed nonce would be worse.
		panic(fmt.Sprintf("wxpay: crypto/rand: %v", err))
	}
	for i, v := range raw {
		raw[i] = nonceAlphabet[int(v)%len(nonceAlphabet)]
	}
	return string(raw[:])
}

func unixString(sec int64) string { return strconv.FormatInt(sec, 10) }
