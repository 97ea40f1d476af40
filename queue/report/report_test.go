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
	r := Day("2026-11-25", "HK001", "T01", "HKD", []*engine.Sale{s1, s2, s3, s4, s5}, time.Now())
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
		{OutTradeNo: "T01-1", TransactionID: "tx1", TradeState: "REFUND", Amount: 1000, Currency: "HKD", RefundAmount: 100},
	}}
	res := Reconcile("2026-11-25", sales, st, Filter{DeviceID: "T01", Prefix: "T01-"})
	want := map[string]Class{"T01-1": Matched, "T01-2": MissingAtWeChat, "T01-3": AmountMismatch, "T01-4": CurrencyMismatch,
		"T01-5": PaidNotLocal, "T01-6": ReversedAfterPayment, "T01-7": ReversedAfterPayment, "T01-9-renamed": Matched, "T01-10": PaidNotLocal}
	got := map[string]Item{}
	for _, it := range res.Items {
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
	if len(got) != len(want) {
		t.Errorf("items %v, want exactly %d", res.Items, len(want))
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
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || len(recs[0]) != len(journalHeader) {
		t.Fatalf("csv: %v", recs)
	}
	if recs[1][17] != "NOTENOUGH" || recs[2][13] != "tx" || recs[2][19] != "50" || recs[2][14] != "CNY" {
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
