package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/wxpay"
)

var hk = time.FixedZone("HKT", 8*3600)

func sale(id string, amount int64, st engine.SaleState, atts ...engine.Attempt) *engine.Sale {
	return &engine.Sale{ID: id, Amount: amount, Currency: "HKD", State: st, Attempts: atts,
		CreatedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, hk), StoreID: "HK001", TillID: "T01"}
}

func att(no string, st engine.AttemptState, tx, wallet string, payer int64) engine.Attempt {
	return engine.Attempt{OutTradeNo: no, State: st, TransactionID: tx, Wallet: wallet, PayerAmount: payer}
}

func TestDayReport(t *testing.T) {
	s1 := sale("s1", 1050, engine.SalePaid, att("o1", engine.AttemptFailed, "", "", 0), att("o2", engine.AttemptPaid, "t2", "HKD", 1050))
	s2 := sale("s2", 2000, engine.SalePaid, att("o3", engine.AttemptPaid, "t3", "CNY", 1840))
	s2.Refunds = []engine.Refund{{Amount: 500, State: "success"}, {Amount: 100, State: "processing"}, {Amount: 7, State: "failed"}}
	s3 := sale("s3", 300, engine.SaleCancelled, att("o4", engine.AttemptReversed, "", "", 0))
	s4 := sale("s4", 400, engine.SalePaying, att("o5", engine.AttemptUnresolved, "", "", 0))
	s5 := sale("s5", 900, engine.SaleCancelled, att("o6", engine.AttemptPaid, "t6", "HKD", 900))
	r := Day("2026-11-25", "HK001", "T01", "HKD", hk, []*engine.Sale{s1, s2, s3, s4, s5}, time.Now())
	if r.Paid.Count != 3 || r.Paid.Amount != 1050+2000+900 {
		t.Errorf("paid = %+v", r.Paid)
	}
	if r.Refunds != (Money{1, 500}) || r.RefundsOpen != (Money{1, 100}) {
		t.Errorf("refunds = %+v open %+v", r.Refunds, r.RefundsOpen)
	}
	if r.Net != 3950-500 {
		t.Errorf("net = %d", r.Net)
	}
	if len(r.Wallets) != 2 || r.Wallets[0] != (WalletTotals{"CNY", 1, 2000, 1840}) || r.Wallets[1] != (WalletTotals{"HKD", 2, 1950, 1950}) {
		t.Errorf("wallets = %+v", r.Wallets)
	}
	if r.Sales["paid"] != 2 || r.Sales["cancelled"] != 2 || r.Attempts["failed"] != 1 || r.Unresolved != 1 {
		t.Errorf("sales %v attempts %v unresolved %d", r.Sales, r.Attempts, r.Unresolved)
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "s5") {
		t.Errorf("problems = %v", r.Problems)
	}
}

func TestReconcileClasses(t *testing.T) {
	sales := []*engine.Sale{
		sale("a", 1000, engine.SalePaid, att("T01-1", engine.AttemptPaid, "tx1", "HKD", 1000)),        // matched
		sale("b", 1000, engine.SalePaid, att("T01-2", engine.AttemptPaid, "tx2", "HKD", 1000)),        // missing at WeChat
		sale("c", 1000, engine.SalePaid, att("T01-3", engine.AttemptPaid, "tx3", "HKD", 1000)),        // amount mismatch
		sale("d", 1000, engine.SalePaid, att("T01-4", engine.AttemptPaid, "tx4", "HKD", 1000)),        // currency mismatch
		sale("e", 1000, engine.SaleAwaitingScan, att("T01-5", engine.AttemptUnresolved, "", "", 0)),   // paid, unknown locally
		sale("f", 1000, engine.SaleCancelled, att("T01-6", engine.AttemptReversed, "", "", 0)),        // reversed after payment (expected)
		sale("g", 1000, engine.SalePaid, att("T01-7", engine.AttemptPaid, "tx7", "HKD", 1000)),        // reversed at WeChat, paid locally: alert
		sale("h", 1000, engine.SaleAwaitingScan, att("T01-8", engine.AttemptFailed, "", "", 0)),       // never placed: not listed
		sale("i", 1000, engine.SalePaid, att("T01-9-renamed", engine.AttemptPaid, "tx9", "CNY", 920)), // matched by transaction id
	}
	st := wxpay.Statement{Date: "20261125", Rows: []wxpay.StatementRow{
		{OutTradeNo: "T01-1", TransactionID: "tx1", TradeState: "SUCCESS", Amount: 1000, Currency: "HKD"},
		{OutTradeNo: "T01-3", TransactionID: "tx3", TradeState: "SUCCESS", Amount: 999, Currency: "HKD"},
		{OutTradeNo: "T01-4", TransactionID: "tx4", TradeState: "SUCCESS", Amount: 1000, Currency: "CNY"},
		{OutTradeNo: "T01-5", TransactionID: "tx5", TradeState: "SUCCESS", Amount: 1000, Currency: "HKD"},
		{OutTradeNo: "T01-6", TransactionID: "tx6", TradeState: "REVOKED", Amount: 1000, Currency: "HKD"},
		{OutTradeNo: "T01-7", TransactionID: "tx7", TradeState: "REVOKED", Amount: 1000, Currency: "HKD"},
		{OutTradeNo: "T01-X", TransactionID: "tx9", TradeState: "SUCCESS", Amount: 1000, Currency: "HKD"},
		{OutTradeNo: "T01-10", TransactionID: "tx10", TradeState: "SUCCESS", Amount: 50, Currency: "HKD"},                 // not in journal
		{OutTradeNo: "T02-1", DeviceID: "T02", TransactionID: "tx11", TradeState: "SUCCESS", Amount: 50, Currency: "HKD"}, // another till
		{OutTradeNo: "T01-1", TransactionID: "tx1", TradeState: "REFUND", Amount: 1000, Currency: "HKD", RefundAmount: 100, OutRefundNo: "T01-1R1", RefundState: "SUCCESS"},
	}}
	sales[0].Refunds = []engine.Refund{{OutRefundNo: "T01-1R1", Amount: 100, State: engine.RefundSucceeded, CreatedAt: sales[0].CreatedAt}}
	res := Reconcile("2026-11-25", sales, st, Filter{DeviceID: "T01", Prefix: "T01-"})
	want := map[string]Class{"T01-1": Matched, "T01-2": MissingAtWeChat, "T01-3": AmountMismatch, "T01-4": CurrencyMismatch,
		"T01-5": PaidNotLocal, "T01-6": ReversedAfterPayment, "T01-7": ReversedAfterPayment, "T01-9-renamed": Matched, "T01-10": PaidNotLocal}
	got := map[string]Item{}
	for _, it := range res.Items {
		if it.Class.IsRefund() {
			if it.Class != RefundMatched || it.OutRefundNo != "T01-1R1" || it.Alert {
				t.Errorf("refund row: %+v", it)
			}
			continue
		}
		if _, dup := got[it.OutTradeNo]; dup {
			t.Errorf("%s listed twice", it.OutTradeNo)
		}
		got[it.OutTradeNo] = it
	}
	for no, c := range want {
		if got[no].Class != c {
			t.Errorf("%s: class %q, want %q", no, got[no].Class, c)
		}
	}
	if len(got) != len(want) || len(res.Items) != len(want)+1 {
		t.Errorf("items %v, want exactly %d and the refund", res.Items, len(want))
	}
	if got["T01-6"].Alert || !got["T01-7"].Alert || got["T01-1"].Alert || !got["T01-5"].Alert {
		t.Errorf("alerts wrong: %+v", res.Items)
	}
	if got["T01-5"].Action != "refund" || got["T01-10"].Action != "refund" {
		t.Errorf("paid-not-local must offer a refund: %+v %+v", got["T01-5"], got["T01-10"])
	}
	// T01-2 missing, T01-3 amount, T01-4 currency, T01-5 and T01-10 paid-not-local, T01-7 reversed but paid.
	if res.Alerts != 6 {
		t.Errorf("alerts = %d, want 6", res.Alerts)
	}
	if res.Rows != 9 {
		t.Errorf("rows = %d, want 9 (the other till's row filtered)", res.Rows)
	}
}

func TestReconcileEmptyDay(t *testing.T) {
	res := Reconcile("2026-11-25", nil, wxpay.Statement{Date: "20261125"}, Filter{})
	if res.State != "done" || len(res.Items) != 0 || res.Alerts != 0 {
		t.Fatalf("empty day: %+v", res)
	}
}

type memResults map[string][]byte

func (m memResults) PutReconciliation(d string, v []byte) error { m[d] = v; return nil }
func (m memResults) Reconciliation(d string) ([]byte, error)    { return m[d], nil }

type statementFunc func(ctx context.Context, date string) (wxpay.Statement, error)

func (f statementFunc) Statement(ctx context.Context, date string) (wxpay.Statement, error) {
	return f(ctx, date)
}

func TestReconcilerRetriesUntilReady(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, hk)
	ready := false
	calls := 0
	var dates []string
	r := &Reconciler{
		Statements: statementFunc(func(ctx context.Context, date string) (wxpay.Statement, error) {
			calls++
			dates = append(dates, date)
			if calls == 2 {
				return wxpay.Statement{}, errors.New("connection refused")
			}
			return wxpay.Statement{Date: date, NotReady: !ready}, nil
		}),
		Sales:    func(day string) ([]*engine.Sale, error) { return nil, nil },
		Store:    memResults{},
		Location: hk, Now: func() time.Time { return now }, Retry: time.Minute,
	}
	if _, due := r.Due(); due {
		t.Fatal("due before 10:00")
	}
	now = now.Add(90 * time.Minute)
	date, due := r.Due()
	if !due || date != "2026-11-25" {
		t.Fatalf("due = %q %v", date, due)
	}
	res, err := r.RunDate(context.Background(), date)
	if err != nil || res.State != "not_ready" {
		t.Fatalf("first: %+v %v", res, err)
	}
	if _, err := r.RunDate(context.Background(), date); err == nil {
		t.Fatal("network error must be reported")
	}
	ready = true
	res, err = r.RunDate(context.Background(), date)
	if err != nil || res.State != "done" || res.Tries != 3 {
		t.Fatalf("third: %+v %v", res, err)
	}
	if _, due := r.Due(); due {
		t.Fatal("still due after a finished reconciliation")
	}
	if dates[0] != "20261125" {
		t.Fatalf("statement date %q", dates[0])
	}
	loaded, err := r.Load(date)
	if err != nil || loaded == nil || loaded.State != "done" {
		t.Fatalf("load: %+v %v", loaded, err)
	}
}

func TestJournalExport(t *testing.T) {
	s := sale("s1", 1050, engine.SalePaid, att("o1", engine.AttemptFailed, "", "", 0), att("o2", engine.AttemptPaid, "tx", "CNY", 966))
	s.Attempts[0].Error = &engine.ErrorInfo{Code: "NOTENOUGH", Message: "Customer's balance is not enough"}
	s.Attempts[1].Code = "13************1234"
	s.Reference = "=HYPERLINK(\"x\")"
	s.Refunds = []engine.Refund{{Amount: 50, State: "success"}}
	c := sale("s2", 10, engine.SaleCancelled)
	rows := Journal([]*engine.Sale{s, c}, hk)
	if len(rows) != 3 {
		t.Fatalf("rows = %d", len(rows))
	}
	var buf bytes.Buffer
	if err := WriteJournal(&buf, rows, "csv"); err != nil {
		t.Fatal(err)
	}
	// Excel needs the byte order mark to read UTF-8.
	if !bytes.HasPrefix(buf.Bytes(), []byte("\xEF\xBB\xBFdate,")) {
		t.Fatalf("csv does not start with a UTF-8 BOM: %q", buf.Bytes()[:min(buf.Len(), 16)])
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[1][7] != "10.50" || recs[1][8] != "HKD" || recs[2][15] != "9.66" {
		t.Errorf("amounts not in dollars: %v", recs[1:])
	}
	if len(recs) != 4 || len(recs[0]) != len(journalHeader) {
		t.Fatalf("csv: %v", recs)
	}
	if recs[1][17] != "NOTENOUGH" || recs[2][13] != "tx" || recs[2][19] != "0.50" || recs[2][14] != "CNY" {
		t.Errorf("csv rows: %v", recs[1:])
	}
	if !strings.HasPrefix(recs[1][2], "'=") {
		t.Errorf("formula not neutralised: %q", recs[1][2])
	}
	buf.Reset()
	if err := WriteJournal(&buf, rows, "json"); err != nil {
		t.Fatal(err)
	}
	var back []JournalRow
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != 3 || back[1].PayerAmount != 966 {
		t.Fatalf("json: %v %+v", err, back)
	}
	if err := WriteJournal(&buf, rows, "xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func BenchmarkReconcile50k(b *testing.B) {
	const n = 50000
	sales := make([]*engine.Sale, 0, n)
	rows := make([]wxpay.StatementRow, 0, n)
	for i := 0; i < n; i++ {
		no := fmt.Sprintf("HK001T01261125%08d", i)
		sales = append(sales, sale(fmt.Sprint(i), int64(1000+i), engine.SalePaid, att(no, engine.AttemptPaid, "tx"+no, "HKD", int64(1000+i))))
		rows = append(rows, wxpay.StatementRow{OutTradeNo: no, TransactionID: "tx" + no, TradeState: "SUCCESS", Amount: int64(1000 + i), Currency: "HKD"})
	}
	st := wxpay.Statement{Rows: rows}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := Reconcile("2026-11-25", sales, st, Filter{})
		if res.Counts[Matched] != n {
			b.Fatalf("matched %d", res.Counts[Matched])
		}
	}
}

// An empty statement on a day the journal holds payments is WeChat being late (v2 says
// "No Bill Exist" for both), until EmptyGrace after the ready time; after that every
// payment is reported missing. An empty statement on an empty day is done at once.
func TestReconcilerEmptyStatementGrace(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 30, 0, 0, hk)
	var sales []*engine.Sale
	r := &Reconciler{
		Statements: statementFunc(func(ctx context.Context, date string) (wxpay.Statement, error) {
			return wxpay.Statement{Date: date}, nil
		}),
		Sales:    func(day string) ([]*engine.Sale, error) { return sales, nil },
		Store:    memResults{},
		Location: hk, Now: func() time.Time { return now }, EmptyGrace: 2 * time.Hour,
	}
	res, err := r.RunDate(context.Background(), "2026-11-25")
	if err != nil || res.State != "done" || len(res.Items) != 0 {
		t.Fatalf("empty day: %+v %v", res, err)
	}
	sales = []*engine.Sale{sale("a", 1000, engine.SalePaid, att("o1", engine.AttemptPaid, "tx1", "HKD", 1000))}
	res, err = r.RunDate(context.Background(), "2026-11-25")
	if err != nil || res.State != "not_ready" || !strings.Contains(res.Error, "1 payments") {
		t.Fatalf("empty statement, one payment, 10:30: %+v %v", res, err)
	}
	now = time.Date(2026, 11, 26, 12, 0, 0, 0, hk)
	res, err = r.RunDate(context.Background(), "2026-11-25")
	if err != nil || res.State != "done" || res.Counts[MissingAtWeChat] != 1 || res.Alerts != 1 {
		t.Fatalf("after the grace: %+v %v", res, err)
	}
}

// A day whose statement came after midnight is still offered by Due (yesterday first).
func TestReconcilerDueLookback(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, hk)
	st := memResults{}
	r := &Reconciler{Store: st, Location: hk, Now: func() time.Time { return now }}
	b, _ := json.Marshal(Result{Date: "2026-11-25", State: "not_ready"})
	st.PutReconciliation("2026-11-25", b)
	b, _ = json.Marshal(Result{Date: "2026-11-19", State: "error"}) // beyond the 7 days
	st.PutReconciliation("2026-11-19", b)
	if d, ok := r.Due(); !ok || d != "2026-11-26" {
		t.Fatalf("due %q %v, want yesterday first", d, ok)
	}
	b, _ = json.Marshal(Result{Date: "2026-11-26", State: "done"})
	st.PutReconciliation("2026-11-26", b)
	if d, ok := r.Due(); !ok || d != "2026-11-25" {
		t.Fatalf("due %q %v, want the unfinished 2026-11-25", d, ok)
	}
	b, _ = json.Marshal(Result{Date: "2026-11-25", State: "done"})
	st.PutReconciliation("2026-11-25", b)
	if d, ok := r.Due(); ok {
		t.Fatalf("due %q, want nothing", d)
	}
}

// Refund rows are matched with the journal's refunds by out_refund_no (then refund id),
// whatever day the sale is of; a succeeded refund of this day missing from the
// statement is reported, with a hint when it was made around midnight.
func TestReconcileRefundClasses(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 25, h, m, 0, 0, hk) }
	rf := func(no, id string, amount int64, state engine.RefundState, created time.Time) engine.Refund {
		return engine.Refund{OutRefundNo: no, RefundID: id, Amount: amount, State: state, CreatedAt: created}
	}
	today := sale("a", 5000, engine.SalePaid, att("T01-1", engine.AttemptPaid, "tx1", "HKD", 5000))
	today.Refunds = []engine.Refund{
		rf("T01-1R1", "wr1", 100, engine.RefundSucceeded, at(12, 5)),  // matched
		rf("T01-1R2", "wr2", 200, engine.RefundSucceeded, at(12, 6)),  // amount mismatch
		rf("T01-1R3", "", 300, engine.RefundSucceeded, at(13, 0)),     // missing at WeChat
		rf("T01-1R4", "wr4", 400, engine.RefundFailed, at(13, 5)),     // failed locally, refunded at WeChat
		rf("T01-1R5", "wr5", 500, engine.RefundProcessing, at(13, 6)), // processing locally: matched
		rf("T01-1R6", "", 600, engine.RefundSucceeded, at(23, 59)),    // missing, around midnight
		rf("T01-1R7", "wr7", 700, engine.RefundSucceeded, at(14, 0)),  // matched by refund id
		rf("T01-1R8", "wr8", 800, engine.RefundSucceeded, at(14, 1)),  // closed at WeChat
	}
	// The day before: a refund made at 23:59:30, listed on this day.
	prev := sale("p", 900, engine.SalePaid, att("T01-0", engine.AttemptPaid, "tx0", "HKD", 900))
	prev.CreatedAt = at(10, 0).AddDate(0, 0, -1)
	prev.Refunds = []engine.Refund{rf("T01-0R1", "wp1", 900, engine.RefundSucceeded, time.Date(2026, 11, 24, 23, 59, 30, 0, hk))}
	// Last week: one refund today (listed), one today (not listed), one last week.
	old := sale("o", 3000, engine.SalePaid, att("T01-9", engine.AttemptPaid, "tx9", "HKD", 3000))
	old.CreatedAt = at(10, 0).AddDate(0, 0, -7)
	old.Refunds = []engine.Refund{
		rf("T01-9R1", "wo1", 1000, engine.RefundSucceeded, at(9, 0)),
		rf("T01-9R2", "wo2", 1000, engine.RefundSucceeded, at(9, 30)),
		rf("T01-9R3", "wo3", 1000, engine.RefundSucceeded, at(9, 0).AddDate(0, 0, -6)),
	}
	row := func(otn, no, id string, amount int64, state string) wxpay.StatementRow {
		return wxpay.StatementRow{OutTradeNo: otn, TransactionID: "tx", TradeState: "REFUND", Amount: 5000, Currency: "HKD",
			OutRefundNo: no, RefundID: id, RefundAmount: amount, RefundState: state}
	}
	st := wxpay.Statement{Date: "20261125", Rows: []wxpay.StatementRow{
		{OutTradeNo: "T01-1", TransactionID: "tx1", TradeState: "SUCCESS", Amount: 5000, Currency: "HKD"},
		row("T01-1", "T01-1R1", "wr1", 100, "SUCCESS"),
		row("T01-1", "T01-1R2", "wr2", 250, "SUCCESS"),
		row("T01-1", "T01-1R4", "wr4", 400, "SUCCESS"),
		row("T01-1", "T01-1R5", "wr5", 500, "PROCESSING"),
		row("T01-1", "", "wr7", 700, "SUCCESS"),
		row("T01-1", "T01-1R8", "wr8", 800, "REFUNDCLOSE"),
		row("T01-0", "T01-0R1", "wp1", 900, "SUCCESS"),
		row("T01-9", "T01-9R1", "wo1", 1000, "SUCCESS"),
		row("T01-5", "T01-5R1", "wx5", 77, "SUCCESS"),     // a refund the till never made
		row("T01-5", "T01-5R2", "wx6", 88, "REFUNDCLOSE"), // closed, unknown: nothing moved
		row("T02-1", "T02-1R1", "wy1", 99, "SUCCESS"),     // another till's
	}}
	res := ReconcileInput(Input{Date: "2026-11-25", Location: hk, Sales: []*engine.Sale{today}, Previous: []*engine.Sale{prev},
		Earlier: []*engine.Sale{old}, Statement: st, Filter: Filter{Prefix: "T01-"}})
	want := map[string]Class{
		"T01-1R1": RefundMatched, "T01-1R2": RefundAmountMismatch, "T01-1R3": RefundMissingAtWeChat, "T01-1R4": RefundNotLocal,
		"T01-1R5": RefundMatched, "T01-1R6": RefundMissingAtWeChat, "T01-1R7": RefundMatched, "T01-1R8": RefundMissingAtWeChat,
		"T01-0R1": RefundMatched, "T01-9R1": RefundMatched, "T01-9R2": RefundMissingAtWeChat, "T01-5R1": RefundNotLocal,
	}
	got := map[string]Item{}
	for _, it := range res.Items {
		if !it.Class.IsRefund() {
			continue
		}
		if _, dup := got[it.OutRefundNo]; dup {
			t.Errorf("%s listed twice", it.OutRefundNo)
		}
		got[it.OutRefundNo] = it
	}
	for no, c := range want {
		if got[no].Class != c {
			t.Errorf("%s: class %q, want %q (%+v)", no, got[no].Class, c, got[no])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d refund items, want %d: %+v", len(got), len(want), got)
	}
	if it := got["T01-1R2"]; it.LocalAmount != 200 || it.WeChatAmount != 250 || !it.Alert || it.SaleID != "a" {
		t.Errorf("amount mismatch: %+v", it)
	}
	if it := got["T01-1R3"]; !it.Alert || it.OutTradeNo != "T01-1" || strings.Contains(it.Action, "midnight") {
		t.Errorf("missing: %+v", it)
	}
	if it := got["T01-1R6"]; !strings.Contains(it.Action, "next day's statement") {
		t.Errorf("missing around midnight: %+v", it)
	}
	if it := got["T01-1R7"]; it.RefundID != "wr7" || it.LocalAmount != 700 || it.Alert {
		t.Errorf("by refund id: %+v", it)
	}
	if it := got["T01-5R1"]; !it.Alert || it.SaleID != "" || it.WeChatAmount != 77 {
		t.Errorf("not local: %+v", it)
	}
	if it := got["T01-1R4"]; it.LocalState != string(engine.RefundFailed) || !strings.Contains(it.Action, "twice") {
		t.Errorf("failed locally: %+v", it)
	}
	// Alerts: R2, R3, R4, R6, R8, T01-9R2, T01-5R1; the payment matched.
	if res.Alerts != 7 || res.Counts[RefundMatched] != 5 || res.Counts[Matched] != 1 {
		t.Errorf("alerts %d counts %v", res.Alerts, res.Counts)
	}
	if res.Rows != 11 {
		t.Errorf("rows %d, want 11 (the other till's refund filtered)", res.Rows)
	}
	// Without the earlier sales, its listed refund is not the till's knowledge.
	res = ReconcileWith("2026-11-25", hk, []*engine.Sale{today}, []*engine.Sale{prev}, st, Filter{Prefix: "T01-"})
	for _, it := range res.Items {
		if it.OutRefundNo == "T01-9R1" && it.Class != RefundNotLocal || it.OutRefundNo == "T01-9R2" {
			t.Errorf("without context: %+v", it)
		}
	}
}

// The Reconciler reads earlier days for their refunds, and finds older sales by number.
func TestReconcilerRefundContext(t *testing.T) {
	old := sale("o", 3000, engine.SalePaid, att("T01-9", engine.AttemptPaid, "tx9", "HKD", 3000))
	old.Refunds = []engine.Refund{{OutRefundNo: "T01-9R1", Amount: 1000, State: engine.RefundSucceeded, CreatedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, hk)}}
	ancient := sale("x", 3000, engine.SalePaid, att("T01-8", engine.AttemptPaid, "tx8", "HKD", 3000))
	ancient.Refunds = []engine.Refund{{OutRefundNo: "T01-8R1", Amount: 500, State: engine.RefundSucceeded, CreatedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, hk)}}
	var days []string
	r := &Reconciler{
		Statements: statementFunc(func(ctx context.Context, date string) (wxpay.Statement, error) {
			return wxpay.Statement{Date: date, Rows: []wxpay.StatementRow{
				{OutTradeNo: "T01-9", TradeState: "REFUND", OutRefundNo: "T01-9R1", RefundAmount: 1000, RefundState: "SUCCESS"},
				{OutTradeNo: "T01-8", TradeState: "REFUND", OutRefundNo: "T01-8R1", RefundAmount: 500, RefundState: "SUCCESS"},
			}}, nil
		}),
		Sales: func(day string) ([]*engine.Sale, error) {
			days = append(days, day)
			if day == "2026-11-20" {
				return []*engine.Sale{old, sale("n", 10, engine.SalePaid)}, nil
			}
			return nil, nil
		},
		Store: memResults{}, Location: hk, RefundDays: 7,
		Now: func() time.Time { return time.Date(2026, 11, 26, 11, 0, 0, 0, hk) },
	}
	res, err := r.RunDate(context.Background(), "2026-11-25")
	if err != nil || res.Counts[RefundMatched] != 1 || res.Counts[RefundNotLocal] != 1 {
		t.Fatalf("without a lookup: %v %+v", err, res)
	}
	if len(days) != 8 || days[len(days)-1] != "2026-11-18" {
		t.Errorf("days read %v, want the day and 7 before", days)
	}
	r.SaleByOutTradeNo = func(no string) (*engine.Sale, error) {
		if no == "T01-8" {
			return ancient, nil
		}
		return nil, engine.ErrNotFound
	}
	res, err = r.RunDate(context.Background(), "2026-11-25")
	if err != nil || res.Counts[RefundMatched] != 2 || res.Alerts != 0 {
		t.Fatalf("with a lookup: %v %+v", err, res)
	}
	r.SaleByOutTradeNo = func(string) (*engine.Sale, error) { return nil, errors.New("disk on fire") }
	if res, err := r.RunDate(context.Background(), "2026-11-25"); err == nil || res.State != "error" {
		t.Fatalf("lookup error: %v %+v", err, res)
	}
}

// A 10:15 sale in Hong Kong is in hour 10 of the day report, whatever zone the process
// runs in and whatever zone the journal's time values carry (UTC after a JSON round trip).
func TestDayReportByHourInTillZone(t *testing.T) {
	s := sale("s1", 1000, engine.SalePaid, att("o1", engine.AttemptPaid, "t1", "HKD", 1000))
	s.CreatedAt = time.Date(2026, 11, 25, 10, 15, 0, 0, hk).UTC() // 02:15 UTC
	r := Day("2026-11-25", "HK001", "T01", "HKD", hk, []*engine.Sale{s}, time.Now().UTC())
	if len(r.ByHour) != 1 || r.ByHour[10] != (Money{1, 1000}) {
		t.Fatalf("by_hour = %v, want the sale in hour 10", r.ByHour)
	}
}
