package wxpaytest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// QR Code Payment (NATIVE) in the simulator: an order is created unpaid with a code_url;
// nobody pays it until a test (or the demo's "customer pays" button) calls PayCodeURL or
// PayNative, as a customer scanning the code in WeChat would.

// Endpoints of QR Code Payment.
const (
	EPNative Endpoint = "native" // v3 …/transactions/native, v2 /pay/unifiedorder
	EPClose  Endpoint = "close"  // v3 …/out-trade-no/{}/close, v2 /pay/closeorder
)

// Rules of QR Code Payment (recorded as violations).
const (
	RuleCloseTooEarly = "close-too-early" // close < 5 minutes after the order (refused)
	RuleNoNotifyURL   = "no-notify-url"   // a native order without notify_url (refused)
)

// Trade types as statements and queries show them.
const (
	TradeMicroPay = "MICROPAY"
	TradeNative   = "NATIVE"
)

// closeFloor is WeChat's "no close within 5 minutes of creating the order".
const closeFloor = 5 * time.Minute

// codeURLLifetime is how long a code_url can be scanned when no time_expire is given.
const codeURLLifetime = 2 * time.Hour

// nativeReq is a Native order in dialect-neutral form.
type nativeReq struct {
	dialect       string
	institutional bool
	outTradeNo    string
	amount        int64
	currency      string
	description   string
	attach        string
	deviceID      string
	notifyURL     string
	timeExpire    time.Time // zero: not sent
}

// ErrNotPayable is returned by PayCodeURL / PayNative when the customer cannot pay the
// order: unknown code, already paid, closed, or past its time_expire.
var ErrNotPayable = errors.New("wxpaytest: the order cannot be paid")

func newCodeURL() string {
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("wxpaytest: " + err.Error())
	}
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return "weixin://wxpay/bizpayurl?pr=" + string(b[:])
}

// native creates (or, for the same parameters, returns again) a Native order. Caller
// holds s.mu.
func (s *Server) native(r nativeReq, now time.Time) outcome {
	if r.notifyURL == "" {
		s.violate(now, RuleNoNotifyURL, r.outTradeNo, "native order without notify_url")
		return fail("PARAM_ERROR", "缺少参数notify_url")
	}
	if r.amount <= 0 || r.outTradeNo == "" || len(r.outTradeNo) > 32 {
		return fail("PARAM_ERROR", "参数错误: amount or out_trade_no")
	}
	if !r.timeExpire.IsZero() && r.timeExpire.Sub(now) < time.Minute {
		return fail("PARAM_ERROR", "time_expire时间过短，最短失效时间间隔必须大于1分钟")
	}
	if o, ok := s.orders[r.outTradeNo]; ok {
		s.advance(o, now)
		switch {
		case o.TradeType != TradeNative || o.Amount != r.amount || o.Currency != r.currency || o.Description != r.description ||
			!r.timeExpire.IsZero() && !r.timeExpire.Equal(o.TimeExpire):
			s.violate(now, RuleOutTradeNoReused, r.outTradeNo, "out_trade_no resubmitted with other parameters")
			return fail("OUT_TRADE_NO_USED", "商户订单号重复")
		case o.State == StateSuccess || o.State == StateRefund:
			return fail("ORDERPAID", "该订单已支付")
		case o.State == StateClosed || o.State == StateRevoked:
			return fail("ORDERCLOSED", "订单已关闭")
		}
		c := o.clone()
		return outcome{order: &c}
	}
	s.seq++
	o := &Order{
		OutTradeNo:    r.outTradeNo,
		TransactionID: fmt.Sprintf("4200%s%016d", now.In(hkt).Format("20060102"), s.seq),
		TradeType:     TradeNative,
		CodeURL:       newCodeURL(),
		Dialect:       r.dialect,
		Institutional: r.institutional,
		Description:   r.description,
		Attach:        r.attach,
		DeviceID:      r.deviceID,
		Amount:        r.amount,
		Currency:      r.currency,
		PayerAmount:   r.amount,
		PayerCurrency: r.currency,
		ExchangeRate:  100000000,
		State:         StateNotPay,
		Created:       now,
		TimeExpire:    r.timeExpire,
	}
	if o.TimeExpire.IsZero() {
		o.TimeExpire = now.Add(codeURLLifetime)
	}
	s.orders[o.OutTradeNo] = o
	s.byTxID[o.TransactionID] = o
	s.byCodeURL[o.CodeURL] = o
	s.order = append(s.order, o.OutTradeNo)
	c := o.clone()
	return outcome{order: &c}
}

// closeOrder closes an unpaid order. Caller holds s.mu.
func (s *Server) closeOrder(outTradeNo string, now time.Time) outcome {
	o := s.orders[outTradeNo]
	if o == nil {
		return fail("ORDERNOTEXIST", "订单不存在")
	}
	s.advance(o, now)
	if age := now.Sub(o.Created); age < closeFloor {
		s.violate(now, RuleCloseTooEarly, outTradeNo, fmt.Sprintf("close %s after the order", age))
		return fail("CLOSE_TOO_EARLY", "订单生成后5分钟内不能关单")
	}
	switch o.State {
	case StateSuccess, StateRefund:
		return fail("ORDERPAID", "订单已支付")
	case StateClosed, StateRevoked:
	default:
		o.State = StateClosed
		o.ClosedAt = now
	}
	c := o.clone()
	return outcome{order: &c}
}

// PayCodeURL is the customer scanning a QR code and paying in WeChat. It returns the paid
// order, or ErrNotPayable (wrapped, with the reason).
func (s *Server) PayCodeURL(codeURL string) (Order, error) {
	s.mu.Lock()
	o := s.byCodeURL[codeURL]
	s.mu.Unlock()
	if o == nil {
		return Order{}, fmt.Errorf("%w: no order has code_url %q", ErrNotPayable, codeURL)
	}
	return s.PayNative(o.OutTradeNo)
}

// PayNative pays a Native order by out_trade_no, as PayCodeURL does.
func (s *Server) PayNative(outTradeNo string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	o := s.orders[outTradeNo]
	switch {
	case o == nil || o.TradeType != TradeNative:
		return Order{}, fmt.Errorf("%w: no native order %s", ErrNotPayable, outTradeNo)
	case o.State != StateNotPay:
		return o.clone(), fmt.Errorf("%w: order %s is %s", ErrNotPayable, outTradeNo, o.State)
	case !now.Before(o.TimeExpire):
		return o.clone(), fmt.Errorf("%w: order %s expired at %s", ErrNotPayable, outTradeNo, o.TimeExpire.Format(time.RFC3339))
	}
	s.markPaid(o, now)
	return o.clone(), nil
}

func nativeAmountKey(amount int64) string { return fmt.Sprintf("native-amount:%d", amount) }

// bindNativeScript gives a native order the script queued for its amount (Match.
// NativeAmount), once. Caller holds s.mu.
func (s *Server) bindNativeScript(outTradeNo string, amount int64) {
	k := nativeAmountKey(amount)
	if sc, ok := s.scripts[k]; ok && outTradeNo != "" {
		if _, own := s.scripts["no:"+outTradeNo]; !own {
			s.scripts["no:"+outTradeNo] = sc
		}
		delete(s.scripts, k)
	}
}

// payerKey seeds a payer's openid: the payment code for Quick Pay, the order for QR codes.
func (o *Order) payerKey() string {
	if o.TradeType == TradeNative {
		return "native:" + o.OutTradeNo
	}
	return o.AuthCode
}

func (o *Order) tradeType() string { return nz(o.TradeType, TradeMicroPay) }

type v3NativeBody struct {
	v3IDs
	Description          string `json:"description"`
	Attach               string `json:"attach"`
	NotifyURL            string `json:"notify_url"`
	OutTradeNo           string `json:"out_trade_no"`
	TradeType            string `json:"trade_type"`
	TimeExpire           string `json:"time_expire"`
	MerchantCategoryCode string `json:"merchant_category_code"`
	Amount               struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	SceneInfo struct {
		DeviceID string `json:"device_id"`
	} `json:"scene_info"`
}

func (c *v3Call) nativeOrder() (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPNative
	var b v3NativeBody
	if err := c.decode(&b); err != nil {
		return c.errorAnswer("PARAM_ERROR", err.Error()), nil
	}
	c.rec.OutTradeNo = b.OutTradeNo
	inst, problem := s.checkIDs(b.v3IDs, true)
	var expire time.Time
	if b.TimeExpire != "" {
		t, err := time.Parse(time.RFC3339, b.TimeExpire)
		if err != nil {
			return c.errorAnswer("PARAM_ERROR", "time_expire is not RFC 3339: "+b.TimeExpire), nil
		}
		expire = t
	}
	switch {
	case problem != "":
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, b.OutTradeNo, problem)
		s.mu.Unlock()
		return c.errorAnswer("PARAM_ERROR", problem), nil
	case b.TradeType != TradeNative:
		return c.errorAnswer("PARAM_ERROR", "trade_type must be NATIVE"), nil
	case b.MerchantCategoryCode == "":
		return c.errorAnswer("PARAM_ERROR", "merchant_category_code is required"), nil
	case b.Description == "" || len([]rune(b.Description)) > 127:
		return c.errorAnswer("PARAM_ERROR", "description must be 1..127 characters"), nil
	}
	req := nativeReq{dialect: c.dialect, institutional: inst, outTradeNo: b.OutTradeNo, amount: b.Amount.Total,
		currency: nz(b.Amount.Currency, "HKD"), description: b.Description, attach: b.Attach, deviceID: b.SceneInfo.DeviceID,
		notifyURL: b.NotifyURL, timeExpire: expire}
	s.mu.Lock()
	s.bindNativeScript(b.OutTradeNo, b.Amount.Total)
	f := s.takeFault(EPNative, b.OutTradeNo)
	var out outcome
	if processes(f) {
		out = s.native(req, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "CODE_URL(forged)"
			return c.json(200, map[string]string{"code_url": newCodeURL()}, true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.errorAnswer(out.code, out.desc)), f
	}
	c.rec.Outcome = out.order.State
	return c.applyProcessed(f, c.json(200, map[string]string{"code_url": out.order.CodeURL}, false)), f
}

func (c *v3Call) closeOrder(outTradeNo string) (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPClose
	c.rec.OutTradeNo = outTradeNo
	var ids v3IDs
	if err := c.decode(&ids); err != nil {
		return c.errorAnswer("PARAM_ERROR", err.Error()), nil
	}
	if _, problem := s.checkIDs(ids, false); problem != "" {
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, outTradeNo, problem)
		s.mu.Unlock()
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	s.mu.Lock()
	f := s.takeFault(EPClose, outTradeNo)
	var out outcome
	if processes(f) {
		out = s.closeOrder(outTradeNo, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "CLOSED(forged)"
			return c.sign(204, nil, nil, true, nil), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.errorAnswer(out.code, out.desc)), f
	}
	c.rec.Outcome = out.order.State
	return c.applyProcessed(f, c.sign(204, nil, nil, false, nil)), f
}

func (c *v2Call) nativeOrder() (answer, *Fault) {
	s, q := c.s, c.req
	for _, k := range []string{"body", "out_trade_no", "total_fee", "spbill_create_ip", "trade_type"} {
		if q[k] == "" {
			return c.bizFail("PARAM_ERROR", "缺少参数"+k, nil), nil
		}
	}
	if q["trade_type"] != TradeNative {
		return c.bizFail("PARAM_ERROR", "trade_type参数错误 (the simulator only takes NATIVE)", nil), nil
	}
	if q["product_id"] == "" {
		return c.bizFail("PARAM_ERROR", "trade_type=NATIVE时，product_id为必填参数", nil), nil
	}
	amount, err := parsePositive(q["total_fee"])
	if err != nil {
		return c.bizFail("PARAM_ERROR", "total_fee参数错误", nil), nil
	}
	var expire time.Time
	if te := q["time_expire"]; te != "" {
		t, err := time.ParseInLocation("20060102150405", te, hkt)
		if err != nil {
			return c.bizFail("PARAM_ERROR", "time_expire参数错误", nil), nil
		}
		expire = t
	}
	req := nativeReq{dialect: "v2", institutional: c.inst, outTradeNo: q["out_trade_no"], amount: amount,
		currency: nz(q["fee_type"], "CNY"), description: q["body"], attach: q["attach"], deviceID: q["device_info"],
		notifyURL: q["notify_url"], timeExpire: expire}
	s.mu.Lock()
	s.bindNativeScript(req.outTradeNo, req.amount)
	f := s.takeFault(EPNative, req.outTradeNo)
	var out outcome
	if processes(f) {
		out = s.native(req, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "CODE_URL(forged)"
			return c.answer(map[string]string{"result_code": "SUCCESS", "trade_type": TradeNative, "prepay_id": "wx-forged", "code_url": newCodeURL()}, true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, nil), map[string]string{"result_code": "FAIL", "err_code": out.code, "err_code_des": out.desc}), f
	}
	fields := map[string]string{"result_code": "SUCCESS", "trade_type": TradeNative, "device_info": out.order.DeviceID,
		"prepay_id": "wx" + out.order.TransactionID, "code_url": out.order.CodeURL}
	c.rec.Outcome = out.order.State
	return c.applyProcessed(f, c.answer(fields, false), fields), f
}

func (c *v2Call) closeOrder() (answer, *Fault) {
	s, q := c.s, c.req
	if q["out_trade_no"] == "" {
		return c.bizFail("PARAM_ERROR", "缺少参数out_trade_no", nil), nil
	}
	s.mu.Lock()
	f := s.takeFault(EPClose, q["out_trade_no"])
	var out outcome
	if processes(f) {
		out = s.closeOrder(q["out_trade_no"], c.now)
	}
	s.mu.Unlock()
	ok := map[string]string{"result_code": "SUCCESS"}
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "CLOSED(forged)"
			return c.answer(ok, true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, nil), map[string]string{"result_code": "FAIL", "err_code": out.code, "err_code_des": out.desc}), f
	}
	c.rec.Outcome = out.order.State
	return c.applyProcessed(f, c.answer(ok, false), ok), f
}

func parsePositive(s string) (int64, error) {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil || v <= 0 || fmt.Sprint(v) != s {
		return 0, fmt.Errorf("not a positive integer: %q", s)
	}
	return v, nil
}
