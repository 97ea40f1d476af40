package wxpay

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// TestClient_BackupHostOnlyOnDialFailure: through the client, a primary that cannot be
// dialled sends the call to the backup; a primary that took the request and then failed
// never does.
func TestClient_BackupHostOnlyOnDialFailure(t *testing.T) {
	ctx := context.Background()
	t.Run("PrimaryRefused", func(t *testing.T) {
		clock := newTestClock()
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050)}
		})
		obs := &observed{}
		c := newV3Test(t, s, func(c *Config) {
			c.BackupBaseURL = c.BaseURL
			c.BaseURL = "https://" + closedAddr(t)
			c.Observer = obs.fn
		})
		o, err := c.MicroPay(ctx, testPay)
		if err != nil || o.Outcome != Paid {
			t.Fatalf("%v %+v", err, o)
		}
		if len(obs.calls) != 2 || !strings.HasPrefix(obs.calls[0], "micropay 127.0.0.1") || !strings.HasSuffix(obs.calls[0], "err") || !strings.HasSuffix(obs.calls[1], "OK") {
			t.Fatalf("observer %v", obs.calls)
		}
	})
	t.Run("PrimaryFailedAfterSending", func(t *testing.T) {
		clock := newTestClock()
		backup := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			t.Error("backup called after the primary took the request")
			return v3Answer{status: 200, body: orderJSON("SUCCESS", 1050)}
		})
		primary := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer {
			return v3Answer{status: 503, body: `{"code":"SERVICE_UNAVAILABLE","message":"busy"}`}
		})
		c := newV3Test(t, primary, func(c *Config) { c.BackupBaseURL = backup.srv.URL })
		o, err := c.MicroPay(ctx, testPay)
		if err != nil || o.Outcome != Unknown || o.Error.HTTP != 503 {
			t.Fatalf("%v %+v", err, o)
		}
		// connection dropped after the request was read
		drop := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}))
		defer drop.Close()
		c = newV3Test(t, primary, func(c *Config) { c.BaseURL = drop.URL; c.BackupBaseURL = backup.srv.URL })
		o, err = c.MicroPay(ctx, testPay)
		if err != nil || o.Outcome != Unknown || o.Error.Code != CodeNetwork {
			t.Fatalf("%v %+v", err, o)
		}
	})
}

// TestClient_LogsHoldNoSecrets: payment codes appear only masked, keys never.
func TestClient_LogsHoldNoSecrets(t *testing.T) {
	var out bytes.Buffer
	logger := logrus.New()
	logger.Out = &out
	logger.SetLevel(logrus.DebugLevel)
	logger.Formatter = &logrus.JSONFormatter{}
	ctx := context.Background()

	answers := []v3Answer{
		{status: 200, body: orderJSON("SUCCESS", 1050)},
		{status: 200, body: orderJSON("SUCCESS", 1050), forge: true},
		{status: 403, body: `{"code":"NOT_ENOUGH","message":"x"}`},
		{status: 500, body: `{"code":"SYSTEM_ERROR","message":"x"}`},
	}
	for _, a := range answers {
		clock := newTestClock()
		s := newV3Server(t, clock, func(r *http.Request, body []byte) v3Answer { return a })
		c := newV3Test(t, s, func(c *Config) { c.Logger = logger; c.APIv3Key = "TESTONLYapiv3key0123456789abcdef" })
		c.MicroPay(ctx, testPay)
		c.Reverse(ctx, testPay.OutTradeNo)
	}
	for _, a := range []v2Answer{{fields: paidFields()}, {fields: failFields("NOTENOUGH")}, {fields: paidFields(), forge: true}, {status: 500}} {
		s := newV2Server(t, func(path string, req v2Fields) v2Answer { return a })
		c := newV2Test(t, s, func(c *Config) { c.Logger = logger })
		c.MicroPay(ctx, testPay)
		c.Reverse(ctx, testPay.OutTradeNo)
	}
	timeout := newTestClock()
	slow := newV3Server(t, timeout, func(r *http.Request, body []byte) v3Answer {
		<-r.Context().Done()
		return v3Answer{status: 200}
	})
	c := newV3Test(t, slow, func(c *Config) { c.Logger = logger; c.Timeouts.MicroPay = 100 * time.Millisecond })
	c.MicroPay(ctx, testPay)

	logs := out.String()
	if !strings.Contains(logs, MaskCode(testPay.AuthCode)) {
		t.Fatalf("masked code not logged at all (test would prove nothing):\n%s", logs)
	}
	for _, secret := range []string{testPay.AuthCode, testAPIKey, "TESTONLYapiv3key0123456789abcdef", "PRIVATE KEY"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log holds a secret %q:\n%s", secret, logs)
		}
	}
}
