package wxpay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// v3Paths are the endpoint paths of one v3 generation, below its prefix (docs/wxpay-v3.md §1.2).
// The "{}" is replaced by the path-escaped order or refund number.
type v3Paths struct {
	prefix       string
	micropay     string
	query        string
	reverse      string
	refunds      string
	refundQuery  string
	statements   string
	certificates string
	native       string // QR Code Payment order
	close        string
}

var v3PathTable = map[string]v3Paths{
	APIv3Global: {
		prefix:       "/v3/global",
		micropay:     "/micropay/transactions/pay",
		query:        "/transactions/out-trade-no/{}",
		reverse:      "/micropay/transactions/out-trade-no/{}/reverse",
		refunds:      "/refunds",
		refundQuery:  "/refunds/out-refund-no/{}",
		statements:   "/statements",
		certificates: "/certificates",
		native:       "/transactions/native",
		close:        "/transactions/out-trade-no/{}/close",
	},
	APIv3HK: {
		prefix:       "/hk/v3",
		micropay:     "/transactions/micropay",
		query:        "/transactions/out-trade-no/{}",
		reverse:      "/transactions/out-trade-no/{}/reverse",
		refunds:      "/refunds",
		refundQuery:  "/refunds/out-refund-no/{}",
		statements:   "/statements",
		certificates: "/certificates",
		native:       "/transactions/native",
		close:        "/transactions/out-trade-no/{}/close",
	},
}

type v3Client struct {
	cfg   Config
	t     *transport
	paths v3Paths
	keys  *keyStore
	log   logrus.FieldLogger
	info  bool // Info entries are written
	ua    string
}

var _ Client = (*v3Client)(nil)
var _ CertificateExpirer = (*v3Client)(nil)
var _ CertificateRefresher = (*v3Client)(nil)

func newV3(cfg Config) (*v3Client, error) {
	if cfg.PrivateKey == nil {
		return nil, errors.New("wxpay: v3 needs the merchant private key")
	}
	if cfg.MerchantSerialNo == "" {
		return nil, errors.New("wxpay: v3 needs merchant_serial_no")
	}
	if cfg.MerchantCategoryCode == "" {
		return nil, errors.New("wxpay: v3 needs merchant_category_code")
	}
	if (cfg.PublicKey == nil) != (cfg.PublicKeyID == "") {
		return nil, errors.New("wxpay: public-key mode needs both public_key_file and public_key_id")
	}
	for _, b := range []string{cfg.BaseURL, cfg.BackupBaseURL} {
		// The signature covers the path as sent: a path in the base URL would not be signed.
		if u, err := url.Parse(b); err == nil && strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("wxpay: v3 base url %q has a path; set the path prefix instead", b)
		}
	}
	paths := v3PathTable[cfg.API]
	if cfg.PathPrefix != "" {
		paths.prefix = strings.TrimRight(cfg.PathPrefix, "/")
	}
	c := &v3Client{cfg: cfg, paths: paths, keys: newKeyStore(&cfg), log: cfg.Logger, info: infoEnabled(cfg.Logger), ua: "posd-wxpay/1 (" + cfg.API + ")"}
	if !c.keys.pinned && len(cfg.APIv3Key) != 32 {
		return nil, errors.New("wxpay: v3 needs a 32-byte apiv3 key to download platform certificates (or pinned certificates / a public key)")
	}
	t, err := newTransport(cfg.transportConfig(nil, cfg.RoundTripper))
	if err != nil {
		return nil, fmt.Errorf("wxpay: %w", err)
	}
	c.t = t
	return c, nil
}

func (c *v3Client) path(p string) string { return c.paths.prefix + p }

func (c *v3Client) pathWith(p, id string) string {
	return c.paths.prefix + strings.Replace(p, "{}", url.PathEscape(id), 1)
}

// modeQuery is the merchant-ID query string of GET calls, per mode.
func (c *v3Client) modeQuery() string {
	if c.cfg.institutional() {
		return "sub_mchid=" + url.QueryEscape(c.cfg.SubMchID) + "&sp_mchid=" + url.QueryEscape(c.cfg.MchID)
	}
	return "mchid=" + url.QueryEscape(c.cfg.MchID)
}

// send signs and sends one request. The returned *Error is set (outcome unknown) when the
// request may have left but no usable answer came back; err is set when the call was not
// made at all.
func (c *v3Client) send(ctx context.Context, endpoint, method, path, rawQuery string, body []byte, timeout time.Duration, limit int64) (*response, *Error, error) {
	canonical := path
	if rawQuery != "" {
		canonical += "?" + rawQuery
	}
	ts := unixString(c.cfg.Now().Unix())
	nonce := c.cfg.Nonce()
	sig, err := v3Sign(c.cfg.PrivateKey, v3RequestMessage(method, canonical, ts, nonce, body))
	if err != nil {
		return nil, nil, err
	}
	h := make(http.Header, 6)
	h["Authorization"] = []string{v3Authorization(c.cfg.MchID, nonce, ts, c.cfg.MerchantSerialNo, sig)}
	h["Accept"] = []string{"application/json"}
	h["User-Agent"] = []string{c.ua}
	if body != nil {
		h["Content-Type"] = []string{"application/json"}
	}
	if c.cfg.PublicKeyID != "" {
		// Public-key mode: ask for answers signed with the WeChat Pay public key.
		h["Wechatpay-Serial"] = []string{c.cfg.PublicKeyID}
	}
	resp, err := c.t.do(ctx, endpoint, method, canonical, body, h, timeout, limit)
	if err != nil {
		apiErr, err := transportFailure(err)
		if err != nil {
			return nil, nil, err
		}
		c.log.WithFields(logrus.Fields{"endpoint": endpoint, "code": apiErr.Code}).WithError(errors.New(apiErr.Raw)).Warn("no usable answer")
		return nil, apiErr, nil
	}
	return resp, nil, nil
}

// verify checks an answer's signature over signedBody. A missing header, a clock skew of
// 300 s or more, an unknown serial (after one rate-limited certificate refresh) or a bad
// signature all give a BAD_SIGNATURE error: such an answer is never trusted either way.
func (c *v3Client) verify(ctx context.Context, resp *response, signedBody []byte) *Error {
	serial := resp.Header.Get("Wechatpay-Serial")
	key := c.keys.lookup(serial)
	if key == nil && serial != "" && !c.keys.pinned {
		if err := c.refreshCertificates(ctx, certRetryInterval); err != nil {
			c.log.WithError(err).WithField("serial", serial).Warn("unknown platform certificate serial; refresh failed")
		}
		key = c.keys.lookup(serial)
	}
	if e := c.verifyWith(resp, signedBody, key); e != nil {
		return e
	}
	return nil
}

func (c *v3Client) verifyWith(resp *response, signedBody []byte, pk *rsa.PublicKey) *Error {
	h := resp.Header
	ts, nonce, sig, serial := h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Signature"), h.Get("Wechatpay-Serial")
	bad := func(why string) *Error {
		c.log.WithFields(logrus.Fields{"status": resp.Status, "serial": serial, "why": why}).Warn("answer failed signature verification")
		return &Error{Code: CodeBadSignature, Message: msgBadSig, Raw: why, HTTP: resp.Status}
	}
	if ts == "" || nonce == "" || sig == "" || serial == "" {
		return bad("unsigned answer")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return bad("bad Wechatpay-Timestamp")
	}
	skew := c.cfg.Now().Unix() - sec
	if skew >= 300 || skew <= -300 {
		return bad(fmt.Sprintf("Wechatpay-Timestamp %d s away from the till clock", skew))
	}
	if pk == nil {
		return bad("unknown serial " + serial)
	}
	if err := v3Verify(pk, v3ResponseMessage(ts, nonce, signedBody), sig); err != nil {
		return bad(err.Error())
	}
	return nil
}

// v3ErrorBody is the generic error answer (docs/wxpay-v3.md §3.2).
type v3ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// answerError classifies a non-2xx answer. 429 and 5xx are unknown whatever they say; any
// other refusal must carry a valid signature before it is believed.
func (c *v3Client) answerError(ctx context.Context, op operation, resp *response) (rule, *Error) {
	var eb v3ErrorBody
	_ = json.Unmarshal(resp.Body, &eb) // a body that is not JSON leaves the code empty
	e := &Error{Code: eb.Code, Raw: eb.Message, HTTP: resp.Status}
	if e.Code == "" {
		e.Code = CodeHTTPStatus
		e.Raw = fmt.Sprintf("HTTP %d %s", resp.Status, truncate(resp.Body, 200))
	}
	if resp.Status != http.StatusTooManyRequests && resp.Status < 500 {
		if v := c.verify(ctx, resp, resp.Body); v != nil {
			v.Raw = e.Code + ": " + v.Raw
			return rule{Unknown, msgBadSig}, v
		}
	}
	r := classifyV3(op, resp.Status, eb.Code)
	e.Message = r.msg
	if e.Message == "" {
		e.Message = msgUnknown
	}
	return r, e
}

type v3Amount struct {
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
}

type v3Store struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

type v3Scene struct {
	DeviceID   string   `json:"device_id,omitempty"`
	DeviceIP   string   `json:"device_ip,omitempty"`
	OperatorID string   `json:"operator_id,omitempty"`
	StoreInfo  *v3Store `json:"store_info,omitempty"`
}

// v3PayBody is the micropay request; field order follows the official examples.
type v3PayBody struct {
	AppID                string `json:"appid,omitempty"`
	MchID                string `json:"mchid,omitempty"`
	SpAppID              string `json:"sp_appid,omitempty"`
	SpMchID              string `json:"sp_mchid,omitempty"`
	SubMchID             string `json:"sub_mchid,omitempty"`
	SubAppID             string `json:"sub_appid,omitempty"`
	Description          string `json:"description"`
	Attach               string `json:"attach,omitempty"`
	OutTradeNo           string `json:"out_trade_no"`
	TradeType            string `json:"trade_type"`
	MerchantCategoryCode string `json:"merchant_category_code"`
	Payer                struct {
		AuthCode string `json:"auth_code"`
	} `json:"payer"`
	Amount    v3Amount `json:"amount"`
	SceneInfo *v3Scene `json:"scene_info,omitempty"`
}

// v3Order is a micropay or query answer; every field is optional (a USERPAYING answer may
// carry only trade_state).
type v3Order struct {
	ID          string `json:"id"`
	OutTradeNo  string `json:"out_trade_no"`
	TradeState  string `json:"trade_state"`
	Desc        string `json:"trade_state_desc"`
	BankType    string `json:"bank_type"`
	SuccessTime string `json:"success_time"`
	Payer       struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
	Amount struct {
		Total             *int64 `json:"total"`
		Currency          string `json:"currency"`
		PayerTotal        int64  `json:"payer_total"`
		PayerCurrency     string `json:"payer_currency"`
		PayerCurrencyTypo string `json:"payer _currency"` // spelled so in the community OpenAPI file
		ExchangeRate      struct {
			Rate int64 `json:"rate"`
		} `json:"exchange_rate"`
	} `json:"amount"`
}

func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func validOutNo(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || strings.IndexByte("_-|*@", ch) >= 0) {
			return false
		}
	}
	return true
}

// checkPay refuses a request that must not be sent. checkCode is CheckAuthCode, or
// CheckMultiWalletAuthCode on v3 (which also takes the 160 prefix).
func checkPay(req *PayRequest, checkCode func(string) error) error {
	if !validOutNo(req.OutTradeNo) {
		return fmt.Errorf("micropay: bad out_trade_no %q", req.OutTradeNo)
	}
	if err := checkCode(req.AuthCode); err != nil {
		return fmt.Errorf("micropay %s: %w", req.OutTradeNo, err)
	}
	if req.Amount <= 0 {
		return fmt.Errorf("micropay %s: amount %d", req.OutTradeNo, req.Amount)
	}
	if n := utf8.RuneCountInString(req.Description); n == 0 || n > 127 {
		return fmt.Errorf("micropay %s: description of %d characters (want 1–127)", req.OutTradeNo, n)
	}
	if utf8.RuneCountInString(req.Attach) > 127 {
		return fmt.Errorf("micropay %s: attach longer than 127 characters", req.OutTradeNo)
	}
	return nil
}

func (c *v3Client) payBody(req *PayRequest) ([]byte, error) {
	b := v3PayBody{
		Description:          req.Description,
		Attach:               req.Attach,
		OutTradeNo:           req.OutTradeNo,
		TradeType:            "MICROPAY",
		MerchantCategoryCode: c.cfg.MerchantCategoryCode,
		Amount:               v3Amount{Total: req.Amount, Currency: or(req.Currency, c.cfg.Currency)},
	}
	if c.cfg.institutional() {
		b.SpAppID, b.SpMchID, b.SubMchID, b.SubAppID = c.cfg.AppID, c.cfg.MchID, c.cfg.SubMchID, c.cfg.SubAppID
	} else {
		b.AppID, b.MchID = c.cfg.AppID, c.cfg.MchID
	}
	b.Payer.AuthCode = req.AuthCode
	scene := v3Scene{
		DeviceID:   or(req.DeviceID, c.cfg.DeviceID),
		DeviceIP:   or(req.ClientIP, c.cfg.ClientIP),
		OperatorID: req.OperatorID,
	}
	// store_info needs name and address when sent at all.
	if name, addr := or(req.StoreName, c.cfg.StoreName), c.cfg.StoreAddress; name != "" && addr != "" {
		scene.StoreInfo = &v3Store{ID: or(req.StoreID, c.cfg.StoreID), Name: name, Address: addr}
	}
	if scene != (v3Scene{}) {
		b.SceneInfo = &scene
	}
	return marshalJSON(&b)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// MicroPay charges a scanned payment code (POST .../micropay).
func (c *v3Client) MicroPay(ctx context.Context, req PayRequest) (Order, error) {
	if err := checkPay(&req, CheckMultiWalletAuthCode); err != nil {
		return Order{}, err
	}
	body, err := c.payBody(&req)
	if err != nil {
		return Order{}, fmt.Errorf("micropay %s: encode: %w", req.OutTradeNo, err)
	}
	// Keys first: an answer that cannot be verified is worth nothing. A stale refresh is
	// left to the other calls so the payment path stays short.
	if err := c.ensureKeys(ctx, false); err != nil {
		return Order{}, fmt.Errorf("micropay %s: %w: %w", req.OutTradeNo, ErrNotSent, err)
	}
	resp, apiErr, err := c.send(ctx, "micropay", http.MethodPost, c.path(c.paths.micropay), "", body, c.cfg.Timeouts.MicroPay, c.cfg.MaxResponseBytes)
	if err != nil {
		return Order{}, fmt.Errorf("micropay %s: %w", req.OutTradeNo, err)
	}
	o := c.orderAnswer(ctx, opPay, resp, apiErr, req.OutTradeNo, req.Amount, or(req.Currency, c.cfg.Currency))
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": req.OutTradeNo, "auth_code": MaskCode(req.AuthCode), "amount": req.Amount, "outcome": o.Outcome.String(), "trade_state": o.TradeState}).Info("micropay answered")
	}
	return o, nil
}

// QueryOrder asks for the state of an order by out_trade_no.
func (c *v3Client) QueryOrder(ctx context.Context, outTradeNo string) (Order, error) {
	if !validOutNo(outTradeNo) {
		return Order{}, fmt.Errorf("query: bad out_trade_no %q", outTradeNo)
	}
	if err := c.ensureKeys(ctx, true); err != nil {
		return Order{}, fmt.Errorf("query %s: %w: %w", outTradeNo, ErrNotSent, err)
	}
	resp, apiErr, err := c.send(ctx, "query", http.MethodGet, c.pathWith(c.paths.query, outTradeNo), c.modeQuery(), nil, c.cfg.Timeouts.Query, c.cfg.MaxResponseBytes)
	if err != nil {
		return Order{}, fmt.Errorf("query %s: %w", outTradeNo, err)
	}
	return c.orderAnswer(ctx, opQuery, resp, apiErr, outTradeNo, -1, ""), nil
}

// orderAnswer normalizes a micropay or query answer. wantAmount < 0 skips the amount check.
func (c *v3Client) orderAnswer(ctx context.Context, op operation, resp *response, apiErr *Error, outTradeNo string, wantAmount int64, wantCurrency string) Order {
	o := Order{OutTradeNo: outTradeNo}
	if apiErr != nil {
		o.Outcome, o.Error = Unknown, apiErr
		return o
	}
	o.RequestID = resp.Header.Get("Request-ID")
	if resp.Status < 200 || resp.Status > 299 {
		r, e := c.answerError(ctx, op, resp)
		o.Outcome, o.Error, o.TradeState = r.outcome, e, e.Code
		return o
	}
	if e := c.verify(ctx, resp, resp.Body); e != nil {
		o.Outcome, o.Error = Unknown, e
		return o
	}
	var a v3Order
	if len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, &a); err != nil {
			o.Outcome, o.Error = Unknown, &Error{Code: CodeBadResponse, Message: msgUnknown, Raw: err.Error(), HTTP: resp.Status}
			return o
		}
	}
	return fillOrder(o, &a, resp.Status, wantAmount, wantCurrency)
}

// fillOrder classifies a verified 2xx order answer.
func fillOrder(o Order, a *v3Order, status int, wantAmount int64, wantCurrency string) Order {
	o.TradeState = a.TradeState
	o.TransactionID = a.ID
	o.BankType = a.BankType
	o.OpenID = or(a.Payer.OpenID, or(a.Payer.SubOpenID, a.Payer.SpOpenID))
	o.Currency = a.Amount.Currency
	o.PayerAmount = a.Amount.PayerTotal
	o.PayerCurrency = or(a.Amount.PayerCurrency, a.Amount.PayerCurrencyTypo)
	o.ExchangeRate = a.Amount.ExchangeRate.Rate
	if a.Amount.Total != nil {
		o.Amount = *a.Amount.Total
	}
	if a.SuccessTime != "" {
		if t, err := time.Parse(time.RFC3339, a.SuccessTime); err == nil {
			o.SuccessTime = t
		}
	}
	if a.OutTradeNo != "" && a.OutTradeNo != o.OutTradeNo {
		o.Outcome = Unknown
		o.Error = &Error{Code: CodeMismatch, Message: msgUnknown, Raw: "answer is about out_trade_no " + a.OutTradeNo, HTTP: status}
		return o
	}
	r, known := tradeStates[a.TradeState]
	switch {
	case status == http.StatusAccepted:
		// 202: accepted, not finished (docs/wxpay-v3.md §0.3), whatever the body says.
		r, known = rule{Pending, msgPending}, true
	case !known:
		o.Outcome = Unknown
		o.Error = &Error{Code: CodeUnknownState, Message: msgUnknown, Raw: "trade_state " + strconv.Quote(a.TradeState), HTTP: status}
		return o
	}
	if r.outcome == Paid && wantAmount >= 0 && (a.Amount.Total == nil || *a.Amount.Total != wantAmount || (a.Amount.Currency != "" && a.Amount.Currency != wantCurrency)) {
		// A success for another amount is not the sale the cashier rang up.
		o.Outcome = Unknown
		o.Error = &Error{Code: CodeMismatch, Message: msgUnknown, Raw: fmt.Sprintf("paid amount %v %s, charged %d %s", a.Amount.Total, a.Amount.Currency, wantAmount, wantCurrency), HTTP: status}
		return o
	}
	o.Outcome = r.outcome
	if r.outcome == Failed || r.outcome == Unknown {
		o.Error = &Error{Code: a.TradeState, Message: r.msg, Raw: a.Desc, HTTP: status}
	}
	return o
}

// Reverse cancels an order (撤销): closes it if unpaid, refunds the payer if paid.
func (c *v3Client) Reverse(ctx context.Context, outTradeNo string) (ReverseResult, error) {
	o, e, err := c.orderAction(ctx, "reverse", opReverse, c.paths.reverse, outTradeNo)
	return ReverseResult{Outcome: o, Error: e}, err
}

// orderAction sends one of the body-less order actions (reverse, close): the merchant ids
// as the body, 204 when WeChat took it, the shared error classes otherwise.
func (c *v3Client) orderAction(ctx context.Context, name string, op operation, pathTmpl, outTradeNo string) (Outcome, *Error, error) {
	if !validOutNo(outTradeNo) {
		return 0, nil, fmt.Errorf("%s: bad out_trade_no %q", name, outTradeNo)
	}
	if err := c.ensureKeys(ctx, true); err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w: %w", name, outTradeNo, ErrNotSent, err)
	}
	var body []byte
	if c.cfg.institutional() {
		body, _ = marshalJSON(map[string]string{"sp_mchid": c.cfg.MchID, "sub_mchid": c.cfg.SubMchID})
	} else {
		body, _ = marshalJSON(map[string]string{"mchid": c.cfg.MchID})
	}
	resp, apiErr, err := c.send(ctx, name, http.MethodPost, c.pathWith(pathTmpl, outTradeNo), "", body, c.cfg.Timeouts.Reverse, c.cfg.MaxResponseBytes)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", name, outTradeNo, err)
	}
	var out Outcome
	var e *Error
	switch {
	case apiErr != nil:
		out, e = Unknown, apiErr
	case resp.Status >= 200 && resp.Status <= 299:
		if e = c.verify(ctx, resp, resp.Body); e != nil {
			out = Unknown
		} else {
			out = Reversed // 204, no body
		}
	default:
		var r rule
		r, e = c.answerError(ctx, op, resp)
		out = r.outcome
	}
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": outTradeNo, "outcome": out.String()}).Info(name + " answered")
	}
	return out, e, nil
}

type v3RefundBody struct {
	MchID         string `json:"mchid,omitempty"`
	AppID         string `json:"appid,omitempty"`
	SpMchID       string `json:"sp_mchid,omitempty"`
	SpAppID       string `json:"sp_appid,omitempty"`
	SubMchID      string `json:"sub_mchid,omitempty"`
	SubAppID      string `json:"sub_appid,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	OutTradeNo    string `json:"out_trade_no,omitempty"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason,omitempty"`
	Amount        struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

type v3RefundAnswer struct {
	ID          string `json:"id"`
	OutRefundNo string `json:"out_refund_no"`
	Status      string `json:"status"`
	Amount      struct {
		Refund        int64  `json:"refund"`
		Currency      string `json:"currency"`
		PayerRefund   int64  `json:"payer_refund"`
		PayerCurrency string `json:"payer_currency"`
	} `json:"amount"`
}

// Refund asks for (part of) a paid order back. The same OutRefundNo never refunds twice.
func (c *v3Client) Refund(ctx context.Context, req RefundRequest) (Refund, error) {
	if !validOutNo(req.OutRefundNo) || (req.OutTradeNo == "" && req.TransactionID == "") || req.Amount <= 0 || req.Total < req.Amount {
		return Refund{}, fmt.Errorf("refund %q: bad request (order %q, amount %d of %d)", req.OutRefundNo, req.OutTradeNo, req.Amount, req.Total)
	}
	if err := c.ensureKeys(ctx, true); err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w: %w", req.OutRefundNo, ErrNotSent, err)
	}
	b := v3RefundBody{TransactionID: req.TransactionID, OutRefundNo: req.OutRefundNo, Reason: req.Reason}
	if req.TransactionID == "" {
		b.OutTradeNo = req.OutTradeNo
	}
	if c.cfg.institutional() {
		b.SpMchID, b.SpAppID, b.SubMchID, b.SubAppID = c.cfg.MchID, c.cfg.AppID, c.cfg.SubMchID, c.cfg.SubAppID
	} else {
		b.MchID, b.AppID = c.cfg.MchID, c.cfg.AppID
	}
	b.Amount.Refund, b.Amount.Total, b.Amount.Currency = req.Amount, req.Total, or(req.Currency, c.cfg.Currency)
	body, err := marshalJSON(&b)
	if err != nil {
		return Refund{}, fmt.Errorf("refund %s: encode: %w", req.OutRefundNo, err)
	}
	resp, apiErr, err := c.send(ctx, "refund", http.MethodPost, c.path(c.paths.refunds), "", body, c.cfg.Timeouts.Refund, c.cfg.MaxResponseBytes)
	if err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w", req.OutRefundNo, err)
	}
	rf := c.refundAnswer(ctx, opRefund, resp, apiErr, req.OutRefundNo)
	if c.info {
		c.log.WithFields(logrus.Fields{"out_refund_no": req.OutRefundNo, "outcome": rf.Outcome.String(), "state": rf.State}).Info("refund answered")
	}
	return rf, nil
}

// QueryRefund asks for the state of a refund by out_refund_no.
func (c *v3Client) QueryRefund(ctx context.Context, outRefundNo string) (Refund, error) {
	if !validOutNo(outRefundNo) {
		return Refund{}, fmt.Errorf("refund query: bad out_refund_no %q", outRefundNo)
	}
	if err := c.ensureKeys(ctx, true); err != nil {
		return Refund{}, fmt.Errorf("refund query %s: %w: %w", outRefundNo, ErrNotSent, err)
	}
	resp, apiErr, err := c.send(ctx, "refundquery", http.MethodGet, c.pathWith(c.paths.refundQuery, outRefundNo), c.modeQuery(), nil, c.cfg.Timeouts.Query, c.cfg.MaxResponseBytes)
	if err != nil {
		return Refund{}, fmt.Errorf("refund query %s: %w", outRefundNo, err)
	}
	return c.refundAnswer(ctx, opRefundQuery, resp, apiErr, outRefundNo), nil
}

func (c *v3Client) refundAnswer(ctx context.Context, op operation, resp *response, apiErr *Error, outRefundNo string) Refund {
	rf := Refund{OutRefundNo: outRefundNo}
	if apiErr != nil {
		rf.Outcome, rf.Error = Unknown, apiErr
		return rf
	}
	if resp.Status < 200 || resp.Status > 299 {
		r, e := c.answerError(ctx, op, resp)
		rf.Outcome, rf.Error = r.outcome, e
		return rf
	}
	if e := c.verify(ctx, resp, resp.Body); e != nil {
		rf.Outcome, rf.Error = Unknown, e
		return rf
	}
	var a v3RefundAnswer
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		rf.Outcome, rf.Error = Unknown, &Error{Code: CodeBadResponse, Message: msgUnknown, Raw: err.Error(), HTTP: resp.Status}
		return rf
	}
	if a.OutRefundNo != "" && a.OutRefundNo != outRefundNo {
		rf.Outcome, rf.Error = Unknown, &Error{Code: CodeMismatch, Message: msgUnknown, Raw: "answer is about out_refund_no " + a.OutRefundNo, HTTP: resp.Status}
		return rf
	}
	rf.Outcome = Paid // the refund exists; State says how far it got
	rf.RefundID = a.ID
	rf.State = RefundState(a.Status)
	if rf.State == "" {
		rf.State = RefundProcessing // the apply answer carries no status: query it
	}
	rf.Amount, rf.Currency = a.Amount.Refund, a.Amount.Currency
	rf.PayerAmount, rf.PayerCurrency = a.Amount.PayerRefund, a.Amount.PayerCurrency
	return rf
}

// Statement downloads the day's transaction statement (CSV) and checks it against the
// signed Wechatpay-Statement-Sha1 header.
func (c *v3Client) Statement(ctx context.Context, date string) (Statement, error) {
	if !validDate(date) {
		return Statement{}, fmt.Errorf("statement: bad date %q (want YYYYMMDD)", date)
	}
	if err := c.ensureKeys(ctx, true); err != nil {
		return Statement{}, fmt.Errorf("statement %s: %w: %w", date, ErrNotSent, err)
	}
	q := "date=" + date + "&"
	if c.cfg.institutional() {
		q += "sp_mchid=" + url.QueryEscape(c.cfg.MchID) + "&sub_mchid=" + url.QueryEscape(c.cfg.SubMchID)
	} else {
		q += "mchid=" + url.QueryEscape(c.cfg.MchID)
	}
	resp, apiErr, err := c.send(ctx, "statement", http.MethodGet, c.path(c.paths.statements), q, nil, c.cfg.Timeouts.Statement, c.cfg.MaxStatementBytes)
	if err != nil {
		return Statement{}, fmt.Errorf("statement %s: %w", date, err)
	}
	if apiErr != nil {
		return Statement{}, fmt.Errorf("statement %s: %w", date, apiErr)
	}
	st := Statement{Date: date}
	if resp.Status < 200 || resp.Status > 299 {
		r, e := c.answerError(ctx, opStatement, resp)
		if e.Code == "NO_STATEMENT_EXIST" && r.outcome != Unknown {
			st.NotReady = true
			return st, nil
		}
		return Statement{}, fmt.Errorf("statement %s: %w", date, e)
	}
	signed := resp.Body
	if sum := resp.Header.Get("Wechatpay-Statement-Sha1"); sum != "" {
		signed = []byte(`{"sha1":"` + sum + `"}`)
		got := sha1.Sum(resp.Body)
		if !strings.EqualFold(hex.EncodeToString(got[:]), sum) {
			return Statement{}, fmt.Errorf("statement %s: %w", date, &Error{Code: CodeStatementHash, Message: "The statement arrived damaged: download it again", Raw: "sha1 " + hex.EncodeToString(got[:]) + " != " + sum, HTTP: resp.Status})
		}
	}
	if e := c.verify(ctx, resp, signed); e != nil {
		return Statement{}, fmt.Errorf("statement %s: %w", date, e)
	}
	rows, err := parseStatementCSV(resp.Body)
	if err != nil {
		return Statement{}, fmt.Errorf("statement %s: %w", date, err)
	}
	st.Rows = rows
	return st, nil
}

func validDate(d string) bool {
	if len(d) != 8 {
		return false
	}
	_, err := time.Parse("20060102", d)
	return err == nil
}
