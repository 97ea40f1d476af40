package wxpaytest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// Trade states (docs/wxpay-v3.md §4, docs/wxpay-v2.md §5.3).
const (
	StateUserPaying = "USERPAYING"
	StateSuccess    = "SUCCESS"
	StateNotPay     = "NOTPAY"
	StatePayError   = "PAYERROR"
	StateRevoked    = "REVOKED"
	StateClosed     = "CLOSED"
	StateRefund     = "REFUND"
)

// Order is the ledger's view of one out_trade_no.
type Order struct {
	OutTradeNo    string
	TransactionID string
	AuthCode      string
	Dialect       string // "v3-global", "v3-hk" or "v2": who created it
	Institutional bool
	Description   string
	Attach        string
	DeviceID      string
	TradeType     string // MICROPAY (empty in orders made before QR codes existed) or NATIVE
	CodeURL       string // NATIVE: the QR code's content
	TimeExpire    time.Time

	Amount        int64 // amount.total / total_fee, minor units
	Currency      string
	PayerAmount   int64  // what the wallet paid, in PayerCurrency
	PayerCurrency string // HKD (HK wallet) or CNY (mainland wallet)
	ExchangeRate  int64  // rate × 10^8, PayerCurrency per Currency

	State    string // USERPAYING, SUCCESS, NOTPAY, PAYERROR, REVOKED, CLOSED, REFUND
	FailCode string // business code of a PAYERROR order (NOTENOUGH, ...)
	// WasPaid: money moved at some point (a reverse or refunds may have given it back).
	WasPaid bool

	Created    time.Time
	PaidAt     time.Time
	ReversedAt time.Time
	ClosedAt   time.Time

	Refunded int64    // sum of accepted refunds
	Refunds  []Refund // in a snapshot: the order's refunds, oldest first

	rfs []*Refund // live refunds (Refunds is filled from it in snapshots)

	// USERPAYING schedule: at payingUntil the order becomes payingThen (forever if zero).
	payingUntil time.Time
	payingThen  string
}

// Kept is the money this order keeps: paid, not reversed, minus refunds.
func (o *Order) Kept() int64 {
	if !o.WasPaid || o.State == StateRevoked {
		return 0
	}
	return o.Amount - o.Refunded
}

func (o *Order) clone() Order {
	c := *o
	c.rfs = nil
	c.Refunds = make([]Refund, len(o.rfs))
	for i, r := range o.rfs {
		c.Refunds[i] = *r
	}
	return c
}

// Refund is one accepted refund.
type Refund struct {
	OutRefundNo   string
	RefundID      string
	OutTradeNo    string
	TransactionID string
	Amount        int64
	Total         int64
	Currency      string
	PayerAmount   int64
	PayerCurrency string
	ExchangeRate  int64 // the order's rate × 10^8
	Reason        string
	Created       time.Time
	// SuccessAt: when the refund turns SUCCESS (PROCESSING before; Options.RefundDelay).
	SuccessAt time.Time
}

// State is the refund status at t: PROCESSING until SuccessAt, then SUCCESS.
func (r Refund) State(t time.Time) string {
	if t.Before(r.SuccessAt) {
		return "PROCESSING"
	}
	return "SUCCESS"
}

// Request is one request the simulator received.
type Request struct {
	Time        time.Time // simulator clock
	Dialect     string    // "v3-global", "v3-hk", "v2"
	Endpoint    Endpoint
	Method      string
	Path        string
	OutTradeNo  string
	OutRefundNo string
	Status      int    // HTTP status sent (0 when the connection was dropped or hung)
	Outcome     string // SUCCESS, USERPAYING, a business code, SIGN_ERROR, "dropped", "hung" ...
	Fault       string // the fault applied, "" if none
}

// Rules a client can break (recorded as violations).
const (
	RuleReverseTooEarly  = "reverse-too-early"   // reverse < 15 s after the order
	RuleReverseExpired   = "reverse-expired"     // reverse > 7 days after the order (refused)
	RuleOutTradeNoReused = "out-trade-no-reused" // another code/amount, or after reversed/closed
	RuleQueryRate        = "query-rate"          // > 1 query per second per order
	RuleBadSignature     = "bad-signature"       // request signature missing or wrong
	RuleNoClientCert     = "no-client-cert"      // v2 /secapi/ call without the client certificate
	RuleStaleTimestamp   = "stale-timestamp"     // v3 request timestamp too far from the sim clock
	RuleAuthCodeReused   = "auth-code-reused"    // a payment code used for a second out_trade_no
	RuleRefundInvalid    = "refund-invalid"      // refund over the total, > 50 refunds, unpaid order
	RuleWrongMerchant    = "wrong-merchant"      // mchid/appid/sub_mchid do not match the credentials
)

// Violation is a broken WeChat rule.
type Violation struct {
	Time       time.Time
	Rule       string
	OutTradeNo string
	Detail     string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s %s: %s", v.Time.Format(time.RFC3339), v.Rule, v.OutTradeNo, v.Detail)
}

// outcome is the dialect-neutral result of one business call.
type outcome struct {
	code    string // "" = success; else a business code in v2 spelling
	desc    string
	order   *Order // snapshot
	refund  *Refund
	refunds []Refund
}

func fail(code, desc string) outcome { return outcome{code: code, desc: desc} }

// payReq is a micropay in dialect-neutral form.
type payReq struct {
	dialect       string
	institutional bool
	outTradeNo    string
	authCode      string
	amount        int64
	currency      string
	description   string
	attach        string
	deviceID      string
}

// advance applies a due USERPAYING transition. Caller holds s.mu.
func (s *Server) advance(o *Order, now time.Time) {
	if o.State != StateUserPaying || o.payingUntil.IsZero() || now.Before(o.payingUntil) {
		return
	}
	switch o.payingThen {
	case StatePayError, StateNotPay, StateClosed:
		o.State = o.payingThen
		if o.payingThen == StatePayError {
			o.FailCode = "USER_CANCELLED"
		}
	default:
		s.markPaid(o, o.payingUntil)
	}
}

func (s *Server) markPaid(o *Order, at time.Time) {
	o.State = StateSuccess
	o.WasPaid = true
	o.PaidAt = at
}

func validAuthCode(c string) bool {
	if len(c) != 18 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return c[0] == '1' && c[1] >= '0' && c[1] <= '5'
}

// pay carries out a micropay. behaviour holds the order-shaping faults (UserPaying, Fail,
// MainlandWallet). Caller holds s.mu.
func (s *Server) pay(r payReq, behaviour []Fault, now time.Time) outcome {
	if o, ok := s.orders[r.outTradeNo]; ok {
		return s.payAgain(o, r, now)
	}
	if r.amount <= 0 || r.outTradeNo == "" || len(r.outTradeNo) > 32 {
		return fail("PARAM_ERROR", "参数错误: amount or out_trade_no")
	}
	if !validAuthCode(r.authCode) {
		return fail("AUTH_CODE_INVALID", "付款码无效，请重新扫码")
	}
	if prev, used := s.codes[r.authCode]; used {
		s.violate(now, RuleAuthCodeReused, r.outTradeNo, "payment code already used by "+prev)
		return fail("AUTH_CODE_INVALID", "付款码已使用，请重新扫码")
	}
	o := s.newPayOrder(r, now)
	state := s.applyPayFaults(o, behaviour, now)
	switch state {
	case StateSuccess:
		s.markPaid(o, now)
	default:
		o.State = state
	}
	c := o.clone()
	switch state {
	case StateUserPaying:
		return outcome{code: "USERPAYING", desc: "需要用户输入支付密码", order: &c}
	case StatePayError:
		return outcome{code: o.FailCode, desc: failDesc(o.FailCode), order: &c}
	}
	return outcome{order: &c}
}

// payAgain answers a micropay for an out_trade_no the ledger already holds, as
// WeChat does: the order's current state for a true retry, an error (and a
// rule violation) for a number reused for another payment. Caller holds s.mu.
func (s *Server) payAgain(o *Order, r payReq, now time.Time) outcome {
	s.advance(o, now)
	switch {
	case o.TradeType == TradeNative || o.AuthCode != r.authCode || o.Amount != r.amount || o.Currency != r.currency:
		s.violate(now, RuleOutTradeNoReused, r.outTradeNo, "out_trade_no resubmitted with another payment code or amount")
		return fail("OUT_TRADE_NO_USED", "商户订单号重复")
	case o.State == StateRevoked:
		s.violate(now, RuleOutTradeNoReused, r.outTradeNo, "out_trade_no reused after it was reversed")
		return fail("ORDERREVERSED", "订单已撤销")
	case o.State == StateClosed:
		s.violate(now, RuleOutTradeNoReused, r.outTradeNo, "out_trade_no reused after it was closed")
		return fail("ORDERCLOSED", "订单已关闭")
	case o.State == StateSuccess || o.State == StateRefund:
		c := o.clone()
		return outcome{code: "ORDERPAID", desc: "订单已支付", order: &c}
	case o.State == StateUserPaying:
		c := o.clone()
		return outcome{code: "USERPAYING", desc: "需要用户输入支付密码", order: &c}
	case o.State == StatePayError:
		return fail(nz(o.FailCode, "TRADE_ERROR"), "支付失败")
	default:
		return fail("INVALID_REQUEST", "重复的支付请求")
	}
}

// newPayOrder records a new micropay order (not yet in any state) under its
// out_trade_no, transaction id and payment code. Caller holds s.mu.
func (s *Server) newPayOrder(r payReq, now time.Time) *Order {
	s.seq++
	o := &Order{
		OutTradeNo:    r.outTradeNo,
		TransactionID: fmt.Sprintf("4200%s%016d", now.In(hkt).Format("20060102"), s.seq),
		AuthCode:      r.authCode,
		Dialect:       r.dialect,
		Institutional: r.institutional,
		TradeType:     TradeMicroPay,
		Description:   r.description,
		Attach:        r.attach,
		DeviceID:      r.deviceID,
		Amount:        r.amount,
		Currency:      r.currency,
		PayerAmount:   r.amount,
		PayerCurrency: r.currency,
		ExchangeRate:  100000000,
		Created:       now,
	}
	s.orders[o.OutTradeNo] = o
	s.byTxID[o.TransactionID] = o
	s.codes[r.authCode] = o.OutTradeNo
	s.order = append(s.order, o.OutTradeNo)
	return o
}

// applyPayFaults shapes a new order by the test's faults (mainland wallet,
// user paying, failure) and returns the state the order should take.
func (s *Server) applyPayFaults(o *Order, behaviour []Fault, now time.Time) string {
	state := StateSuccess
	for _, f := range behaviour {
		switch f.Kind {
		case FaultMainlandWallet:
			if o.Currency != "CNY" {
				o.PayerCurrency = "CNY"
				o.ExchangeRate = s.opts.CNYRate
				o.PayerAmount = (o.Amount*s.opts.CNYRate + 50000000) / 100000000
			}
		case FaultUserPaying:
			state = StateUserPaying
			o.payingUntil = now.Add(f.For)
			o.payingThen = nz(f.Then, StateSuccess)
		case FaultUserPayingForever:
			state = StateUserPaying
		case FaultFail:
			state = StatePayError
			o.FailCode = nz(f.Code, "TRADE_ERROR")
		}
	}
	return state
}

func failDesc(code string) string {
	switch code {
	case "NOTENOUGH":
		return "余额不足"
	case "AUTHCODEEXPIRE":
		return "二维码已过期，请用户在微信上刷新后再试"
	case "AUTH_CODE_INVALID":
		return "付款码无效，请重新扫码"
	case "NOTSUPORTCARD":
		return "不支持卡类型"
	case "ORDERREVERSED":
		return "订单已撤销"
	}
	return "交易错误"
}

// lookup finds an order by out_trade_no or transaction_id.
func (s *Server) lookup(outTradeNo, txID string) *Order {
	if txID != "" {
		return s.byTxID[txID]
	}
	return s.orders[outTradeNo]
}

// query answers an order query. Caller holds s.mu.
func (s *Server) query(outTradeNo, txID string, now time.Time) outcome {
	o := s.lookup(outTradeNo, txID)
	key := outTradeNo
	if o != nil {
		key = o.OutTradeNo
	}
	if last, ok := s.lastQuery[key]; ok && now.Sub(last) < time.Second {
		s.violate(now, RuleQueryRate, key, fmt.Sprintf("second query within %s", now.Sub(last)))
	}
	s.lastQuery[key] = now
	if o == nil {
		return fail("ORDERNOTEXIST", "此交易订单号不存在")
	}
	s.advance(o, now)
	c := o.clone()
	return outcome{order: &c}
}

// reverseWindow and reverseFloor are WeChat's reverse rules (docs/wxpay-v2.md §6.2).
const (
	reverseWindow = 7 * 24 * time.Hour
	reverseFloor  = 15 * time.Second
	refundWindow  = 365 * 24 * time.Hour
	maxRefunds    = 50
)

// reverse carries out a reverse. Caller holds s.mu.
func (s *Server) reverse(outTradeNo, txID string, now time.Time) outcome {
	o := s.lookup(outTradeNo, txID)
	if o == nil {
		return fail("ORDERNOTEXIST", "订单不存在")
	}
	s.advance(o, now)
	age := now.Sub(o.Created)
	if age > reverseWindow {
		s.violate(now, RuleReverseExpired, o.OutTradeNo, fmt.Sprintf("reverse %s after the order", age))
		return fail("REVERSE_EXPIRE", "订单已超过可撤销期限，请使用退款")
	}
	if age < reverseFloor {
		s.violate(now, RuleReverseTooEarly, o.OutTradeNo, fmt.Sprintf("reverse %s after the order", age))
	}
	switch o.State {
	case StateRevoked, StateClosed:
	case StateRefund:
		return fail("TRADE_ERROR", "订单已发生退款，请使用退款")
	default:
		o.State = StateRevoked
		o.ReversedAt = now
	}
	c := o.clone()
	return outcome{order: &c}
}

// refundReq is a refund in dialect-neutral form.
type refundReq struct {
	outTradeNo, txID, outRefundNo, reason, currency string
	amount, total                                   int64
}

// refund carries out a refund, idempotent by out_refund_no. Caller holds s.mu.
func (s *Server) refund(r refundReq, now time.Time) outcome {
	if r.outRefundNo == "" || r.amount <= 0 {
		return fail("PARAM_ERROR", "参数错误: out_refund_no or amount")
	}
	if prev, ok := s.refunds[r.outRefundNo]; ok {
		if prev.Amount != r.amount || (r.outTradeNo != "" && prev.OutTradeNo != r.outTradeNo) || (r.txID != "" && prev.TransactionID != r.txID) {
			s.violate(now, RuleRefundInvalid, prev.OutTradeNo, "out_refund_no reused with other parameters")
			return fail("INVALID_REQUEST", "退款单号重复，参数不一致")
		}
		c := *prev
		return outcome{refund: &c}
	}
	o := s.lookup(r.outTradeNo, r.txID)
	if o == nil {
		return fail("ORDERNOTEXIST", "订单不存在")
	}
	s.advance(o, now)
	bad := func(code, desc string) outcome {
		s.violate(now, RuleRefundInvalid, o.OutTradeNo, desc)
		return fail(code, desc)
	}
	switch {
	case o.State != StateSuccess && o.State != StateRefund:
		return bad("TRADE_STATE_ERROR", "订单状态错误: "+o.State)
	case now.Sub(o.PaidAt) > refundWindow:
		return bad("TRADE_OVERDUE", "订单已经超过退款期限")
	case r.total != o.Amount:
		return bad("PARAM_ERROR", "订单金额不一致")
	case r.currency != "" && r.currency != o.Currency:
		return bad("PARAM_ERROR", "退款币种必须与支付币种一致")
	case len(o.rfs) >= maxRefunds:
		return bad("ERROR", "退款次数超过限制")
	case o.Refunded+r.amount > o.Amount:
		return bad("ERROR", "退款金额大于支付金额")
	}
	s.seq++
	rf := &Refund{
		OutRefundNo:   r.outRefundNo,
		RefundID:      fmt.Sprintf("5030%s%017d", now.In(hkt).Format("20060102"), s.seq),
		OutTradeNo:    o.OutTradeNo,
		TransactionID: o.TransactionID,
		Amount:        r.amount,
		Total:         o.Amount,
		Currency:      o.Currency,
		PayerAmount:   (r.amount*o.ExchangeRate + 50000000) / 100000000,
		PayerCurrency: o.PayerCurrency,
		ExchangeRate:  o.ExchangeRate,
		Reason:        r.reason,
		Created:       now,
		SuccessAt:     now.Add(s.opts.RefundDelay),
	}
	o.rfs = append(o.rfs, rf)
	o.Refunded += r.amount
	o.State = StateRefund
	s.refunds[rf.OutRefundNo] = rf
	s.refundByID[rf.RefundID] = rf.OutRefundNo
	c := *rf
	return outcome{refund: &c}
}

// refundQuery finds refunds by out_refund_no / refund_id, or all of an order. Caller holds s.mu.
func (s *Server) refundQuery(outRefundNo, refundID, outTradeNo, txID string) outcome {
	if refundID != "" {
		outRefundNo = s.refundByID[refundID]
	}
	if outRefundNo != "" {
		rf, ok := s.refunds[outRefundNo]
		if !ok {
			return fail("REFUNDNOTEXIST", "退款单不存在")
		}
		o := s.orders[rf.OutTradeNo]
		c, r := o.clone(), *rf
		return outcome{order: &c, refund: &r, refunds: []Refund{r}}
	}
	o := s.lookup(outTradeNo, txID)
	if o == nil || len(o.rfs) == 0 {
		return fail("REFUNDNOTEXIST", "退款单不存在")
	}
	c := o.clone()
	return outcome{order: &c, refunds: c.Refunds}
}

// openID derives a stable per-code payer id (codes are single-use, so per-order).
func openID(authCode string) string {
	h := sha256.Sum256([]byte("openid:" + authCode))
	return "oUpF8u" + base64.RawURLEncoding.EncodeToString(h[:])[:22]
}

func (s *Server) violate(now time.Time, rule, outTradeNo, detail string) {
	s.violations = append(s.violations, Violation{Time: now, Rule: rule, OutTradeNo: outTradeNo, Detail: detail})
}

// hkt is Hong Kong time (UTC+8, no DST), the zone of success_time, time_end and statements.
var hkt = time.FixedZone("HKT", 8*3600)
