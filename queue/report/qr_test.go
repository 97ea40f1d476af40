package report_test

import (
	"context"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/report"
	"posd/wxpay"
)

// TestReconcileQRCode: a QR Code Payment is a NATIVE row on WeChat's statement, matched
// with its attempt like a Quick Pay; the day report and the reconciliation count the
// payments by trade type. An unpaid (closed) QR order moves no money and is not listed.
func TestReconcileQRCode(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, api)
			ctx := context.Background()
			e := r.tills[tillA]
			_, quick := r.paid(tillA, 1050)

			qr := func(amount int64, pay bool) *engine.Sale {
				s, err := e.OpenSale(ctx, engine.OpenSaleRequest{Amount: amount, Reference: "QR"})
				if err != nil {
					t.Fatal(err)
				}
				if s, err = e.ShowQR(ctx, s.ID); err != nil {
					t.Fatal(err)
				}
				s = r.drive(tillA, s.ID, func(a engine.Attempt) bool { return a.CodeURL != "" || isFinal(a) })
				if pay {
					if _, err := r.sim.PayCodeURL(last(s).CodeURL); err != nil {
						t.Fatal(err)
					}
				}
				return r.drive(tillA, s.ID, isFinal)
			}
			paidQR := qr(2200, true)
			closedQR := qr(800, false)
			if last(paidQR).State != engine.AttemptPaid || last(closedQR).State != engine.AttemptReversed {
				t.Fatalf("QR attempts %s, %s", last(paidQR).State, last(closedQR).State)
			}

			sales, err := e.Sales(dateISO)
			if err != nil {
				t.Fatal(err)
			}
			day := report.Day(dateISO, store, tillA, "HKD", hkt, sales, r.clk.Now())
			if day.TradeTypes[report.TradeMicroPay] != (report.Money{Count: 1, Amount: 1050}) ||
				day.TradeTypes[report.TradeNative] != (report.Money{Count: 1, Amount: 2200}) || day.Paid.Amount != 3250 {
				t.Fatalf("day report by trade type %+v, paid %+v", day.TradeTypes, day.Paid)
			}

			r.clk.Set(time.Date(2026, 11, 26, 10, 30, 0, 0, hkt))
			res, err := r.reconciler(tillA, &memResults{}).RunDate(ctx, dateISO)
			if err != nil || res.State != "done" {
				t.Fatalf("%v %+v", err, res)
			}
			got := byNo(res)
			if it := got[last(paidQR).OutTradeNo]; it.Class != report.Matched || it.TradeType != report.TradeNative {
				t.Fatalf("QR payment %+v", it)
			}
			if it := got[quick]; it.Class != report.Matched || it.TradeType != report.TradeMicroPay {
				t.Fatalf("Quick Pay %+v", it)
			}
			if _, listed := got[last(closedQR).OutTradeNo]; listed || res.Alerts != 0 {
				t.Fatalf("closed QR order listed or alerts: %+v", res)
			}
			if res.TradeTypes[report.TradeNative] != 1 || res.TradeTypes[report.TradeMicroPay] != 1 {
				t.Fatalf("reconciliation by trade type %v", res.TradeTypes)
			}
		})
	}
}
