package ui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/skip2/go-qrcode"

	"posd/queue/engine"
)

// The customer display (/customer): the till's second screen, facing the customer. It
// shows the amount of the open sale (Quick Pay too, so the customer sees what they pay),
// the QR code of a QR Code Payment with its countdown, then paid or not paid. It reads
// the same event stream as the cashier's page and needs a cashier session (the till's own
// loopback screen gets one without a login).

// QRTill is the part of the engine that takes QR Code Payments. A Till without it (or
// with QREnabled false: no wxpay.notify_url) offers no "Show QR".
type QRTill interface {
	// ShowQR asks WeChat for a QR code for the sale's amount and shows it until the
	// customer pays, it expires, or the sale is cancelled.
	ShowQR(ctx context.Context, saleID string) (*engine.Sale, error)
	QREnabled() bool
}

func (s *Server) qrTill() QRTill {
	if q, ok := s.opt.Till.(QRTill); ok && q.QREnabled() {
		return q
	}
	return nil
}

// customerRoutes serves the customer display's page; its API calls (qr, qr.svg,
// demo/customer-pays) are in apiRoutes, so that the OpenAPI test sees them.
func (s *Server) customerRoutes() {
	s.mux.HandleFunc("/customer", s.handleCustomer)
}

func (s *Server) handleCustomer(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, errMethod("GET"))
		return
	}
	b, err := staticFS.ReadFile("static/customer.html")
	if err != nil {
		http.Error(w, "customer page missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

var errNoQR = &apiError{Status: http.StatusNotImplemented, Code: CodeQRDisabled,
	Message: "QR Code Payment is not set up on this till (wxpay.notify_url)"}

// errNoOpenQR: the sale shows no QR code that can still be paid. One code answers one
// status (errors.go), for qr.svg and the demo's customer alike.
var errNoOpenQR = &apiError{Status: http.StatusNotFound, Code: CodeNoQR, Message: "This sale shows no QR code"}

// showQR starts a QR Code Payment for an open sale.
func (s *Server) showQR(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := s.qrTill()
	if q == nil {
		return errNoQR
	}
	sale, err := q.ShowQR(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redact(sale))
	return nil
}

// openQR returns the sale's QR attempt that can still be paid (shown), or nil.
func openQR(sale *engine.Sale) *engine.Attempt {
	for i := len(sale.Attempts) - 1; i >= 0; i-- {
		a := &sale.Attempts[i]
		if a.Kind == engine.AttemptKindQR && a.CodeURL != "" && !a.State.Final() {
			return a
		}
	}
	return nil
}

// qrSVG draws the open QR attempt's code as SVG, so no page ever needs a QR library or
// an outside service, and the image scales to any customer display.
func (s *Server) qrSVG(w http.ResponseWriter, r *http.Request, _ caller) error {
	sale, err := s.opt.Till.Sale(r.PathValue("id"))
	if err != nil {
		return err
	}
	a := openQR(sale)
	if a == nil {
		return errNoOpenQR
	}
	svg, err := qrSVG(a.CodeURL)
	if err != nil {
		return fmt.Errorf("qr code of %s: %w", a.OutTradeNo, err)
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(svg)
	return nil
}

// qrSVG renders content as a QR code (error correction M, 4-module quiet zone) in one path.
func qrSVG(content string) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	bm := q.Bitmap() // includes the quiet zone
	n := len(bm)
	var b strings.Builder
	b.Grow(64 + n*n*8)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(n) + " " + strconv.Itoa(n))
	b.WriteString(`" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	for y, row := range bm {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run - 1
		}
	}
	b.WriteString(`"/></svg>`)
	return []byte(b.String()), nil
}

// demoCustomerPays is the demo's "the customer scans and pays" button: the simulated
// customer pays the sale's shown QR code at the simulator.
func (s *Server) demoCustomerPays(w http.ResponseWriter, r *http.Request, _ caller) error {
	if !s.opt.Demo || s.opt.DemoCustomerPays == nil {
		return &apiError{Status: http.StatusNotFound, Code: CodeNotDemo, Message: "Only the demo has a simulated customer"}
	}
	var req struct {
		SaleID string `json:"sale_id"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	sale, err := s.opt.Till.Sale(req.SaleID)
	if err != nil {
		return err
	}
	a := openQR(sale)
	if a == nil {
		return errNoOpenQR
	}
	if err := s.opt.DemoCustomerPays(r.Context(), a.CodeURL); err != nil {
		return &apiError{Status: http.StatusConflict, Code: CodeNotPayable, Message: "The simulated customer could not pay: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]string{"out_trade_no": a.OutTradeNo})
	return nil
}
