package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"posd/queue/engine"
)

// showQR starts a QR Code Payment for the sale and waits for the code WeChat gave.
func (tl *till) showQR(id string) engine.Attempt {
	tl.t.Helper()
	if st, b := tl.api("POST", "/api/v1/sales/"+id+"/qr", nil); st != http.StatusOK {
		tl.t.Fatalf("show QR: %d %s", st, b)
	}
	s := tl.waitSale(id, 10*time.Second, "showing a QR code", func(s *engine.Sale) bool {
		a := lastAttempt(s)
		return a.Kind == engine.AttemptKindQR && a.CodeURL != "" && a.Phase == engine.PhaseShowingQR
	})
	return lastAttempt(s)
}

// TestE2E_QRCode: the real binary shows a QR code, the simulated customer pays it, one
// receipt; a cancelled QR code that the customer pays anyway ends refunded; a restart
// while a code is shown resumes it. No WeChat rule is broken.
func TestE2E_QRCode(t *testing.T) {
	t.Parallel()
	tl := newTill(t, tillOptions{})
	tl.start()

	// Shown, scanned, paid: one receipt.
	s := tl.openSale(2500, "R-qr")
	a := tl.showQR(s.ID)
	if st, b := tl.api("GET", "/api/v1/sales/"+s.ID+"/qr.svg", nil); st != http.StatusOK || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Fatalf("qr.svg: %d %.80s", st, b)
	}
	// A scan while the code is shown is refused: one open payment per till.
	if _, err := tl.ptyM.Write([]byte(newCode() + "\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.sim.PayCodeURL(a.CodeURL); err != nil {
		t.Fatal(err)
	}
	s = tl.waitSale(s.ID, 10*time.Second, "paid by QR", paid)
	if len(s.Attempts) != 1 || lastAttempt(s).TransactionID == "" {
		t.Fatalf("attempts %+v", s.Attempts)
	}
	tx := lastAttempt(s).TransactionID
	// A receipt carries the transaction id twice: printed, and as its QR code.
	const perReceipt = 2
	for deadline := time.Now().Add(10 * time.Second); tl.printer.count(tx) < perReceipt; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no receipt for the QR payment\n%s", tl.stderr)
		}
	}

	// The cashier gives up; the customer pays anyway: refunded, nothing kept.
	s2 := tl.openSale(1800, "R-qr-cancel")
	a2 := tl.showQR(s2.ID)
	if st, b := tl.api("POST", "/api/v1/sales/"+s2.ID+"/cancel", nil); st != http.StatusOK {
		t.Fatalf("cancel: %d %s", st, b)
	}
	if _, err := tl.sim.PayCodeURL(a2.CodeURL); err != nil {
		t.Fatal(err)
	}
	s2 = tl.waitSale(s2.ID, 20*time.Second, "refunded after cancel", func(s *engine.Sale) bool {
		return lastAttempt(s).State == engine.AttemptReversed
	})
	if s2.State != engine.SaleCancelled {
		t.Fatalf("sale %s", s2.State)
	}
	if o, _ := tl.sim.Order(a2.OutTradeNo); !o.WasPaid || o.Kept() != 0 {
		t.Fatalf("simulator order %+v", o)
	}

	// A restart while the code is shown resumes it: the customer pays after the restart.
	s3 := tl.openSale(900, "R-qr-restart")
	a3 := tl.showQR(s3.ID)
	tl.kill9()
	tl.start()
	if _, err := tl.sim.PayCodeURL(a3.CodeURL); err != nil {
		t.Fatal(err)
	}
	s3 = tl.waitSale(s3.ID, 20*time.Second, "paid after a restart", paid)
	if len(s3.Attempts) != 1 || lastAttempt(s3).CodeURL != a3.CodeURL {
		t.Fatalf("attempts after the restart %+v", s3.Attempts)
	}

	if got := tl.sim.Captured(); got != 2500+900 {
		t.Fatalf("simulator keeps %d cents, want %d", got, 2500+900)
	}
	if v := tl.sim.Violations(); len(v) != 0 {
		t.Fatalf("WeChat rules broken: %v", v)
	}
	// One receipt: nothing printed it again (not the restart's catch-up either).
	if n := tl.printer.count(tx); n != perReceipt {
		t.Fatalf("the QR payment's transaction id was printed %d times: not one receipt", n)
	}
}
