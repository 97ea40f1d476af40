// Package wxpay speaks the WeChat Pay Multi-Wallet (HK) API for a Quick Pay till.
//
// Two dialects sit behind one interface, Client:
//   - v3 JSON (/v3/global/..., legacy /hk/v3/...), signed with SHA256withRSA (v3.go);
//   - v2 XML (/pay/micropay, /secapi/...), signed with MD5 or HMAC-SHA256 (v2.go).
//
// Every answer is normalized into an Outcome class (paid, pending, failed, unknown) so the
// payment engine never sees wire formats. The raw codes are kept for logs and support cases.
// The simulator in wxpay/wxpaytest speaks both dialects and keeps a ledger for tests.
package wxpay

import (
	"context"
	"time"
)

// Outcome is the class of an answer, the only thing the engine branches on.
type Outcome int

const (
	// Unknown: nobody knows whether money moved (transport error after the request may
	// have left, timeout, 5xx, 429 where the docs say so, unparsable body, bad signature).
	// Only a query can tell.
	Unknown Outcome = iota
	// Paid: money moved (trade_state SUCCESS, v2 result_code SUCCESS, ORDERPAID ...).
	Paid
	// Pending: the customer is confirming on the phone (USERPAYING, HTTP 202).
	Pending
	// Failed: final, no money moved. Error carries a code and a cashier sentence.
	Failed
	// NotPaid: a query says the order exists but is not paid (NOTPAY). Not final by itself
	// right after the micropay; final after a reverse or past the deadline.
	NotPaid
	// Reversed: the order was revoked or closed (REVOKED, CLOSED). No money kept.
	Reversed
	// NotFound: the order does not exist at WeChat (ORDER_NOT_EXIST / ORDERNOTEXIST).
	NotFound
	// Refunded: a query says a refund was started on a paid order (trade_state REFUND).
	Refunded
)

var outcomeNames = [...]string{"unknown", "paid", "pending", "failed", "notpaid", "reversed", "notfound", "refunded"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(?)"
}

// Error is WeChat's refusal or a transport failure, normalized.
type Error struct {
	Code    string // WeChat's code (e.g. NOTENOUGH, SYSTEM_ERROR) or a posd code (TIMEOUT, BAD_SIGNATURE, ...)
	Message string // a sentence a cashier can act on
	Raw     string // WeChat's own text (err_code_des, message), kept for logs
	HTTP    int    // HTTP status, 0 when none arrived
}

func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	return e.Code + ": " + e.Message
}

// PayRequest is one Quick Pay charge.
type PayRequest struct {
	OutTradeNo  string // unique per attempt, ≤32 chars of [0-9A-Za-z_-|*]
	AuthCode    string // the scanned payment code (never logged)
	Amount      int64  // minor units (cents)
	Currency    string // ISO 4217, e.g. HKD
	Description string // ≤127 chars
	Attach      string // optional, echoed back
	DeviceID    string // till id
	StoreID     string
	StoreName   string
	OperatorID  string
	ClientIP    string
}

// Order is the normalized state of an order, from a micropay or query answer.
type Order struct {
	Outcome       Outcome
	Error         *Error // set for Failed and Unknown (why), nil otherwise
	TradeState    string // raw trade_state / err_code
	OutTradeNo    string
	TransactionID string
	Amount        int64  // amount.total
	Currency      string // amount.currency
	PayerAmount   int64  // amount.payer_total (0 if absent)
	PayerCurrency string // amount.payer_currency: the wallet's currency (HKD or CNY)
	ExchangeRate  int64  // raw exchange_rate.rate, stored as sent
	BankType      string
	OpenID        string
	SuccessTime   time.Time
	RequestID     string // Request-ID header, for support cases
}

// ReverseResult is the answer to a reverse (撤销).
type ReverseResult struct {
	// Outcome: Reversed (204 / SUCCESS with recall=N), Unknown (retry: recall=Y, errors,
	// no answer), Paid (refused because the order is paid and cannot be reversed here, e.g.
	// past 7 days: refund instead), Failed (a final refusal that is not about payment).
	// NotFound: WeChat has no such order, so there is nothing to reverse (v3 404, v2
	// ORDERNOTEXIST); the engine decides whether that is final.
	Outcome Outcome
	Recall  bool // v2 recall=Y: WeChat asks for the reverse to be called again
	Error   *Error
}

// RefundRequest asks for (part of) a paid order back.
type RefundRequest struct {
	OutTradeNo    string
	TransactionID string
	OutRefundNo   string // idempotency key: the same number never refunds twice
	Amount        int64  // refund amount
	Total         int64  // the order's total
	Currency      string
	Reason        string
}

// RefundState is the state of a refund.
type RefundState string

const (
	RefundProcessing RefundState = "PROCESSING"
	RefundSuccess    RefundState = "SUCCESS"
	RefundClosed     RefundState = "REFUNDCLOSE"
	RefundAbnormal   RefundState = "ABNORMAL"
)

// Refund is the normalized answer to a refund or refund query.
type Refund struct {
	Outcome       Outcome // Paid here means "accepted" (the refund exists); Failed / Unknown as for orders
	Error         *Error
	OutRefundNo   string
	RefundID      string
	State         RefundState
	Amount        int64
	Currency      string
	PayerAmount   int64
	PayerCurrency string
}

// StatementRow is one line of the day's transaction statement (v3 statements, v2 downloadbill).
type StatementRow struct {
	TradeTime     time.Time
	TransactionID string
	OutTradeNo    string
	DeviceID      string
	TradeState    string // SUCCESS, REFUND, REVOKED, ...
	Amount        int64  // order amount, minor units
	Currency      string
	PayerAmount   int64
	PayerCurrency string
	RefundID      string
	OutRefundNo   string
	RefundAmount  int64
	RefundState   string
	Raw           map[string]string // every column by header name, for display
}

// Statement is one day's statement. NotReady is true while WeChat has not produced it yet
// (retry later); an empty day is a statement with no rows, not an error.
type Statement struct {
	Date     string // YYYYMMDD
	NotReady bool
	Rows     []StatementRow
}

// Client is what the payment engine and the manager tools need from WeChat Pay.
// Both dialects implement it. Methods never return a Go error for a WeChat answer:
// the answer is normalized into the result's Outcome. A non-nil error means the call was
// not made at all (bad input, cancelled before sending).
type Client interface {
	MicroPay(ctx context.Context, req PayRequest) (Order, error)
	QueryOrder(ctx context.Context, outTradeNo string) (Order, error)
	Reverse(ctx context.Context, outTradeNo string) (ReverseResult, error)
	Refund(ctx context.Context, req RefundRequest) (Refund, error)
	QueryRefund(ctx context.Context, outRefundNo string) (Refund, error)
	// Statement downloads the transaction statement of a day (date: YYYYMMDD, Hong Kong time).
	Statement(ctx context.Context, date string) (Statement, error)
}
