package receipts

import (
	"errors"
	"fmt"
	"time"

	"posd/printer"
	"posd/queue/engine"
	"posd/wxpay"
)

// Till is what a receipt takes from the configuration.
type Till struct {
	MerchantName string
	StoreID      string // default: the sale's
	TillID       string // default: the sale's
	Lang         printer.Lang
}

// ErrNothingToPrint is returned by FromSale when the sale has no record of the
// requested kind (no paid attempt, no such refund or reversed attempt).
var ErrNothingToPrint = errors.New("nothing to print")

// FromSale builds the receipt of the given kind from a sale record. For KindSale it
// uses the paid attempt (a receipt is proof of payment, so there is none without one). For
// KindRefund, ref names the out_refund_no (default: the latest successful refund); for
// KindReversal, ref names the out_trade_no (default: the latest reversed attempt).
func FromSale(s *engine.Sale, info Till, kind printer.Kind, ref ...string) (printer.Receipt, error) {
	want := ""
	if len(ref) > 0 {
		want = ref[0]
	}
	r := printer.Receipt{
		Kind:         kind,
		Lang:         info.Lang,
		MerchantName: info.MerchantName,
		StoreID:      firstNonEmpty(info.StoreID, s.StoreID),
		TillID:       firstNonEmpty(info.TillID, s.TillID),
		SaleID:       s.ID,
		Reference:    s.Reference,
		Description:  s.Description,
		Amount:       s.Amount,
		Currency:     s.Currency,
		Time:         s.UpdatedAt,
	}
	setAttempt := func(a *engine.Attempt) {
		r.OutTradeNo = a.OutTradeNo
		r.TransactionID = a.TransactionID
		r.Code = wxpay.MaskCodeRuns(a.Code) // already masked by the engine; a full code must never print
		if a.Wallet != "" && a.Wallet != s.Currency {
			r.PayerCurrency = a.Wallet
			r.PayerAmount = a.PayerAmount
		}
		if !a.UpdatedAt.IsZero() {
			r.Time = a.UpdatedAt
		}
	}
	switch kind {
	case printer.KindSale:
		for i := range s.Attempts {
			if a := &s.Attempts[i]; a.State == engine.AttemptPaid && (want == "" || a.OutTradeNo == want) {
				setAttempt(a)
				return r, nil
			}
		}
		return r, fmt.Errorf("sale %s receipt: no paid attempt: %w", s.ID, ErrNothingToPrint)
	case printer.KindReversal:
		for i := len(s.Attempts) - 1; i >= 0; i-- {
			if a := &s.Attempts[i]; a.State == engine.AttemptReversed && (want == "" || a.OutTradeNo == want) {
				setAttempt(a)
				if a.Error != nil {
					// WeChat's text may echo the auth_code sent (security review).
					r.Note = wxpay.MaskCodeRuns(a.Error.Message)
				}
				return r, nil
			}
		}
		return r, fmt.Errorf("sale %s reversal slip: no reversed attempt %q: %w", s.ID, want, ErrNothingToPrint)
	case printer.KindRefund:
		for i := len(s.Refunds) - 1; i >= 0; i-- {
			f := &s.Refunds[i]
			if (want == "" && f.State == engine.RefundSucceeded) || (want != "" && f.OutRefundNo == want) {
				for j := range s.Attempts {
					if a := &s.Attempts[j]; a.State == engine.AttemptPaid {
						setAttempt(a)
					}
				}
				r.RefundAmount = f.Amount
				r.OutRefundNo = f.OutRefundNo
				r.RefundID = f.RefundID
				r.Reason = f.Reason
				r.Time = firstTime(f.UpdatedAt, f.CreatedAt, r.Time)
				return r, nil
			}
		}
		return r, fmt.Errorf("sale %s refund slip: no refund %q: %w", s.ID, want, ErrNothingToPrint)
	}
	return r, fmt.Errorf("receipt kind %q: %w", kind, ErrNothingToPrint)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstTime(t ...time.Time) time.Time {
	for _, v := range t {
		if !v.IsZero() {
			return v
		}
	}
	return time.Time{}
}
