package enginetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"posd/queue/engine"
	"posd/wxpay"
)

// Call is one request the engine made to FakeWx.
type Call struct {
	Method     string // micropay, query, reverse, refund, refundquery
	OutTradeNo string
	RefundNo   string
	Amount     int64
	At         time.Time // on the clock given to NewFakeWx
	// Mono is that clock's monotonic reading (engine.MonoClock), zero without one: what
	// WeChat's clock would say, which a till's wall-clock jump does not move.
	Mono time.Duration
}

// FakeWx is a scriptable wxpay.Client for table tests. Each method answers through its
// handler (set the exported fields); n counts that method's calls for the order so far,
// starting at 1. A nil handler answers "no answer" (Unknown, no HTTP status). Every call
// is recorded with the clock's time.
type FakeWx struct {
	OnMicroPay    func(req wxpay.PayRequest) wxpay.Order
	OnQuery       func(otn string, n int) wxpay.Order
	OnReverse     func(otn string, n int) wxpay.ReverseResult
	OnRefund      func(req wxpay.RefundRequest, n int) wxpay.Refund
	OnQueryRefund func(outRefundNo string, n int) wxpay.Refund
	// QR Code Payment (wxpay.NativeClient).
	OnNative func(req wxpay.NativeRequest, n int) wxpay.NativeOrder
	OnClose  func(otn string, n int) wxpay.CloseResult

	clk    engine.Clock
	mu     sync.Mutex
	calls  []Call
	count  map[string]int
	orders map[string]wxpay.PayRequest // out_trade_no → its micropay, to complete answers
}

// NoAmount in a handler's paid answer (Order.Amount) sends it without an amount. A paid
// answer with a transaction id and Amount 0 gets the amount and currency of the order's
// micropay, as WeChat's full answers carry them.
const NoAmount = -1

// complete fills a full paid answer's amount and currency from the order's micropay.
func (f *FakeWx) complete(otn string, o wxpay.Order) wxpay.Order {
	if o.Amount == NoAmount {
		o.Amount = 0
		return o
	}
	if (o.Outcome != wxpay.Paid && o.Outcome != wxpay.Refunded) || o.TransactionID == "" || o.Amount != 0 {
		return o
	}
	f.mu.Lock()
	req, ok := f.orders[otn]
	f.mu.Unlock()
	if ok {
		o.Amount = req.Amount
		if o.Currency == "" {
			o.Currency = req.Currency
		}
	}
	return o
}

// NewFakeWx records calls with clk's time.
func NewFakeWx(clk engine.Clock) *FakeWx {
	return &FakeWx{clk: clk, count: map[string]int{}, orders: map[string]wxpay.PayRequest{}}
}

var (
	_ wxpay.Client       = (*FakeWx)(nil)
	_ wxpay.NativeClient = (*FakeWx)(nil)
)

func (f *FakeWx) record(c Call, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.At = f.clk.Now()
	if ec, ok := f.clk.(interface{ Elapsed() time.Duration }); ok {
		c.Mono = ec.Elapsed()
	} else if mc, ok := f.clk.(engine.MonoClock); ok {
		_, c.Mono = mc.Mono()
	}
	f.calls = append(f.calls, c)
	f.count[c.Method+"|"+key]++
	return f.count[c.Method+"|"+key]
}

// Calls returns the calls so far, in order.
func (f *FakeWx) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// CallsOf returns the calls of one method.
func (f *FakeWx) CallsOf(method string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *FakeWx) MicroPay(ctx context.Context, req wxpay.PayRequest) (wxpay.Order, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.Order{}, err
	}
	f.record(Call{Method: "micropay", OutTradeNo: req.OutTradeNo, Amount: req.Amount}, req.OutTradeNo)
	f.mu.Lock()
	f.orders[req.OutTradeNo] = req
	f.mu.Unlock()
	if f.OnMicroPay == nil {
		return Silent(), nil
	}
	o := f.complete(req.OutTradeNo, f.OnMicroPay(req))
	if o.OutTradeNo == "" {
		o.OutTradeNo = req.OutTradeNo
	}
	return o, nil
}

func (f *FakeWx) QueryOrder(ctx context.Context, otn string) (wxpay.Order, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.Order{}, err
	}
	n := f.record(Call{Method: "query", OutTradeNo: otn}, otn)
	if f.OnQuery == nil {
		return Silent(), nil
	}
	o := f.complete(otn, f.OnQuery(otn, n))
	if o.OutTradeNo == "" {
		o.OutTradeNo = otn
	}
	return o, nil
}

func (f *FakeWx) Reverse(ctx context.Context, otn string) (wxpay.ReverseResult, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.ReverseResult{}, err
	}
	n := f.record(Call{Method: "reverse", OutTradeNo: otn}, otn)
	if f.OnReverse == nil {
		return wxpay.ReverseResult{Outcome: wxpay.Unknown, Error: silentErr()}, nil
	}
	return f.OnReverse(otn, n), nil
}

func (f *FakeWx) Refund(ctx context.Context, req wxpay.RefundRequest) (wxpay.Refund, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.Refund{}, err
	}
	n := f.record(Call{Method: "refund", OutTradeNo: req.OutTradeNo, RefundNo: req.OutRefundNo, Amount: req.Amount}, req.OutRefundNo)
	if f.OnRefund == nil {
		return wxpay.Refund{Outcome: wxpay.Unknown, Error: silentErr()}, nil
	}
	r := f.OnRefund(req, n)
	if r.OutRefundNo == "" {
		r.OutRefundNo = req.OutRefundNo
	}
	return r, nil
}

func (f *FakeWx) QueryRefund(ctx context.Context, no string) (wxpay.Refund, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.Refund{}, err
	}
	n := f.record(Call{Method: "refundquery", RefundNo: no}, no)
	if f.OnQueryRefund == nil {
		return wxpay.Refund{Outcome: wxpay.Unknown, Error: silentErr()}, nil
	}
	r := f.OnQueryRefund(no, n)
	if r.OutRefundNo == "" {
		r.OutRefundNo = no
	}
	return r, nil
}

// NativeOrder answers through OnNative; nil answers "no answer".
func (f *FakeWx) NativeOrder(ctx context.Context, req wxpay.NativeRequest) (wxpay.NativeOrder, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.NativeOrder{}, err
	}
	n := f.record(Call{Method: "native", OutTradeNo: req.OutTradeNo, Amount: req.Amount}, req.OutTradeNo)
	if f.OnNative == nil {
		return wxpay.NativeOrder{Outcome: wxpay.Unknown, Error: silentErr()}, nil
	}
	return f.OnNative(req, n), nil
}

// CloseOrder answers through OnClose; nil answers "no answer".
func (f *FakeWx) CloseOrder(ctx context.Context, otn string) (wxpay.CloseResult, error) {
	if err := ctx.Err(); err != nil {
		return wxpay.CloseResult{}, err
	}
	n := f.record(Call{Method: "close", OutTradeNo: otn}, otn)
	if f.OnClose == nil {
		return wxpay.CloseResult{Outcome: wxpay.Unknown, Error: silentErr()}, nil
	}
	return f.OnClose(otn, n), nil
}

// CodeURL is the code_url NativeOK answers with.
const CodeURL = "weixin://wxpay/bizpayurl?pr=FakeCode1"

// NativeOK is a created QR order.
func NativeOK() wxpay.NativeOrder {
	return wxpay.NativeOrder{Outcome: wxpay.NotPaid, CodeURL: CodeURL}
}

// CloseOK is a closed order.
func CloseOK() wxpay.CloseResult { return wxpay.CloseResult{Outcome: wxpay.Reversed} }

// Closed is a query of a closed order.
func Closed() wxpay.Order { return wxpay.Order{Outcome: wxpay.Reversed, TradeState: "CLOSED"} }

// Statement is not used by the engine.
func (f *FakeWx) Statement(ctx context.Context, date string) (wxpay.Statement, error) {
	return wxpay.Statement{}, errors.New("fakewx: no statements")
}

// Answers for scripts.

func silentErr() *wxpay.Error {
	return &wxpay.Error{Code: "TIMEOUT", Message: "No answer from WeChat Pay"}
}

// Paid is a SUCCESS answer.
func Paid() wxpay.Order {
	return wxpay.Order{Outcome: wxpay.Paid, TradeState: "SUCCESS", TransactionID: "4200000000000000001",
		PayerCurrency: "HKD"}
}

// Pending is USERPAYING.
func Pending() wxpay.Order { return wxpay.Order{Outcome: wxpay.Pending, TradeState: "USERPAYING"} }

// NotPaid is NOTPAY.
func NotPaid() wxpay.Order { return wxpay.Order{Outcome: wxpay.NotPaid, TradeState: "NOTPAY"} }

// NotFound is ORDER_NOT_EXIST.
func NotFound() wxpay.Order {
	return wxpay.Order{Outcome: wxpay.NotFound, TradeState: "ORDER_NOT_EXIST",
		Error: &wxpay.Error{Code: "ORDER_NOT_EXIST", HTTP: 404}}
}

// Revoked is trade_state REVOKED.
func Revoked() wxpay.Order { return wxpay.Order{Outcome: wxpay.Reversed, TradeState: "REVOKED"} }

// Failed is a final refusal with a cashier message.
func Failed(code, msg string) wxpay.Order {
	return wxpay.Order{Outcome: wxpay.Failed, TradeState: code, Error: &wxpay.Error{Code: code, Message: msg, HTTP: 403}}
}

// SystemError is an answer that leaves the outcome unknown (SYSTEM_ERROR, HTTP 500).
func SystemError() wxpay.Order {
	return wxpay.Order{Outcome: wxpay.Unknown, TradeState: "SYSTEM_ERROR",
		Error: &wxpay.Error{Code: "SYSTEM_ERROR", Message: "WeChat Pay system error", HTTP: 500}}
}

// Silent is no answer at all (timeout, connection refused).
func Silent() wxpay.Order { return wxpay.Order{Outcome: wxpay.Unknown, Error: silentErr()} }

// ReverseOK is a successful reverse.
func ReverseOK() wxpay.ReverseResult { return wxpay.ReverseResult{Outcome: wxpay.Reversed} }

// ReverseRecall is v2's "call again" (recall=Y).
func ReverseRecall() wxpay.ReverseResult {
	return wxpay.ReverseResult{Outcome: wxpay.Unknown, Recall: true,
		Error: &wxpay.Error{Code: "SYSTEMERROR", Message: "WeChat Pay system error", HTTP: 200}}
}

// ReversePaid is a reverse refused because the order is paid.
func ReversePaid() wxpay.ReverseResult {
	return wxpay.ReverseResult{Outcome: wxpay.Paid, Error: &wxpay.Error{Code: "ORDER_PAID", HTTP: 200}}
}

// ReverseExpired is REVERSE_EXPIRE: too old to reverse. It says nothing about payment.
func ReverseExpired() wxpay.ReverseResult {
	return wxpay.ReverseResult{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "REVERSE_EXPIRE", Message: "Too old to cancel: refund it instead", HTTP: 200}}
}

// ReverseSilent is a reverse with no answer.
func ReverseSilent() wxpay.ReverseResult {
	return wxpay.ReverseResult{Outcome: wxpay.Unknown, Error: silentErr()}
}
