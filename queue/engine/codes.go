package engine

// Codes of *Error: why the engine refused a call. They are part of the local API
// (docs/api.md): the UI maps each to an HTTP status and a sentence in every language
// it speaks, and tests walk Codes so that a new code cannot reach a person untranslated
// or become a 500 by accident.
const (
	CodeInvalidCode   = "invalid_code"   // not a WeChat payment code: refused at the till
	CodeCodeUsed      = "code_used"      // this payment code was charged before
	CodeNoOpenSale    = "no_open_sale"   // a scan with no sale waiting for a code
	CodeSaleBusy      = "sale_busy"      // a payment for the sale is in flight
	CodeScanAmbiguous = "scan_ambiguous" // several sales wait for a code: the scan cannot tell which
	CodeNotFound      = "not_found"      // no such sale
	CodeBadRequest    = "bad_request"    // the call itself is wrong (amount, currency, state)
	CodeStorage       = "storage"        // the journal cannot be written: nothing was taken
	CodeStopping      = "stopping"       // posd is shutting down
	CodeNotPaid       = "not_paid"       // a refund of a sale that is not paid
	CodeRefundExceeds = "refund_exceeds" // refunds would exceed the sale
	CodeWeChat        = "wechat"         // WeChat Pay refused the refund at once
	CodeQRDisabled    = "qr_disabled"    // QR Code Payment is not set up (wxpay.notify_url)
)

// Codes lists every code an *Error from the engine can carry.
func Codes() []string {
	return []string{CodeInvalidCode, CodeCodeUsed, CodeNoOpenSale, CodeSaleBusy, CodeScanAmbiguous, CodeNotFound,
		CodeBadRequest, CodeStorage, CodeStopping, CodeNotPaid, CodeRefundExceeds, CodeWeChat, CodeQRDisabled}
}

// Codes the engine writes into an attempt's or a refund's ErrorInfo itself; every other
// ErrorInfo code is WeChat's or wxpay's (wxpay.Codes).
const (
	InfoNotSent   = "NOT_SENT"   // the request never left the till
	InfoReversed  = "REVERSED"   // the payment was reversed at WeChat Pay: no money kept
	InfoCancelled = "CANCELLED"  // the cashier cancelled the sale: no money kept
	InfoFailed    = "FAILED"     // failed without a code from WeChat Pay
	InfoQRExpired = "QR_EXPIRED" // nobody paid the QR code in time: closed, no money taken
)

// InfoCodes lists the ErrorInfo codes the engine sets itself.
func InfoCodes() []string {
	return []string{InfoNotSent, InfoReversed, InfoCancelled, InfoFailed, InfoQRExpired}
}
