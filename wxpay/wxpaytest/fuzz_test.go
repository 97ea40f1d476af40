package wxpaytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The simulator parses outside bytes in two places: v2 XML bodies and v3 Authorization
// headers. Neither may panic, and what parses must round-trip.

func FuzzParseV2XML(f *testing.F) {
	f.Add([]byte(`<xml><appid><![CDATA[wx8888888888888888]]></appid><total_fee>100</total_fee></xml>`))
	f.Add([]byte(`<xml><a><![CDATA[]]]]><![CDATA[>]]></a></xml>`))
	f.Add([]byte(`<!DOCTYPE xml [<!ENTITY x "y">]><xml><a>&x;</a></xml>`))
	f.Add([]byte(`<xml><a><b>1</b></a></xml>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseV2XML(b)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" {
				t.Fatal("empty field name")
			}
		}
		// What the simulator writes, it reads back unchanged.
		m2, err := parseV2XML(v2XML(m))
		if err != nil {
			// Names that are not valid XML names cannot be written back; WeChat's are.
			for k := range m {
				if strings.ContainsAny(k, "<>&/ ") {
					return
				}
			}
			t.Fatalf("re-parse: %v", err)
		}
		for k, v := range m {
			if m2[k] != v && strings.TrimSpace(v) == v {
				t.Fatalf("field %q: %q became %q", k, v, m2[k])
			}
		}
	})
}

func FuzzParseV3Auth(f *testing.F) {
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1900000100",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="3775B6A45ACD588826D15E583A95F5DD00000001",signature="R3qg=="`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2"`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 `)
	f.Add(`Basic abc`)
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseV3Auth(h)
		if err != nil {
			return
		}
		if a.MchID == "" || a.Nonce == "" || a.Serial == "" || a.Signature == "" {
			t.Fatalf("accepted with an empty field: %+v", a)
		}
		if !strings.HasPrefix(strings.TrimSpace(h), v3AuthScheme+" ") {
			t.Fatalf("accepted scheme of %q", h)
		}
	})
}

// FuzzServeV3 sends arbitrary (correctly signed) bodies and paths to the v3 handler: no
// panic, every answer signed, and the ledger never keeps more money than it was paid.
func FuzzServeV3(f *testing.F) {
	f.Add("POST", "/v3/global/micropay/transactions/pay", []byte(`{"mchid":"1900000100","appid":"wx8888888888888888","description":"d","out_trade_no":"F1","trade_type":"MICROPAY","merchant_category_code":"5411","payer":{"auth_code":"134567890123456789"},"amount":{"total":100,"currency":"HKD"}}`))
	f.Add("POST", "/v3/global/refunds", []byte(`{"mchid":"1900000100","appid":"wx8888888888888888","out_trade_no":"F1","out_refund_no":"R","amount":{"refund":1,"total":100,"currency":"HKD"}}`))
	f.Add("POST", "/hk/v3/transactions/out-trade-no/F1/reverse", []byte(`{"mchid":"1900000100"}`))
	f.Add("GET", "/v3/global/statements?date=20261126&mchid=1900000100", []byte(nil))
	f.Add("POST", "/v3/global/micropay/transactions/pay", []byte(`{"amount":{"total":-5}}`))
	s := New(Options{AmountDriven: true})
	f.Cleanup(s.Close)
	key, err := parseRSAKey(s.Credentials().MerchantKeyPEM)
	if err != nil {
		f.Fatal(err)
	}
	cr := s.Credentials()
	f.Fuzz(func(t *testing.T, method, uri string, body []byte) {
		if method != "GET" && method != "POST" || !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, " \r\n#") {
			return
		}
		req, err := http.NewRequest(method, "http://sim"+uri, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.RequestURI = uri
		// The amount table's hang case lasts until the request context ends.
		ctx, cancel := context.WithTimeout(req.Context(), 20*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		ts := s.Now().Unix()
		req.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="N",timestamp="%d",serial_no="%s",signature="%s"`,
			cr.MchID, ts, cr.MerchantSerial, rsaSign(key, v3RequestMessage(method, uri, ts, "N", body))))
		w := &fuzzWriter{ResponseRecorder: httptest.NewRecorder()}
		func() {
			defer func() {
				if r := recover(); r != nil && r != http.ErrAbortHandler {
					panic(r)
				}
			}()
			s.ServeHTTP(w, req)
		}()
		if !w.hijacked && w.Code != http.StatusNotFound && w.Header().Get("Wechatpay-Signature") == "" {
			t.Fatalf("%s %s: unsigned answer %d", method, uri, w.Code)
		}
		for _, o := range s.Orders() {
			if o.Kept() < 0 || o.Kept() > o.Amount {
				t.Fatalf("ledger: %+v", o)
			}
		}
	})
}

// fuzzWriter hijacks into a closed pipe, like a dropped connection.
type fuzzWriter struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (w *fuzzWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	a, b := net.Pipe()
	b.Close()
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

// FuzzServeV2 sends arbitrary fields, correctly signed, to every v2 endpoint: no panic, a
// parsable answer, and a sane ledger.
func FuzzServeV2(f *testing.F) {
	f.Add(uint8(0), []byte(`<xml><body>b</body><out_trade_no>F1</out_trade_no><total_fee>101</total_fee><spbill_create_ip>1.2.3.4</spbill_create_ip><auth_code>134567890123456789</auth_code></xml>`))
	f.Add(uint8(3), []byte(`<xml><out_trade_no>F1</out_trade_no><out_refund_no>R</out_refund_no><total_fee>101</total_fee><refund_fee>1</refund_fee></xml>`))
	f.Add(uint8(5), []byte(`<xml><bill_date>20261126</bill_date><bill_type>REFUND</bill_type><tar_type>GZIP</tar_type></xml>`))
	f.Add(uint8(2), []byte(`<xml><transaction_id>42000</transaction_id><sign_type>HMAC-SHA256</sign_type></xml>`))
	paths := []string{"/pay/micropay", "/pay/orderquery", "/secapi/pay/reverse", "/secapi/pay/refund", "/pay/refundquery", "/pay/downloadbill"}
	s := New(Options{AmountDriven: true})
	f.Cleanup(s.Close)
	cr := s.Credentials()
	cert, err := parseCert(cr.ClientCertPEM)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p uint8, body []byte) {
		fields, err := parseV2XML(body)
		if err != nil {
			return
		}
		fields["appid"], fields["mch_id"], fields["nonce_str"] = cr.AppID, cr.MchID, "N"
		st := fields["sign_type"]
		if st != signHMAC {
			st = signMD5
		}
		fields["sign"] = v2Sign(fields, cr.APIKey, st)
		req := httptest.NewRequest("POST", paths[int(p)%len(paths)], bytes.NewReader(v2XML(fields)))
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		ctx, cancel := context.WithTimeout(req.Context(), 20*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		w := &fuzzWriter{ResponseRecorder: httptest.NewRecorder()}
		func() {
			defer func() {
				if r := recover(); r != nil && r != http.ErrAbortHandler {
					panic(r)
				}
			}()
			s.ServeHTTP(w, req)
		}()
		if w.hijacked || w.Code != 200 || !strings.HasPrefix(w.Body.String(), "<xml>") {
			return // dropped, HTTP fault, or a bill
		}
		if _, err := parseV2XML(w.Body.Bytes()); err != nil {
			t.Fatalf("unparsable answer %q: %v", w.Body, err)
		}
		for _, o := range s.Orders() {
			if o.Kept() < 0 || o.Kept() > o.Amount {
				t.Fatalf("ledger: %+v", o)
			}
		}
	})
}
