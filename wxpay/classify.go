package wxpay

import (
	"errors"
	"net/http"
	"sort"
)

// posd's own error codes (Error.Code) for answers that never carried a WeChat code.
const (
	CodeTimeout       = "TIMEOUT"            // the deadline passed after the request may have left
	CodeNetwork       = "NETWORK_ERROR"      // connection reset, lost answer, TLS failure ...
	CodeTooLarge      = "RESPONSE_TOO_LARGE" // the answer exceeded the size limit
	CodeBadSignature  = "BAD_SIGNATURE"      // the answer's signature is missing or wrong
	CodeBadResponse   = "BAD_RESPONSE"       // the answer could not be parsed
	CodeMismatch      = "MISMATCH"           // the answer is about another order or amount
	CodeHTTPStatus    = "HTTP_STATUS"        // an HTTP status without a WeChat code
	CodeUnknownState  = "UNKNOWN_STATE"      // a trade_state this client does not know
	CodeStatementHash = "STATEMENT_SHA1"     // the statement does not match its SHA-1 header
)

// Cashier sentences shared by both dialects.
const (
	msgUnknown     = "No clear answer from WeChat Pay: checking the payment, do not charge again"
	msgPending     = "Waiting for the customer to confirm on the phone"
	msgBadSig      = "WeChat Pay's answer could not be verified: checking the payment, do not charge again"
	msgCode        = "Payment code expired or already used: ask the customer to refresh the code and scan again"
	msgBalance     = "Customer's balance is not enough: ask for another payment method"
	msgCard        = "Customer's card cannot be used for this payment: ask the customer to choose another card"
	msgRisk        = "WeChat Pay refused this payment: ask for another payment method"
	msgSetup       = "WeChat Pay rejected the request (setup problem): take another payment method and call support"
	msgSign        = "WeChat Pay rejected the till's signature: check the till's clock and keys, then call support"
	msgNoAuth      = "This shop is not allowed to take this kind of WeChat payment: call support"
	msgAccount     = "WeChat Pay account settings are wrong (appid / merchant id): call support"
	msgClosed      = "This order was closed at WeChat Pay: start a new sale"
	msgReversed    = "This order was cancelled at WeChat Pay: start a new sale and scan again"
	msgNotFound    = "WeChat Pay has no such order"
	msgBusy        = "WeChat Pay is busy: checking the payment, do not charge again"
	msgSystem      = "WeChat Pay did not finish: checking the payment, do not charge again"
	msgUsed        = "Order number already used at WeChat Pay: checking it, do not charge again"
	msgFrequency   = "Too many requests to WeChat Pay: wait a moment and try again"
	msgPayError    = "The payment failed at WeChat Pay (bank refused): ask for another payment method"
	msgReverseOld  = "Too old to cancel: refund it instead"
	msgRefundMoney = "The shop's WeChat Pay balance is too low for this refund: refund another way or try later"
	msgRefundOld   = "Order too old to refund through WeChat Pay: refund another way"
	msgRefundAcct  = "Customer's WeChat account is closed: refund another way"
	msgRefundRetry = "Refund not finished at WeChat Pay: it will be retried with the same refund number"
	msgRefundFail  = "WeChat Pay refused the refund: check the amount and the order, then call support"
	msgBadTxn      = "WeChat Pay does not know this order number: call support"
)

// operation names the call being classified: the same code can mean different things
// (NOTENOUGH on a refund is the shop's balance, on a payment the customer's).
type operation int

const (
	opPay operation = iota
	opQuery
	opReverse
	opRefund
	opRefundQuery
	opStatement
	opNative // QR Code Payment order (v3 native, v2 unifiedorder)
	opClose  // close an unpaid order
)

type rule struct {
	outcome Outcome
	msg     string
}

// v3Codes classifies v3 error codes (docs/wxpay-v3.md §3.1–3.3). Business codes whose v3
// spelling is unconfirmed are listed in both spellings.
var v3Codes = map[string]rule{
	"USERPAYING":          {Pending, msgPending},
	"SYSTEM_ERROR":        {Unknown, msgSystem},
	"SYSTEMERROR":         {Unknown, msgSystem},
	"SERVICE_UNAVAILABLE": {Unknown, msgSystem},
	"BANK_ERROR":          {Unknown, msgSystem},
	"BANKERROR":           {Unknown, msgSystem},
	"RATELIMIT_EXCEEDED":  {Unknown, msgBusy},
	"RATE_LIMITED":        {Unknown, msgBusy},
	"PARAM_ERROR":         {Failed, msgSetup},
	"INVALID_REQUEST":     {Failed, msgSetup},
	"SIGN_ERROR":          {Failed, msgSign},
	"NO_AUTH":             {Failed, msgNoAuth},
	"ORDER_NOT_EXIST":     {NotFound, msgNotFound},
	"NOT_FOUND":           {NotFound, msgNotFound},
	"ORDER_PAID":          {Paid, "This order is already paid at WeChat Pay"},
	"ORDER_CLOSED":        {Reversed, msgClosed},
	"ORDERPAID":           {Paid, "This order is already paid at WeChat Pay"}, // v2 spelling, seen on close
	"ORDERCLOSED":         {Reversed, msgClosed},
	"ORDER_REVERSED":      {Reversed, msgReversed},
	"AUTH_CODE_INVALID":   {Failed, msgCode},
	"AUTH_CODE_ERROR":     {Failed, msgCode},
	"AUTHCODE_EXPIRE":     {Failed, msgCode},
	"NOT_ENOUGH":          {Failed, msgBalance},
	"NOTENOUGH":           {Failed, msgBalance},
	"NOTSUPORTCARD":       {Failed, msgCard},
	"TRADE_ERROR":         {Failed, msgRisk},
	"FREQUENCY_LIMITED":   {Failed, msgFrequency},
	"OUT_TRADE_NO_USED":   {Unknown, msgUsed},
	"BUYER_MISMATCH":      {Unknown, msgUsed},
	// Too old to reverse: says nothing about payment (a query tells), never "paid".
	"REVERSE_EXPIRE":     {Unknown, msgReverseOld},
	"NO_STATEMENT_EXIST": {Failed, "No statement for that day yet: try again later"},
}

// v3RefundCodes override v3Codes on refund calls.
var v3RefundCodes = map[string]rule{
	"NOT_ENOUGH":            {Failed, msgRefundMoney},
	"NOTENOUGH":             {Failed, msgRefundMoney},
	"TRADE_OVERDUE":         {Failed, msgRefundOld},
	"USER_ACCOUNT_ABNORMAL": {Failed, msgRefundAcct},
	"BIZERR_NEED_RETRY":     {Unknown, msgRefundRetry},
	"FREQUENCY_LIMITED":     {Unknown, msgBusy},
	"RESOURCE_NOT_EXISTS":   {NotFound, msgNotFound},
}

// classifyV3 maps a non-2xx v3 answer (status and code) to an outcome. A known code wins;
// otherwise the status decides. An unrecognised refusal of a payment or refund is
// unknown, so the engine does one query before calling it failed (docs/wxpay-v3.md §3.3).
func classifyV3(op operation, status int, code string) rule {
	// 429 and 5xx answers are not verified and never final, whatever code they carry.
	switch {
	case status == http.StatusTooManyRequests:
		return rule{Unknown, msgBusy}
	case status >= 500:
		return rule{Unknown, msgSystem}
	}
	if op == opRefund || op == opRefundQuery {
		if r, ok := v3RefundCodes[code]; ok {
			return r
		}
	}
	if r, ok := v3Codes[code]; ok {
		if op == opQuery && code == "PARAM_ERROR" {
			// Observed for a minute while an order is being created (docs/wxpay-v2.md §5.3).
			return rule{Unknown, msgUnknown}
		}
		return r
	}
	switch {
	case status == http.StatusNotFound && (op == opQuery || op == opReverse || op == opRefundQuery || op == opClose):
		return rule{NotFound, msgNotFound}
	case op == opPay || op == opRefund || op == opNative:
		return rule{Unknown, msgUnknown}
	case status == http.StatusUnauthorized:
		return rule{Failed, msgSign}
	case status == http.StatusForbidden:
		return rule{Failed, msgNoAuth}
	case status == http.StatusBadRequest || status == http.StatusMethodNotAllowed:
		return rule{Failed, msgSetup}
	default:
		return rule{Unknown, msgUnknown}
	}
}

// tradeStates classifies trade_state (docs/wxpay-v3.md §4, docs/wxpay-v2.md §5.3).
var tradeStates = map[string]rule{
	"SUCCESS":    {Paid, ""},
	"REFUND":     {Refunded, ""},
	"NOTPAY":     {NotPaid, "The customer has not paid"},
	"CLOSED":     {Reversed, msgClosed},
	"REVOKED":    {Reversed, msgReversed},
	"USERPAYING": {Pending, msgPending},
	"ACCEPT":     {Pending, msgPending},
	"PAYERROR":   {Failed, msgPayError},
}

// v2PayCodes: micropay err_code (docs/wxpay-v2.md §5.2, every row).
var v2PayCodes = map[string]rule{
	"SYSTEMERROR":           {Unknown, msgSystem},
	"BANKERROR":             {Unknown, msgSystem},
	"USERPAYING":            {Pending, msgPending},
	"AUTHCODEEXPIRE":        {Failed, msgCode},
	"AUTH_CODE_ERROR":       {Failed, msgCode},
	"AUTH_CODE_INVALID":     {Failed, msgCode},
	"NOTENOUGH":             {Failed, msgBalance},
	"NOTSUPORTCARD":         {Failed, msgCard},
	"ORDERPAID":             {Paid, ""},
	"ORDERCLOSED":           {Reversed, msgClosed},
	"ORDERREVERSED":         {Reversed, msgReversed},
	"BUYER_MISMATCH":        {Unknown, msgUsed},
	"OUT_TRADE_NO_USED":     {Unknown, msgUsed},
	"INVALID_REQUEST":       {Unknown, msgUnknown}, // may be a duplicate of an in-flight request: query first
	"TRADE_ERROR":           {Failed, msgRisk},
	"NOAUTH":                {Failed, msgNoAuth},
	"PARAM_ERROR":           {Failed, msgSetup},
	"SIGNERROR":             {Failed, msgSign},
	"LACK_PARAMS":           {Failed, msgSetup},
	"XML_FORMAT_ERROR":      {Failed, msgSetup},
	"REQUIRE_POST_METHOD":   {Failed, msgSetup},
	"POST_DATA_EMPTY":       {Failed, msgSetup},
	"NOT_UTF8":              {Failed, msgSetup},
	"APPID_NOT_EXIST":       {Failed, msgAccount},
	"MCHID_NOT_EXIST":       {Failed, msgAccount},
	"APPID_MCHID_NOT_MATCH": {Failed, msgAccount},
	"FREQUENCY_LIMITED":     {Failed, msgFrequency},
}

// v2QueryCodes: orderquery err_code (docs/wxpay-v2.md §5.3).
var v2QueryCodes = map[string]rule{
	"ORDERNOTEXIST": {NotFound, msgNotFound},
	"SYSTEMERROR":   {Unknown, msgSystem},
	"PARAM_ERROR":   {Unknown, msgUnknown}, // transient while the order is being created
}

// v2ReverseCodes: reverse err_code with recall=N (docs/wxpay-v2.md §5.4).
var v2ReverseCodes = map[string]rule{
	"SYSTEMERROR":           {Unknown, msgSystem},
	"INVALID_TRANSACTIONID": {Failed, msgBadTxn},
	"PARAM_ERROR":           {Failed, msgSetup},
	"REQUIRE_POST_METHOD":   {Failed, msgSetup},
	"SIGNERROR":             {Failed, msgSign},
	"REVERSE_EXPIRE":        {Unknown, msgReverseOld}, // a query tells whether it is paid
	"INVALID_REQUEST":       {Failed, "WeChat Pay refused the cancel (certificate or permission): call support"},
	"TRADE_ERROR":           {Failed, "WeChat Pay refused the cancel: call support"},
	"ORDERNOTEXIST":         {NotFound, msgNotFound},
}

// v2RefundCodes: refund err_code (docs/wxpay-v2.md §7).
var v2RefundCodes = map[string]rule{
	"SYSTEMERROR":           {Unknown, msgRefundRetry},
	"BIZERR_NEED_RETRY":     {Unknown, msgRefundRetry},
	"TRADE_OVERDUE":         {Failed, msgRefundOld},
	"ERROR":                 {Failed, msgRefundFail},
	"USER_ACCOUNT_ABNORMAL": {Failed, msgRefundAcct},
	"NOTENOUGH":             {Failed, msgRefundMoney},
	"INVALID_TRANSACTIONID": {Failed, msgBadTxn},
	"PARAM_ERROR":           {Failed, msgRefundFail},
	"APPID_NOT_EXIST":       {Failed, msgAccount},
	"MCHID_NOT_EXIST":       {Failed, msgAccount},
	"APPID_MCHID_NOT_MATCH": {Failed, msgAccount},
	"REQUIRE_POST_METHOD":   {Failed, msgSetup},
	"SIGNERROR":             {Failed, msgSign},
	"XML_FORMAT_ERROR":      {Failed, msgSetup},
	"FREQUENCY_LIMITED":     {Unknown, msgBusy},
}

// v2RefundQueryCodes: refundquery err_code.
var v2RefundQueryCodes = map[string]rule{
	"REFUNDNOTEXIST": {NotFound, msgNotFound},
	"SYSTEMERROR":    {Unknown, msgSystem},
}

// v2NativeCodes: unifiedorder err_code. An order number seen before is never a plain
// failure: it may be this till's own order from before a crash, so it is queried.
var v2NativeCodes = map[string]rule{
	"SYSTEMERROR":           {Unknown, msgSystem},
	"ORDERPAID":             {Paid, "This order is already paid at WeChat Pay"},
	"ORDERCLOSED":           {Reversed, msgClosed},
	"OUT_TRADE_NO_USED":     {Unknown, msgUsed},
	"INVALID_REQUEST":       {Unknown, msgUnknown},
	"NOAUTH":                {Failed, msgNoAuth},
	"PARAM_ERROR":           {Failed, msgSetup},
	"LACK_PARAMS":           {Failed, msgSetup},
	"XML_FORMAT_ERROR":      {Failed, msgSetup},
	"REQUIRE_POST_METHOD":   {Failed, msgSetup},
	"POST_DATA_EMPTY":       {Failed, msgSetup},
	"NOT_UTF8":              {Failed, msgSetup},
	"SIGNERROR":             {Failed, msgSign},
	"APPID_NOT_EXIST":       {Failed, msgAccount},
	"MCHID_NOT_EXIST":       {Failed, msgAccount},
	"APPID_MCHID_NOT_MATCH": {Failed, msgAccount},
	"FREQUENCY_LIMITED":     {Unknown, msgBusy},
}

// v2CloseCodes: closeorder err_code. A close refused for being too early (inside the
// 5 minutes) has no documented code: it falls to Unknown and is tried again later.
var v2CloseCodes = map[string]rule{
	"SYSTEMERROR":         {Unknown, msgSystem},
	"ORDERPAID":           {Paid, "The customer paid before the order was closed"},
	"ORDERCLOSED":         {Reversed, msgClosed},
	"ORDERNOTEXIST":       {NotFound, msgNotFound},
	"SIGNERROR":           {Failed, msgSign},
	"REQUIRE_POST_METHOD": {Failed, msgSetup},
	"XML_FORMAT_ERROR":    {Failed, msgSetup},
}

// classifyV2 maps a v2 result_code=FAIL err_code. Codes not in the table are unknown: the
// engine queries before it believes any refusal it cannot read.
func classifyV2(op operation, code string) rule {
	var table map[string]rule
	switch op {
	case opPay:
		table = v2PayCodes
	case opQuery:
		table = v2QueryCodes
	case opReverse:
		table = v2ReverseCodes
	case opRefund:
		table = v2RefundCodes
	case opRefundQuery:
		table = v2RefundQueryCodes
	case opNative:
		table = v2NativeCodes
	case opClose:
		table = v2CloseCodes
	}
	if r, ok := table[code]; ok {
		return r
	}
	return rule{Unknown, msgUnknown}
}

// transportFailure turns a transport error into an Unknown-outcome *Error, or returns the
// error itself when the call was provably not made (ErrNotSent, cancelled before sending).
func transportFailure(err error) (*Error, error) {
	var te *TransportError
	if !errors.As(err, &te) {
		return nil, err
	}
	e := &Error{Code: CodeNetwork, Message: msgUnknown, Raw: te.Error()}
	switch {
	case te.Timeout:
		e.Code = CodeTimeout
	case te.TooLarge:
		e.Code = CodeTooLarge
	}
	return e, nil
}

// Codes lists every Error.Code this package knows: WeChat's codes in the classification
// tables of both API versions, the trade states that end a payment, and posd's own codes
// above, sorted. WeChat may still send a code that is in no table (classified by its
// HTTP status); the UI shows its message for those. Tests use the list to check that
// the UI has a sentence for each code in every language.
func Codes() []string {
	seen := map[string]bool{}
	for _, t := range []map[string]rule{v3Codes, v3RefundCodes, tradeStates, v2PayCodes, v2QueryCodes,
		v2ReverseCodes, v2RefundCodes, v2RefundQueryCodes, v2NativeCodes, v2CloseCodes} {
		for c, r := range t {
			if r.outcome != Paid && r.outcome != Refunded {
				seen[c] = true
			}
		}
	}
	for _, c := range []string{CodeTimeout, CodeNetwork, CodeTooLarge, CodeBadSignature, CodeBadResponse,
		CodeMismatch, CodeHTTPStatus, CodeUnknownState, CodeStatementHash} {
		seen[c] = true
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// RefundCodes lists the codes whose meaning differs on a refund (NOTENOUGH is then the
// shop's balance, not the customer's), sorted.
func RefundCodes() []string {
	seen := map[string]bool{}
	for _, t := range []map[string]rule{v3RefundCodes, v2RefundCodes, v2RefundQueryCodes} {
		for c := range t {
			seen[c] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
