package report_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"posd/internal/receipts"
	"posd/printer"
	"posd/queue/report"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// TestDayReportPrintout: a day sold through the engine and the simulator (HKD wallets,
// a mainland wallet paying in CNY, a refund, a refused code) becomes the Z report, is
// rendered to ESC/POS and decoded back: the per-wallet totals and the net are on paper.
func TestDayReportPrintout(t *testing.T) {
	r := newRig(t, wxpay.APIv3Global)
	ctx := context.Background()
	r.paid(tillA, 1050)
	r.paid(tillA, 2500)
	r.paid(tillA, 10000, wxpaytest.Fault{Kind: wxpaytest.FaultMainlandWallet}) // CNY 92.00 at 0.92
	refundable, _ := r.paid(tillA, 3000)
	if _, err := r.tills[tillA].Refund(ctx, refundable.ID, 700, "short"); err != nil {
		t.Fatal(err)
	}
	r.sell(tillA, 4200, wxpaytest.Fault{Kind: wxpaytest.FaultFail, Code: "NOTENOUGH"})
	// WeChat answers a refund PROCESSING; the durable queue confirms it later.
	qctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- r.tills[tillA].Run(qctx) }()
	confirmed := func() bool {
		s, err := r.tills[tillA].Sale(refundable.ID)
		return err == nil && len(s.Refunds) == 1 && s.Refunds[0].State == "success"
	}
	for i := 0; !confirmed(); i++ {
		if i > 2000 {
			t.Fatal("refund never confirmed")
		}
		r.clk.Advance(time.Second)
		time.Sleep(200 * time.Microsecond)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}

	sales, err := r.tills[tillA].Sales(dateISO)
	if err != nil {
		t.Fatal(err)
	}
	day := report.Day(dateISO, store, tillA, "HKD", hkt, sales, time.Date(2026, 11, 25, 22, 0, 0, 0, hkt))
	if day.Paid.Count != 4 || day.Paid.Amount != 16550 || day.Refunds.Amount != 700 || day.Net != 15850 {
		t.Fatalf("day report: %+v", day)
	}
	p := receipts.ZReport(day, "Example Store 示例商店", 7, printer.LangBoth)
	day.Wallets[0].Count = 99 // the printout is a copy
	for _, f := range []printer.Format{{Encoding: "big5", Columns: 42}, {Encoding: "ascii", Columns: 48}} {
		b, err := printer.RenderReport(p, f)
		if err != nil {
			t.Fatal(err)
		}
		text, err := printer.DecodeText(b, f.Encoding)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s/%d:\n%s", f.Encoding, f.Columns, text)
		for _, want := range []string{
			"2026-11-25", "HK001", "T01",
			"CNY x1", "HKD 100.00", "(CNY 92.00)", // the mainland wallet: priced in HKD, paid in CNY
			"HKD x3", "HKD 65.50", // 10.50 + 25.00 + 30.00
			"x4", "HKD 165.50", // paid
			"-HKD 7.00",  // refunds
			"HKD 158.50", // net
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s/%d: %q not on the printout", f.Encoding, f.Columns, want)
			}
		}
	}
}
