package wxpay

import (
	"net/url"
	"regexp"

	"posd/internal/check"
)

// Section is the [wxpay] section of posd.toml: the account, the API dialect and the files
// that hold its secrets. internal/config reads the files; Config is what the client is
// built from.
type Section struct {
	API                  string `toml:"api"`
	BaseURL              string `toml:"base_url"`
	BackupBaseURL        string `toml:"backup_base_url"`
	CAFile               string `toml:"ca_file"`
	Currency             string `toml:"currency"`
	MerchantCategoryCode string `toml:"merchant_category_code"`
	// NotifyURL is sent on QR Code Payment orders only because WeChat requires it; posd
	// polls and never listens there. Empty: the till offers no QR Code Payment.
	NotifyURL         string   `toml:"notify_url"`
	AppID             string   `toml:"appid"`
	MchID             string   `toml:"mch_id"`
	SubMchID          string   `toml:"sub_mch_id"`
	SubAppID          string   `toml:"sub_appid"`
	APIKeyFile        string   `toml:"api_key_file"`
	SignType          string   `toml:"sign_type"`
	ClientCertFile    string   `toml:"client_cert_file"`
	ClientKeyFile     string   `toml:"client_key_file"`
	PrivateKeyFile    string   `toml:"private_key_file"`
	MerchantSerialNo  string   `toml:"merchant_serial_no"`
	APIv3KeyFile      string   `toml:"apiv3_key_file"`
	PlatformCertFiles []string `toml:"platform_cert_files"`
	PublicKeyFile     string   `toml:"public_key_file"`
	PublicKeyID       string   `toml:"public_key_id"`
}

// DefaultCurrency is what a till charges in unless [wxpay] currency says otherwise: Hong
// Kong dollars. The one default: config, the client, the engine and the UI use it.
const DefaultCurrency = "HKD"

var (
	digitsRE   = regexp.MustCompile(`^[0-9]+$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	serialNoRE = regexp.MustCompile(`^[0-9A-Fa-f]{8,64}$`)
)

// Problems lists what is wrong with the section without reading the files it names, each
// naming its key within the section (api, base_url, mch_id...).
func (w Section) Problems() []check.Problem {
	var p check.List
	p.OneOf("api", w.API, APIv3Global, APIv3HK, APIv2)
	checkURL := func(key, v string) {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			p.Add(key, "must be an https:// URL (got %q)", v)
		}
	}
	if p.Required("base_url", w.BaseURL) {
		checkURL("base_url", w.BaseURL)
	}
	if w.BackupBaseURL != "" {
		checkURL("backup_base_url", w.BackupBaseURL)
	}
	if w.NotifyURL != "" {
		if err := CheckNotifyURL(w.NotifyURL); err != nil {
			p.Add("notify_url", "%v", err)
		}
	}
	if !currencyRE.MatchString(w.Currency) {
		p.Add("currency", "a 3-letter ISO 4217 code such as HKD (got %q)", w.Currency)
	}
	p.Required("appid", w.AppID)
	if p.Required("mch_id", w.MchID) && !digitsRE.MatchString(w.MchID) {
		p.Add("mch_id", "digits only (got %q)", w.MchID)
	}
	if w.SubMchID != "" && !digitsRE.MatchString(w.SubMchID) {
		p.Add("sub_mch_id", "digits only (got %q)", w.SubMchID)
	}
	if w.SubAppID != "" && w.SubMchID == "" {
		p.Add("sub_appid", "only with wxpay.sub_mch_id (service-provider mode)")
	}
	switch w.API {
	case APIv2:
		w.v2Problems(&p)
	case APIv3Global, APIv3HK:
		w.v3Problems(&p)
	}
	return p
}

func (w Section) v2Problems(p *check.List) {
	p.Required("api_key_file", w.APIKeyFile)
	p.OneOf("sign_type", w.SignType, "HMAC-SHA256", "MD5")
	// Reverse and refund are /secapi/ calls: mutual TLS is not optional.
	p.Required("client_cert_file", w.ClientCertFile)
	p.Required("client_key_file", w.ClientKeyFile)
}

func (w Section) v3Problems(p *check.List) {
	p.Required("private_key_file", w.PrivateKeyFile)
	if p.Required("merchant_serial_no", w.MerchantSerialNo) && !serialNoRE.MatchString(w.MerchantSerialNo) {
		p.Add("merchant_serial_no", "the certificate serial number in hex (got %q)", w.MerchantSerialNo)
	}
	if w.MerchantCategoryCode != "" && (len(w.MerchantCategoryCode) != 4 || !digitsRE.MatchString(w.MerchantCategoryCode)) {
		p.Add("merchant_category_code", "4 digits (got %q)", w.MerchantCategoryCode)
	}
	if w.PublicKeyFile != "" && w.PublicKeyID == "" {
		p.Add("public_key_id", "required with wxpay.public_key_file")
	}
	if w.PublicKeyID != "" && w.PublicKeyFile == "" {
		p.Add("public_key_file", "required with wxpay.public_key_id")
	}
	// Without pinned certificates or a public key, platform certificates are downloaded,
	// and they arrive encrypted with the APIv3 key.
	if len(w.PlatformCertFiles) == 0 && w.PublicKeyFile == "" && w.APIv3KeyFile == "" {
		p.Add("apiv3_key_file", "required unless wxpay.platform_cert_files or wxpay.public_key_file is set")
	}
}
