package wxpay

import (
	"fmt"
	"strings"
)

// CodeKind is what a scanned code looks like.
type CodeKind int

const (
	CodeWeChat      CodeKind = iota // a WeChat Pay payment code: 18 digits, prefix 10–15 (or 160, Multi-Wallet)
	CodeAlipay                      // 16–24 digits with prefix 25–30 (Alipay's payment code)
	CodeProduct                     // a product barcode (EAN-13, EAN-8, UPC-A) with a valid check digit
	CodeTruncated                   // digits with a WeChat prefix, but too few or too many
	CodeGarbage                     // anything else
	CodeOtherWallet                 // another wallet's payment code (UnionPay 62…, 160 outside Multi-Wallet)
	CodeMerchantQR                  // a shop's own "scan to pay" QR (wxp://, qr.alipay.com), not a customer code
)

// CodeError refuses a scanned code at the till; Message says what was scanned.
type CodeError struct {
	Kind    CodeKind
	Message string
}

func (e *CodeError) Error() string { return e.Message }

// CheckAuthCode accepts only a WeChat Pay payment code as the v2 and HK v3 APIs define it
// (docs/wxpay-v2.md §4: 18 digits, prefix 10–15). Anything else is refused before WeChat is
// called, with a sentence a cashier can act on. The code itself never appears in the
// message, so the error may be logged and shown as is.
func CheckAuthCode(code string) error { return checkAuthCode(code, false) }

// CheckMultiWalletAuthCode is CheckAuthCode for the Multi-Wallet API (/v3/global, api =
// "v3-global"), whose docs also allow the prefix 160 (docs/wxpay-v2.md §4, fusion_wallet
// chapter3_1).
func CheckMultiWalletAuthCode(code string) error { return checkAuthCode(code, true) }

func checkAuthCode(code string, multiWallet bool) error {
	if code == "" {
		return &CodeError{CodeGarbage, "Empty scan: scan the customer's payment code again"}
	}
	if !allDigits(code) {
		lower := strings.ToLower(code)
		switch {
		case strings.HasPrefix(lower, "wxp://") || strings.HasPrefix(lower, "weixin://"):
			return &CodeError{CodeMerchantQR, "This is a shop's WeChat Pay QR code, not the customer's payment code: ask the customer to open WeChat Pay's payment code"}
		case strings.Contains(lower, "qr.alipay.com"):
			return &CodeError{CodeMerchantQR, "This is an Alipay QR code for receiving money, not a payment code: ask the customer to open WeChat Pay's payment code"}
		}
		return &CodeError{CodeGarbage, "Not a WeChat Pay payment code: ask the customer to show WeChat Pay's payment code"}
	}

	n := len(code)
	p2 := int(code[0]-'0')*10 + int(code[min(1, n-1)]-'0')
	if n == 1 {
		p2 = -1
	}
	wechat2 := p2 >= 10 && p2 <= 15
	is160 := strings.HasPrefix(code, "160")
	switch {
	case n == 18 && wechat2:
		return nil
	case n == 18 && is160 && multiWallet:
		return nil
	case n == 18 && is160:
		return &CodeError{CodeOtherWallet, "This payment code is accepted only through the Multi-Wallet API, which this till does not use: ask the customer for WeChat Pay's payment code"}
	case n >= 16 && n <= 24 && p2 >= 25 && p2 <= 30:
		return &CodeError{CodeAlipay, "This is an Alipay code, not WeChat Pay: ask the customer to open WeChat Pay's payment code"}
	case n == 19 && p2 == 62:
		return &CodeError{CodeOtherWallet, "This is a UnionPay code, not WeChat Pay: ask the customer to open WeChat Pay's payment code"}
	}
	if name := productBarcode(code); name != "" {
		return &CodeError{CodeProduct, fmt.Sprintf("This is a product barcode (%s), not a payment code: scan the customer's phone", name)}
	}
	if wechat2 || (multiWallet && is160) {
		if n < 18 {
			return &CodeError{CodeTruncated, fmt.Sprintf("Incomplete payment code (%d of 18 digits): scan again", n)}
		}
		return &CodeError{CodeTruncated, fmt.Sprintf("Payment code with extra digits (%d, expected 18): scan again", n)}
	}
	if n == 8 || n == 12 || n == 13 {
		return &CodeError{CodeGarbage, "Misread barcode (wrong check digit) and not a payment code: scan the customer's phone again"}
	}
	return &CodeError{CodeGarbage, "Not a WeChat Pay payment code: ask the customer to show WeChat Pay's payment code"}
}

// productBarcode names the GS1 symbology a digit string is, when its length fits and its
// check digit is right (GS1 General Specifications §7.9: weights 3,1,3,… from the right,
// excluding the check digit). A wrong check digit is a misread, not a product.
func productBarcode(code string) string {
	var name string
	switch len(code) {
	case 8:
		name = "EAN-8"
	case 12:
		name = "UPC-A"
	case 13:
		name = "EAN-13"
	default:
		return ""
	}
	sum := 0
	for i := len(code) - 2; i >= 0; i-- {
		d := int(code[i] - '0')
		if (len(code)-2-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	if (10-sum%10)%10 != int(code[len(code)-1]-'0') {
		return ""
	}
	return name
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// MaskCode shows at most the first 2 and last 4 digits of a payment code, for logs,
// receipts and the UI.
func MaskCode(code string) string {
	if len(code) <= 6 {
		return strings.Repeat("*", len(code))
	}
	return code[:2] + strings.Repeat("*", len(code)-6) + code[len(code)-4:]
}
