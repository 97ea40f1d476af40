package config

import "posd/wxpay"

// WxPayClientConfig maps [wxpay], the till's identity and the loaded secrets to the
// WeChat Pay client's Config (without a Logger: a one-off command logs nothing).
func (cfg *Config) WxPayClientConfig(s *Secrets) wxpay.Config {
	w := &cfg.WxPay
	return wxpay.Config{
		API:                  w.API,
		BaseURL:              w.BaseURL,
		BackupBaseURL:        w.BackupBaseURL,
		RootCAs:              s.RootCAs,
		Currency:             w.Currency,
		MerchantCategoryCode: w.MerchantCategoryCode,
		NotifyURL:            w.NotifyURL,
		AppID:                w.AppID,
		MchID:                w.MchID,
		SubMchID:             w.SubMchID,
		SubAppID:             w.SubAppID,
		APIKey:               s.APIKey,
		SignType:             w.SignType,
		ClientCert:           s.ClientCert,
		PrivateKey:           s.PrivateKey,
		MerchantSerialNo:     w.MerchantSerialNo,
		APIv3Key:             s.APIv3Key,
		PlatformCerts:        s.PlatformCerts,
		PublicKey:            s.PublicKey,
		PublicKeyID:          w.PublicKeyID,
		DeviceID:             cfg.Till.TillID,
		StoreID:              cfg.Till.StoreID,
		StoreName:            cfg.Till.MerchantName,
	}
}
