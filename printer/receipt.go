package printer

import (
	"fmt"
	"strings"
	"time"
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

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
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
