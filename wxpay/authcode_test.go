package wxpay

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAuthCode(t *testing.T) {
	cases := []struct {
		name, code  string
		kind        CodeKind // meaningful when !ok
		ok, okMulti bool
	}{
		{"wechat 10", "104567890123456789", 0, true, true},
		{"wechat 13", "134567890123456789", 0, true, true},
		{"wechat 15 (HK user)", "154567890123456789", 0, true, true},
		{"prefix 16 not 160", "164567890123456789", CodeGarbage, false, false},
		{"prefix 09", "094567890123456789", CodeGarbage, false, false},
		{"160 multi-wallet only", "160456789012345678", CodeOtherWallet, false, true},
		{"160 truncated", "16045678901234567", CodeGarbage, false, false},
		{"alipay 25 18 digits", "254567890123456789", CodeAlipay, false, false},
		{"alipay 28 16 digits", "2845678901234567", CodeAlipay, false, false},
		{"alipay 30 24 digits", "304567890123456789012345", CodeAlipay, false, false},
		{"prefix 31 is not alipay", "314567890123456789", CodeGarbage, false, false},
		{"prefix 40 is not alipay", "404567890123456789", CodeGarbage, false, false},
		{"alipay too long", "3045678901234567890123456", CodeGarbage, false, false},
		{"unionpay", "6212345678901234567", CodeOtherWallet, false, false},
		{"ean-13", "4006381333931", CodeProduct, false, false},
		{"ean-13 bad check digit", "4006381333932", CodeGarbage, false, false},
		{"ean-8", "96385074", CodeProduct, false, false},
		{"ean-8 bad check digit", "96385075", CodeGarbage, false, false},
		{"upc-a", "036000291452", CodeProduct, false, false},
		{"upc-a bad check digit", "036000291453", CodeGarbage, false, false},
		{"truncated 17", "13456789012345678", CodeTruncated, false, false},
		{"truncated 2", "13", CodeTruncated, false, false},
		{"too long 19", "1345678901234567890", CodeTruncated, false, false},
		{"truncated 13 bad check", "1345678901234", CodeTruncated, false, false},
		{"one digit", "1", CodeGarbage, false, false},
		{"empty", "", CodeGarbage, false, false},
		{"letters", "ABC123", CodeGarbage, false, false},
		{"spaces", " 134567890123456789", CodeGarbage, false, false},
		{"aim prefix left on", "]Q1134567890123456789", CodeGarbage, false, false},
		{"wechat merchant qr", "wxp://f2f0abcdefg", CodeMerchantQR, false, false},
		{"alipay merchant qr", "https://qr.alipay.com/fkx12345", CodeMerchantQR, false, false},
		{"full-width digits", "１３4567890123456789", CodeGarbage, false, false},
	}
	// Where the Multi-Wallet rules classify a refused code differently.
	multiKinds := map[string]CodeKind{"160 truncated": CodeTruncated}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, multi := range []bool{false, true} {
				check, want := CheckAuthCode, c.ok
				if multi {
					check, want = CheckMultiWalletAuthCode, c.okMulti
				}
				err := check(c.code)
				if want {
					if err != nil {
						t.Fatalf("multi=%v: refused: %v", multi, err)
					}
					continue
				}
				var ce *CodeError
				if !errors.As(err, &ce) {
					t.Fatalf("multi=%v: got %v, want *CodeError", multi, err)
				}
				wantKind := c.kind
				if k, ok := multiKinds[c.name]; ok && multi {
					wantKind = k
				}
				if !(multi && c.okMulti) && ce.Kind != wantKind {
					t.Errorf("multi=%v: kind %d, want %d (%s)", multi, ce.Kind, wantKind, ce.Message)
				}
				if len(c.code) >= 6 && strings.Contains(ce.Message, c.code) {
					t.Errorf("message leaks the code: %q", ce.Message)
				}
				if ce.Message == "" {
					t.Error("empty message")
				}
			}
		})
	}
}

func TestProductBarcodeNames(t *testing.T) {
	for code, want := range map[string]string{
		"4006381333931": "EAN-13", "96385074": "EAN-8", "036000291452": "UPC-A",
	} {
		err := CheckAuthCode(code)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want mention of %s", code, err, want)
		}
	}
}

func TestMaskCode(t *testing.T) {
	for in, want := range map[string]string{
		"134567890123456789": "13************6789",
		"123456":             "******",
		"":                   "",
		"1234567":            "12*4567",
	} {
		if got := MaskCode(in); got != want {
			t.Errorf("MaskCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCheckAuthCode(f *testing.F) {
	for _, s := range []string{"134567890123456789", "160456789012345678", "4006381333931", "", "wxp://x", "2845678901234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		for _, check := range []func(string) error{CheckAuthCode, CheckMultiWalletAuthCode} {
			err := check(code)
			if err == nil {
				if len(code) != 18 || !allDigits(code) {
					t.Fatalf("accepted %q", code)
				}
				continue
			}
			var ce *CodeError
			if !errors.As(err, &ce) || ce.Message == "" {
				t.Fatalf("bad error %v", err)
			}
			if len(code) >= 6 && strings.Contains(ce.Message, code) {
				t.Fatalf("message leaks code")
			}
		}
	})
}
