package wxpay

import (
	"fmt"
	"strings"
)

// CodeKind is what a scanned code looks like.
type CodeKind int

const (
	CodeWeChat    CodeKind = iota // a WeChat Pay payment code: 18 digits, prefix 10–15
	CodeAlipay                    // 16–24 digits with prefix 25–30 (Alipay's payment code)
	CodeProduct                   // a product barcode (EAN-13, EAN-8, UPC-A)
	CodeTruncated                 // digits with a WeChat prefix, but too few or too many
	CodeGarbage                   // anything else
)

// CodeError refuses a scanned code at the till; Message says what was scanned.
type CodeError struct {
	Kind    CodeKind
	Message string
}

func (e *CodeError) Error() string { return e.Message }

// CheckAuthCode accepts only a WeChat Pay payment code (wxpay-v2.md §4: 18 digits, prefix
// 10–15). Anything else is refused before WeChat is called, with a sentence a cashier can
// act on. The code itself never appears in the message (only its masked form).
func CheckAuthCode(code string) error {
	allDigits := code != "" && strings.Trim(code, "0123456789") == ""
	switch {
	case allDigits && len(code) == 18 && code[0] == '1' && code[1] >= '0' && code[1] <= '5':
		return nil
	case allDigits && len(code) >= 16 && len(code) <= 24 && code[0] >= '2' && (code[0] > '2' || code[1] >= '5') && (code[0] < '3' || code[1] == '0'):
		return &CodeError{CodeAlipay, "This is an Alipay code, not WeChat Pay: ask the customer to open WeChat Pay's payment code"}
	case allDigits && (len(code) == 8 || len(code) == 12 || len(code) == 13):
		return &CodeError{CodeProduct, fmt.Sprintf("This is a product barcode (%d digits), not a payment code: scan the customer's phone", len(code))}
	case allDigits && len(code) >= 2 && code[0] == '1' && code[1] >= '0' && code[1] <= '5':
		return &CodeError{CodeTruncated, fmt.Sprintf("Incomplete payment code (%d of 18 digits): scan again", len(code))}
	case code == "":
		return &CodeError{CodeGarbage, "Empty scan: scan the customer's payment code again"}
	default:
		return &CodeError{CodeGarbage, "Not a WeChat Pay payment code: ask the customer to show WeChat Pay's payment code"}
	}
}

// MaskCode shows at most the first 2 and last 4 digits of a payment code, for logs,
// receipts and the UI.
func MaskCode(code string) string {
	if len(code) <= 6 {
		return strings.Repeat("*", len(code))
	}
	return code[:2] + strings.Repeat("*", len(code)-6) + code[len(code)-4:]
}
