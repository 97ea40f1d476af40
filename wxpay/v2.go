package wxpay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
)

// v2 paths (docs/wxpay-v2.md §1.2). /secapi/ calls need the merchant's client certificate.
const (
	v2PathMicroPay    = "/pay/micropay"
	v2PathOrderQuery  = "/pay/orderquery"
	v2PathReverse     = "/secapi/pay/reverse"
	v2PathRefund      = "/secapi/pay/refund"
	v2PathRefundQuery = "/pay/refundquery"
	v2PathBill        = "/pay/downloadbill"
)

type v2Client struct {
	cfg  Config
	t    *transport // no client certificate
	sec  *transport // mutual TLS, /secapi/ only
	log  logrus.FieldLogger
	info bool // Info entries are written
	ua   string
}

var _ Client = (*v2Client)(nil)

func newV2(cfg Config) (*v2Client, error) {
	if len(cfg.APIKey) != 32 {
		return nil, fmt.Errorf("wxpay: v2 api key is %d characters, want 32", len(cfg.APIKey))
	}
	switch cfg.SignType {
	case "":
		cfg.SignType = SignTypeHMACSHA256
	case SignTypeHMACSHA256, SignTypeMD5:
	default:
		return nil, fmt.Errorf("wxpay: sign_type %q (want %q or %q)", cfg.SignType, SignTypeHMACSHA256, SignTypeMD5)
	}
	if cfg.ClientCert == nil && cfg.SecRoundTripper == nil {
		return nil, errors.New("wxpay: v2 needs the client certificate (reverse and refund use mutual TLS)")
	}
	t, err := newTransport(cfg.transportConfig(nil, cfg.RoundTripper))
	if err != nil {
		return nil, fmt.Errorf("wxpay: %w", err)
	}
	sec, err := newTransport(cfg.transportConfig(cfg.ClientCert, cfg.SecRoundTripper))
	if err != nil {
		return nil, fmt.Errorf("wxpay: %w", err)
	}
	return &v2Client{cfg: cfg, t: t, sec: sec, log: cfg.Logger, info: infoEnabled(cfg.Logger), ua: "posd-wxpay/1 (v2)"}, nil
}

// common returns the identity fields every v2 request starts with.
func (c *v2Client) common(dst v2Fields) v2Fields {
	dst = append(dst, v2Field{"appid", c.cfg.AppID}, v2Field{"mch_id", c.cfg.MchID})
	if c.cfg.institutional() {
		dst = append(dst, v2Field{"sub_mch_id", c.cfg.SubMchID})
		if c.cfg.SubAppID != "" {
			dst = append(dst, v2Field{"sub_appid", c.cfg.SubAppID})
		}
	}
	return append(dst, v2Field{"nonce_str", c.cfg.Nonce()}, v2Field{"sign_type", c.cfg.SignType})
}

// post signs fields, sends them and returns the verified answer. apiErr (outcome unknown)
// is set for transport failures, non-200 statuses, unparsable XML, return_code=FAIL and
// answers whose signature does not verify; err when the call was not made.
func (c *v2Client) post(ctx context.Context, endpoint, path string, fields v2Fields, timeout time.Duration) (v2Fields, *Error, error) {
	fields = append(fields, v2Field{"sign", v2Sign(fields, c.cfg.APIKey, c.cfg.SignType)})
	var b bytes.Buffer
	b.Grow(512)
	encodeV2XML(&b, fields)
	h := http.Header{"Content-Type": {"text/xml; charset=utf-8"}, "User-Agent": {c.ua}}
	t := c.t
	if path == v2PathReverse || path == v2PathRefund {
		t = c.sec
	}
	resp, err := t.do(ctx, endpoint, http.MethodPost, path, b.Bytes(), h, timeout, c.cfg.MaxResponseBytes)
	if err != nil {
		apiErr, err := transportFailure(err)
		if err != nil {
			return nil, nil, err
		}
		c.log.WithFields(logrus.Fields{"endpoint": endpoint, "code": apiErr.Code}).Warn("no usable answer: " + apiErr.Raw)
		return nil, apiErr, nil
	}
	return c.answer(endpoint, resp)
}

func (c *v2Client) answer(endpoint string, resp *response) (v2Fields, *Error, error) {
	if resp.Status != http.StatusOK {
		rule := rule{Unknown, msgUnknown}
		if resp.Status >= 500 {
			rule.msg = msgSystem
		}
		return nil, &Error{Code: CodeHTTPStatus, Message: rule.msg, Raw: fmt.Sprintf("HTTP %d %s", resp.Status, truncate(resp.Body, 200)), HTTP: resp.Status}, nil
	}
	f, err := decodeV2XML(resp.Body)
	if err != nil {
		return nil, &Error{Code: CodeBadResponse, Message: msgUnknown, Raw: err.Error(), HTTP: resp.Status}, nil
	}
	if f.get("return_code") != "SUCCESS" {
		// The call itself failed (format, signature ...). The answer is unsigned and the
		// request may have reached WeChat: unknown (docs/wxpay-v2.md §5.1).
		return nil, &Error{Code: "FAIL", Message: msgUnknown, Raw: f.get("return_msg"), HTTP: resp.Status}, nil
	}
	if !v2Verify(f, c.cfg.APIKey, c.cfg.SignType) {
		c.log.WithField("endpoint", endpoint).Warn("answer failed signature verification")
		return nil, &Error{Code: CodeBadSignature, Message: msgBadSig, Raw: "result_code " + f.get("result_code") + " err_code " + f.get("err_code"), HTTP: resp.Status}, nil
	}
	return f, nil, nil
}

func parseInt(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// MicroPay charges a scanned payment code (/pay/micropay).
func (c *v2Client) MicroPay(ctx context.Context, req PayRequest) (Order, error) {
	if err := checkPay(&req, CheckAuthCode); err != nil {
		return Order{}, err
	}
	currency := or(req.Currency, c.cfg.Currency)
	var stack [24]v2Field
	f := c.common(stack[:0])
	f = append(f,
		v2Field{"body", req.Description},
		v2Field{"out_trade_no", req.OutTradeNo},
		v2Field{"total_fee", strconv.FormatInt(req.Amount, 10)},
		v2Field{"fee_type", currency},
		// spbill_create_ip is required; without a configured till IP send loopback.
		v2Field{"spbill_create_ip", or(req.ClientIP, or(c.cfg.ClientIP, "127.0.0.1"))},
		v2Field{"auth_code", req.AuthCode},
		v2Field{"device_info", or(req.DeviceID, c.cfg.DeviceID)},
		v2Field{"attach", req.Attach},
	)
	a, apiErr, err := c.post(ctx, "micropay", v2PathMicroPay, f, c.cfg.Timeouts.MicroPay)
	if err != nil {
		return Order{}, fmt.Errorf("micropay %s: %w", req.OutTradeNo, err)
	}
	o := Order{OutTradeNo: req.OutTradeNo}
	switch {
	case apiErr != nil:
		o.Outcome, o.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		o = v2Order(o, a, Paid)
		if (a.get("out_trade_no") != "" && a.get("out_trade_no") != req.OutTradeNo) || o.Amount != req.Amount || (o.Currency != "" && o.Currency != currency) {
			o.Outcome = Unknown
			o.Error = &Error{Code: CodeMismatch, Message: msgUnknown, Raw: fmt.Sprintf("paid %s %d %s, charged %s %d %s", a.get("out_trade_no"), o.Amount, o.Currency, req.OutTradeNo, req.Amount, currency), HTTP: 200}
		}
	default:
		code := a.get("err_code")
		r := classifyV2(opPay, code)
		o.Outcome, o.TradeState = r.outcome, code
		if r.outcome != Paid && r.outcome != Pending {
			o.Error = &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
		}
	}
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": req.OutTradeNo, "auth_code": MaskCode(req.AuthCode), "amount": req.Amount, "outcome": o.Outcome.String(), "trade_state": o.TradeState}).Info("micropay answered")
	}
	return o, nil
}

// v2Order fills an Order from a successful micropay or orderquery answer.
func v2Order(o Order, a v2Fields, outcome Outcome) Order {
	o.Outcome = outcome
	o.TradeState = or(a.get("trade_state"), "SUCCESS")
	o.TransactionID = a.get("transaction_id")
	o.Amount = parseInt(a.get("total_fee"))
	o.Currency = a.get("fee_type")
	o.PayerAmount = parseInt(a.get("cash_fee"))
	o.PayerCurrency = a.get("cash_fee_type")
	o.ExchangeRate = parseInt(or(a.get("rate"), a.get("rate_value")))
	o.BankType = a.get("bank_type")
	o.OpenID = or(a.get("sub_openid"), a.get("openid"))
	if te := a.get("time_end"); te != "" {
		if t, err := time.ParseInLocation("20060102150405", te, hongKong); err == nil {
			o.SuccessTime = t
		}
	}
	return o
}

// QueryOrder asks for the state of an order (/pay/orderquery).
func (c *v2Client) QueryOrder(ctx context.Context, outTradeNo string) (Order, error) {
	if !validOutNo(outTradeNo) {
		return Order{}, fmt.Errorf("query: bad out_trade_no %q", outTradeNo)
	}
	var stack [12]v2Field
	f := append(c.common(stack[:0]), v2Field{"out_trade_no", outTradeNo})
	a, apiErr, err := c.post(ctx, "query", v2PathOrderQuery, f, c.cfg.Timeouts.Query)
	if err != nil {
		return Order{}, fmt.Errorf("query %s: %w", outTradeNo, err)
	}
	o := Order{OutTradeNo: outTradeNo}
	switch {
	case apiErr != nil:
		o.Outcome, o.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		state := a.get("trade_state")
		r, ok := tradeStates[state]
		if !ok {
			r = rule{Unknown, msgUnknown}
		}
		o = v2Order(o, a, r.outcome)
		o.TradeState = state
		if a.get("out_trade_no") != "" && a.get("out_trade_no") != outTradeNo {
			o.Outcome = Unknown
			r = rule{Unknown, msgUnknown}
			state = CodeMismatch
		}
		if r.outcome == Failed || r.outcome == Unknown {
			o.Error = &Error{Code: or(state, CodeUnknownState), Message: r.msg, Raw: a.get("trade_state_desc"), HTTP: 200}
		}
	default:
		code := a.get("err_code")
		r := classifyV2(opQuery, code)
		o.Outcome, o.TradeState = r.outcome, code
		o.Error = &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
	}
	return o, nil
}

// Reverse cancels an order (/secapi/pay/reverse, mutual TLS). recall=Y asks for another try.
func (c *v2Client) Reverse(ctx context.Context, outTradeNo string) (ReverseResult, error) {
	if !validOutNo(outTradeNo) {
		return ReverseResult{}, fmt.Errorf("reverse: bad out_trade_no %q", outTradeNo)
	}
	var stack [12]v2Field
	f := append(c.common(stack[:0]), v2Field{"out_trade_no", outTradeNo})
	a, apiErr, err := c.post(ctx, "reverse", v2PathReverse, f, c.cfg.Timeouts.Reverse)
	if err != nil {
		return ReverseResult{}, fmt.Errorf("reverse %s: %w", outTradeNo, err)
	}
	var rr ReverseResult
	switch {
	case apiErr != nil:
		rr.Outcome, rr.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		rr.Outcome = Reversed
	default:
		code := a.get("err_code")
		rr.Recall = a.get("recall") == "Y"
		r := classifyV2(opReverse, code)
		if rr.Recall {
			r = rule{Unknown, "Cancel not finished at WeChat Pay: trying again"}
		}
		rr.Outcome = r.outcome
		rr.Error = &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
	}
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": outTradeNo, "outcome": rr.Outcome.String(), "recall": rr.Recall}).Info("reverse answered")
	}
	return rr, nil
}

// Refund asks for money back (/secapi/pay/refund, mutual TLS). SUCCESS only means the
// refund was accepted: QueryRefund tells when it is done.
func (c *v2Client) Refund(ctx context.Context, req RefundRequest) (Refund, error) {
	if !validOutNo(req.OutRefundNo) || (req.OutTradeNo == "" && req.TransactionID == "") || req.Amount <= 0 || req.Total < req.Amount {
		return Refund{}, fmt.Errorf("refund %q: bad request (order %q, amount %d of %d)", req.OutRefundNo, req.OutTradeNo, req.Amount, req.Total)
	}
	currency := or(req.Currency, c.cfg.Currency)
	var stack [20]v2Field
	f := c.common(stack[:0])
	if req.TransactionID != "" {
		f = append(f, v2Field{"transaction_id", req.TransactionID})
	} else {
		f = append(f, v2Field{"out_trade_no", req.OutTradeNo})
	}
	f = append(f,
		v2Field{"out_refund_no", req.OutRefundNo},
		v2Field{"total_fee", strconv.FormatInt(req.Total, 10)},
		v2Field{"refund_fee", strconv.FormatInt(req.Amount, 10)},
		v2Field{"refund_fee_type", currency},
		v2Field{"op_user_id", c.cfg.MchID}, // required by older docs, harmless otherwise
		v2Field{"refund_desc", req.Reason},
	)
	a, apiErr, err := c.post(ctx, "refund", v2PathRefund, f, c.cfg.Timeouts.Refund)
	if err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w", req.OutRefundNo, err)
	}
	rf := Refund{OutRefundNo: req.OutRefundNo}
	switch {
	case apiErr != nil:
		rf.Outcome, rf.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		if got := a.get("out_refund_no"); got != "" && got != req.OutRefundNo {
			rf.Outcome, rf.Error = Unknown, &Error{Code: CodeMismatch, Message: msgUnknown, Raw: "answer is about out_refund_no " + got, HTTP: 200}
			break
		}
		rf.Outcome, rf.State = Paid, RefundProcessing
		rf.RefundID = a.get("refund_id")
		rf.Amount = parseInt(a.get("refund_fee"))
		rf.Currency = or(a.get("refund_fee_type"), a.get("fee_type"))
		rf.PayerAmount = parseInt(a.get("cash_refund_fee"))
		rf.PayerCurrency = a.get("cash_fee_type")
	default:
		code := a.get("err_code")
		r := classifyV2(opRefund, code)
		rf.Outcome, rf.Error = r.outcome, &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
	}
	if c.info {
		c.log.WithFields(logrus.Fields{"out_refund_no": req.OutRefundNo, "outcome": rf.Outcome.String()}).Info("refund answered")
	}
	return rf, nil
}

// v2RefundStates maps refund_status_$n to RefundState.
var v2RefundStates = map[string]RefundState{
	"SUCCESS":     RefundSuccess,
	"PROCESSING":  RefundProcessing,
	"REFUNDCLOSE": RefundClosed,
	"FAIL":        RefundClosed,
	"CHANGE":      RefundAbnormal, // the bank card could not take it: manual handling
}

// QueryRefund asks for the state of a refund (/pay/refundquery).
func (c *v2Client) QueryRefund(ctx context.Context, outRefundNo string) (Refund, error) {
	if !validOutNo(outRefundNo) {
		return Refund{}, fmt.Errorf("refund query: bad out_refund_no %q", outRefundNo)
	}
	var stack [12]v2Field
	f := append(c.common(stack[:0]), v2Field{"out_refund_no", outRefundNo})
	a, apiErr, err := c.post(ctx, "refundquery", v2PathRefundQuery, f, c.cfg.Timeouts.Query)
	if err != nil {
		return Refund{}, fmt.Errorf("refund query %s: %w", outRefundNo, err)
	}
	rf := Refund{OutRefundNo: outRefundNo}
	switch {
	case apiErr != nil:
		rf.Outcome, rf.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		n := -1
		count := parseInt(a.get("refund_count"))
		for i := int64(0); i < count && i < 100; i++ {
			if a.get("out_refund_no_"+strconv.FormatInt(i, 10)) == outRefundNo {
				n = int(i)
				break
			}
		}
		if n < 0 {
			rf.Outcome, rf.Error = Unknown, &Error{Code: CodeMismatch, Message: msgUnknown, Raw: "answer does not list this refund", HTTP: 200}
			break
		}
		sfx := "_" + strconv.Itoa(n)
		status := a.get("refund_status" + sfx)
		st, ok := v2RefundStates[status]
		if !ok {
			rf.Outcome, rf.Error = Unknown, &Error{Code: CodeUnknownState, Message: msgUnknown, Raw: "refund_status " + status, HTTP: 200}
			break
		}
		rf.Outcome, rf.State = Paid, st
		rf.RefundID = a.get("refund_id" + sfx)
		rf.Amount = parseInt(a.get("refund_fee" + sfx))
		rf.Currency = or(a.get("refund_fee_type"+sfx), a.get("fee_type"))
		rf.PayerAmount = parseInt(a.get("cash_refund_fee" + sfx))
		rf.PayerCurrency = a.get("cash_fee_type")
	default:
		code := a.get("err_code")
		r := classifyV2(opRefundQuery, code)
		rf.Outcome, rf.Error = r.outcome, &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
	}
	return rf, nil
}
