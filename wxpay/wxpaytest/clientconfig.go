package wxpaytest

import (
	"crypto/tls"

	"posd/wxpay"
)

// NotifyURL is the notify_url of ClientConfig: WeChat requires one on QR Code Payment
// orders; the simulator never calls it (posd polls), so it points at a reserved name.
const NotifyURL = "https://notify.posd.invalid/wxpay/notify"

// ClientConfig returns a wxpay.Config pointed at the simulator, for api wxpay.APIv3Global,
// wxpay.APIv3HK or wxpay.APIv2, in direct-merchant mode (set SubMchID from Credentials()
// for institutional mode). It trusts the simulator's CA, carries every credential, and uses
// the simulator clock so answers' timestamps verify under an injected clock.
func (s *Server) ClientConfig(api string) wxpay.Config {
	cr := s.creds
	key, err := parseRSAKey(cr.MerchantKeyPEM)
	if err != nil {
		panic("wxpaytest: merchant key: " + err.Error()) // complete() parsed it already
	}
	pair, err := tls.X509KeyPair(cr.ClientCertPEM, cr.ClientKeyPEM)
	if err != nil {
		panic("wxpaytest: client certificate: " + err.Error())
	}
	return wxpay.Config{
		API:                  api,
		BaseURL:              s.URL(),
		RootCAs:              s.CertPool(),
		Currency:             "HKD",
		MerchantCategoryCode: "5411",
		AppID:                cr.AppID,
		MchID:                cr.MchID,
		APIKey:               cr.APIKey,
		SignType:             wxpay.SignTypeHMACSHA256,
		ClientCert:           &pair,
		PrivateKey:           key,
		MerchantSerialNo:     cr.MerchantSerial,
		APIv3Key:             cr.APIv3Key,
		DeviceID:             "T01",
		StoreID:              "HK001",
		StoreName:            "Demo Store",
		StoreAddress:         "1 Queen's Road Central, Hong Kong",
		ClientIP:             "127.0.0.1",
		NotifyURL:            NotifyURL,
		Now:                  s.opts.Now,
	}
}
