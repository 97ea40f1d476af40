package wxpaytest

// Server-side signing and verification, written from the protocol briefs independently of the
// client in package wxpay, so that a bug on one side is caught by the other.

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// v3AuthScheme is the only Authorization scheme WeChat Pay v3 accepts (docs/wxpay-v3.md §6.1).
const v3AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// v3Auth is a parsed Authorization header.
type v3Auth struct {
	MchID, Nonce, Serial, Signature string
	Timestamp                       int64
}

// parseV3Auth parses `WECHATPAY2-SHA256-RSA2048 k="v",k="v"`; parameter order is free.
func parseV3Auth(h string) (v3Auth, error) {
	var a v3Auth
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || scheme != v3AuthScheme {
		return a, errors.New("authorization scheme is not " + v3AuthScheme)
	}
	seen := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return a, fmt.Errorf("authorization parameter %q malformed", part)
		}
		if _, dup := seen[k]; dup {
			return a, fmt.Errorf("authorization parameter %q repeated", k)
		}
		seen[k] = v[1 : len(v)-1]
	}
	a.MchID, a.Nonce, a.Serial, a.Signature = seen["mchid"], seen["nonce_str"], seen["serial_no"], seen["signature"]
	for _, k := range []string{"mchid", "nonce_str", "serial_no", "signature", "timestamp"} {
		if seen[k] == "" {
			return a, fmt.Errorf("authorization parameter %s missing", k)
		}
	}
	ts, err := strconv.ParseInt(seen["timestamp"], 10, 64)
	if err != nil {
		return a, fmt.Errorf("authorization timestamp: %w", err)
	}
	a.Timestamp = ts
	return a, nil
}

// v3RequestMessage is the five-line string a v3 request signature covers.
func v3RequestMessage(method, requestURI string, ts int64, nonce string, body []byte) []byte {
	m := make([]byte, 0, len(method)+len(requestURI)+len(nonce)+len(body)+24)
	m = append(m, method...)
	m = append(m, '\n')
	m = append(m, requestURI...)
	m = append(m, '\n')
	m = strconv.AppendInt(m, ts, 10)
	m = append(m, '\n')
	m = append(m, nonce...)
	m = append(m, '\n')
	m = append(m, body...)
	m = append(m, '\n')
	return m
}

// v3ResponseMessage is the three-line string a v3 answer signature covers.
func v3ResponseMessage(ts int64, nonce string, body []byte) []byte {
	m := make([]byte, 0, len(nonce)+len(body)+16)
	m = strconv.AppendInt(m, ts, 10)
	m = append(m, '\n')
	m = append(m, nonce...)
	m = append(m, '\n')
	m = append(m, body...)
	m = append(m, '\n')
	return m
}

func rsaSign(k *rsa.PrivateKey, msg []byte) string {
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
	if err != nil {
		// Only possible with a broken key, which complete() has already rejected.
		panic("wxpaytest: rsa sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func rsaVerify(pub *rsa.PublicKey, msg []byte, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("signature is not base64: %w", err)
	}
	h := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

// v2 sign types as they appear on the wire (docs/wxpay-v2.md §3.4: exactly these strings).
const (
	signMD5  = "MD5"
	signHMAC = "HMAC-SHA256"
)

// v2Sign computes the v2 signature of fields (all but "sign", empty values dropped,
// sorted by name, joined, &key= appended), upper-case hex.
func v2Sign(fields map[string]string, key, signType string) string {
	names := make([]string, 0, len(fields))
	for k, v := range fields {
		if k == "sign" || v == "" {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
	}
	b.WriteString("&key=")
	b.WriteString(key)
	var sum []byte
	if signType == signHMAC {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(b.String()))
		sum = m.Sum(nil)
	} else {
		s := md5.Sum([]byte(b.String()))
		sum = s[:]
	}
	return strings.ToUpper(hex.EncodeToString(sum))
}

// v2Verify checks fields["sign"] in constant time.
func v2Verify(fields map[string]string, key, signType string) bool {
	want := v2Sign(fields, key, signType)
	return subtle.ConstantTimeCompare([]byte(want), []byte(fields["sign"])) == 1
}

// aeadSeal encrypts plaintext the way /certificates does (AEAD_AES_256_GCM, key = the APIv3
// key bytes, nonce = the nonce string's bytes, base64(ciphertext||tag)).
func aeadSeal(apiv3Key, nonce, aad string, plaintext []byte) (string, error) {
	blk, err := aes.NewCipher([]byte(apiv3Key))
	if err != nil {
		return "", fmt.Errorf("aes key: %w", err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(blk, len(nonce))
	if err != nil {
		return "", fmt.Errorf("gcm: %w", err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), plaintext, []byte(aad))), nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString returns n random alphanumerics (nonces).
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("wxpaytest: crypto/rand: " + err.Error())
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}
