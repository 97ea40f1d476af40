package wxpaytest_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

func newClient(t *testing.T, s *wxpaytest.Server, cfg wxpay.Config) wxpay.Client {
	t.Helper()
	c, err := wxpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRealClientPublicKeyMode(t *testing.T) {
	clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
	defer s.Close()
	cr := s.Credentials()
	b, _ := pem.Decode(cr.PublicKeyPEM)
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.ClientConfig(wxpay.APIv3Global)
	cfg.PublicKey, cfg.PublicKeyID = k.(*rsa.PublicKey), cr.PublicKeyID
	c := newClient(t, s, cfg)
	o, err := c.MicroPay(context.Background(), wxpay.PayRequest{OutTradeNo: "PK-1", AuthCode: "134567890123450100", Amount: 100, Currency: "HKD", Description: "x"})
	if err != nil || o.Outcome != wxpay.Paid {
		t.Fatalf("%+v %v", o, err)
	}
	for _, r := range s.Requests() {
		if r.Endpoint == wxpaytest.EPCertificates {
			t.Fatal("public-key mode downloaded certificates")
		}
	}
}

func TestRealClientV2MD5AndInstitutional(t *testing.T) {
	clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
	defer s.Close()
	cfg := s.ClientConfig(wxpay.APIv2)
	cfg.SignType = wxpay.SignTypeMD5
	cfg.SubMchID = s.Credentials().SubMchID
	c := newClient(t, s, cfg)
	o, err := c.MicroPay(context.Background(), wxpay.PayRequest{OutTradeNo: "MD5-1", AuthCode: "134567890123450101", Amount: 100, Currency: "HKD", Description: "x"})
	if err != nil || o.Outcome != wxpay.Paid {
		t.Fatalf("%+v %v", o, err)
	}
	if ord, _ := s.Order("MD5-1"); !ord.Institutional {
		t.Fatal("not institutional")
	}
}

// Faults on the calls after micropay: queries, reverses, refunds.
func TestRealClientFollowUpFaults(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
			s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
			defer s.Close()
			c := newClient(t, s, s.ClientConfig(api))
			ctx := context.Background()
			code := "134567890123450200"
			s.Script(wxpaytest.Match{AuthCode: code},
				wxpaytest.Fault{Kind: wxpaytest.FaultSystemError, Endpoint: wxpaytest.EPQuery},
				wxpaytest.Fault{Kind: wxpaytest.FaultForged, Endpoint: wxpaytest.EPQuery},
				wxpaytest.Fault{Kind: wxpaytest.FaultSystemError, Endpoint: wxpaytest.EPRefund, Processed: true},
				wxpaytest.Fault{Kind: wxpaytest.FaultRateLimit, Endpoint: wxpaytest.EPRefund},
			)
			if o, _ := c.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: "FU-1", AuthCode: code, Amount: 1000, Currency: "HKD", Description: "x"}); o.Outcome != wxpay.Paid {
				t.Fatalf("pay %+v", o)
			}
			for i, want := range []wxpay.Outcome{wxpay.Unknown, wxpay.Unknown, wxpay.Paid} {
				clk.Advance(time.Second)
				if q, _ := c.QueryOrder(ctx, "FU-1"); q.Outcome != want {
					t.Fatalf("query %d: %v (%v), want %v", i, q.Outcome, q.Error, want)
				}
			}
			rr := wxpay.RefundRequest{OutTradeNo: "FU-1", OutRefundNo: "FU-R1", Amount: 400, Total: 1000, Currency: "HKD"}
			if r, _ := c.Refund(ctx, rr); r.Outcome != wxpay.Unknown {
				t.Fatalf("refund with SYSTEMERROR: %+v", r)
			}
			if r, _ := c.Refund(ctx, rr); r.Outcome == wxpay.Paid || r.Outcome == wxpay.Failed && api != wxpay.APIv2 {
				t.Fatalf("refund with 429: %+v", r)
			}
			if r, _ := c.Refund(ctx, rr); r.Outcome != wxpay.Paid {
				t.Fatalf("refund retry: %+v", r)
			}
			if got := s.Captured(); got != 600 {
				t.Fatalf("captured %d: the refund was applied twice or not at all", got)
			}
			// Reverse after 7 days is refused with the code that says "refund instead". It
			// says nothing about payment: unknown, and only a query tells.
			clk.Advance(8 * 24 * time.Hour)
			if rv, _ := c.Reverse(ctx, "FU-1"); rv.Outcome != wxpay.Unknown || rv.Error == nil || rv.Error.Code != "REVERSE_EXPIRE" {
				t.Fatalf("late reverse: %+v", rv)
			}
		})
	}
}

// After WeChat rotates its platform certificate, the client meets an unknown serial,
// downloads /certificates again and verifies with the new certificate.
func TestRealClientFollowsCertificateRotation(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv3HK} {
		clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
		s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
		defer s.Close()
		c := newClient(t, s, s.ClientConfig(api))
		ctx := context.Background()
		if o, _ := c.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: "ROT-1", AuthCode: "134567890123450300", Amount: 100, Currency: "HKD", Description: "x"}); o.Outcome != wxpay.Paid {
			t.Fatalf("%s before rotation: %+v", api, o)
		}
		serial, err := s.RotatePlatformCert()
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute) // the client refreshes on an unknown serial at most once a minute
		if o, _ := c.QueryOrder(ctx, "ROT-1"); o.Outcome != wxpay.Paid {
			t.Fatalf("%s after rotation to %s: %+v (%v)", api, serial, o, o.Error)
		}
		n := 0
		for _, r := range s.Requests() {
			if r.Endpoint == wxpaytest.EPCertificates {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%s: %d certificate downloads, want 2", api, n)
		}
	}
}
