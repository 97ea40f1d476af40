package wxpay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
	"sync"
)

// keyedHMAC is a reusable HMAC-SHA256 for one API key; pooled because building an HMAC
// costs about ten allocations and a till signs and verifies every call.
type keyedHMAC struct {
	key string
	h   hash.Hash
}

var (
	hmacPool    sync.Pool // *keyedHMAC
	signBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
)

// v2SignString builds stringSignTemp (docs/wxpay-v2.md §3.1): every non-empty field except
// sign, sorted by name (byte order), joined as name=value with &, then &key=<API key>.
// Values are used raw: no URL or XML escaping.
func v2SignString(dst []byte, fields v2Fields, apiKey string) []byte {
	var stack [64]v2Field
	kv := stack[:0]
	for _, f := range fields {
		if f.V != "" && f.K != "sign" {
			kv = append(kv, f)
		}
	}
	slices.SortFunc(kv, func(a, b v2Field) int { return strings.Compare(a.K, b.K) })
	for _, f := range kv {
		dst = append(dst, f.K...)
		dst = append(dst, '=')
		dst = append(dst, f.V...)
		dst = append(dst, '&')
	}
	dst = append(dst, "key="...)
	return append(dst, apiKey...)
}

// v2Sign computes the upper-case hex signature with MD5 or HMAC-SHA256 (keyed with the
// API key, over a message that also ends with the key).
func v2Sign(fields v2Fields, apiKey, signType string) string {
	bp := signBufPool.Get().(*[]byte)
	msg := v2SignString((*bp)[:0], fields, apiKey)
	var out [sha256.Size]byte
	var sum []byte
	if signType == SignTypeMD5 {
		s := md5.Sum(msg)
		sum = append(out[:0], s[:]...)
	} else {
		kh, _ := hmacPool.Get().(*keyedHMAC)
		if kh == nil || kh.key != apiKey {
			kh = &keyedHMAC{key: apiKey, h: hmac.New(sha256.New, []byte(apiKey))}
		}
		kh.h.Reset()
		kh.h.Write(msg)
		sum = kh.h.Sum(out[:0])
		hmacPool.Put(kh)
	}
	*bp = msg[:0]
	signBufPool.Put(bp)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum)
	upper := hx[:2*len(sum)]
	for i, c := range upper {
		if c >= 'a' && c <= 'f' {
			upper[i] = c - 'a' + 'A'
		}
	}
	return string(upper)
}

// v2Verify checks the sign field of an answer in constant time. Answers carry no
// sign_type: the request's algorithm is used (docs/wxpay-v2.md §3.2, §11.1).
func v2Verify(fields v2Fields, apiKey, signType string) bool {
	got := fields.get("sign")
	if got == "" {
		return false
	}
	want := v2Sign(fields, apiKey, signType)
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(got)), []byte(want)) == 1
}
