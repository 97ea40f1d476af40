package receipts

import (
	"errors"
	"testing"
	"time"

	"posd/printer"
	"posd/queue/engine"
)

var saleTime = time.Date(2026, 11, 26, 2, 0, 5, 0, time.UTC) // 10:00:05 in Hong Kong

func TestFromSale(t *testing.T) {
	s := &engine.Sale{
		ID: "s1", Reference: "R-9", Amount: 10000, Currency: "HKD", State: engine.SalePaid,
		StoreID: "HK001", TillID: "T01", UpdatedAt: saleTime,
		Attempts: []engine.Attempt{
			{OutTradeNo: "o1", State: engine.AttemptFailed, Code: "13**********0001"},
			{OutTradeNo: "o2", State: engine.AttemptReversed, Code: "13**********0002",
				Error: &engine.ErrorInfo{Code: "USERPAYING", Message: "Customer did not confirm."}},
			{OutTradeNo: "o3", State: engine.AttemptPaid, TransactionID: "42000", Wallet: "CNY", PayerAmount: 9220,
				Code: "13**********0003", UpdatedAt: saleTime.Add(time.Minute)},
		},
		Refunds: []engine.Refund{{OutRefundNo: "r1", RefundID: "503", Amount: 2500, State: engine.RefundSucceeded, Reason: "damaged", UpdatedAt: saleTime.Add(time.Hour)}},
	}
	info := Till{MerchantName: "Shop"}
	r, err := FromSale(s, info, printer.KindSale)
	if err != nil {
		t.Fatal(err)
	}
	if r.OutTradeNo != "o3" || r.PayerCurrency != "CNY" || r.PayerAmount != 9220 || r.TransactionID != "42000" ||
		!r.Time.Equal(saleTime.Add(time.Minute)) || r.StoreID != "HK001" || r.MerchantName != "Shop" {
		t.Errorf("sale receipt: %+v", r)
	}
	if r.JobID() != "sale:s1:o3" {
		t.Errorf("job id %q", r.JobID())
	}
	f, err := FromSale(s, info, printer.KindRefund)
	if err != nil || f.RefundAmount != 2500 || f.OutRefundNo != "r1" || f.TransactionID != "42000" || f.JobID() != "refund:s1:r1" {
		t.Errorf("refund receipt: %+v %v", f, err)
	}
	v, err := FromSale(s, info, printer.KindReversal)
	if err != nil || v.OutTradeNo != "o2" || v.Note != "Customer did not confirm." || v.JobID() != "reversal:s1:o2" {
		t.Errorf("reversal receipt: %+v %v", v, err)
	}
	hk := &engine.Sale{ID: "s2", Amount: 100, Currency: "HKD", Attempts: []engine.Attempt{{OutTradeNo: "p", State: engine.AttemptPaid, Wallet: "HKD", PayerAmount: 100}}}
	if r, _ := FromSale(hk, info, printer.KindSale); r.PayerCurrency != "" {
		t.Errorf("same-currency payer shown: %+v", r)
	}
	unpaid := &engine.Sale{ID: "s3", Attempts: []engine.Attempt{{OutTradeNo: "x", State: engine.AttemptUnresolved}}}
	if _, err := FromSale(unpaid, info, printer.KindSale); !errors.Is(err, ErrNothingToPrint) {
		t.Errorf("unpaid sale: %v", err)
	}
}
