package ui

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"

	"posd/queue/engine"
)

// qrFake is the fake till with QR Code Payment: ShowQR adds a shown QR attempt.
type qrFake struct {
	*fakeTill
	enabled bool
}

func (q qrFake) QREnabled() bool { return q.enabled }

func (q qrFake) ShowQR(_ context.Context, saleID string) (*engine.Sale, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s, ok := q.sales[saleID]
	if !ok {
		return nil, &engine.Error{Code: "not_found", Message: "No such sale"}
	}
	s.State = engine.SalePaying
	s.Attempts = append(s.Attempts, engine.Attempt{OutTradeNo: "Q1", Kind: engine.AttemptKindQR, State: engine.AttemptPaying,
		Phase: engine.PhaseShowingQR, CodeURL: "weixin://wxpay/bizpayurl?pr=Abc"})
	return q.put(s), nil
}

func TestAPI_QR(t *testing.T) {
	// Without QR Code Payment (a Till without it, or not enabled): 501, no button.
	e := newEnv(t, nil)
	s := e.openSale(1000)
	wantError(t, e.do("POST", "/api/v1/sales/"+s.ID+"/qr", "", bearer), http.StatusNotImplemented, "qr_disabled")
	wantError(t, e.do("GET", "/api/v1/sales/"+s.ID+"/qr.svg", "", bearer), http.StatusNotFound, "no_qr")
	wantError(t, e.do("POST", "/api/v1/demo/customer-pays", `{"sale_id":"`+s.ID+`"}`, bearer), http.StatusNotFound, "not_demo")
	if w := e.do("GET", "/ui/session", "", withHeader("Sec-Fetch-Site", "same-origin")); !strings.Contains(w.Body.String(), `"qr":false`) {
		t.Fatalf("session %s", w.Body)
	}

	var paid []string
	e = newEnv(t, func(o *Options) {
		o.Till = qrFake{newFakeTill(o.Now), true}
		o.Demo = true
		o.DemoCustomerPays = func(_ context.Context, codeURL string) error { paid = append(paid, codeURL); return nil }
	})
	e.till = e.srv.opt.Till.(qrFake).fakeTill
	s = e.openSale(1000)
	wantError(t, e.do("GET", "/api/v1/sales/"+s.ID+"/qr", "", bearer), http.StatusMethodNotAllowed, "method_not_allowed")
	w := e.do("POST", "/api/v1/sales/"+s.ID+"/qr", "", bearer)
	if w.Code != http.StatusOK || decodeSale(t, w).Attempts[0].CodeURL == "" {
		t.Fatalf("show QR: %d %s", w.Code, w.Body)
	}
	w = e.do("GET", "/api/v1/sales/"+s.ID+"/qr.svg", "", bearer)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/svg+xml" || !bytes.HasPrefix(w.Body.Bytes(), []byte("<svg")) {
		t.Fatalf("qr.svg: %d %s %.60s", w.Code, w.Header(), w.Body)
	}
	if w := e.do("GET", "/api/v1/sales/"+s.ID+"/qr.svg", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("qr.svg without a session: %d", w.Code)
	}
	if w := e.do("POST", "/api/v1/demo/customer-pays", `{"sale_id":"`+s.ID+`"}`, bearer); w.Code != http.StatusOK || len(paid) != 1 || paid[0] != "weixin://wxpay/bizpayurl?pr=Abc" {
		t.Fatalf("customer pays: %d %s %v", w.Code, w.Body, paid)
	}
	if w := e.do("GET", "/ui/session", "", withHeader("Sec-Fetch-Site", "same-origin")); !strings.Contains(w.Body.String(), `"qr":true`) || !strings.Contains(w.Body.String(), `"demo_customer":true`) {
		t.Fatalf("session %s", w.Body)
	}

	// The page itself: no login needed to load it (the data needs a session), CSP as
	// every page.
	w = e.do("GET", "/customer", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "/static/customer.js") || w.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("/customer: %d %s", w.Code, w.Header())
	}
}

// TestQRSVG: the drawing has exactly the QR library's modules, dark where it says, inside
// a square view box.
func TestQRSVG(t *testing.T) {
	const content = "weixin://wxpay/bizpayurl?pr=Abc123x"
	b, err := qrSVG(content)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Path    struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	q, _ := qrcode.New(content, qrcode.Medium)
	bm := q.Bitmap()
	n := len(bm)
	// Paint the path's runs back into a grid and compare with the bitmap.
	grid := make([][]bool, n)
	for i := range grid {
		grid[i] = make([]bool, n)
	}
	for _, seg := range strings.Split(strings.TrimSpace(doc.Path.D), "z") {
		if seg == "" {
			continue
		}
		var x, y, w, w2 int
		if _, err := fmtSscanf(seg, "M%d %dh%dv1h-%d", &x, &y, &w, &w2); err != nil || w != w2 {
			t.Fatalf("segment %q: %v", seg, err)
		}
		for i := 0; i < w; i++ {
			grid[y][x+i] = true
		}
	}
	for y := range bm {
		for x := range bm[y] {
			if grid[y][x] != bm[y][x] {
				t.Fatalf("module (%d,%d): drawn %v, want %v", x, y, grid[y][x], bm[y][x])
			}
		}
	}
	if doc.ViewBox != "0 0 "+itoa(n)+" "+itoa(n) {
		t.Fatalf("viewBox %q for %d modules", doc.ViewBox, n)
	}
}

func fmtSscanf(s, format string, a ...any) (int, error) { return fmt.Sscanf(s, format, a...) }
func itoa(n int) string                                 { return strconv.Itoa(n) }
