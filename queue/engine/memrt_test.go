package engine_test

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"posd/queue/engine"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// memRT carries the real wxpay client's requests to the simulator's handler in memory:
// no sockets, no TLS handshakes, so thousands of fault schedules run in seconds. A
// handler that drops the connection (hijack, ErrAbortHandler) is a connection reset.
type memRT struct {
	h   http.Handler
	tls *tls.ConnectionState // what the handler sees (the client certificate for /secapi/)
}

func (m memRT) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	sreq := req.Clone(req.Context())
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	sreq.RemoteAddr = "127.0.0.1:40000"
	sreq.TLS = m.tls
	w := &memWriter{header: http.Header{}}
	aborted := func() (aborted bool) {
		defer func() {
			if r := recover(); r != nil {
				if r != http.ErrAbortHandler {
					panic(r)
				}
				aborted = true
			}
		}()
		m.h.ServeHTTP(w, sreq)
		return false
	}()
	if aborted || w.hijacked {
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: w.header,
		Body: io.NopCloser(bytes.NewReader(w.buf.Bytes())), ContentLength: int64(w.buf.Len()), Request: req,
	}, nil
}

type memWriter struct {
	header   http.Header
	code     int
	buf      bytes.Buffer
	hijacked bool
}

func (w *memWriter) Header() http.Header { return w.header }
func (w *memWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
}
func (w *memWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.buf.Write(b)
}
func (w *memWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	a, b := net.Pipe()
	b.Close()
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

// simClient is the real wxpay client of the dialect, talking to sim in memory, on clk.
func simClient(tb testing.TB, sim *wxpaytest.Server, api string, clk engine.Clock) wxpay.Client {
	tb.Helper()
	cr := sim.Credentials()
	cfg := wxpay.Config{
		API: api, BaseURL: "https://apihk.mch.weixin.qq.com", MchID: cr.MchID, AppID: cr.AppID,
		Now: clk.Now, RoundTripper: memRT{h: sim}, NotifyURL: wxpaytest.NotifyURL,
	}
	switch api {
	case wxpay.APIv2:
		cfg.APIKey, cfg.SignType = cr.APIKey, wxpay.SignTypeHMACSHA256
		blk, _ := pem.Decode(cr.ClientCertPEM)
		if blk == nil {
			tb.Fatal("simulator client certificate: no PEM")
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.SecRoundTripper = memRT{h: sim, tls: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}
	default:
		blk, _ := pem.Decode(cr.MerchantKeyPEM)
		if blk == nil {
			tb.Fatal("simulator merchant key: no PEM")
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			tb.Fatal(err)
		}
		var ok bool
		if cfg.PrivateKey, ok = k.(*rsa.PrivateKey); !ok {
			tb.Fatalf("merchant key is %T", k)
		}
		cfg.MerchantSerialNo, cfg.APIv3Key = cr.MerchantSerial, cr.APIv3Key
		cfg.MerchantCategoryCode = "5411"
		pblk, _ := pem.Decode(cr.PlatformCertPEM)
		if pblk == nil {
			tb.Fatal("simulator platform certificate: no PEM")
		}
		pc, err := x509.ParseCertificate(pblk.Bytes)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.PlatformCerts = []*x509.Certificate{pc}
	}
	c, err := wxpay.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
