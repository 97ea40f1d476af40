package wxpaytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBody bounds request bodies; WeChat's largest till request is a few KB.
const maxBody = 1 << 20

// v3Code maps a business code (v2 spelling) to the v3 HTTP status and code. The v3
// spellings of micropay refusals are [UNCONFIRMED] in docs/wxpay-v3.md §3.3; these follow the
// list given there (README.md has the table).
func v3Code(code string) (int, string) {
	switch code {
	case "SYSTEMERROR":
		return 500, "SYSTEM_ERROR"
	case "BANKERROR":
		return 500, "BANK_ERROR"
	case "NOTENOUGH":
		return 403, "NOT_ENOUGH"
	case "AUTHCODEEXPIRE":
		return 403, "AUTHCODE_EXPIRE"
	case "AUTH_CODE_INVALID", "AUTH_CODE_ERROR", "TRADE_ERROR", "BUYER_MISMATCH", "OUT_TRADE_NO_USED":
		return 403, code
	case "NOTSUPORTCARD":
		return 403, code // no v3 spelling in any source: WeChat's v2 spelling kept
	case "ORDERREVERSED":
		return 403, "ORDER_REVERSED"
	case "ORDERCLOSED":
		return 403, "ORDER_CLOSED"
	case "ORDERPAID":
		return 403, "ORDER_PAID"
	case "USER_CANCELLED":
		return 403, "TRADE_ERROR"
	case "NOAUTH":
		return 403, "NO_AUTH"
	case "ORDERNOTEXIST":
		return 404, "ORDER_NOT_EXIST"
	case "REFUNDNOTEXIST":
		return 404, "RESOURCE_NOT_EXISTS"
	case "REVERSE_EXPIRE", "TRADE_OVERDUE", "INVALID_REQUEST", "NO_STATEMENT_EXIST":
		return 400, code
	case "CLOSE_TOO_EARLY":
		return 400, "INVALID_REQUEST"
	case "TRADE_STATE_ERROR", "ERROR":
		return 400, "INVALID_REQUEST"
	case "SIGNERROR":
		return 401, "SIGN_ERROR"
	case "FREQUENCY_LIMITED":
		return 429, "FREQUENCY_LIMITED"
	}
	return 400, "PARAM_ERROR"
}

type v3Amount struct {
	Total         int64           `json:"total,omitempty"`
	Refund        int64           `json:"refund,omitempty"`
	Currency      string          `json:"currency,omitempty"`
	PayerTotal    *int64          `json:"payer_total,omitempty"`
	PayerRefund   *int64          `json:"payer_refund,omitempty"`
	PayerCurrency string          `json:"payer_currency,omitempty"`
	ExchangeRate  *v3ExchangeRate `json:"exchange_rate,omitempty"`
}

type v3ExchangeRate struct {
	Type string `json:"type"`
	Rate int64  `json:"rate"`
}

type v3Payer struct {
	OpenID    string `json:"openid,omitempty"`
	SpOpenID  string `json:"sp_openid,omitempty"`
	SubOpenID string `json:"sub_openid,omitempty"`
}

// v3OrderJSON is the micropay / query answer body (docs/wxpay-v3.md §2.2).
type v3OrderJSON struct {
	ID             string    `json:"id,omitempty"`
	MchID          string    `json:"mchid,omitempty"`
	AppID          string    `json:"appid,omitempty"`
	SpMchID        string    `json:"sp_mchid,omitempty"`
	SpAppID        string    `json:"sp_appid,omitempty"`
	SubMchID       string    `json:"sub_mchid,omitempty"`
	SubAppID       string    `json:"sub_appid,omitempty"`
	OutTradeNo     string    `json:"out_trade_no,omitempty"`
	TradeType      string    `json:"trade_type,omitempty"`
	TradeState     string    `json:"trade_state"`
	TradeStateDesc string    `json:"trade_state_desc,omitempty"`
	BankType       string    `json:"bank_type,omitempty"`
	Attach         string    `json:"attach,omitempty"`
	SuccessTime    string    `json:"success_time,omitempty"`
	Payer          *v3Payer  `json:"payer,omitempty"`
	Amount         *v3Amount `json:"amount,omitempty"`
}

var stateDesc = map[string]string{
	StateSuccess: "支付成功", StateUserPaying: "用户支付中，需要输入密码", StateNotPay: "未支付",
	StatePayError: "支付失败", StateRevoked: "已撤销", StateClosed: "已关闭", StateRefund: "转入退款",
}

func rfc3339(t time.Time) string { return t.In(hkt).Format(time.RFC3339) }

func (s *Server) v3Order(o *Order) v3OrderJSON {
	j := v3OrderJSON{
		ID: o.TransactionID, OutTradeNo: o.OutTradeNo, TradeType: o.tradeType(),
		TradeState: o.State, TradeStateDesc: stateDesc[o.State], Attach: o.Attach,
	}
	if o.Institutional {
		j.SpMchID, j.SpAppID, j.SubMchID, j.SubAppID = s.creds.MchID, s.creds.AppID, s.creds.SubMchID, s.creds.SubAppID
	} else {
		j.MchID, j.AppID = s.creds.MchID, s.creds.AppID
	}
	j.Amount = &v3Amount{Total: o.Amount, Currency: o.Currency}
	if o.WasPaid {
		j.BankType = "OTHERS"
		j.SuccessTime = rfc3339(o.PaidAt)
		pt := o.PayerAmount
		j.Amount.PayerTotal = &pt
		j.Amount.PayerCurrency = o.PayerCurrency
		j.Amount.ExchangeRate = &v3ExchangeRate{Type: "SETTLEMENT_RATE", Rate: o.ExchangeRate}
		if o.Institutional {
			j.Payer = &v3Payer{SpOpenID: openID(o.payerKey())}
		} else {
			j.Payer = &v3Payer{OpenID: openID(o.payerKey())}
		}
	}
	return j
}

// v3Refund is the refund apply / query answer (docs/wxpay-v3.md §2.4, §2.5).
type v3RefundJSON struct {
	ID            string    `json:"id"`
	OutRefundNo   string    `json:"out_refund_no"`
	TransactionID string    `json:"transaction_id,omitempty"`
	OutTradeNo    string    `json:"out_trade_no,omitempty"`
	Channel       string    `json:"channel,omitempty"`
	RecvAccount   string    `json:"recv_account,omitempty"`
	SuccessTime   string    `json:"success_time,omitempty"`
	CreateTime    string    `json:"create_time"`
	Status        string    `json:"status,omitempty"`
	Amount        *v3Amount `json:"amount"`
}

func v3Refund(rf *Refund, query bool, now time.Time) v3RefundJSON {
	pr := rf.PayerAmount
	j := v3RefundJSON{ID: rf.RefundID, OutRefundNo: rf.OutRefundNo, CreateTime: rfc3339(rf.Created),
		Amount: &v3Amount{Refund: rf.Amount, Currency: rf.Currency, PayerRefund: &pr, PayerCurrency: rf.PayerCurrency,
			ExchangeRate: &v3ExchangeRate{Type: "SETTLEMENT_RATE", Rate: rf.ExchangeRate}}}
	if query {
		j.TransactionID, j.OutTradeNo, j.Channel, j.RecvAccount = rf.TransactionID, rf.OutTradeNo, "ORIGINAL", "支付用户零钱"
		j.Status = rf.State(now)
		if j.Status == "SUCCESS" {
			j.SuccessTime = rfc3339(rf.SuccessAt)
		}
	}
	return j
}

// v3IDs are the merchant identity fields of a body or query string.
type v3IDs struct {
	MchID    string `json:"mchid"`
	AppID    string `json:"appid"`
	SpMchID  string `json:"sp_mchid"`
	SpAppID  string `json:"sp_appid"`
	SubMchID string `json:"sub_mchid"`
	SubAppID string `json:"sub_appid"`
}

// check validates the mode fields; needApp for micropay/refund bodies.
func (s *Server) checkIDs(ids v3IDs, needApp bool) (inst bool, problem string) {
	c := s.creds
	if ids.SubMchID != "" || ids.SpMchID != "" {
		switch {
		case ids.SpMchID != c.MchID:
			return true, "sp_mchid does not match"
		case ids.SubMchID != c.SubMchID:
			return true, "sub_mchid does not match"
		case needApp && ids.SpAppID != c.AppID:
			return true, "sp_appid does not match"
		case ids.SubAppID != "" && ids.SubAppID != c.SubAppID:
			return true, "sub_appid does not match"
		case ids.MchID != "":
			return true, "mchid must not be sent in institutional mode"
		}
		return true, ""
	}
	switch {
	case ids.MchID != c.MchID:
		return false, "mchid does not match"
	case needApp && ids.AppID != c.AppID:
		return false, "appid does not match"
	}
	return false, ""
}

func queryIDs(q url.Values) v3IDs {
	return v3IDs{MchID: q.Get("mchid"), SpMchID: q.Get("sp_mchid"), SubMchID: q.Get("sub_mchid")}
}

// v3Call is one v3 request being served.
type v3Call struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	now     time.Time
	dialect string
	body    []byte
	rec     Request
	pubMode bool
}

func (c *v3Call) sign(status int, body []byte, signed []byte, forged bool, hdr http.Header) answer {
	s := c.s
	if hdr == nil {
		hdr = http.Header{}
	}
	ts := c.now.Unix()
	nonce := randomString(32)
	if signed == nil {
		signed = body
	}
	msg := v3ResponseMessage(ts, nonce, signed)
	if forged {
		msg = append(msg, "forged"...)
	}
	key, serial := s.signer()
	if c.pubMode {
		key, serial = s.keys.pubMode, s.creds.PublicKeyID
	}
	hdr.Set("Wechatpay-Timestamp", strconv.FormatInt(ts, 10))
	hdr.Set("Wechatpay-Nonce", nonce)
	hdr.Set("Wechatpay-Serial", serial)
	hdr.Set("Wechatpay-Signature", rsaSign(key, msg))
	hdr.Set("Request-ID", "sim-"+randomString(24))
	if len(body) > 0 && hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "application/json; charset=utf-8")
	}
	return answer{status: status, header: hdr, body: body}
}

func (c *v3Call) json(status int, v any, forged bool) answer {
	b, err := json.Marshal(v)
	if err != nil {
		panic("wxpaytest: marshal: " + err.Error())
	}
	return c.sign(status, b, nil, forged, nil)
}

func (c *v3Call) errorAnswer(code, msg string) answer {
	status, v3c := v3Code(code)
	c.rec.Outcome = v3c
	return c.json(status, map[string]string{"code": v3c, "message": msg}, false)
}

// transportAnswer is the answer a transport fault puts in place of the real one.
func (c *v3Call) transportAnswer(f *Fault) answer {
	switch f.Kind {
	case FaultSystemError, FaultReverseRetry:
		return c.errorAnswer("SYSTEMERROR", "系统错误")
	case FaultBankError:
		return c.errorAnswer("BANKERROR", "银行系统异常")
	case FaultRateLimit:
		c.rec.Outcome = "RATELIMIT_EXCEEDED"
		return c.json(429, map[string]string{"code": "RATELIMIT_EXCEEDED", "message": "请求过于频繁"}, false)
	case FaultHTTP:
		st := f.Status
		if st == 0 {
			st = 503
		}
		code := "SYSTEM_ERROR"
		if st == 502 || st == 503 {
			code = "SERVICE_UNAVAILABLE"
		}
		c.rec.Outcome = code
		return c.json(st, map[string]string{"code": code, "message": http.StatusText(st)}, false)
	}
	return answer{}
}

func (s *Server) serveV3(w http.ResponseWriter, r *http.Request, dialect string, now time.Time) {
	c := &v3Call{s: s, w: w, r: r, now: now, dialect: dialect,
		rec: Request{Time: now, Dialect: dialect, Method: r.Method, Path: r.URL.Path}}
	c.pubMode = s.opts.PublicKeyMode || (r.Header.Get("Wechatpay-Serial") != "" && r.Header.Get("Wechatpay-Serial") == s.creds.PublicKeyID)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		dropConn(w)
		return
	}
	c.body = body
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

// authenticate checks the Authorization header (docs/wxpay-v3.md §6.1).
func (c *v3Call) authenticate() (answer, bool) {
	s := c.s
	a, err := parseV3Auth(c.r.Header.Get("Authorization"))
	if err == nil && a.Serial != s.creds.MerchantSerial {
		err = fmt.Errorf("serial_no %s is not the merchant certificate's", a.Serial)
	}
	if err == nil && a.MchID != s.creds.MchID {
		err = fmt.Errorf("mchid %s in Authorization does not match", a.MchID)
	}
	if err == nil {
		err = rsaVerify(s.keys.merchantPub, v3RequestMessage(c.r.Method, c.r.RequestURI, a.Timestamp, a.Nonce, c.body), a.Signature)
	}
	if err != nil {
		s.mu.Lock()
		s.violate(c.now, RuleBadSignature, "", c.r.Method+" "+c.r.URL.Path+": "+err.Error())
		s.mu.Unlock()
		return c.errorAnswer("SIGNERROR", "签名错误: "+err.Error()), false
	}
	if skew := c.s.opts.RequestSkew; skew > 0 {
		d := c.now.Sub(time.Unix(a.Timestamp, 0))
		if d > skew || d < -skew {
			s.mu.Lock()
			s.violate(c.now, RuleStaleTimestamp, "", fmt.Sprintf("request timestamp off by %s", d))
			s.mu.Unlock()
			return c.errorAnswer("SIGNERROR", "请求时间戳已过期"), false
		}
	}
	return answer{}, true
}

func (c *v3Call) route() (answer, *Fault) {
	p := strings.TrimPrefix(c.r.URL.Path, "/v3/global")
	if c.dialect == "v3-hk" {
		p = strings.TrimPrefix(c.r.URL.Path, "/hk/v3")
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	m := c.r.Method
	var ep Endpoint
	var fn func() (answer, *Fault)
	switch {
	case m == "POST" && (p == "/micropay/transactions/pay" && c.dialect == "v3-global" || p == "/transactions/micropay" && c.dialect == "v3-hk"):
		ep, fn = EPMicroPay, c.micropay
	case m == "GET" && len(seg) == 3 && seg[0] == "transactions" && seg[1] == "out-trade-no":
		ep, fn = EPQuery, func() (answer, *Fault) { return c.query(seg[2], "") }
	case m == "GET" && len(seg) == 3 && seg[0] == "transactions" && seg[1] == "id":
		ep, fn = EPQuery, func() (answer, *Fault) { return c.query("", seg[2]) }
	case m == "POST" && c.dialect == "v3-global" && len(seg) == 5 && seg[0] == "micropay" && seg[1] == "transactions" && seg[4] == "reverse":
		ep, fn = EPReverse, func() (answer, *Fault) { return c.reverse(seg[2], seg[3]) }
	case m == "POST" && c.dialect == "v3-hk" && len(seg) == 4 && seg[0] == "transactions" && seg[3] == "reverse":
		ep, fn = EPReverse, func() (answer, *Fault) { return c.reverse(seg[1], seg[2]) }
	case m == "POST" && p == "/transactions/native":
		ep, fn = EPNative, c.nativeOrder
	case m == "POST" && len(seg) == 4 && seg[0] == "transactions" && seg[1] == "out-trade-no" && seg[3] == "close":
		ep, fn = EPClose, func() (answer, *Fault) { return c.closeOrder(seg[2]) }
	case m == "POST" && p == "/refunds":
		ep, fn = EPRefund, c.refund
	case m == "GET" && p == "/refunds":
		ep, fn = EPRefundQuery, c.refundList
	case m == "GET" && len(seg) == 3 && seg[0] == "refunds" && (seg[1] == "out-refund-no" || seg[1] == "id"):
		ep, fn = EPRefundQuery, func() (answer, *Fault) { return c.refundQuery(seg[1], seg[2]) }
	case m == "GET" && p == "/statements":
		ep, fn = EPStatement, c.statement
	case m == "GET" && p == "/certificates":
		ep, fn = EPCertificates, c.certificates
	}
	c.rec.Endpoint = ep
	if ans, ok := c.authenticate(); !ok {
		return ans, nil
	}
	if fn == nil {
		c.rec.Outcome = "NOT_FOUND"
		return c.json(404, map[string]string{"code": "NOT_FOUND", "message": "no such API: " + m + " " + c.r.URL.Path}, false), nil
	}
	return fn()
}

type v3PayBody struct {
	v3IDs
	Description          string `json:"description"`
	Attach               string `json:"attach"`
	OutTradeNo           string `json:"out_trade_no"`
	TradeType            string `json:"trade_type"`
	MerchantCategoryCode string `json:"merchant_category_code"`
	Payer                struct {
		AuthCode string `json:"auth_code"`
	} `json:"payer"`
	Amount struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	SceneInfo struct {
		DeviceID string `json:"device_id"`
	} `json:"scene_info"`
}

func (c *v3Call) decode(v any) error {
	if len(c.body) > maxBody {
		return fmt.Errorf("body larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON body")
	}
	return nil
}

func (c *v3Call) micropay() (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPMicroPay
	var b v3PayBody
	if err := c.decode(&b); err != nil {
		return c.errorAnswer("PARAM_ERROR", err.Error()), nil
	}
	c.rec.OutTradeNo = b.OutTradeNo
	inst, problem := s.checkIDs(b.v3IDs, true)
	switch {
	case problem != "":
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, b.OutTradeNo, problem)
		s.mu.Unlock()
		return c.errorAnswer("PARAM_ERROR", problem), nil
	case b.TradeType != "MICROPAY":
		return c.errorAnswer("PARAM_ERROR", "trade_type must be MICROPAY"), nil
	case b.MerchantCategoryCode == "":
		return c.errorAnswer("PARAM_ERROR", "merchant_category_code is required"), nil
	case b.Description == "" || utf8.RuneCountInString(b.Description) > 127:
		return c.errorAnswer("PARAM_ERROR", "description must be 1..127 characters"), nil
	case b.Payer.AuthCode == "":
		return c.errorAnswer("PARAM_ERROR", "payer.auth_code is required"), nil
	}
	req := payReq{dialect: c.dialect, institutional: inst, outTradeNo: b.OutTradeNo, authCode: b.Payer.AuthCode,
		amount: b.Amount.Total, currency: nz(b.Amount.Currency, "HKD"), description: b.Description,
		attach: b.Attach, deviceID: b.SceneInfo.DeviceID}
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
				AuthCode: req.authCode, Institutional: inst, Amount: req.amount, Currency: req.currency,
				PayerAmount: req.amount, PayerCurrency: req.currency, ExchangeRate: 100000000,
				State: StateSuccess, WasPaid: true, PaidAt: c.now}
			c.rec.Outcome = "SUCCESS(forged)"
			return c.json(200, s.v3Order(fake), true), f
		}
		return c.transportAnswer(f), f
	}
	ans := c.orderAnswer(out, true)
	return c.applyProcessed(f, ans), f
}

// applyProcessed replaces a processed request's answer as a processed fault says.
func (c *v3Call) applyProcessed(f *Fault, ans answer) answer {
	if f == nil {
		return ans
	}
	switch f.Kind {
	case FaultSystemError, FaultBankError, FaultHTTP:
		return c.transportAnswer(f)
	case FaultForged:
		ans.header.Set("Wechatpay-Signature", c.sign(ans.status, ans.body, nil, true, nil).header.Get("Wechatpay-Signature"))
		c.rec.Outcome += "(forged signature)"
	}
	return ans
}

// orderAnswer renders a pay / query outcome.
func (c *v3Call) orderAnswer(out outcome, micropay bool) answer {
	s := c.s
	switch {
	case out.code == "USERPAYING":
		c.rec.Outcome = "USERPAYING"
		if s.opts.UserPaying200 {
			return c.json(200, s.v3Order(out.order), false)
		}
		return c.json(202, map[string]string{"trade_state": "USERPAYING"}, false)
	case out.code == "ORDERPAID" && micropay:
		c.rec.Outcome = out.order.State
		return c.json(200, s.v3Order(out.order), false)
	case out.code != "":
		return c.errorAnswer(out.code, out.desc)
	}
	c.rec.Outcome = out.order.State
	return c.json(200, s.v3Order(out.order), false)
}

func (c *v3Call) query(outTradeNo, txID string) (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPQuery
	c.rec.OutTradeNo = outTradeNo
	if _, problem := s.checkIDs(queryIDs(c.r.URL.Query()), false); problem != "" {
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, outTradeNo, problem)
		s.mu.Unlock()
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	s.mu.Lock()
	if outTradeNo == "" {
		if o := s.byTxID[txID]; o != nil {
			c.rec.OutTradeNo = o.OutTradeNo
		}
	}
	f := s.takeFault(EPQuery, c.rec.OutTradeNo)
	out := s.query(outTradeNo, txID, c.now)
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			fake := &Order{OutTradeNo: c.rec.OutTradeNo, TransactionID: txID, State: StateSuccess, WasPaid: true, PaidAt: c.now,
				Currency: "HKD", ExchangeRate: 100000000}
			if out.order != nil {
				o := *out.order
				fake.TransactionID, fake.Amount, fake.Currency, fake.PayerAmount, fake.PayerCurrency = o.TransactionID, o.Amount, o.Currency, o.Amount, o.Currency
			}
			c.rec.Outcome = "SUCCESS(forged)"
			return c.json(200, s.v3Order(fake), true), f
		}
		return c.transportAnswer(f), f
	}
	return c.applyProcessed(f, c.orderAnswer(out, false)), f
}

func (c *v3Call) reverse(kind, id string) (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPReverse
	var ids v3IDs
	if err := c.decode(&ids); err != nil {
		return c.errorAnswer("PARAM_ERROR", err.Error()), nil
	}
	outTradeNo, txID := "", ""
	switch kind {
	case "out-trade-no":
		outTradeNo = id
	case "id", "transaction_id":
		txID = id
	default:
		c.rec.Outcome = "NOT_FOUND"
		return c.json(404, map[string]string{"code": "NOT_FOUND", "message": "no such API"}, false), nil
	}
	c.rec.OutTradeNo = outTradeNo
	if _, problem := s.checkIDs(ids, false); problem != "" {
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, outTradeNo, problem)
		s.mu.Unlock()
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	s.mu.Lock()
	if o := s.byTxID[txID]; o != nil && txID != "" {
		c.rec.OutTradeNo = o.OutTradeNo
	}
	f := s.takeFault(EPReverse, c.rec.OutTradeNo)
	var out outcome
	if processes(f) {
		out = s.reverse(outTradeNo, txID, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			c.rec.Outcome = "REVOKED(forged)"
			return c.sign(204, nil, nil, true, nil), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.errorAnswer(out.code, out.desc)), f
	}
	c.rec.Outcome = StateRevoked
	return c.applyProcessed(f, c.sign(204, nil, nil, false, nil)), f
}

type v3RefundBody struct {
	v3IDs
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	Amount        struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

func (c *v3Call) refund() (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPRefund
	var b v3RefundBody
	if err := c.decode(&b); err != nil {
		return c.errorAnswer("PARAM_ERROR", err.Error()), nil
	}
	c.rec.OutTradeNo, c.rec.OutRefundNo = b.OutTradeNo, b.OutRefundNo
	if _, problem := s.checkIDs(b.v3IDs, true); problem != "" {
		s.mu.Lock()
		s.violate(c.now, RuleWrongMerchant, b.OutTradeNo, problem)
		s.mu.Unlock()
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	if b.Amount.Currency == "" || (b.OutTradeNo == "" && b.TransactionID == "") {
		return c.errorAnswer("PARAM_ERROR", "amount.currency and one of out_trade_no / transaction_id are required"), nil
	}
	s.mu.Lock()
	if o := s.byTxID[b.TransactionID]; o != nil && b.OutTradeNo == "" {
		c.rec.OutTradeNo = o.OutTradeNo
	}
	f := s.takeFault(EPRefund, c.rec.OutTradeNo)
	var out outcome
	if processes(f) {
		out = s.refund(refundReq{outTradeNo: b.OutTradeNo, txID: b.TransactionID, outRefundNo: b.OutRefundNo,
			reason: b.Reason, currency: b.Amount.Currency, amount: b.Amount.Refund, total: b.Amount.Total}, c.now)
	}
	s.mu.Unlock()
	if !processes(f) {
		if f.Kind == FaultForged {
			fake := &Refund{OutRefundNo: b.OutRefundNo, RefundID: "50300000000000000000000000000", Amount: b.Amount.Refund,
				Currency: b.Amount.Currency, PayerAmount: b.Amount.Refund, PayerCurrency: b.Amount.Currency, ExchangeRate: 100000000, Created: c.now}
			c.rec.Outcome = "ACCEPTED(forged)"
			return c.json(200, v3Refund(fake, false, c.now), true), f
		}
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.errorAnswer(out.code, out.desc)), f
	}
	c.rec.Outcome = "ACCEPTED"
	return c.applyProcessed(f, c.json(200, v3Refund(out.refund, false, c.now), false)), f
}

func (c *v3Call) refundQuery(kind, id string) (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPRefundQuery
	if _, problem := s.checkIDs(queryIDs(c.r.URL.Query()), false); problem != "" {
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	s.mu.Lock()
	var out outcome
	if kind == "id" {
		out = s.refundQuery("", id, "", "")
	} else {
		c.rec.OutRefundNo = id
		out = s.refundQuery(id, "", "", "")
	}
	if out.refund != nil {
		c.rec.OutTradeNo, c.rec.OutRefundNo = out.refund.OutTradeNo, out.refund.OutRefundNo
	}
	f := s.takeFault(EPRefundQuery, c.rec.OutTradeNo)
	s.mu.Unlock()
	if !processes(f) && f.Kind != FaultForged { // read-only: forged = the true answer, badly signed
		return c.transportAnswer(f), f
	}
	if out.code != "" {
		return c.applyProcessed(f, c.errorAnswer(out.code, out.desc)), f
	}
	j := v3Refund(out.refund, true, c.now)
	c.rec.Outcome = j.Status
	return c.applyProcessed(f, c.json(200, j, false)), f
}

func (c *v3Call) refundList() (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPRefundQuery
	q := c.r.URL.Query()
	if _, problem := s.checkIDs(queryIDs(q), false); problem != "" {
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	c.rec.OutTradeNo = q.Get("out_trade_no")
	s.mu.Lock()
	out := s.refundQuery("", "", q.Get("out_trade_no"), q.Get("transaction_id"))
	s.mu.Unlock()
	if out.code != "" {
		return c.errorAnswer(out.code, out.desc), nil
	}
	o := out.order
	data := make([]v3RefundJSON, 0, len(out.refunds))
	for i := range out.refunds {
		data = append(data, v3Refund(&out.refunds[i], true, c.now))
	}
	pt := o.PayerAmount
	c.rec.Outcome = "SUCCESS"
	return c.json(200, map[string]any{
		"id": o.TransactionID, "out_trade_no": o.OutTradeNo,
		"amount": &v3Amount{Total: o.Amount, Currency: o.Currency, PayerTotal: &pt, PayerCurrency: o.PayerCurrency},
		"data":   data, "total_num": len(data), "current_total_num": len(data),
	}, false), nil
}

func (c *v3Call) certificates() (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPCertificates
	s.mu.Lock()
	f := s.takeFault(EPCertificates, "")
	s.mu.Unlock()
	if !processes(f) && f.Kind != FaultForged {
		return c.transportAnswer(f), f
	}
	s.mu.Lock()
	plats := append([]platformCert(nil), s.platforms...)
	s.mu.Unlock()
	var list []any
	for _, p := range plats {
		cert, err := parseCert(p.certPEM)
		if err != nil {
			return c.errorAnswer("SYSTEMERROR", err.Error()), nil
		}
		nonce := randomString(12)
		ct, err := aeadSeal(s.creds.APIv3Key, nonce, "certificate", p.certPEM)
		if err != nil {
			return c.errorAnswer("SYSTEMERROR", err.Error()), nil
		}
		list = append(list, map[string]any{
			"serial_no":      p.serial,
			"effective_time": rfc3339(cert.NotBefore),
			"expire_time":    rfc3339(cert.NotAfter),
			"encrypt_certificate": map[string]string{
				"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate", "ciphertext": ct,
			},
		})
	}
	c.rec.Outcome = "SUCCESS"
	forged := f != nil && f.Kind == FaultForged
	return c.json(200, map[string]any{"data": list}, forged), f
}
