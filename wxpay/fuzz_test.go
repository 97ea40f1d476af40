package wxpay

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

// Seed corpora live in testdata/fuzz/<Name>/; `make fuzz` runs each target for minutes.

// FuzzV2XML: the strict v2 decoder never panics, and whatever it accepts survives an
// encode/decode round trip unchanged.
func FuzzV2XML(f *testing.F) {
	f.Add([]byte(`<xml><return_code><![CDATA[SUCCESS]]></return_code><a>1&amp;2</a></xml>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, err := decodeV2XML(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		encodeV2XML(&buf, fields)
		again, err := decodeV2XML(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded message refused: %v\n%s", err, buf.Bytes())
		}
		if len(again) != len(fields) {
			t.Fatalf("round trip: %d fields, then %d", len(fields), len(again))
		}
		for i := range fields {
			if fields[i] != again[i] {
				t.Fatalf("round trip: %q became %q", fields[i], again[i])
			}
		}
		_ = v2Verify(fields, testAPIKey, SignTypeHMACSHA256)
	})
}

// FuzzV3Order: any 2xx body gives an outcome without panicking; Paid only for
// trade_state SUCCESS with the charged amount and order number.
func FuzzV3Order(f *testing.F) {
	f.Add(200, []byte(orderJSON("SUCCESS", 1050)))
	f.Add(202, []byte(`{"trade_state":"USERPAYING"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 299 {
			status = 200 + (status&0x7fffffff)%100
		}
		var a v3Order
		if err := json.Unmarshal(body, &a); err != nil {
			return
		}
		o := fillOrder(Order{OutTradeNo: "T1-0001"}, &a, status, 1050, "HKD")
		if o.Outcome == Paid && (a.TradeState != "SUCCESS" || a.Amount.Total == nil || *a.Amount.Total != 1050 || status == http.StatusAccepted) {
			t.Fatalf("paid for %s", body)
		}
		if (o.Outcome == Failed || o.Outcome == Unknown) && (o.Error == nil || o.Error.Message == "") {
			t.Fatalf("no cashier sentence for %s", body)
		}
	})
}

// FuzzVerifyV3: only the exact signed answer of vector V1 verifies.
func FuzzVerifyV3(f *testing.F) {
	v := vec(f, "resp1_micropay_success")
	body := readVec(f, "resp1_body.json")
	h := v.Headers
	f.Add(h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], h["Wechatpay-Signature"], h["Wechatpay-Serial"], body)
	cfg := Config{AppID: "wx1", MchID: "1", BaseURL: "https://x", Now: func() time.Time { return time.Unix(1554208461, 0) }, PlatformCerts: []*x509.Certificate{platformCert(f)}}
	if err := cfg.fill(); err != nil {
		f.Fatal(err)
	}
	c := &v3Client{cfg: cfg, keys: newKeyStore(&cfg), log: cfg.Logger}
	want := string(readVec(f, "resp1_message.bin"))
	f.Fuzz(func(t *testing.T, ts, nonce, sig, serial string, b []byte) {
		resp := &response{Status: 200, Header: http.Header{}, Body: b}
		resp.Header.Set("Wechatpay-Timestamp", ts)
		resp.Header.Set("Wechatpay-Nonce", nonce)
		resp.Header.Set("Wechatpay-Signature", sig)
		resp.Header.Set("Wechatpay-Serial", serial)
		if e := c.verifyWith(resp, b, c.keys.lookup(resp.Header.Get("Wechatpay-Serial"))); e == nil {
			got := string(v3ResponseMessage(resp.Header.Get("Wechatpay-Timestamp"), resp.Header.Get("Wechatpay-Nonce"), b))
			if got != want {
				t.Fatalf("verified a different message: %q", got)
			}
		}
	})
}

// FuzzV2Bill: downloadbill answers (XML errors, gzip, CSV) never panic and never yield
// more rows than lines.
func FuzzV2Bill(f *testing.F) {
	f.Add([]byte(v2BillCSV))
	f.Add([]byte(`<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg></xml>`))
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, hongKong)
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseV2Bill(data, "20270228", now, 1<<20)
		if err != nil {
			return
		}
		if len(st.Rows) > bytes.Count(data, []byte("\n"))+1 && data[0] != 0x1f {
			t.Fatalf("%d rows from %d lines", len(st.Rows), bytes.Count(data, []byte("\n"))+1)
		}
	})
}

// FuzzV3Statement: the statement CSV parser never panics, keeps valid UTF-8 and makes at
// most one row per line.
func FuzzV3Statement(f *testing.F) {
	f.Add(readVec(f, "resp3_statement.csv"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseStatementCSV(data)
		if err != nil {
			return
		}
		if len(rows) > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d rows from %d lines", len(rows), bytes.Count(data, []byte("\n"))+1)
		}
		for _, r := range rows {
			if !utf8.ValidString(r.OutTradeNo) || !utf8.ValidString(r.TradeState) {
				t.Fatalf("invalid UTF-8 in %+v", r)
			}
		}
	})
}

// FuzzCertificateList: the /certificates answer parser never panics.
func FuzzCertificateList(f *testing.F) {
	f.Add(readVec(f, "certificates_response.json"))
	key := vec(f, "aead_certificate").APIv3Key
	now := platformCert(f).NotBefore.Add(time.Hour)
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := parseCertificateList(data, key, now)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}
