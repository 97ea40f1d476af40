package wxpay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// v2SignString builds stringSignTemp (wxpay-v2.md §3.1): every non-empty field except
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
	var buf [1024]byte
	msg := v2SignString(buf[:0], fields, apiKey)
	var sum []byte
	if signType == SignTypeMD5 {
		s := md5.Sum(msg)
		sum = s[:]
	} else {
		m := hmac.New(sha256.New, []byte(apiKey))
		m.Write(msg)
		var out [sha256.Size]byte
		sum = m.Sum(out[:0])
	}
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
// sign_type: the request's algorithm is used (wxpay-v2.md §3.2, §11.1).
func v2Verify(fields v2Fields, apiKey, signType string) bool {
	got := fields.get("sign")
	if got == "" {
		return false
	}
	want := v2Sign(fields, apiKey, signType)
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(got)), []byte(want)) == 1
}
