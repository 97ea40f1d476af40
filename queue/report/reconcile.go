package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"posd/queue/engine"
	"posd/wxpay"
)

// Class is how one order compares between the journal and WeChat's statement.
type Class string

const (
	Matched Class = "matched"
	// PaidNotLocal: WeChat kept money for an order the till does not hold as paid (unknown
	// or failed/reversed locally, or not in the journal at all). Alert; the manager refunds.
	PaidNotLocal Class = "paid_at_wechat_not_local"
	// MissingAtWeChat: the journal says paid, the statement has no such payment.
	MissingAtWeChat  Class = "missing_at_wechat"
	AmountMismatch   Class = "amount_mismatch"
	CurrencyMismatch Class = "currency_mismatch"
	// ReversedAfterPayment: WeChat lists the order as REVOKED after a successful payment.
	// Expected when the journal says reversed; an alert when the journal says paid.
	ReversedAfterPayment Class = "reversed_after_payment"

	// Refunds are matched by out_refund_no (then WeChat's refund id); their items carry
	// OutRefundNo and RefundID, and amounts are the refund's, not the order's.

	// RefundMatched: the statement's refund agrees with the journal's.
	RefundMatched Class = "refund_matched"
	// RefundNotLocal: WeChat refunded money the till has no record of (not in the
	// journal, or held as failed there): the customer may have been refunded twice.
	RefundNotLocal Class = "refund_not_local"
	// RefundMissingAtWeChat: the journal says a refund of this day succeeded, the
	// statement has no such refund.
	RefundMissingAtWeChat Class = "refund_missing_at_wechat"
	RefundAmountMismatch  Class = "refund_amount_mismatch"
)

// Alert reports whether a class needs a manager.
func (c Class) Alert(localState string) bool {
	switch c {
	case Matched, RefundMatched:
		return false
	case ReversedAfterPayment:
		return localState != string(engine.AttemptReversed)
	}
	return true
}

// IsRefund says the class is of a refund item (keyed by OutRefundNo, refund amounts).
func (c Class) IsRefund() bool { return strings.HasPrefix(string(c), "refund_") }

// Item is one compared order, or one compared refund (Class.IsRefund).
type Item struct {
	Class         Class  `json:"class"`
	Alert         bool   `json:"alert"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id,omitempty"`
	SaleID        string `json:"sale_id,omitempty"`
	LocalState    string `json:"local_state,omitempty"`
	WeChatState   string `json:"wechat_state,omitempty"`
	LocalAmount   int64  `json:"local_amount"`
	WeChatAmount  int64  `json:"wechat_amount"`
	LocalCurrency string `json:"local_currency,omitempty"`
	WeChatCurr    string `json:"wechat_currency,omitempty"`
	Action        string `json:"action,omitempty"` // what the manager should do
	// Refund items only (their amounts are the refund's).
	OutRefundNo string `json:"out_refund_no,omitempty"`
	RefundID    string `json:"refund_id,omitempty"`
	// TradeType: MICROPAY (Quick Pay) or NATIVE (QR Code Payment), from the statement's
	// 交易类型 column, else from the journal.
	TradeType string `json:"trade_type,omitempty"`
}

// Result is a day's reconciliation.
type Result struct {
	Date      string        `json:"date"`  // 2006-01-02
	State     string        `json:"state"` // done, not_ready, error
	Tries     int           `json:"tries"`
	CheckedAt time.Time     `json:"checked_at"`
	Error     string        `json:"error,omitempty"`
	Counts    map[Class]int `json:"counts"`
	Alerts    int           `json:"alerts"`
	Rows      int           `json:"rows"` // statement rows considered (this till's)
	// TradeTypes counts the payments WeChat lists (SUCCESS rows) by trade type.
	TradeTypes map[string]int `json:"trade_types,omitempty"`
	Items      []Item         `json:"items"`
}

// Filter says which statement rows belong to this till (a merchant's statement covers
// every till): by device id, or by the till's out_trade_no prefix.
type Filter struct {
	DeviceID string
	Prefix   string
}

func (f Filter) keep(row wxpay.StatementRow, local bool) bool {
	if local || (f.DeviceID == "" && f.Prefix == "") {
		return true
	}
	if f.DeviceID != "" && row.DeviceID == f.DeviceID {
		return true
	}
	return f.Prefix != "" && strings.HasPrefix(row.OutTradeNo, f.Prefix)
}

type localAttempt struct {
	sale *engine.Sale
	a    *engine.Attempt
}

type wechatOrder struct {
	paid, revoked bool
	tx            string
	tradeType     string
	state         string
	amount        int64
	currency      string
}

// Reconcile compares the journal (every sale of the day, with their attempts) with the
// statement of that day. Matching is by out_trade_no, then by transaction id.
func Reconcile(date string, sales []*engine.Sale, st wxpay.Statement, f Filter) Result {
	return ReconcileWith(date, nil, sales, nil, st, f)
}

// ReconcileWith is Reconcile with the till's time zone (where midnight is; nil: each
// attempt's own) and the previous day's sales as context: they are looked up for
// statement rows that are not of this day's journal (a payment or a reversal just after
// midnight of a sale opened before it), but never reported missing here. Refunds of
// these sales are compared too (see ReconcileInput, which also takes older sales).
func ReconcileWith(date string, loc *time.Location, sales, previous []*engine.Sale, st wxpay.Statement, f Filter) Result {
	return ReconcileInput(Input{Date: date, Location: loc, Sales: sales, Previous: previous, Statement: st, Filter: f})
}

// Input is everything one day's reconciliation compares.
type Input struct {
	Date     string         // 2006-01-02
	Location *time.Location // the till's (where midnight is); nil: each record's own
	Sales    []*engine.Sale // the day's journal
	// Previous: the day before, as context (see ReconcileWith).
	Previous []*engine.Sale
	// Earlier: older sales read only for their refunds: a refund made this day of last
	// week's sale is on this day's statement (and missing there if it is not).
	Earlier   []*engine.Sale
	Statement wxpay.Statement
	Filter    Filter
}

// ReconcileInput compares payments (as ReconcileWith) and refunds: every REFUND row of
// the statement with the journal's refund of the same out_refund_no (then refund id),
// and every refund the journal holds as succeeded on this day with the statement.
func ReconcileInput(in Input) Result {
	date, loc, sales, previous, st, f := in.Date, in.Location, in.Sales, in.Previous, in.Statement, in.Filter
	res := Result{Date: date, State: "done", Counts: map[Class]int{}}
	local, byTx := indexAttempts(previous, sales)
	refs := newRefunds(in.Earlier, previous, sales)
	res.Items = make([]Item, 0, len(st.Rows))
	wechat, order := res.readStatement(st, f, local, byTx, refs)
	for _, key := range order {
		w := wechat[key]
		if !w.paid && !w.revoked {
			continue // listed but never paid (e.g. closed): nothing moved
		}
		res.add(classifyOrder(date, loc, key, w, local))
	}
	res.missingAtWeChat(date, loc, sales, local, wechat)
	refs.classify(date, loc, res.add)
	return res
}

// indexAttempts maps every attempt of the journal by out_trade_no and by
// transaction id, the two keys statement rows are matched on.
func indexAttempts(previous, sales []*engine.Sale) (local map[string]localAttempt, byTx map[string]string) {
	// Sized up front: a busy till has tens of thousands of rows a day, and growing maps
	// and the item list cost more than the matching itself.
	local = make(map[string]localAttempt, len(sales)+len(previous))
	byTx = make(map[string]string, len(sales)+len(previous))
	for _, group := range [][]*engine.Sale{previous, sales} { // this day's records win
		for _, s := range group {
			for i := range s.Attempts {
				a := &s.Attempts[i]
				local[a.OutTradeNo] = localAttempt{s, a}
				if a.TransactionID != "" {
					byTx[a.TransactionID] = a.OutTradeNo
				}
			}
		}
	}
	return local, byTx
}

// readStatement folds the statement's rows (those the filter keeps) into one
// record per order, in the statement's order, counting rows and trade types
// and handing REFUND rows to refs.
func (res *Result) readStatement(st wxpay.Statement, f Filter, local map[string]localAttempt, byTx map[string]string, refs *refundSet) (map[string]*wechatOrder, []string) {
	wechat := make(map[string]*wechatOrder, len(st.Rows))
	order := make([]string, 0, len(st.Rows))
	for _, row := range st.Rows {
		key := row.OutTradeNo
		if _, ok := local[key]; !ok && row.TransactionID != "" {
			if k, ok := byTx[row.TransactionID]; ok {
				key = k
			}
		}
		_, isLocal := local[key]
		isRefund := strings.EqualFold(row.TradeState, "REFUND")
		if isRefund && !isLocal {
			isLocal = refs.known(row)
		}
		if !f.keep(row, isLocal) {
			continue
		}
		res.Rows++
		if isRefund {
			refs.row(row)
		}
		w := wechat[key]
		if w == nil {
			w = &wechatOrder{}
			wechat[key] = w
			order = append(order, key)
		}
		if row.TransactionID != "" {
			w.tx = row.TransactionID
		}
		if tt := row.Raw[statementTradeType]; tt != "" {
			w.tradeType = strings.ToUpper(tt)
		}
		// A REFUND row is money going back, listed on the day of the refund: it does not
		// say the order was paid this day (a refund today of last week's sale is normal).
		// The payment itself is the SUCCESS row on the day it was paid.
		switch strings.ToUpper(row.TradeState) {
		case "SUCCESS":
			w.paid = true
			w.amount, w.currency = row.Amount, row.Currency
			if res.TradeTypes == nil {
				res.TradeTypes = map[string]int{}
			}
			res.TradeTypes[nz(w.tradeType, TradeMicroPay)]++
		case "REVOKED":
			w.revoked = true
			w.amount, w.currency = row.Amount, row.Currency
		}
		w.state = strings.ToUpper(row.TradeState)
	}
	return wechat, order
}

// add counts an item (and its alert) and appends it to the result.
func (res *Result) add(it Item) {
	it.Alert = it.Class.Alert(it.LocalState)
	res.Counts[it.Class]++
	if it.Alert {
		res.Alerts++
	}
	res.Items = append(res.Items, it)
}

// classifyOrder compares one order WeChat paid or reversed with the journal's
// attempt of the same number and says what, if anything, to do about it.
func classifyOrder(date string, loc *time.Location, key string, w *wechatOrder, local map[string]localAttempt) Item {
	la, ok := local[key]
	it := Item{OutTradeNo: key, TransactionID: w.tx, WeChatAmount: w.amount, WeChatCurr: w.currency, TradeType: w.tradeType}
	it.WeChatState = "SUCCESS"
	if w.revoked {
		it.WeChatState = "REVOKED"
	}
	if ok {
		it.TradeType = nz(it.TradeType, TradeTypeOf(la.a))
		it.SaleID, it.LocalState = la.sale.ID, string(la.a.State)
		it.LocalAmount, it.LocalCurrency = la.sale.Amount, la.sale.Currency
		if it.TransactionID == "" {
			it.TransactionID = la.a.TransactionID
		}
	}
	switch {
	case w.revoked:
		it.Class = ReversedAfterPayment
		if ok && la.a.State == engine.AttemptPaid {
			it.Action = "WeChat reversed a payment the till holds as paid: check the sale and collect the money again"
		}
	case ok && la.a.State == engine.AttemptReversed && !reversedAt(la.a).Before(dayEnd(date, or(loc, la.a.StartedAt.Location()))):
		// Paid this day, reversed by the till after midnight: the REVOKED row is on
		// the next day's statement. Nothing to refund.
		it.Class = ReversedAfterPayment
		it.Action = "reversed after midnight: on the next day's statement"
	case !ok || la.a.State != engine.AttemptPaid:
		it.Class = PaidNotLocal
		it.Action = "refund"
	case la.sale.Currency != "" && w.currency != "" && !strings.EqualFold(la.sale.Currency, w.currency):
		it.Class = CurrencyMismatch
		it.Action = "compare the sale with WeChat's record; refund or charge the difference"
	case la.sale.Amount != w.amount:
		it.Class = AmountMismatch
		it.Action = "compare the sale with WeChat's record; refund or charge the difference"
	default:
		it.Class = Matched
	}
	return it
}

// missingAtWeChat adds the day's payments the journal holds as paid but the
// statement neither paid nor reversed, in journal order.
func (res *Result) missingAtWeChat(date string, loc *time.Location, sales []*engine.Sale, local map[string]localAttempt, wechat map[string]*wechatOrder) {
	// Paid in the journal but absent from the statement, in journal order.
	for _, s := range sales {
		for i := range s.Attempts {
			k := s.Attempts[i].OutTradeNo
			la := local[k]
			if la.a != &s.Attempts[i] || la.a.State != engine.AttemptPaid {
				continue // not paid, or a duplicate number (the later record counts)
			}
			if w := wechat[k]; w != nil && (w.paid || w.revoked) {
				continue
			}
			action := "WeChat has no record of this payment: query it, then contact WeChat Pay support"
			if end := dayEnd(date, or(loc, la.a.StartedAt.Location())); !la.a.StartedAt.Before(end.Add(-midnightMargin)) {
				action = "paid around midnight: check the next day's statement before contacting WeChat Pay support"
			}
			res.add(Item{Class: MissingAtWeChat, OutTradeNo: k, TransactionID: la.a.TransactionID, SaleID: la.sale.ID, TradeType: TradeTypeOf(la.a),
				LocalState: string(la.a.State), LocalAmount: la.sale.Amount, LocalCurrency: la.sale.Currency,
				Action: action})
		}
	}
}

// Trade types as WeChat names them (statement column 交易类型, query trade_type).
const (
	TradeMicroPay = "MICROPAY" // Quick Pay: the till scanned the customer's code
	TradeNative   = "NATIVE"   // QR Code Payment: the customer scanned the till's code
)

// statementTradeType is the statement column with the trade type.
const statementTradeType = "交易类型"

// TradeTypeOf is the trade type of a journaled attempt.
func TradeTypeOf(a *engine.Attempt) string {
	if a.Kind == engine.AttemptKindQR {
		return TradeNative
	}
	return TradeMicroPay
}

func nz(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// midnightMargin: a payment started this close to midnight may be paid (and listed)
// on the next day (USERPAYING, slow answers: at most PollUntil, 45 s, plus the network).
const midnightMargin = 2 * time.Minute

func or(a, b *time.Location) *time.Location {
	if a != nil {
		return a
	}
	return b
}

// reversedAt is when the journal marked the attempt reversed (its state event; the last
// update if the bounded event list lost it).
func reversedAt(a *engine.Attempt) time.Time {
	for i := len(a.Events) - 1; i >= 0; i-- {
		if ev := a.Events[i]; ev.Call == "state" && ev.Outcome == string(engine.AttemptReversed) {
			return ev.At
		}
	}
	return a.UpdatedAt
}

// dayEnd is midnight after date (2006-01-02) in loc.
func dayEnd(date string, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	d, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		return time.Time{}
	}
	return d.AddDate(0, 0, 1)
}

// StatementSource downloads a day's statement (wxpay.Client does).
type StatementSource interface {
	Statement(ctx context.Context, date string) (wxpay.Statement, error)
}

// ResultStore keeps reconciliation results (queue.DB does).
type ResultStore interface {
	PutReconciliation(date string, v []byte) error
	Reconciliation(date string) ([]byte, error) // nil, nil when absent
}

// Reconciler fetches the statement once WeChat has produced it and stores the result.
type Reconciler struct {
	Statements StatementSource
	Sales      func(day string) ([]*engine.Sale, error)
	Store      ResultStore
	Filter     Filter
	Location   *time.Location
	// ReadyAfter is when, after midnight of the next day, the statement is available
	// (WeChat: after 10:00 Hong Kong time).
	ReadyAfter time.Duration
	Retry      time.Duration // while not ready or on errors (default 30 min)
	// EmptyGrace: a statement with no rows at all while the journal holds payments of that
	// day is taken as "not made yet" until this long after ReadyAfter (default 12 h). v2
	// answers "No Bill Exist" both for an empty day and for a bill WeChat is late with,
	// and a late empty file would otherwise report every payment as missing at WeChat.
	EmptyGrace time.Duration
	// Lookback: Due also offers an unfinished (not_ready, error) day up to this many days
	// back (default 7), so a statement later than midnight is still reconciled.
	Lookback int
	// RefundDays: sales of this many days back are read for their refunds (default 14;
	// < 0: only the day and the one before). A refund of an older sale is matched only
	// through SaleByOutTradeNo, and not reported if missing at WeChat.
	RefundDays int
	// SaleByOutTradeNo (optional) finds the sale of a statement refund that is not in the
	// days read (engine.ErrNotFound or nil when there is none).
	SaleByOutTradeNo func(outTradeNo string) (*engine.Sale, error)
	Now              func() time.Time
	Log              logrus.FieldLogger
	// OnResult is called after each stored result (metrics, alerts).
	OnResult func(Result)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) loc() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return time.UTC
}

// Load returns the stored result of a day, or nil.
func (r *Reconciler) Load(date string) (*Result, error) {
	b, err := r.Store.Reconciliation(date)
	if err != nil || b == nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("reconciliation %s: %w", date, err)
	}
	return &res, nil
}

// RunDate reconciles one day now (date 2006-01-02), stores and returns the result. A
// statement that is not ready yet gives a result in state not_ready, not an error.
func (r *Reconciler) RunDate(ctx context.Context, date string) (Result, error) {
	day, err := time.ParseInLocation("2006-01-02", date, r.loc())
	if err != nil {
		return Result{}, fmt.Errorf("reconcile: date %q: want YYYY-MM-DD", date)
	}
	tries := 0
	if prev, _ := r.Load(date); prev != nil {
		tries = prev.Tries
	}
	res := Result{Date: date, Counts: map[Class]int{}}
	sales, err := r.Sales(date)
	var previous []*engine.Sale
	if err == nil {
		previous, err = r.Sales(day.AddDate(0, 0, -1).Format("2006-01-02"))
	}
	if err == nil {
		var st wxpay.Statement
		st, err = r.Statements.Statement(ctx, day.Format("20060102"))
		switch {
		case err != nil:
		case st.NotReady:
			res.State = "not_ready"
		case len(st.Rows) == 0 && paidAttempts(sales) > 0 && r.now().Before(day.AddDate(0, 0, 1).Add(r.readyAfter()+r.emptyGrace())):
			res.State = "not_ready"
			res.Error = fmt.Sprintf("WeChat's statement is empty but the journal holds %d payments: waiting for the full statement", paidAttempts(sales))
		default:
			var earlier []*engine.Sale
			if earlier, err = r.refundContext(day, sales, previous, st); err == nil {
				res = ReconcileInput(Input{Date: date, Location: r.loc(), Sales: sales, Previous: previous, Earlier: earlier,
					Statement: st, Filter: r.Filter})
			}
		}
	}
	if err != nil {
		res.State, res.Error = "error", err.Error()
	}
	res.Tries = tries + 1
	res.CheckedAt = r.now()
	b, _ := json.Marshal(res)
	if perr := r.Store.PutReconciliation(date, b); perr != nil {
		return res, fmt.Errorf("reconcile %s: store result: %w", date, perr)
	}
	if r.OnResult != nil {
		r.OnResult(res)
	}
	if res.State == "error" {
		return res, fmt.Errorf("reconcile %s: %s", date, res.Error)
	}
	return res, nil
}

func (r *Reconciler) readyAfter() time.Duration {
	if r.ReadyAfter == 0 {
		return 10 * time.Hour
	}
	return r.ReadyAfter
}

func (r *Reconciler) emptyGrace() time.Duration {
	if r.EmptyGrace == 0 {
		return 12 * time.Hour
	}
	return r.EmptyGrace
}

func paidAttempts(sales []*engine.Sale) int {
	n := 0
	for _, s := range sales {
		for _, a := range s.Attempts {
			if a.State == engine.AttemptPaid {
				n++
			}
		}
	}
	return n
}

// Due returns the day that should be reconciled now, if any: yesterday, once its
// statement is ready and no finished result is stored; else the oldest day of the last
// Lookback days whose reconciliation was started but not finished.
func (r *Reconciler) Due() (string, bool) {
	now := r.now().In(r.loc())
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, r.loc())
	if !now.Before(midnight.Add(r.readyAfter())) {
		date := midnight.AddDate(0, 0, -1).Format("2006-01-02")
		if prev, _ := r.Load(date); prev == nil || prev.State != "done" {
			return date, true
		}
	}
	back := r.Lookback
	if back == 0 {
		back = 7
	}
	for ; back >= 2; back-- {
		date := midnight.AddDate(0, 0, -back).Format("2006-01-02")
		if prev, _ := r.Load(date); prev != nil && prev.State != "done" {
			return date, true
		}
	}
	return "", false
}

// Run reconciles the day Due names once the statement is available, retrying while it is
// not ready or WeChat is unreachable. It returns when ctx is done.
func (r *Reconciler) Run(ctx context.Context, tick <-chan time.Time) {
	retry := r.Retry
	if retry == 0 {
		retry = 30 * time.Minute
	}
	var next time.Time
	for {
		if date, ok := r.Due(); ok && !r.now().Before(next) {
			res, err := r.RunDate(ctx, date)
			if err != nil || res.State != "done" {
				next = r.now().Add(retry)
				if r.Log != nil {
					r.Log.WithField("date", date).WithField("state", res.State).Warn("reconciliation not finished; will retry")
				}
			} else if r.Log != nil && res.Alerts > 0 {
				r.Log.WithField("date", date).WithField("alerts", res.Alerts).Warn("reconciliation found differences")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// NextTry is when Run will reconcile date (2006-01-02) by itself: ReadyAfter past the
// midnight after it (WeChat's statement is made the next morning), or Retry after an
// unfinished try. Zero when it will not: the day is done, or older than Lookback.
func (r *Reconciler) NextTry(date string) time.Time {
	day, err := time.ParseInLocation("2006-01-02", date, r.loc())
	if err != nil {
		return time.Time{}
	}
	ready := day.AddDate(0, 0, 1).Add(r.readyAfter())
	prev, _ := r.Load(date)
	if prev != nil && prev.State == "done" {
		return time.Time{}
	}
	back := r.Lookback
	if back == 0 {
		back = 7
	}
	now := r.now()
	if now.In(r.loc()).AddDate(0, 0, -back).After(day.AddDate(0, 0, 1)) {
		return time.Time{}
	}
	if prev != nil {
		retry := r.Retry
		if retry == 0 {
			retry = 30 * time.Minute
		}
		if t := prev.CheckedAt.Add(retry); t.After(ready) {
			ready = t
		}
	}
	if ready.Before(now) {
		// Due now: the next tick of Run takes it.
		return now
	}
	return ready
}
