package demo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"

	"posd/internal/config"
	"posd/scanner"
	"posd/wxpay/wxpaytest"
)

// Config is the demo till's configuration for the WeChat Pay simulator sim: its throwaway
// credentials, a fresh API token and manager PIN, the journal and logs under dir, the web
// UI on listen, logging at level.
func Config(sim *wxpaytest.Server, dir, listen, level string) (config.Config, *config.Secrets, error) {
	creds := sim.Credentials()
	cfg := config.DefaultConfig()
	cfg.Till = config.TillConfig{StoreID: "DEMO", TillID: "T01", MerchantName: "posd demo store"}
	cfg.WxPay.API = "v3-global"
	cfg.WxPay.BaseURL = sim.URL()
	cfg.WxPay.MchID = creds.MchID
	cfg.WxPay.AppID = creds.AppID
	cfg.WxPay.MerchantSerialNo = creds.MerchantSerial
	cfg.WxPay.NotifyURL = wxpaytest.NotifyURL
	cfg.Storage.Path = filepath.Join(dir, "posd.db")
	cfg.HTTP.Listen = listen
	cfg.Log.Level = level
	cfg.Log.Dir = filepath.Join(dir, "logs")
	// A virtual scanner (the UI's code field) and printer (receipts shown in the UI).
	cfg.Scanner = []scanner.Config{{Kind: "virtual", Name: "virtual scanner"}}
	cfg.Printer.Kind = "virtual"

	s := &config.Secrets{APIv3Key: creds.APIv3Key, RootCAs: sim.CertPool()}
	key, err := parseRSAKeyPEM(creds.MerchantKeyPEM)
	if err != nil {
		return cfg, nil, fmt.Errorf("demo merchant key: %w", err)
	}
	s.PrivateKey = key
	if blk, _ := pem.Decode(creds.PlatformCertPEM); blk != nil {
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return cfg, nil, fmt.Errorf("demo platform certificate: %w", err)
		}
		s.PlatformCerts = []*x509.Certificate{c}
	}
	s.APIToken = randomHex(16)
	s.ManagerPIN = randomPIN(6)
	return cfg, s, nil
}

func parseRSAKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA key (%T)", k)
	}
	return rk, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomPIN(digits int) string {
	max := big.NewInt(1)
	for range digits {
		max.Mul(max, big.NewInt(10))
	}
	n, _ := rand.Int(rand.Reader, max)
	return fmt.Sprintf("%0*d", digits, n)
}
