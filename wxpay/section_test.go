package wxpay

import (
	"strings"
	"testing"
)

// TestSection_Problems: each mistake in [wxpay] comes back under its own key, per API.
func TestSection_Problems(t *testing.T) {
	v3 := Section{API: APIv3Global, BaseURL: "https://apihk.mch.weixin.qq.com", Currency: "HKD", AppID: "wx1", MchID: "1900000109",
		PrivateKeyFile: "/k.pem", MerchantSerialNo: "3775B6A45ACD5888", APIv3KeyFile: "/v3"}
	v2 := Section{API: APIv2, BaseURL: "https://apihk.mch.weixin.qq.com", Currency: "HKD", AppID: "wx1", MchID: "1900000109",
		APIKeyFile: "/key", SignType: "HMAC-SHA256", ClientCertFile: "/c.pem", ClientKeyFile: "/c.key"}
	for _, tc := range []struct {
		name string
		edit func(*Section)
		base Section
		want string // "key: message substring"; "" = valid
	}{
		{"v3", func(*Section) {}, v3, ""},
		{"v2", func(*Section) {}, v2, ""},
		{"api", func(s *Section) { s.API = "v4" }, v3, `api: must be one of v3-global, v3-hk, v2 (got "v4")`},
		{"base url", func(s *Section) { s.BaseURL = "http://example.com" }, v3, "base_url: must be an https:// URL"},
		{"backup url", func(s *Section) { s.BackupBaseURL = "ftp://x" }, v3, "backup_base_url: must be an https:// URL"},
		{"currency", func(s *Section) { s.Currency = "hkd" }, v3, "currency: a 3-letter ISO 4217 code"},
		{"appid", func(s *Section) { s.AppID = "" }, v3, "appid: required"},
		{"mch id", func(s *Section) { s.MchID = "19x" }, v3, "mch_id: digits only"},
		{"sub mch id", func(s *Section) { s.SubMchID = "19x" }, v3, "sub_mch_id: digits only"},
		{"sub appid alone", func(s *Section) { s.SubAppID = "wx2" }, v3, "sub_appid: only with wxpay.sub_mch_id"},
		{"v2 key", func(s *Section) { s.APIKeyFile = "" }, v2, "api_key_file: required"},
		{"v2 sign type", func(s *Section) { s.SignType = "SHA1" }, v2, "sign_type: must be one of HMAC-SHA256, MD5"},
		{"v2 client cert", func(s *Section) { s.ClientCertFile = "" }, v2, "client_cert_file: required"},
		{"v3 key", func(s *Section) { s.PrivateKeyFile = "" }, v3, "private_key_file: required"},
		{"v3 serial", func(s *Section) { s.MerchantSerialNo = "zz" }, v3, "merchant_serial_no: the certificate serial number in hex"},
		{"v3 category", func(s *Section) { s.MerchantCategoryCode = "54" }, v3, "merchant_category_code: 4 digits"},
		{"v3 public key id", func(s *Section) { s.PublicKeyFile = "/pub.pem" }, v3, "public_key_id: required with wxpay.public_key_file"},
		{"v3 public key file", func(s *Section) { s.PublicKeyID = "PUB_KEY_ID_1" }, v3, "public_key_file: required with wxpay.public_key_id"},
		{"v3 apiv3 key", func(s *Section) { s.APIv3KeyFile = "" }, v3, "apiv3_key_file: required unless"},
		{"v3 pinned certificates", func(s *Section) { s.APIv3KeyFile, s.PlatformCertFiles = "", []string{"/p.pem"} }, v3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.base
			tc.edit(&s)
			ps := s.Problems()
			switch {
			case tc.want == "" && len(ps) > 0:
				t.Fatalf("valid section: %v", ps)
			case tc.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].String(), tc.want)):
				t.Fatalf("problems %v, want exactly %q", ps, tc.want)
			}
		})
	}
}
