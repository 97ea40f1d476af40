package wxpaytest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseV2XML reads a flat <xml><k>v</k>...</xml> document (CDATA or text values). It
// rejects DOCTYPE/entity declarations, nesting and duplicate fields.
func parseV2XML(b []byte) (map[string]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	fields := map[string]string{}
	depth, roots := 0, 0
	var name string
	var val strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errors.New("xml: directives (DOCTYPE, ENTITY) are not allowed")
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				roots++
				if roots > 1 {
					return nil, errors.New("xml: more than one root element")
				}
				if t.Name.Local != "xml" {
					return nil, fmt.Errorf("xml: root element %q, want xml", t.Name.Local)
				}
			case 2:
				name = t.Name.Local
				val.Reset()
			default:
				return nil, fmt.Errorf("xml: nested element %q", t.Name.Local)
			}
		case xml.EndElement:
			if depth == 2 {
				if _, dup := fields[name]; dup {
					return nil, fmt.Errorf("xml: field %q repeated", name)
				}
				fields[name] = val.String()
			}
			depth--
		case xml.CharData:
			if depth == 2 {
				val.Write(t)
			}
		}
	}
	if depth != 0 || roots != 1 {
		return nil, errors.New("xml: not one complete <xml> document")
	}
	return fields, nil
}

// v2XML renders fields as WeChat does: sorted, text in CDATA, integers bare.
func v2XML(fields map[string]string) []byte {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, k := range names {
		v := fields[k]
		b.WriteString("<" + k + ">")
		if _, err := strconv.ParseInt(v, 10, 64); err == nil && v != "" {
			b.WriteString(v)
		} else {
			b.WriteString("<![CDATA[" + strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>") + "]]>")
		}
		b.WriteString("</" + k + ">")
	}
	b.WriteString("</xml>")
	return b.Bytes()
}

// v2Call is one v2 request being served.
type v2Call struct {
	s        *Server
	r        *http.Request
	now      time.Time
	req      map[string]string
	signType string
	inst     bool
	rec      Request
}

// answer builds a signed v2 answer. fields hold the business layer; result_code "" means
// a return-level failure (return_code FAIL, return_msg = msg, unsigned).
func (c *v2Call) answer(fields map[string]string, forged bool) answer {
	s := c.s
	out := map[string]string{"return_code": "SUCCESS", "return_msg": "OK", "appid": s.creds.AppID,
		"mch_id": s.creds.MchID, "nonce_str": randomString(32)}
	if c.inst {
		out["sub_mch_id"] = s.creds.SubMchID
		if s.creds.SubAppID != "" {
			out["sub_appid"] = s.creds.SubAppID
		}
	}
	for k, v := range fields {
		out[k] = v
	}
	key := s.creds.APIKey
	if forged {
		key = "forged" + key[6:]
	}
	out["sign"] = v2Sign(out, key, c.signType)
	return answer{status: 200, header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}}, body: v2XML(out)}
}

func (c *v2Call) returnFail(msg string) answer {
	c.rec.Outcome = "FAIL: " + msg
	return answer{status: 200, header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}},
		body: v2XML(map[string]string{"return_code": "FAIL", "return_msg": msg})}
}

func (c *v2Call) bizFail(code, desc string, extra map[string]string) answer {
	c.rec.Outcome = code
	f := map[string]string{"result_code": "FAIL", "err_code": code, "err_code_des": desc}
	for k, v := range extra {
		f[k] = v
	}
	return c.answer(f, false)
}

func (c *v2Call) transportAnswer(f *Fault) answer {
	switch f.Kind {
	case FaultSystemError, FaultReverseRetry:
		var extra map[string]string
		if c.rec.Endpoint == EPReverse {
			extra = map[string]string{"recall": "Y"}
		}
		return c.bizFail("SYSTEMERROR", "系统超时", extra)
	case FaultBankError:
		return c.bizFail("BANKERROR", "银行系统异常", nil)
	case FaultRateLimit:
		return c.bizFail("FREQUENCY_LIMITED", "频率限制", nil)
	case FaultHTTP:
		st := f.Status
		if st == 0 {
			st = 503
		}
		c.rec.Outcome = fmt.Sprint(st)
		return answer{status: st, header: http.Header{"Content-Type": {"text/html"}}, body: []byte(http.StatusText(st))}
	}
	return answer{}
}

func (c *v2Call) applyProcessed(f *Fault, ans answer, fields map[string]string) answer {
	if f == nil {
		return ans
	}
	switch f.Kind {
	case FaultSystemError, FaultBankError, FaultHTTP:
		return c.transportAnswer(f)
	case FaultForged:
		c.rec.Outcome += "(forged signature)"
		return c.answer(fields, true)
	}
	return ans
}

func (s *Server) serveV2(w http.ResponseWriter, r *http.Request, now time.Time) {
	c := &v2Call{s: s, r: r, now: now, rec: Request{Time: now, Dialect: "v2", Method: r.Method, Path: r.URL.Path}}
	ans, f := c.route()
	s.mu.Lock()
	if f != nil {
		c.rec.Fault = f.String()
	}
	s.mu.Unlock()
	status, note := s.deliver(w, r, f, ans)
	c.rec.Status = status
	if note != "" {
		c.rec.Outcome = note
	}
	s.finish(c.rec)
}

var v2Endpoints = map[string]Endpoint{
	"/pay/micropay": EPMicroPay, "/pay/orderquery": EPQuery, "/secapi/pay/reverse": EPReverse,
	"/secapi/pay/refund": EPRefund, "/pay/refundquery": EPRefundQuery, "/pay/downloadbill": EPStatement,
	"/pay/unifiedorder": EPNative, "/pay/closeorder": EPClose,
}

func (c *v2Call) route() (answer, *Fault) {
	s := c.s
	ep, ok := v2Endpoints[c.r.URL.Path]
	if !ok {
		c.rec.Outcome = "NOT_FOUND"
		return answer{status: 404, body: []byte("404 page not found")}, nil
	}
	c.rec.Endpoint = ep
	if c.r.Method != http.MethodPost {
		return c.returnFail("REQUIRE_POST_METHOD"), nil
	}
	if strings.HasPrefix(c.r.URL.Path, "/secapi/") && (c.r.TLS == nil || len(c.r.TLS.PeerCertificates) == 0) {
		// What WeChat's front end answers when the client certificate is missing.
		s.mu.Lock()
		s.violate(c.now, RuleNoClientCert, "", c.r.URL.Path+" without the merchant client certificate")
		s.mu.Unlock()
		c.rec.Outcome = "NO_CLIENT_CERT"
		return answer{status: 400, header: http.Header{"Content-Type": {"text/html"}},
			body: []byte("<html><head><title>400 No required SSL certificate was sent</title></head><body><center><h1>400 Bad Request</h1><center>No required SSL certificate was sent</center></center></body></html>")}, nil
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return c.returnFail("POST_DATA_EMPTY_OR_TOO_LARGE"), nil
	}
	req, err := parseV2XML(body)
	if err != nil {
		return c.returnFail("XML格式错误"), nil
	}
	c.req = req
	c.rec.OutTradeNo, c.rec.OutRefundNo = req["out_trade_no"], req["out_refund_no"]
	switch req["sign_type"] {
	case "", signMD5:
		c.signType = signMD5
	case signHMAC:
		c.signType = signHMAC
	default:
		return c.returnFail("sign_type参数错误"), nil
	}
	if req["sign"] == "" || !v2Verify(req, s.creds.APIKey, c.signType) {
		s.mu.Lock()
		s.violate(c.now, RuleBadSignature, req["out_trade_no"], c.r.URL.Path+": v2 "+c.signType+" signature does not verify")
		s.mu.Unlock()
		c.rec.Outcome = "SIGNERROR"
		return answer{status: 200, header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}},
			body: v2XML(map[string]string{"return_code": "FAIL", "return_msg": "签名错误"})}, nil
	}
	if req["nonce_str"] == "" || len(req["nonce_str"]) > 32 {
		return c.returnFail("nonce_str参数错误"), nil
	}
	if problem := c.checkMerchant(); problem != "" {
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, req["out_trade_no"], problem)
		s.mu.Unlock()
		return c.bizFail("APPID_MCHID_NOT_MATCH", problem, nil), nil
	}
	switch ep {
	case EPMicroPay:
		return c.micropay()
	case EPQuery:
		return c.query()
	case EPReverse:
		return c.reverse()
	case EPRefund:
		return c.refund()
	case EPRefundQuery:
		return c.refundQuery()
	case EPNative:
		return c.nativeOrder()
	case EPClose:
		return c.closeOrder()
	}
	return c.downloadBill()
}

func (c *v2Call) checkMerchant() string {
	cr, q := c.s.creds, c.req
	switch {
	case q["mch_id"] != cr.MchID:
		return "mch_id does not match"
	case q["appid"] != cr.AppID:
		return "appid does not match"
	case q["sub_mch_id"] != "" && q["sub_mch_id"] != cr.SubMchID:
		return "sub_mch_id does not match"
	case q["sub_appid"] != "" && q["sub_appid"] != cr.SubAppID:
		return "sub_appid does not match"
	}
	c.inst = q["sub_mch_id"] != ""
	return ""
}

func hkTime(t time.Time) string { return t.In(hkt).Format("20060102150405") }

// orderFields renders an order's v2 fields (micropay / orderquery success layer).
func (c *v2Call) orderFields(o *Order, query bool) map[string]string {
	f := map[string]string{"result_code": "SUCCESS", "out_trade_no": o.OutTradeNo, "total_fee": strconv.FormatInt(o.Amount, 10),
		"fee_type": o.Currency, "trade_type": o.tradeType(), "attach": o.Attach, "device_info": o.DeviceID}
	if o.TransactionID != "" {
		f["transaction_id"] = o.TransactionID
	}
	if query {
		f["trade_state"] = o.State
		f["trade_state_desc"] = stateDesc[o.State]
	}
	if o.WasPaid {
		if c.inst {
			f["sub_openid"] = openID(o.payerKey())
			f["sub_is_subscribe"] = "N"
		}
		f["openid"] = openID(o.payerKey())
		f["is_subscribe"] = "N"
		f["bank_type"] = "OTHERS"
		f["cash_fee_type"] = o.PayerCurrency
		f["cash_fee"] = strconv.FormatInt(o.PayerAmount, 10)
		f["settlement_total_fee"] = strconv.FormatInt(o.Amount, 10)
		f["time_end"] = hkTime(o.PaidAt)
		f["rate"] = strconv.FormatInt(o.ExchangeRate, 10)
	}
	return f
}

func (c *v2Call) micropay() (answer, *Fault) {
	s, q := c.s, c.req
	for _, k := range []string{"body", "out_trade_no", "total_fee", "spbill_create_ip", "auth_code"} {
		if q[k] == "" {
			return c.bizFail("PARAM_ERROR", "缺少参数"+k, nil), nil
		}
	}
	amount, err := strconv.ParseInt(q["total_fee"], 10, 64)
	if err != nil || amount <= 0 {
		return c.bizFail("PARAM_ERROR", "total_fee参数错误", nil), nil
	}
	req := payReq{dialect: "v2", institutional: c.inst, outTradeNo: q["out_trade_no"], authCode: q["auth_code"],
		amount: amount, currency: nz(q["fee_type"], "CNY"), description: q["body"], attach: q["attach"], deviceID: q["device_info"]}
	s.mu.Lock()
	behaviour, f := s.takeMicroPay(req)
	s.mu.Unlock()
	now, arrived := s.uplink(c.r, f, c.now)
	if !arrived {
		c.rec.Outcome = "client gave up on a slow uplink"
		return answer{}, f // never arrived: no order, the connection is dropped
	}
	c.now, c.rec.Time = now, now
	s.mu.Lock()
	var out outcome
	if processes(f) {
		out = s.pay(req, behaviour, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			fake := &Order{OutTradeNo: req.outTradeNo, TransactionID: "4200000000" + strconv.FormatInt(c.now.UnixNano()%1e18, 10),
				AuthCode: req.authCode, Amount: req.amount, Currency: req.currency, PayerAmount: req.amount,
				PayerCurrency: req.currency, ExchangeRate: 100000000, State: StateSuccess, WasPaid: true, PaidAt: c.now}
			c.rec.Outcome = "SUCCESS(forged)"
			return c.answer(c.orderFields(fake, false), true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, nil), map[string]string{"result_code": "FAIL", "err_code": out.code, "err_code_des": out.desc}), f
	}
	fields := c.orderFields(out.order, false)
	c.rec.Outcome = out.order.State
	return c.applyProcessed(f, c.answer(fields, false), fields), f
}

func (c *v2Call) query() (answer, *Fault) {
	s, q := c.s, c.req
	if q["out_trade_no"] == "" && q["transaction_id"] == "" {
		return c.bizFail("PARAM_ERROR", "缺少参数out_trade_no", nil), nil
	}
	s.mu.Lock()
	if o := s.byTxID[q["transaction_id"]]; o != nil {
		c.rec.OutTradeNo = o.OutTradeNo
	}
	f := s.takeFault(EPQuery, c.rec.OutTradeNo)
	out := s.query(q["out_trade_no"], q["transaction_id"], c.now)
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			fake := &Order{OutTradeNo: c.rec.OutTradeNo, State: StateSuccess, WasPaid: true, PaidAt: c.now, Currency: "HKD", ExchangeRate: 100000000}
			if out.order != nil {
				fake.TransactionID, fake.Amount, fake.Currency, fake.PayerAmount, fake.PayerCurrency = out.order.TransactionID, out.order.Amount, out.order.Currency, out.order.Amount, out.order.Currency
			}
			c.rec.Outcome = "SUCCESS(forged)"
			return c.answer(c.orderFields(fake, true), true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, nil), map[string]string{"result_code": "FAIL", "err_code": out.code}), f
	}
	fields := c.orderFields(out.order, true)
	c.rec.Outcome = out.order.State
	return c.applyProcessed(f, c.answer(fields, false), fields), f
}

func (c *v2Call) reverse() (answer, *Fault) {
	s, q := c.s, c.req
	if q["out_trade_no"] == "" && q["transaction_id"] == "" {
		return c.bizFail("PARAM_ERROR", "缺少参数out_trade_no", map[string]string{"recall": "N"}), nil
	}
	s.mu.Lock()
	if o := s.byTxID[q["transaction_id"]]; o != nil {
		c.rec.OutTradeNo = o.OutTradeNo
	}
	f := s.takeFault(EPReverse, c.rec.OutTradeNo)
	var out outcome
	if processes(f) {
		out = s.reverse(q["out_trade_no"], q["transaction_id"], c.now)
	}
	s.mu.Unlock()
	ok := map[string]string{"result_code": "SUCCESS", "recall": "N"}
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "REVOKED(forged)"
			return c.answer(ok, true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, map[string]string{"recall": "N"}), map[string]string{"result_code": "FAIL", "err_code": out.code, "recall": "N"}), f
	}
	c.rec.Outcome = StateRevoked
	return c.applyProcessed(f, c.answer(ok, false), ok), f
}

func (c *v2Call) refund() (answer, *Fault) {
	s, q := c.s, c.req
	for _, k := range []string{"out_refund_no", "total_fee", "refund_fee"} {
		if q[k] == "" {
			return c.bizFail("PARAM_ERROR", "缺少参数"+k, nil), nil
		}
	}
	if q["out_trade_no"] == "" && q["transaction_id"] == "" {
		return c.bizFail("PARAM_ERROR", "缺少参数out_trade_no", nil), nil
	}
	total, err1 := strconv.ParseInt(q["total_fee"], 10, 64)
	amount, err2 := strconv.ParseInt(q["refund_fee"], 10, 64)
	if err1 != nil || err2 != nil {
		return c.bizFail("PARAM_ERROR", "金额参数错误", nil), nil
	}
	s.mu.Lock()
	if o := s.byTxID[q["transaction_id"]]; o != nil {
		c.rec.OutTradeNo = o.OutTradeNo
	}
	f := s.takeFault(EPRefund, c.rec.OutTradeNo)
	var out outcome
	if processes(f) {
		out = s.refund(refundReq{outTradeNo: q["out_trade_no"], txID: q["transaction_id"], outRefundNo: q["out_refund_no"],
			currency: q["refund_fee_type"], amount: amount, total: total}, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "ACCEPTED(forged)"
			return c.answer(map[string]string{"result_code": "SUCCESS", "out_trade_no": q["out_trade_no"], "out_refund_no": q["out_refund_no"],
				"refund_id": "50300000000000000000000000000", "refund_fee": q["refund_fee"], "total_fee": q["total_fee"]}, true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, nil), map[string]string{"result_code": "FAIL", "err_code": out.code}), f
	}
	rf := out.refund
	fields := map[string]string{"result_code": "SUCCESS", "transaction_id": rf.TransactionID, "out_trade_no": rf.OutTradeNo,
		"out_refund_no": rf.OutRefundNo, "refund_id": rf.RefundID, "refund_fee": strconv.FormatInt(rf.Amount, 10),
		"total_fee": strconv.FormatInt(rf.Total, 10), "fee_type": rf.Currency, "cash_fee_type": rf.PayerCurrency,
		"cash_refund_fee": strconv.FormatInt(rf.PayerAmount, 10)}
	c.rec.OutTradeNo = rf.OutTradeNo
	c.rec.Outcome = "ACCEPTED"
	return c.applyProcessed(f, c.answer(fields, false), fields), f
}

func (c *v2Call) refundQuery() (answer, *Fault) {
	s, q := c.s, c.req
	s.mu.Lock()
	out := s.refundQuery(q["out_refund_no"], q["refund_id"], q["out_trade_no"], q["transaction_id"])
	if out.order != nil {
		c.rec.OutTradeNo = out.order.OutTradeNo
	}
	f := s.takeFault(EPRefundQuery, c.rec.OutTradeNo)
	s.mu.Unlock()
	if !processes(f) && f.Kind != FaultForged { // read-only: forged = the true answer, badly signed
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.bizFail(out.code, out.desc, nil), map[string]string{"result_code": "FAIL", "err_code": out.code}), f
	}
	o := out.order
	fields := map[string]string{"result_code": "SUCCESS", "transaction_id": o.TransactionID, "out_trade_no": o.OutTradeNo,
		"total_fee": strconv.FormatInt(o.Amount, 10), "fee_type": o.Currency, "cash_fee": strconv.FormatInt(o.PayerAmount, 10),
		"cash_fee_type": o.PayerCurrency, "refund_count": strconv.Itoa(len(out.refunds)),
		"total_refund_count": strconv.Itoa(len(o.Refunds))}
	for i, rf := range out.refunds {
		n := strconv.Itoa(i)
		st := rf.State(c.now)
		fields["out_refund_no_"+n] = rf.OutRefundNo
		fields["refund_id_"+n] = rf.RefundID
		fields["refund_channel_"+n] = "ORIGINAL"
		fields["refund_fee_"+n] = strconv.FormatInt(rf.Amount, 10)
		fields["refund_status_"+n] = st
		fields["refund_recv_accout_"+n] = "支付用户零钱"
		if st == "SUCCESS" {
			fields["refund_success_time_"+n] = rf.SuccessAt.In(hkt).Format("2006-01-02 15:04:05")
		}
	}
	c.rec.Outcome = "SUCCESS"
	return c.applyProcessed(f, c.answer(fields, false), fields), f
}

func (c *v2Call) downloadBill() (answer, *Fault) {
	s, q := c.s, c.req
	day, ok := parseDate(q["bill_date"])
	if !ok {
		return c.returnFail("bill_date参数错误"), nil
	}
	billType := nz(q["bill_type"], "ALL")
	if billType != "ALL" && billType != "SUCCESS" && billType != "REFUND" {
		return c.returnFail("bill_type参数错误"), nil
	}
	s.mu.Lock()
	f := s.takeFault(EPStatement, "")
	ready := !c.now.Before(s.statementReady(q["bill_date"], day))
	var csv []byte
	var count int
	if ready {
		rows, n, settled, refunded, total, requested := s.statementRows(day, billType, c.now)
		count = n
		csv = statementCSV(rows, true, n, settled, refunded, total, requested)
	}
	s.mu.Unlock()
	if !processes(f) && f.Kind != FaultForged { // read-only: forged = the true answer, badly signed
		return c.transportAnswer(f), f
	}
	if !ready || count == 0 {
		// WeChat answers the same way for "not generated yet" and "no trades that day".
		c.rec.Outcome = "No Bill Exist"
		return answer{status: 200, header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}},
			body: v2XML(map[string]string{"return_code": "FAIL", "return_msg": "No Bill Exist", "error_code": "20002"})}, f
	}
	c.rec.Outcome = "SUCCESS"
	if q["tar_type"] == "GZIP" {
		return answer{status: 200, header: http.Header{"Content-Type": {"application/x-gzip"}}, body: gzipBytes(csv)}, f
	}
	return answer{status: 200, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: csv}, f
}
