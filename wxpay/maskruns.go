package wxpay

import "strings"

// MaskCodeRuns masks, with MaskCode's form, every stretch of ASCII digits that is or holds
// a payment code: each 18-digit window that starts 10–15 or 160 (a WeChat code, wherever
// it stands, also inside a longer run: a double scan, a code followed by other digits),
// and every whole run of 16 to 24 digits (the shape of other wallets' codes). Overlapping
// or touching stretches are masked as one. WeChat's error messages are free text that may
// echo the auth_code sent, and they reach sale records, the API and receipts; posd's own
// out_trade_no survives (its digit runs are at most 16 digits split by "_"). A WeChat
// transaction id (28+ digits) is left alone unless a code-shaped window sits inside it.
// The length of s is kept. cmd/posd's log redactor uses it too.
func MaskCodeRuns(s string) string {
	var mask []bool // lazily: most strings carry no code
	mark := func(i, j int) {
		if mask == nil {
			mask = make([]bool, len(s))
		}
		for k := i; k < j; k++ {
			mask[k] = true
		}
	}
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if n := j - i; n >= 16 && n <= 24 {
			mark(i, j)
		}
		for k := i; k+18 <= j; k++ {
			if codeStart(s[k:]) {
				mark(k, k+18)
			}
		}
		i = j
	}
	if mask == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if !mask[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && mask[j] {
			j++
		}
		b.WriteString(MaskCode(s[i:j]))
		i = j
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// codeStart reports whether s begins like a WeChat payment code: 10–15, or 160.
func codeStart(s string) bool {
	return s[0] == '1' && (s[1] >= '0' && s[1] <= '5' || s[1] == '6' && s[2] == '0')
}
