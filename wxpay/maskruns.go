package wxpay

import "strings"

// MaskCodeRuns masks, with MaskCode's form, every maximal run of 16 to 24 ASCII digits in
// s: the shape of a payment code. WeChat's error messages are free text that may echo the
// auth_code sent, and they reach sale records, the API and receipts; posd's own ids
// survive (out_trade_no runs are at most 16 digits split by "_", transaction and refund
// ids are 28+ digits). cmd/posd's log redactor uses it too.
func MaskCodeRuns(s string) string {
	var b *strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if n := j - i; n >= 16 && n <= 24 {
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(s[last:i])
			b.WriteString(MaskCode(s[i:j]))
			last = j
		}
		i = j
	}
	if b == nil {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
