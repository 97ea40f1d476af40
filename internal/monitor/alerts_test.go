package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/bbolt"

	"posd/internal/config"
	"posd/printer"
	"posd/scanner"
)

// spoolAfterOneJob runs one receipt through a real spool on a virtual printer and returns
// the spool's status once the job is printed or held back.
func spoolAfterOneJob(t *testing.T, p printer.Printer) printer.SpoolStatus {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "spool.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	settled := make(chan struct{}, 16)
	sp, err := printer.NewSpool(db, p, printer.SpoolOptions{Logger: quiet, StatusInterval: -1, OnChange: func(j printer.Job) {
		switch j.State {
		case printer.JobDone, printer.JobWaitingPaper, printer.JobWaitingPrinter, printer.JobFailed:
			settled <- struct{}{}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	if _, err := sp.Enqueue(printer.Receipt{Kind: printer.KindSale, SaleID: "s1", OutTradeNo: "A1", Amount: 100, Currency: "HKD"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-settled:
	case <-time.After(30 * time.Second):
		t.Fatalf("the job never settled: %+v", sp.Status())
	}
	return sp.Status()
}

// TestAlerts_PrinterStatusBits: every combination of the printer's status bits gives the
// alert its bits call for, whatever words they make. Out of paper wins over the error bit
// (the cashier can fix paper), and a printer that only sets its error bit still prints.
func TestAlerts_PrinterStatusBits(t *testing.T) {
	for bits := range 16 {
		st := printer.Status{PaperOut: bits&1 != 0, CoverOpen: bits&2 != 0, Offline: bits&4 != 0, Error: bits&8 != 0}
		var want string
		switch {
		case st.PaperOut:
			want = "printer_paper_out"
		case st.CoverOpen || st.Offline:
			want = "printer_offline"
		}
		t.Run(fmt.Sprintf("%+v", st), func(t *testing.T) {
			v := printer.NewVirtual(0)
			v.SetStatus(st, nil)
			ss := spoolAfterOneJob(t, v)
			got := Alerts(nil, ss, nil, time.Now())
			switch {
			case want == "" && len(got) != 0:
				t.Fatalf("alerts %+v for a printer that prints (state %q)", got, ss.State)
			case want != "" && (len(got) != 1 || got[0].Code != want):
				t.Fatalf("alerts %+v (state %q), want one %s", got, ss.State, want)
			case want == "printer_offline" && !strings.Contains(got[0].Message, string(ss.State)):
				t.Fatalf("message %q does not say %q", got[0].Message, ss.State)
			case want != "" && got[0].Count != 1:
				t.Fatalf("count %d, want the one waiting receipt", got[0].Count)
			}
		})
	}
}

// TestAlerts_PrinterLinks: a printer that cannot be reached is offline; no printer at all
// is no alert.
func TestAlerts_PrinterLinks(t *testing.T) {
	v := printer.NewVirtual(0)
	v.SetWriteHook(func(context.Context, []byte) error { return errors.New("connection refused") })
	ss := spoolAfterOneJob(t, v)
	if got := Alerts(nil, ss, nil, time.Now()); len(got) != 1 || got[0].Code != "printer_offline" || !strings.Contains(got[0].Message, "unreachable") {
		t.Fatalf("unreachable printer: %+v", got)
	}
	if got := Alerts(nil, spoolAfterOneJob(t, printer.None{}), nil, time.Now()); len(got) != 0 {
		t.Fatalf("no printer configured: %+v", got)
	}
}

// TestAlerts_ScannersAndCertificates: an unplugged scanner is an error; a certificate is
// shown from 30 days before it expires.
func TestAlerts_ScannersAndCertificates(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	got := Alerts(
		[]scanner.DeviceStatus{{Name: "front", Connected: true}, {Name: "back"}},
		printer.SpoolStatus{State: printer.SpoolReady},
		[]config.CertInfo{{Key: "soon", NotAfter: now.Add(29 * 24 * time.Hour)}, {Key: "later", NotAfter: now.Add(31 * 24 * time.Hour)}},
		now)
	if len(got) != 2 || got[0].Code != "scanner_disconnected" || !strings.Contains(got[0].Message, "back") ||
		got[1].Code != "cert_expiring" || !strings.Contains(got[1].Message, "soon") {
		t.Fatalf("alerts %+v", got)
	}
}
