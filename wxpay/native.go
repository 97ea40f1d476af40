package wxpay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// QR Code Payment (Native, 扫码支付): the till asks WeChat for a code_url, shows it as a QR
// code, and the customer scans it in WeChat and pays. docs/qr-payment.md has the rules.

// NativeRequest is one QR Code Payment order.
type NativeRequest struct {
	OutTradeNo  string // unique per attempt, ≤32 chars; never shared with a Quick Pay attempt
	Amount      int64  // minor units
	Currency    string // ISO 4217, default the config's
	Description string // ≤127 chars
	Attach      string
	// TimeExpire is the last moment the customer can pay. Required: an abandoned QR code
	// must not be payable later. WeChat takes it in UTC+8 (v3 RFC 3339, v2 yyyyMMddHHmmss).
	TimeExpire time.Time
	DeviceID   string
	StoreID    string
	StoreName  string
	OperatorID string
	ClientIP   string
}

// NativeOrder is the answer to a Native order.
type NativeOrder struct {
	// Outcome: NotPaid (the order exists and waits for the customer: CodeURL is set),
	// Paid (ORDERPAID: this out_trade_no is already paid — query it for the details),
	// Reversed (ORDERCLOSED), Failed (final, no order), Unknown (query before anything).
	Outcome   Outcome
	CodeURL   string // weixin://wxpay/bizpayurl?pr=...: the QR code's content
	Error     *Error
	RequestID string
}

// CloseResult is the answer to a close (关单).
type CloseResult struct {
	// Outcome: Reversed (closed, or already closed), Paid (ORDERPAID: the customer paid
	// first; refund it if the sale is gone), NotFound, Failed (a final refusal, e.g. the
	// 5-minute rule), Unknown (ask again later).
	Outcome Outcome
	Error   *Error
}

// NativeClient is implemented by both dialects' clients: QR Code Payment. It is separate
// from Client so that fakes of the Quick Pay interface keep compiling.
type NativeClient interface {
	NativeOrder(ctx context.Context, req NativeRequest) (NativeOrder, error)
	CloseOrder(ctx context.Context, outTradeNo string) (CloseResult, error)
}

// CloseMinAge is how long after creating an order WeChat accepts a close for it.
const CloseMinAge = 5 * time.Minute

// NativeMinLifetime is the shortest time_expire posd sends: WeChat refuses a shorter window
// on some generations of the API (v2 documented at least 5 minutes, later 1 minute).
const NativeMinLifetime = time.Minute

// CheckNotifyURL checks notify_url the way WeChat does: an absolute http(s) URL with a
// path, no query string, not a loopback or private address.
func CheckNotifyURL(s string) error {
	if s == "" {
		return fmt.Errorf("notify_url is empty (WeChat requires it for QR Code Payment)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("notify_url: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("notify_url %q: want an https:// URL", s)
	case u.Host == "":
		return fmt.Errorf("notify_url %q: no host", s)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("notify_url %q: WeChat does not allow parameters", s)
	case strings.Trim(u.Path, "/") == "":
		return fmt.Errorf("notify_url %q: a full path is required, not only a host", s)
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasPrefix(h, "127.") || strings.HasPrefix(h, "10.") || strings.HasPrefix(h, "192.168.") || h == "::1" {
		return fmt.Errorf("notify_url %q: must be reachable from the internet", s)
	}
	return nil
}

func checkNative(req *NativeRequest, now time.Time, notifyURL string) error {
	if !validOutNo(req.OutTradeNo) {
		return fmt.Errorf("native: bad out_trade_no %q", req.OutTradeNo)
	}
	if req.Amount <= 0 {
		return fmt.Errorf("native %s: amount %d", req.OutTradeNo, req.Amount)
	}
	if n := utf8.RuneCountInString(req.Description); n == 0 || n > 127 {
		return fmt.Errorf("native %s: description of %d characters (want 1–127)", req.OutTradeNo, n)
	}
	if utf8.RuneCountInString(req.Attach) > 127 {
		return fmt.Errorf("native %s: attach longer than 127 characters", req.OutTradeNo)
	}
	if req.TimeExpire.IsZero() {
		return fmt.Errorf("native %s: time_expire is required", req.OutTradeNo)
	}
	if req.TimeExpire.Sub(now) < NativeMinLifetime {
		// A retry of an order whose window is nearly over would be refused: let the
		// caller query instead.
		return fmt.Errorf("native %s: time_expire %s is less than %s away", req.OutTradeNo, req.TimeExpire.Format(time.RFC3339), NativeMinLifetime)
	}
	if err := CheckNotifyURL(notifyURL); err != nil {
		return fmt.Errorf("native %s: %w", req.OutTradeNo, err)
	}
	return nil
}

// v3TimeExpire and v2TimeExpire format time_expire in UTC+8, as WeChat's examples do.
func v3TimeExpire(t time.Time) string { return t.In(hongKong).Format(time.RFC3339) }
func v2TimeExpire(t time.Time) string { return t.In(hongKong).Format("20060102150405") }

// validCodeURL accepts what a QR code may carry: a weixin:// URL of sane length.
func validCodeURL(s string) bool {
	return strings.HasPrefix(s, "weixin://") && len(s) <= 512 && utf8.ValidString(s) && !strings.ContainsAny(s, " \r\n\t")
}

// v3NativeBody is the Native order request (community OpenAPI native.yaml).
type v3NativeBody struct {
	AppID                string   `json:"appid,omitempty"`
	MchID                string   `json:"mchid,omitempty"`
	SpAppID              string   `json:"sp_appid,omitempty"`
	SpMchID              string   `json:"sp_mchid,omitempty"`
	SubMchID             string   `json:"sub_mchid,omitempty"`
	SubAppID             string   `json:"sub_appid,omitempty"`
	Description          string   `json:"description"`
	Attach               string   `json:"attach,omitempty"`
	NotifyURL            string   `json:"notify_url"`
	OutTradeNo           string   `json:"out_trade_no"`
	TradeType            string   `json:"trade_type"`
	TimeExpire           string   `json:"time_expire"`
	MerchantCategoryCode string   `json:"merchant_category_code"`
	Amount               v3Amount `json:"amount"`
	SceneInfo            *v3Scene `json:"scene_info,omitempty"`
}

// v3NativeAnswer is the Native order answer: only code_url.
type v3NativeAnswer struct {
	CodeURL string `json:"code_url"`
}

func (c *v3Client) nativeBody(req *NativeRequest) ([]byte, error) {
	b := v3NativeBody{
		Description:          req.Description,
		Attach:               req.Attach,
		NotifyURL:            c.cfg.NotifyURL,
		OutTradeNo:           req.OutTradeNo,
		TradeType:            "NATIVE",
		TimeExpire:           v3TimeExpire(req.TimeExpire),
		MerchantCategoryCode: c.cfg.MerchantCategoryCode,
		Amount:               v3Amount{Total: req.Amount, Currency: or(req.Currency, c.cfg.Currency)},
	}
	if c.cfg.institutional() {
		b.SpAppID, b.SpMchID, b.SubMchID, b.SubAppID = c.cfg.AppID, c.cfg.MchID, c.cfg.SubMchID, c.cfg.SubAppID
	} else {
		b.AppID, b.MchID = c.cfg.AppID, c.cfg.MchID
	}
	scene := v3Scene{DeviceID: or(req.DeviceID, c.cfg.DeviceID), DeviceIP: or(req.ClientIP, c.cfg.ClientIP), OperatorID: req.OperatorID}
	if name, addr := or(req.StoreName, c.cfg.StoreName), c.cfg.StoreAddress; name != "" && addr != "" {
		scene.StoreInfo = &v3Store{ID: or(req.StoreID, c.cfg.StoreID), Name: name, Address: addr}
	}
	if scene != (v3Scene{}) {
		b.SceneInfo = &scene
	}
	return marshalJSON(&b)
}

// NativeOrder creates a QR Code Payment order (POST .../transactions/native). Sending the
// same request again returns the same order's code_url while it is unpaid.
func (c *v3Client) NativeOrder(ctx context.Context, req NativeRequest) (NativeOrder, error) {
	if err := checkNative(&req, c.cfg.Now(), c.cfg.NotifyURL); err != nil {
		return NativeOrder{}, err
	}
	body, err := c.nativeBody(&req)
	if err != nil {
		return NativeOrder{}, fmt.Errorf("native %s: encode: %w", req.OutTradeNo, err)
	}
	if err := c.ensureKeys(ctx, false); err != nil {
		return NativeOrder{}, fmt.Errorf("native %s: %w: %w", req.OutTradeNo, ErrNotSent, err)
	}
	resp, apiErr, err := c.send(ctx, "native", http.MethodPost, c.path(c.paths.native), "", body, c.cfg.Timeouts.Query, c.cfg.MaxResponseBytes)
	if err != nil {
		return NativeOrder{}, fmt.Errorf("native %s: %w", req.OutTradeNo, err)
	}
	n := c.nativeAnswer(ctx, resp, apiErr)
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": req.OutTradeNo, "amount": req.Amount, "outcome": n.Outcome.String()}).Info("native order answered")
	}
	return n, nil
}

func (c *v3Client) nativeAnswer(ctx context.Context, resp *response, apiErr *Error) NativeOrder {
	if apiErr != nil {
		return NativeOrder{Outcome: Unknown, Error: apiErr}
	}
	n := NativeOrder{RequestID: resp.Header.Get("Request-ID")}
	if resp.Status < 200 || resp.Status > 299 {
		r, e := c.answerError(ctx, opNative, resp)
		n.Outcome, n.Error = r.outcome, e
		return n
	}
	if e := c.verify(ctx, resp, resp.Body); e != nil {
		n.Outcome, n.Error = Unknown, e
		return n
	}
	return parseV3Native(n, resp.Body, resp.Status)
}

// parseV3Native reads a verified 2xx Native answer.
func parseV3Native(n NativeOrder, body []byte, status int) NativeOrder {
	var a v3NativeAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		n.Outcome, n.Error = Unknown, &Error{Code: CodeBadResponse, Message: msgUnknown, Raw: err.Error(), HTTP: status}
		return n
	}
	if !validCodeURL(a.CodeURL) {
		n.Outcome, n.Error = Unknown, &Error{Code: CodeBadResponse, Message: msgUnknown, Raw: "no usable code_url in the answer", HTTP: status}
		return n
	}
	n.Outcome, n.CodeURL = NotPaid, a.CodeURL
	return n
}

// CloseOrder closes an unpaid order (POST .../transactions/out-trade-no/{}/close). WeChat
// takes it only CloseMinAge after the order was created.
func (c *v3Client) CloseOrder(ctx context.Context, outTradeNo string) (CloseResult, error) {
	o, e, err := c.orderAction(ctx, "close", opClose, c.paths.close, outTradeNo)
	return CloseResult{Outcome: o, Error: e}, err
}

// v2 paths of QR Code Payment. Neither needs the client certificate.
const (
	v2PathUnifiedOrder = "/pay/unifiedorder"
	v2PathCloseOrder   = "/pay/closeorder"
)

// NativeOrder creates a QR Code Payment order (/pay/unifiedorder, trade_type=NATIVE).
func (c *v2Client) NativeOrder(ctx context.Context, req NativeRequest) (NativeOrder, error) {
	if err := checkNative(&req, c.cfg.Now(), c.cfg.NotifyURL); err != nil {
		return NativeOrder{}, err
	}
	var stack [24]v2Field
	f := c.common(stack[:0])
	f = append(f,
		v2Field{"device_info", or(req.DeviceID, c.cfg.DeviceID)},
		v2Field{"body", req.Description},
		v2Field{"attach", req.Attach},
		v2Field{"out_trade_no", req.OutTradeNo},
		v2Field{"fee_type", or(req.Currency, c.cfg.Currency)},
		v2Field{"total_fee", strconv.FormatInt(req.Amount, 10)},
		v2Field{"spbill_create_ip", or(req.ClientIP, or(c.cfg.ClientIP, "127.0.0.1"))},
		v2Field{"time_expire", v2TimeExpire(req.TimeExpire)},
		v2Field{"notify_url", c.cfg.NotifyURL},
		v2Field{"trade_type", "NATIVE"},
		// product_id is required for NATIVE; one product per order is all a till needs.
		v2Field{"product_id", req.OutTradeNo},
	)
	a, apiErr, err := c.post(ctx, "native", v2PathUnifiedOrder, f, c.cfg.Timeouts.Query)
	if err != nil {
		return NativeOrder{}, fmt.Errorf("native %s: %w", req.OutTradeNo, err)
	}
	n := v2NativeAnswer(a, apiErr)
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": req.OutTradeNo, "amount": req.Amount, "outcome": n.Outcome.String()}).Info("native order answered")
	}
	return n, nil
}

// v2NativeAnswer classifies a verified unifiedorder answer.
func v2NativeAnswer(a v2Fields, apiErr *Error) NativeOrder {
	var n NativeOrder
	switch {
	case apiErr != nil:
		n.Outcome, n.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		if tt := a.get("trade_type"); tt != "" && tt != "NATIVE" {
			n.Outcome, n.Error = Unknown, &Error{Code: CodeMismatch, Message: msgUnknown, Raw: "trade_type " + tt, HTTP: 200}
			break
		}
		cu := a.get("code_url")
		if !validCodeURL(cu) {
			n.Outcome, n.Error = Unknown, &Error{Code: CodeBadResponse, Message: msgUnknown, Raw: "no usable code_url in the answer", HTTP: 200}
			break
		}
		n.Outcome, n.CodeURL = NotPaid, cu
	default:
		code := a.get("err_code")
		r := classifyV2(opNative, code)
		n.Outcome, n.Error = r.outcome, &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
	}
	return n
}

// CloseOrder closes an unpaid order (/pay/closeorder).
func (c *v2Client) CloseOrder(ctx context.Context, outTradeNo string) (CloseResult, error) {
	if !validOutNo(outTradeNo) {
		return CloseResult{}, fmt.Errorf("close: bad out_trade_no %q", outTradeNo)
	}
	var stack [12]v2Field
	f := append(c.common(stack[:0]), v2Field{"out_trade_no", outTradeNo})
	a, apiErr, err := c.post(ctx, "close", v2PathCloseOrder, f, c.cfg.Timeouts.Reverse)
	if err != nil {
		return CloseResult{}, fmt.Errorf("close %s: %w", outTradeNo, err)
	}
	cr := v2CloseAnswer(a, apiErr)
	if c.info {
		c.log.WithFields(logrus.Fields{"out_trade_no": outTradeNo, "outcome": cr.Outcome.String()}).Info("close answered")
	}
	return cr, nil
}

func v2CloseAnswer(a v2Fields, apiErr *Error) CloseResult {
	var cr CloseResult
	switch {
	case apiErr != nil:
		cr.Outcome, cr.Error = Unknown, apiErr
	case a.get("result_code") == "SUCCESS":
		cr.Outcome = Reversed
	default:
		code := a.get("err_code")
		r := classifyV2(opClose, code)
		cr.Outcome = r.outcome
		cr.Error = &Error{Code: code, Message: r.msg, Raw: a.get("err_code_des"), HTTP: 200}
	}
	return cr
}

var (
	_ NativeClient = (*v3Client)(nil)
	_ NativeClient = (*v2Client)(nil)
)
