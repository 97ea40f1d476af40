package printer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"posd/queue/engine"
	"posd/wxpay"
)

// Kind is what a printout is.
type Kind string

const (
	KindSale     Kind = "sale"     // a paid sale: the customer's proof of payment
	KindRefund   Kind = "refund"   // a (partial) refund of a paid sale
	KindReversal Kind = "reversal" // an attempt that was reversed: no money was kept
	KindReport   Kind = "report"   // the day report (Z report)
)

// Lang selects the labels' language. Merchant text (name, description) is printed as given.
type Lang string

const (
	LangBoth Lang = ""   // English and Traditional Chinese, the default
	LangEN   Lang = "en" // English only
	LangZH   Lang = "zh" // Traditional Chinese only
)

// HongKong is the till's time zone. Hong Kong has had no daylight saving since 1979, so
// a fixed zone is exact and needs no tzdata on the till.
var HongKong = time.FixedZone("HKT", 8*3600)

// Receipt is everything printed on one slip. Amounts are in minor units (cents).
type Receipt struct {
	Kind Kind `json:"kind"`
	Lang Lang `json:"lang,omitempty"`

	MerchantName string    `json:"merchant_name"`
	StoreID      string    `json:"store_id"`
	TillID       string    `json:"till_id"`
	Time         time.Time `json:"time"` // printed in Hong Kong time

	SaleID      string `json:"sale_id"`
	Reference   string `json:"reference,omitempty"`
	Description string `json:"description,omitempty"`
	Amount      int64  `json:"amount"`   // the sale amount
	Currency    string `json:"currency"` // the sale currency, HKD

	PayerCurrency string `json:"payer_currency,omitempty"` // the wallet's currency, e.g. CNY
	PayerAmount   int64  `json:"payer_amount,omitempty"`   // in PayerCurrency

	TransactionID string `json:"transaction_id,omitempty"` // WeChat's; also the QR code
	OutTradeNo    string `json:"out_trade_no,omitempty"`
	Code          string `json:"code,omitempty"` // payment code, already masked

	RefundAmount int64  `json:"refund_amount,omitempty"`
	OutRefundNo  string `json:"out_refund_no,omitempty"`
	RefundID     string `json:"refund_id,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Note         string `json:"note,omitempty"` // e.g. why an attempt was reversed

	Copy bool `json:"copy,omitempty"` // an explicit reprint: marked COPY
	// Interrupted marks the reprint of a job whose first print was cut off.
	Interrupted bool `json:"interrupted,omitempty"`
}

// JobID is the receipt's stable print-job id: the same sale, attempt and kind always give
// the same id, so enqueueing a receipt twice is one job.
func (r Receipt) JobID() string {
	switch r.Kind {
	case KindRefund:
		return "refund:" + r.SaleID + ":" + r.OutRefundNo
	default:
		return string(r.Kind) + ":" + r.SaleID + ":" + r.OutTradeNo
	}
}

// TillInfo is what ReceiptFromSale takes from the configuration.
type TillInfo struct {
	MerchantName string
	StoreID      string // default: the sale's
	TillID       string // default: the sale's
	Lang         Lang
}

// ErrNothingToPrint is returned by ReceiptFromSale when the sale has no record of the
// requested kind (no paid attempt, no such refund or reversed attempt).
var ErrNothingToPrint = errors.New("nothing to print")

// ReceiptFromSale builds the receipt of the given kind from a sale record. For KindSale it
// uses the paid attempt (a receipt is proof of payment, so there is none without one). For
// KindRefund, ref names the out_refund_no (default: the latest successful refund); for
// KindReversal, ref names the out_trade_no (default: the latest reversed attempt).
func ReceiptFromSale(s *engine.Sale, info TillInfo, kind Kind, ref ...string) (Receipt, error) {
	want := ""
	if len(ref) > 0 {
		want = ref[0]
	}
	r := Receipt{
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
	case KindSale:
		for i := range s.Attempts {
			if a := &s.Attempts[i]; a.State == engine.AttemptPaid && (want == "" || a.OutTradeNo == want) {
				setAttempt(a)
				return r, nil
			}
		}
		return r, fmt.Errorf("sale %s receipt: no paid attempt: %w", s.ID, ErrNothingToPrint)
	case KindReversal:
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
	case KindRefund:
		for i := len(s.Refunds) - 1; i >= 0; i-- {
			f := &s.Refunds[i]
			if (want == "" && f.State == "success") || (want != "" && f.OutRefundNo == want) {
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

// Money is a count and an amount in minor units.
type Money struct {
	Count  int   `json:"count"`
	Amount int64 `json:"amount"`
}

// WalletTotal is the paid attempts of one wallet (payer) currency.
type WalletTotal struct {
	Wallet      string `json:"wallet"`
	Count       int    `json:"count"`
	Amount      int64  `json:"amount"`       // in the sale currency
	PayerAmount int64  `json:"payer_amount"` // in the wallet currency
}

// DayReport is the Z report printout. Its fields mirror queue/report.DayReport so the
// manager tools can fill it field by field.
type DayReport struct {
	Lang         Lang           `json:"lang,omitempty"`
	MerchantName string         `json:"merchant_name"`
	Date         string         `json:"date"` // 2006-01-02, Hong Kong
	StoreID      string         `json:"store_id"`
	TillID       string         `json:"till_id"`
	Number       int            `json:"number,omitempty"` // Z number, when the caller keeps one
	Currency     string         `json:"currency"`
	Sales        map[string]int `json:"sales"`    // sale state → count
	Attempts     map[string]int `json:"attempts"` // attempt state → count
	Paid         Money          `json:"paid"`
	Wallets      []WalletTotal  `json:"wallets"`
	Refunds      Money          `json:"refunds"`      // successful refunds
	RefundsOpen  Money          `json:"refunds_open"` // pending or processing
	Net          int64          `json:"net"`          // paid − refunded
	Unresolved   int            `json:"unresolved"`
	Problems     []string       `json:"problems,omitempty"`
	GeneratedAt  time.Time      `json:"generated_at"`
	Copy         bool           `json:"copy,omitempty"`
	Interrupted  bool           `json:"interrupted,omitempty"` // set by the spool on a reprint after a cut-off
}

// JobID is the report's print-job id: one job per generated report.
func (d DayReport) JobID() string {
	return "report:" + d.StoreID + ":" + d.TillID + ":" + d.Date + ":" + d.GeneratedAt.UTC().Format("20060102T150405.000000000")
}

// FormatAmount formats minor units as "HKD 10.50" (negative: "-HKD 10.50").
func FormatAmount(currency string, minor int64) string {
	sign := ""
	if minor < 0 {
		sign = "-"
		minor = -minor
	}
	if currency == "" {
		currency = "HKD"
	}
	return fmt.Sprintf("%s%s %d.%02d", sign, strings.ToUpper(currency), minor/100, minor%100)
}
