package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/queue/report"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// These tests run sales through the real payment engine and the real wxpay client (over
// TLS) against the simulator, then reconcile the statement the simulator builds from its
// ledger. Mismatches are injected in the simulator's statement or made by what happens
// to the orders (a lost answer, a reversal), never by editing parsed rows.

var hkt = time.FixedZone("HKT", 8*3600)

// day0 is the trading day; the statement of it is ready at 09:00 the next day
// (wxpaytest's default StatementDelay), and WeChat promises it after 10:00.
var day0 = time.Date(2026, 11, 25, 10, 0, 0, 0, hkt)

const (
	store    = "HK001"
	tillA    = "T01"
	tillB    = "T02"
	dateISO  = "2026-11-25"
	dateWx   = "20261125"
	prefixA  = store + "_" + tillA + "_"
	prefixB  = store + "_" + tillB + "_"
	waitReal = 15 * time.Second
)

var codeSeq atomic.Int64

// newCode returns a fresh payment code (the simulator refuses a code used twice).
func newCode() string { return fmt.Sprintf("134%015d", 500000000000+codeSeq.Add(1)) }

// memResults is a ResultStore in memory.
type memResults struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memResults) PutReconciliation(date string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[date] = append([]byte(nil), v...)
	return nil
}

func (m *memResults) Reconciliation(date string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[date], nil
}

// rig is one merchant at the simulator with two tills, each with its own engine and
// journal, sharing one fake clock.
type rig struct {
	t     *testing.T
	api   string
	clk   *enginetest.FakeClock
	sim   *wxpaytest.Server
	wx    wxpay.Client // the merchant's own client (manager tools, out-of-band actions)
	tills map[string]*engine.Engine
}

func newClient(t *testing.T, sim *wxpaytest.Server, api, till string) wxpay.Client {
	t.Helper()
	cfg := sim.ClientConfig(api)
	cfg.DeviceID = till
	c, err := wxpay.New(cfg)
	if err != nil {
		t.Fatalf("wxpay.New(%s): %v", api, err)
	}
	return c
}

func newRig(t *testing.T, api string) *rig {
	t.Helper()
	clk := enginetest.NewFakeClock(day0)
	sim, err := wxpaytest.Start(wxpaytest.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	r := &rig{t: t, api: api, clk: clk, sim: sim, wx: newClient(t, sim, api, tillA), tills: map[string]*engine.Engine{}}
	for _, till := range []string{tillA, tillB} {
		e, err := engine.New(engine.Config{StoreID: store, TillID: till, Description: "Example Store", Location: hkt, QRCodePayment: true},
			newClient(t, sim, api, till), enginetest.NewMemStore(hkt), clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Recover(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		r.tills[till] = e
	}
	return r
}

func last(s *engine.Sale) engine.Attempt { return s.Attempts[len(s.Attempts)-1] }

// drive waits until the sale's newest attempt satisfies pred. The engine's attempt
// runner sleeps on one fake-clock timer at a time and holds none while it talks to
// WeChat, so a waiting timer means it is idle: only then is the clock moved on.
func (r *rig) drive(till, id string, pred func(engine.Attempt) bool) *engine.Sale {
	r.t.Helper()
	e := r.tills[till]
	deadline := time.Now().Add(waitReal)
	for {
		s, err := e.Sale(id)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(s.Attempts) > 0 && pred(last(s)) {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("sale %s: attempt never got there: %+v", id, last(s))
		}
		if r.clk.Waiters() > 0 {
			r.clk.AdvanceToNext()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// isFinal: nothing more happens to the attempt without the durable queue (not running
// here): final, or unresolved and handed to the queue.
func isFinal(a engine.Attempt) bool { return a.State.Final() || a.State == engine.AttemptUnresolved }

// sell opens a sale on till and pays it with a fresh code, scripted with faults, then
// waits until the attempt is final (paid, failed, reversed or unresolved).
func (r *rig) sell(till string, amount int64, faults ...wxpaytest.Fault) *engine.Sale {
	r.t.Helper()
	code := newCode()
	if len(faults) > 0 {
		r.sim.Script(wxpaytest.Match{AuthCode: code}, faults...)
	}
	s, err := r.tills[till].OpenSale(context.Background(), engine.OpenSaleRequest{Amount: amount, AuthCode: code, Reference: "R"})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.drive(till, s.ID, isFinal)
}

func (r *rig) paid(till string, amount int64, faults ...wxpaytest.Fault) (*engine.Sale, string) {
	r.t.Helper()
	s := r.sell(till, amount, faults...)
	if a := last(s); a.State != engine.AttemptPaid {
		r.t.Fatalf("sale of %d: attempt %s, want paid (%+v)", amount, a.State, a.Error)
	}
	return s, last(s).OutTradeNo
}

func (r *rig) reconciler(till string, st *memResults) *report.Reconciler {
	e := r.tills[till]
	return &report.Reconciler{
		Statements: r.wx,
		Sales:      e.Sales,
		Store:      st,
		Filter:     report.Filter{DeviceID: till, Prefix: store + "_" + till + "_"},
		Location:   hkt,
		Now:        r.clk.Now,
	}
}

// byNo lists the payment items by out_trade_no.
func byNo(res report.Result) map[string]report.Item {
	m := map[string]report.Item{}
	for _, it := range res.Items {
		if !it.Class.IsRefund() {
			m[it.OutTradeNo] = it
		}
	}
	return m
}

// byRefund lists the refund items by out_refund_no.
func byRefund(res report.Result) map[string]report.Item {
	m := map[string]report.Item{}
	for _, it := range res.Items {
		if it.Class.IsRefund() {
			m[it.OutRefundNo] = it
		}
	}
	return m
}

// TestReconcileSimulatorDay is a day of one merchant with two tills, in both dialects
// (and the legacy /hk/v3 paths):
// every reconciliation class, an amount with cents, a mainland wallet, a refund, a
// statement that is not ready yet and then is, and the till filter.
func TestReconcileSimulatorDay(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv3HK, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			reconcileDay(t, api)
		})
	}
}

func reconcileDay(t *testing.T, api string) {
	r := newRig(t, api)
	ctx := context.Background()

	_, cents := r.paid(tillA, 1050)                                                      // matched: 10.50 on the statement
	_, cny := r.paid(tillA, 10000, wxpaytest.Fault{Kind: wxpaytest.FaultMainlandWallet}) // matched: paid in CNY, priced in HKD
	refundedSale, refunded := r.paid(tillA, 2500)                                        // matched, with a refund row
	_, dropped := r.paid(tillA, 3000)                                                    // missing at WeChat
	_, altered := r.paid(tillA, 4000)                                                    // amount mismatch (+0.01)
	_, otherCurr := r.paid(tillA, 5000)                                                  // currency mismatch
	_, revokedPaid := r.paid(tillA, 6000)                                                // reversed at WeChat, paid in the journal
	r.sim.DropFromStatement(dropped)
	r.sim.AlterStatementAmount(altered, 1)
	r.sim.AlterStatementCurrency(otherCurr, "CNY")

	refundedSale, err := r.tills[tillA].Refund(ctx, refundedSale.ID, 500, "damaged")
	if err != nil {
		t.Fatal(err)
	}
	tillRefund := refundedSale.Refunds[0].OutRefundNo

	// Someone refunds a sale directly at WeChat (the merchant platform): money went
	// back that the till does not know of.
	const oobRefund = "OOB-REFUND-1"
	if rf, err := r.wx.Refund(ctx, wxpay.RefundRequest{OutTradeNo: cents, OutRefundNo: oobRefund, Amount: 300, Total: 1050,
		Currency: "HKD", Reason: "out of band"}); err != nil || rf.Outcome != wxpay.Paid && rf.Outcome != wxpay.Refunded {
		t.Fatalf("out-of-band refund: %v %+v", err, rf)
	}

	// Paid at WeChat, but the answer was lost and WeChat stayed unreachable for this
	// order: the journal holds it unresolved (its durable-queue job has not run yet).
	lost := r.sell(tillA, 7000,
		wxpaytest.Fault{Kind: wxpaytest.FaultLost},
		wxpaytest.Fault{Kind: wxpaytest.FaultDrop, Endpoint: wxpaytest.EPQuery, N: -1},
		wxpaytest.Fault{Kind: wxpaytest.FaultDrop, Endpoint: wxpaytest.EPReverse, N: -1})
	if a := last(lost); a.State != engine.AttemptUnresolved {
		t.Fatalf("lost answer: attempt %s, want unresolved", a.State)
	}
	unresolved := last(lost).OutTradeNo

	// The customer paid after a wait, but the cashier had cancelled: the engine reverses
	// a paid order. Expected, no alert.
	code := newCode()
	r.sim.Script(wxpaytest.Match{AuthCode: code}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPaying, For: time.Second})
	s, err := r.tills[tillA].OpenSale(ctx, engine.OpenSaleRequest{Amount: 8000, AuthCode: code})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		o, ok := r.sim.Order(last(s).OutTradeNo)
		return ok && o.State == wxpaytest.StateUserPaying
	})
	waitUntil(t, func() bool { return r.clk.Waiters() > 0 }) // the runner is polling, not sending
	if _, err := r.tills[tillA].Cancel(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	cancelled := r.drive(tillA, s.ID, isFinal)
	reversedLocal := last(cancelled).OutTradeNo
	if st := last(cancelled).State; st != engine.AttemptReversed {
		t.Fatalf("cancelled sale: attempt %s, want reversed", st)
	}
	if o, _ := r.sim.Order(reversedLocal); !o.WasPaid || o.State != wxpaytest.StateRevoked {
		t.Fatalf("simulator order %+v: want paid, then revoked", o)
	}

	// Someone reverses a paid order out of band (after WeChat's 15 s floor).
	r.clk.Advance(20 * time.Second)
	if rr, err := r.wx.Reverse(ctx, revokedPaid); err != nil || rr.Outcome != wxpay.Reversed {
		t.Fatalf("reverse %s: %v %+v", revokedPaid, err, rr)
	}

	// A payment with this till's number that the journal never saw (a journal restored
	// from an old backup, a second process on the till).
	stray := prefixA + "261125999999"
	if o, err := r.wx.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: stray, AuthCode: newCode(), Amount: 1234, Currency: "HKD",
		Description: "stray", DeviceID: tillA}); err != nil || o.Outcome != wxpay.Paid {
		t.Fatalf("stray micropay: %v %+v", err, o)
	}

	// The other till sells the same day: its rows are in the merchant's statement too.
	_, otherTill1 := r.paid(tillB, 1050)
	_, otherTill2 := r.paid(tillB, 990)

	// Next morning, before WeChat has made the statement: not ready, stored, retried.
	results := &memResults{}
	rec := r.reconciler(tillA, results)
	r.clk.Set(time.Date(2026, 11, 26, 8, 30, 0, 0, hkt))
	res, err := rec.RunDate(ctx, dateISO)
	if err != nil || res.State != "not_ready" || res.Tries != 1 || len(res.Items) != 0 {
		t.Fatalf("before the statement: %v %+v", err, res)
	}
	if got, _ := rec.Load(dateISO); got == nil || got.State != "not_ready" {
		t.Fatalf("stored %+v, want not_ready", got)
	}
	r.clk.Set(time.Date(2026, 11, 26, 10, 30, 0, 0, hkt))
	res, err = rec.RunDate(ctx, dateISO)
	if err != nil || res.State != "done" || res.Tries != 2 {
		t.Fatalf("after 10:30: %v %+v", err, res)
	}
	if stored, _ := rec.Load(dateISO); stored == nil || stored.State != "done" || len(stored.Items) != len(res.Items) {
		t.Fatalf("stored %+v", stored)
	}

	want := map[string]report.Class{
		cents: report.Matched, cny: report.Matched, refunded: report.Matched,
		dropped: report.MissingAtWeChat, altered: report.AmountMismatch, otherCurr: report.CurrencyMismatch,
		unresolved: report.PaidNotLocal, stray: report.PaidNotLocal,
		reversedLocal: report.ReversedAfterPayment, revokedPaid: report.ReversedAfterPayment,
	}
	got := byNo(res)
	for no, c := range want {
		if got[no].Class != c {
			t.Errorf("%s: class %q, want %q (%+v)", no, got[no].Class, c, got[no])
		}
	}
	if len(res.Items) != len(want)+2 {
		t.Errorf("%d items, want %d and 2 refunds: %+v", len(res.Items), len(want), res.Items)
	}
	refunds := byRefund(res)
	if it := refunds[tillRefund]; it.Class != report.RefundMatched || it.Alert || it.LocalAmount != 500 || it.WeChatAmount != 500 || it.OutTradeNo != refunded {
		t.Errorf("the till's refund: %+v", it)
	}
	if it := refunds[oobRefund]; it.Class != report.RefundNotLocal || !it.Alert || it.WeChatAmount != 300 || it.OutTradeNo != cents || it.RefundID == "" {
		t.Errorf("the out-of-band refund: %+v", it)
	}
	for _, no := range []string{otherTill1, otherTill2} {
		if _, ok := got[no]; ok {
			t.Errorf("another till's order %s was reconciled on %s", no, tillA)
		}
	}
	for _, it := range res.Items {
		if !strings.HasPrefix(it.OutTradeNo, prefixA) {
			t.Errorf("item %s is not this till's", it.OutTradeNo)
		}
	}
	// Alerts: missing, amount, currency, two paid-not-local, the out-of-band reversal and
	// refund.
	if res.Alerts != 7 || got[reversedLocal].Alert || !got[revokedPaid].Alert || got[cents].Alert {
		t.Errorf("alerts %d: %+v", res.Alerts, res.Items)
	}
	if got[unresolved].Action != "refund" || got[unresolved].LocalState != string(engine.AttemptUnresolved) {
		t.Errorf("unresolved locally, paid at WeChat: %+v", got[unresolved])
	}

	// Units end to end: the simulator prints main units, the client turns them into
	// cents, and the journal's cents match them exactly (off by 100 would mismatch).
	if it := got[cents]; it.LocalAmount != 1050 || it.WeChatAmount != 1050 || it.WeChatCurr != "HKD" {
		t.Errorf("10.50 sale: %+v", it)
	}
	if it := got[altered]; it.LocalAmount != 4000 || it.WeChatAmount != 4001 {
		t.Errorf("altered by 0.01: %+v", it)
	}
	if it := got[otherCurr]; it.WeChatCurr != "CNY" || it.LocalCurrency != "HKD" {
		t.Errorf("currency: %+v", it)
	}
	if it := got[cny]; it.WeChatAmount != 10000 || it.WeChatCurr != "HKD" {
		t.Errorf("mainland wallet priced in HKD: %+v", it)
	}

	// The refund is on the statement in main units too: 5.00 → 500.
	st, err := r.wx.Statement(ctx, dateWx)
	if err != nil {
		t.Fatal(err)
	}
	refundRows := 0
	for _, row := range st.Rows {
		if row.OutTradeNo == refunded && row.TradeState == "REFUND" {
			refundRows++
			if row.RefundAmount != 500 || row.Amount != 2500 || row.Raw["申请退款金额"] != "5.00" {
				t.Errorf("refund row: refund %d of %d, printed %q", row.RefundAmount, row.Amount, row.Raw["申请退款金额"])
			}
		}
	}
	if refundRows != 1 {
		t.Errorf("%d refund rows for %s, want 1", refundRows, refunded)
	}

	// The other till's reconciliation sees only its own two orders.
	resB, err := r.reconciler(tillB, &memResults{}).RunDate(ctx, dateISO)
	if err != nil || resB.State != "done" || resB.Counts[report.Matched] != 2 || len(resB.Items) != 2 || resB.Alerts != 0 {
		t.Errorf("till %s: %v %+v", tillB, err, resB)
	}
	for _, it := range resB.Items {
		if !strings.HasPrefix(it.OutTradeNo, prefixB) {
			t.Errorf("till %s reconciled %s", tillB, it.OutTradeNo)
		}
	}

	// The result survives a JSON round trip (the UI and `posd reconcile` read it so).
	b, _ := json.Marshal(res)
	var back report.Result
	if err := json.Unmarshal(b, &back); err != nil || back.Counts[report.PaidNotLocal] != 2 {
		t.Errorf("json: %v %+v", err, back.Counts)
	}
}

// TestStatementUnitsFromSimulator checks the statement's printed amounts against the
// ledger and the parsed rows: "10.50" in the file, 1050 in the row and the ledger.
func TestStatementUnitsFromSimulator(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, api)
			amounts := []int64{1, 99, 1050, 100000, 123456}
			nos := map[string]int64{}
			for _, a := range amounts {
				_, no := r.paid(tillA, a)
				nos[no] = a
			}
			r.clk.Set(time.Date(2026, 11, 26, 10, 30, 0, 0, hkt))
			st, err := r.wx.Statement(context.Background(), dateWx)
			if err != nil || st.NotReady {
				t.Fatalf("statement: %v %+v", err, st)
			}
			seen := 0
			for _, row := range st.Rows {
				want, ok := nos[row.OutTradeNo]
				if !ok {
					continue
				}
				seen++
				o, _ := r.sim.Order(row.OutTradeNo)
				printed := row.Raw["订单金额(标价币种)"]
				if row.Amount != want || o.Amount != want || printed != fmt.Sprintf("%d.%02d", want/100, want%100) {
					t.Errorf("%s: row %d, ledger %d, printed %q, want %d", row.OutTradeNo, row.Amount, o.Amount, printed, want)
				}
			}
			if seen != len(amounts) {
				t.Fatalf("%d of %d orders in the statement", seen, len(amounts))
			}
			res, err := r.reconciler(tillA, &memResults{}).RunDate(context.Background(), dateISO)
			if err != nil || res.Counts[report.Matched] != len(amounts) || res.Alerts != 0 {
				t.Fatalf("%v %+v", err, res)
			}
		})
	}
}

// TestReconcileSimulatorEmptyDay: a day without trades, once the statement is due, is a
// finished reconciliation with nothing in it (v3: a header-only file; v2: "No Bill
// Exist", which means "not yet" before 10:00 and "no trades" after).
func TestReconcileSimulatorEmptyDay(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, api)
			rec := r.reconciler(tillA, &memResults{})
			r.clk.Set(time.Date(2026, 11, 26, 8, 0, 0, 0, hkt))
			res, err := rec.RunDate(context.Background(), dateISO)
			if err != nil || res.State != "not_ready" {
				t.Fatalf("08:00: %v %+v", err, res)
			}
			r.clk.Set(time.Date(2026, 11, 26, 10, 5, 0, 0, hkt))
			res, err = rec.RunDate(context.Background(), dateISO)
			if err != nil || res.State != "done" || res.Rows != 0 || len(res.Items) != 0 || res.Alerts != 0 || res.Tries != 2 {
				t.Fatalf("10:05: %v %+v", err, res)
			}
		})
	}
}

// TestReconcilerRunRetriesUntilReady runs the daemon's loop: yesterday is due after
// 10:00, WeChat is late (ready at 11:00), the loop retries every 30 minutes and stops
// once a result is done.
func TestReconcilerRunRetriesUntilReady(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, api)
			_, no := r.paid(tillA, 1050)
			r.sim.SetStatementReady(dateWx, time.Date(2026, 11, 26, 11, 0, 0, 0, hkt))
			results := &memResults{}
			rec := r.reconciler(tillA, results)
			got := make(chan report.Result, 16)
			rec.OnResult = func(res report.Result) { got <- res }
			tick := make(chan time.Time)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			// Start before the statement is due: nothing happens on the first pass.
			r.clk.Set(time.Date(2026, 11, 26, 9, 0, 0, 0, hkt))
			go func() { defer close(done); rec.Run(ctx, tick) }()
			// Run takes a tick only when it is back at its select, so after the second
			// send the pass at `at` is over; the pass of the second tick repeats it and is a
			// no-op (or, if the clock moves on meanwhile, does the next step's work).
			step := func(at time.Time) {
				r.clk.Set(at)
				tick <- at
				tick <- at
			}
			step(time.Date(2026, 11, 26, 9, 59, 0, 0, hkt))
			step(time.Date(2026, 11, 26, 10, 0, 0, 0, hkt)) // due: WeChat has not made it yet
			step(time.Date(2026, 11, 26, 10, 15, 0, 0, hkt))
			var seen []report.Result
			collect := func() {
				for {
					select {
					case res := <-got:
						seen = append(seen, res)
					default:
						return
					}
				}
			}
			collect()
			if len(seen) != 1 || seen[0].State != "not_ready" {
				t.Fatalf("by 10:15: %+v, want one not_ready try (retry after 30 min)", seen)
			}
			step(time.Date(2026, 11, 26, 10, 31, 0, 0, hkt)) // retry: still not ready
			step(time.Date(2026, 11, 26, 11, 2, 0, 0, hkt))  // retry: ready
			step(time.Date(2026, 11, 26, 11, 40, 0, 0, hkt)) // done: no more tries
			cancel()
			<-done
			collect()
			if len(seen) != 3 || seen[1].State != "not_ready" || seen[2].State != "done" || seen[2].Tries != 3 {
				t.Fatalf("tries: %+v", seen)
			}
			if byNo(seen[2])[no].Class != report.Matched {
				t.Fatalf("result %+v", seen[2])
			}
			if _, due := rec.Due(); due {
				t.Fatal("still due after a done result")
			}
		})
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitReal)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestReconcileSimulatorAcrossMidnight: what happens around midnight is not a
// difference. A sale reversed just after midnight (paid on day 1, REVOKED row on day 2),
// a payment that completes after midnight (journaled on day 1, listed on day 2), and a
// refund on day 2 of a day-1 sale (a REFUND row on day 2) raise no false alert.
func TestReconcileSimulatorAcrossMidnight(t *testing.T) {
	for _, api := range []string{wxpay.APIv3Global, wxpay.APIv2} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, api)
			ctx := context.Background()
			e := r.tills[tillA]
			s1, paidDay1 := r.paid(tillA, 1500)

			// 23:59:50: the customer pays after a second, but the cashier has cancelled;
			// the reverse waits for WeChat's 15 s floor, past midnight.
			r.clk.Set(time.Date(2026, 11, 25, 23, 59, 50, 0, hkt))
			code := newCode()
			r.sim.Script(wxpaytest.Match{AuthCode: code}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPaying, For: time.Second})
			s2, err := e.OpenSale(ctx, engine.OpenSaleRequest{Amount: 2000, AuthCode: code})
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, func() bool {
				o, ok := r.sim.Order(last(s2).OutTradeNo)
				return ok && o.State == wxpaytest.StateUserPaying
			})
			waitUntil(t, func() bool { return r.clk.Waiters() > 0 })
			if _, err := e.Cancel(ctx, s2.ID); err != nil {
				t.Fatal(err)
			}
			s2 = r.drive(tillA, s2.ID, isFinal)
			reversedNext := last(s2).OutTradeNo
			if o, _ := r.sim.Order(reversedNext); last(s2).State != engine.AttemptReversed || o.State != wxpaytest.StateRevoked ||
				o.PaidAt.In(hkt).Day() != 25 || o.ReversedAt.In(hkt).Day() != 26 {
				t.Fatalf("want paid on the 25th, reversed on the 26th: local %s, sim %+v", last(s2).State, o)
			}

			// 23:59:58: the customer takes 10 s to confirm; paid at 00:00:08.
			r.clk.Set(time.Date(2026, 11, 25, 23, 59, 58, 0, hkt))
			s4, lateNo := r.paid(tillA, 3300, wxpaytest.Fault{Kind: wxpaytest.FaultUserPaying, For: 10 * time.Second})
			if o, _ := r.sim.Order(lateNo); o.PaidAt.In(hkt).Day() != 26 || s4.CreatedAt.In(hkt).Day() != 25 {
				t.Fatalf("want a sale of the 25th paid on the 26th: %+v", o)
			}

			// Day 2: a refund of the day-1 sale, and a sale of its own.
			r.clk.Set(time.Date(2026, 11, 26, 12, 0, 0, 0, hkt))
			rs1, err := e.Refund(ctx, s1.ID, 1500, "returned")
			if err != nil {
				t.Fatal(err)
			}
			s1Refund := rs1.Refunds[0].OutRefundNo
			_, paidDay2 := r.paid(tillA, 990)

			r.clk.Set(time.Date(2026, 11, 27, 10, 30, 0, 0, hkt))
			rec := r.reconciler(tillA, &memResults{})
			d1, err := rec.RunDate(ctx, "2026-11-25")
			if err != nil {
				t.Fatal(err)
			}
			got := byNo(d1)
			if got[paidDay1].Class != report.Matched || got[reversedNext].Class != report.ReversedAfterPayment || got[reversedNext].Alert {
				t.Errorf("day 1: %+v", d1.Items)
			}
			// The late payment is not on day 1's statement: reported, with the hint.
			if it := got[lateNo]; it.Class != report.MissingAtWeChat || !strings.Contains(it.Action, "midnight") {
				t.Errorf("day 1, paid after midnight: %+v", it)
			}
			if len(d1.Items) != 3 || d1.Alerts != 1 {
				t.Errorf("day 1: %d items, %d alerts: %+v", len(d1.Items), d1.Alerts, d1.Items)
			}

			d2, err := rec.RunDate(ctx, "2026-11-26")
			if err != nil {
				t.Fatal(err)
			}
			got = byNo(d2)
			if it := got[reversedNext]; it.Class != report.ReversedAfterPayment || it.Alert || it.LocalState != string(engine.AttemptReversed) {
				t.Errorf("day 2, the REVOKED row of a day-1 sale: %+v", it)
			}
			if it := got[lateNo]; it.Class != report.Matched || it.LocalAmount != 3300 || it.WeChatAmount != 3300 {
				t.Errorf("day 2, the payment of a day-1 sale: %+v", it)
			}
			if _, listed := got[paidDay1]; listed {
				t.Errorf("day 2: the refund of a day-1 sale is not a payment: %+v", got[paidDay1])
			}
			if it := byRefund(d2)[s1Refund]; it.Class != report.RefundMatched || it.LocalAmount != 1500 || it.SaleID != s1.ID {
				t.Errorf("day 2, the refund of a day-1 sale: %+v", it)
			}
			if got[paidDay2].Class != report.Matched || len(d2.Items) != 4 || d2.Alerts != 0 {
				t.Errorf("day 2: %d items, %d alerts: %+v", len(d2.Items), d2.Alerts, d2.Items)
			}
		})
	}
}
