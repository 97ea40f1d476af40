package engine_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// propertyChecks sets how many random fault schedules rapid runs: n per CI run, or
// POSD_SOAK times n/1000 (make soak: POSD_SOAK=100000). An explicit -rapid.checks or
// RAPID_CHECKS wins.
func propertyChecks(t *testing.T, n int) {
	checksOnce.Do(func() {
		checksExplicit = os.Getenv("RAPID_CHECKS") != ""
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "rapid.checks" {
				checksExplicit = true
			}
		})
	})
	if checksExplicit {
		return
	}
	if v, err := strconv.Atoi(os.Getenv("POSD_SOAK")); err == nil && v > 0 {
		n = max(1, v*n/1000)
	}
	if err := flag.Set("rapid.checks", strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
}

// faults a schedule draws from: every kind the simulator has, except the two that wait
// in real time (hang, slow), which the wxpay client's own tests cover. A slow uplink
// waits on the simulator's clock, which here is the fake clock: time passes while the
// micropay travels.
func drawFault(t *rapid.T, label string) wxpaytest.Fault {
	kinds := []wxpaytest.FaultKind{
		wxpaytest.FaultUserPaying, wxpaytest.FaultUserPayingForever, wxpaytest.FaultSystemError,
		wxpaytest.FaultBankError, wxpaytest.FaultLost, wxpaytest.FaultDrop, wxpaytest.FaultHTTP,
		wxpaytest.FaultRateLimit, wxpaytest.FaultForged, wxpaytest.FaultReverseRetry,
		wxpaytest.FaultFail, wxpaytest.FaultMainlandWallet, wxpaytest.FaultSlowUplink,
	}
	f := wxpaytest.Fault{Kind: rapid.SampledFrom(kinds).Draw(t, label+"kind")}
	switch f.Kind {
	case wxpaytest.FaultSlowUplink:
		f.Delay = time.Duration(rapid.IntRange(0, 19000).Draw(t, label+"uplinkMs")) * time.Millisecond
	case wxpaytest.FaultUserPaying:
		f.For = time.Duration(rapid.IntRange(0, 70).Draw(t, label+"for")) * time.Second
		f.Then = rapid.SampledFrom([]string{"", "PAYERROR", "NOTPAY"}).Draw(t, label+"then")
	case wxpaytest.FaultUserPayingForever, wxpaytest.FaultMainlandWallet:
	case wxpaytest.FaultFail:
		f.Code = rapid.SampledFrom(wxpaytest.FinalFailCodes).Draw(t, label+"code")
	case wxpaytest.FaultReverseRetry:
		f.N = rapid.IntRange(1, 4).Draw(t, label+"n")
	default:
		f.Endpoint = rapid.SampledFrom([]wxpaytest.Endpoint{wxpaytest.EPMicroPay, wxpaytest.EPQuery,
			wxpaytest.EPReverse, wxpaytest.EPRefund, wxpaytest.EPRefundQuery}).Draw(t, label+"ep")
		f.N = rapid.IntRange(1, 4).Draw(t, label+"n")
		f.Processed = rapid.Bool().Draw(t, label+"processed")
		if f.Kind == wxpaytest.FaultHTTP {
			f.Status = rapid.SampledFrom([]int{400, 401, 403, 404, 429, 500, 502, 503}).Draw(t, label+"status")
		}
	}
	return f
}

// drawQRFault draws a fault for a QR Code Payment order: the transport faults on the calls
// a QR attempt makes (native order, query, close, and the refund of a late payment).
func drawQRFault(t *rapid.T, label string) wxpaytest.Fault {
	kinds := []wxpaytest.FaultKind{
		wxpaytest.FaultSystemError, wxpaytest.FaultBankError, wxpaytest.FaultLost, wxpaytest.FaultDrop,
		wxpaytest.FaultHTTP, wxpaytest.FaultRateLimit, wxpaytest.FaultForged,
	}
	f := wxpaytest.Fault{Kind: rapid.SampledFrom(kinds).Draw(t, label+"kind")}
	f.Endpoint = rapid.SampledFrom([]wxpaytest.Endpoint{wxpaytest.EPNative, wxpaytest.EPQuery,
		wxpaytest.EPClose, wxpaytest.EPRefund, wxpaytest.EPRefundQuery}).Draw(t, label+"ep")
	f.N = rapid.IntRange(1, 4).Draw(t, label+"n")
	f.Processed = rapid.Bool().Draw(t, label+"processed")
	if f.Kind == wxpaytest.FaultHTTP {
		f.Status = rapid.SampledFrom([]int{400, 401, 403, 404, 429, 500, 502, 503}).Draw(t, label+"status")
	}
	return f
}

var (
	checksOnce     sync.Once
	checksExplicit bool // set on the command line: leave it
)

type action struct {
	at     time.Duration // after the schedule's start (real time: the fake clock's Elapsed)
	kind   string        // pay, qr, scanpay (the customer pays the QR code), cancel, refund, crash, jump
	sale   int
	amount int64         // refund
	jump   time.Duration // jump: the till's wall clock steps by this (NTP, a dead RTC)
	reboot bool          // crash: the machine rebooted (monotonic readings start again)
}

// TestPropertyFaultSchedules runs random fault schedules — the simulator's faults per
// order, outages, cashier cancels, crashes with restart from the journal — through the
// engine and the real wxpay client (v2 and v3) against the simulator, all on one fake
// clock, and checks the simulator's ledger:
//   - a sale is paid at most once, and is paid exactly when one attempt is paid;
//   - the money the merchant keeps equals the sales in state paid (per order: an order
//     keeps money exactly when its attempt is paid);
//   - once the faults stop, every attempt ends paid, failed or reversed;
//   - the simulator recorded no protocol violation (reverse before 15 s, > 1 query/s,
//     close before 5 minutes, ...).
//
// Some sales are paid by QR Code Payment instead: the till shows a code, the simulated
// customer pays it (or not) at a random time — before or after a cancel, after it
// expired — with faults on the native order, queries, the close and the refund.
func TestPropertyFaultSchedules(t *testing.T) {
	propertyChecks(t, 1000)
	qrStats = qrCounts{}
	rapid.Check(t, func(rt *rapid.T) {
		runSchedule(t, rt, wxpay.APIv2)
	})
	t.Logf("QR sales: %d shown, %d paid, %d paid after a cancel (refunded), %d closed unpaid", qrStats.shown, qrStats.paid, qrStats.refunded, qrStats.closed)
	if qrStats.paid == 0 || qrStats.refunded == 0 || qrStats.closed == 0 {
		t.Fatalf("the schedules missed a QR outcome: %+v", qrStats)
	}
}

// qrCounts shows the QR outcomes the schedules reached (a schedule generator that never
// reaches one proves nothing about it).
type qrCounts struct{ shown, paid, refunded, closed int }

var qrStats qrCounts

// TestPropertyFaultSchedulesV3 is the same with the v3 client. Fewer schedules: each v3
// call costs RSA signatures on both sides (the v2 schedules exercise the same engine).
func TestPropertyFaultSchedulesV3(t *testing.T) {
	propertyChecks(t, 60)
	rapid.Check(t, func(rt *rapid.T) {
		runSchedule(t, rt, rapid.SampledFrom([]string{wxpay.APIv3Global, wxpay.APIv3HK}).Draw(rt, "api"))
	})
}

func runSchedule(tt *testing.T, t *rapid.T, api string) {
	clk := enginetest.NewFakeClock(epoch)
	// WeChat's clock is real time (the fake clock's monotonic time): the till's wall
	// clock jumps, WeChat's does not. A slow uplink advances the fake clock.
	sim := wxpaytest.New(wxpaytest.Options{Now: func() time.Time { return epoch.Add(clk.Elapsed()) },
		Sleep:       func(_ context.Context, d time.Duration) bool { clk.Advance(d); return true },
		RefundDelay: time.Duration(rapid.IntRange(0, 20).Draw(t, "refundDelay")) * time.Second})
	defer sim.Close()
	h := &harness{t: tt, clk: clk, st: enginetest.NewMemStore(nil), wx: enginetest.NewFakeWx(clk), cfg: testConfig()}
	h.cfg.PollUntil = rapid.SampledFrom([]time.Duration{30 * time.Second, 45 * time.Second}).Draw(t, "pollUntil")
	h.cfg.QueueRate = 1000
	h.cfg.QRCodePayment = true
	// The wxpay client signs and checks v3 timestamps on WeChat's clock: a till clock an
	// hour off cannot talk v3 at all (WeChat's 5-minute window; the client's own tests
	// cover that). What is under test here is the engine's timing across wall-clock jumps.
	h.gw = simClient(tt, sim, api, simNow{sim})
	startEngine(t, h)
	defer func() { stopEngine(h) }()

	// Outages (sim clock): the network is down, requests dropped or refused.
	for i, n := 0, rapid.IntRange(0, 2).Draw(t, "outages"); i < n; i++ {
		from := time.Duration(rapid.IntRange(0, 60).Draw(t, "outageFrom")) * time.Second
		dur := time.Duration(rapid.IntRange(1, 600).Draw(t, "outageFor")) * time.Second
		status := rapid.SampledFrom([]int{0, 0, 502, 503}).Draw(t, "outageStatus")
		sim.AddOutage(wxpaytest.Outage{From: epoch.Add(from), Until: epoch.Add(from + dur), Status: status})
	}
	nSales := rapid.IntRange(1, 3).Draw(t, "sales")
	var acts []action
	codes := make([]string, nSales)
	amounts := make([]int64, nSales)
	qr := make([]bool, nSales)
	for i := 0; i < nSales; i++ {
		codes[i] = newCode()
		amounts[i] = int64(rapid.IntRange(1, 500000).Draw(t, "amount"))
		// A QR sale's amount is unique in the schedule: its faults are bound by amount.
		qr[i] = rapid.IntRange(0, 2).Draw(t, "qr") == 0
		if qr[i] {
			amounts[i] = amounts[i]*10 + int64(i)
		}
		var faults []wxpaytest.Fault
		for j, n := 0, rapid.IntRange(0, 3).Draw(t, "faults"); j < n; j++ {
			if qr[i] {
				faults = append(faults, drawQRFault(t, fmt.Sprintf("s%df%d", i, j)))
			} else {
				faults = append(faults, drawFault(t, fmt.Sprintf("s%df%d", i, j)))
			}
		}
		at := time.Duration(rapid.IntRange(0, 20).Draw(t, "payAt")) * time.Second
		if qr[i] {
			sim.Script(wxpaytest.Match{NativeAmount: amounts[i]}, faults...)
			acts = append(acts, action{at: at, kind: "qr", sale: i})
			if rapid.IntRange(0, 3).Draw(t, "customerPays") != 0 {
				acts = append(acts, action{at: at + time.Duration(rapid.IntRange(0, 400000).Draw(t, "scanAfterMs"))*time.Millisecond, kind: "scanpay", sale: i})
			}
		} else {
			sim.Script(wxpaytest.Match{AuthCode: codes[i]}, faults...)
			acts = append(acts, action{at: at, kind: "pay", sale: i})
		}
		if rapid.IntRange(0, 3).Draw(t, "refunds") == 0 {
			// A manager refunds part of the sale (if it ends up paid) some time later.
			acts = append(acts, action{at: at + time.Duration(rapid.IntRange(1, 600).Draw(t, "refundAfter"))*time.Second,
				kind: "refund", sale: i, amount: int64(rapid.IntRange(1, int(amounts[i])).Draw(t, "refundAmount"))})
		}
		if rapid.Bool().Draw(t, "cancels") {
			acts = append(acts, action{at: at + time.Duration(rapid.IntRange(0, 60000).Draw(t, "cancelAfterMs"))*time.Millisecond, kind: "cancel", sale: i})
		}
	}
	for i, n := 0, rapid.IntRange(0, 2).Draw(t, "crashes"); i < n; i++ {
		acts = append(acts, action{at: time.Duration(rapid.IntRange(0, 90000).Draw(t, "crashAtMs")) * time.Millisecond, kind: "crash",
			reboot: rapid.IntRange(0, 3).Draw(t, "reboot") == 0})
	}
	// Wall-clock jumps, forward and back, during live attempts and across restarts.
	for i, n := 0, rapid.IntRange(0, 2).Draw(t, "jumps"); i < n; i++ {
		acts = append(acts, action{at: time.Duration(rapid.IntRange(0, 90000).Draw(t, "jumpAtMs")) * time.Millisecond, kind: "jump",
			jump: rapid.SampledFrom([]time.Duration{-time.Hour, -20 * time.Second, 20 * time.Second, time.Hour, 8 * 24 * time.Hour}).Draw(t, "jump")})
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].at < acts[j].at })

	saleIDs := make([]string, nSales)
	qrOTN := make([]string, nSales)
	cashierCancelled := make([]bool, nSales)
	do := func(a action) {
		switch a.kind {
		case "qr":
			s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: amounts[a.sale]})
			if err != nil {
				t.Fatalf("open sale %d: %v", a.sale, err)
			}
			saleIDs[a.sale] = s.ID
			s, err = h.e.ShowQR(context.Background(), s.ID)
			if err != nil {
				t.Fatalf("show QR %d: %v", a.sale, err)
			}
			qrOTN[a.sale] = s.Attempts[len(s.Attempts)-1].OutTradeNo
		case "scanpay":
			// The customer scans and pays, if WeChat still takes it (not closed, not
			// expired, the order exists).
			sim.PayNative(qrOTN[a.sale])
		case "pay":
			s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: amounts[a.sale], AuthCode: codes[a.sale]})
			if err != nil {
				t.Fatalf("open sale %d: %v", a.sale, err)
			}
			saleIDs[a.sale] = s.ID
		case "cancel":
			if saleIDs[a.sale] == "" {
				return
			}
			s, err := h.e.Cancel(context.Background(), saleIDs[a.sale])
			if err == nil && s.State == engine.SaleCancelled {
				cashierCancelled[a.sale] = true
			}
		case "refund":
			if saleIDs[a.sale] == "" {
				return
			}
			_, err := h.e.Refund(context.Background(), saleIDs[a.sale], a.amount, "property")
			var ee *engine.Error
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("refund: %v", err)
			}
		case "crash":
			// Power cut: what the journal holds is all the next posd knows.
			snap := h.st.Clone()
			stopEngine(h)
			h.st = snap
			if a.reboot {
				h.clk.Reboot()
			}
			startEngine(t, h)
		case "jump":
			h.clk.Jump(a.jump)
		}
	}

	allFinal := func() bool {
		if st := h.e.Status(); st.Unresolved > 0 || st.QueueDepth > 0 {
			return false // attempts or refunds still open
		}
		for _, id := range saleIDs {
			if id == "" {
				return false
			}
			s, err := h.e.Sale(id)
			if err != nil {
				t.Fatalf("sale %s: %v", id, err)
			}
			for _, a := range s.Attempts {
				if !a.State.Final() {
					return false
				}
			}
		}
		return true
	}

	limit := 6 * time.Hour
	wallStart, steps := time.Now(), 0
	defer func() {
		if os.Getenv("POSD_PROP_TRACE") != "" {
			fmt.Fprintf(os.Stderr, "idle %v total; ", idleWall)
			fmt.Fprintf(os.Stderr, "schedule %d µs wall, %d steps, %v fake, api %s\n", time.Since(wallStart).Microseconds(), steps, clk.Elapsed(), api)
		}
	}()
	for {
		steps++
		idle(t, h)
		now := clk.Elapsed() // the schedule runs on real time; the wall clock may jump
		for len(acts) > 0 && acts[0].at <= now {
			do(acts[0])
			acts = acts[1:]
			idle(t, h)
		}
		if len(acts) == 0 && allFinal() {
			break
		}
		if now > limit {
			t.Fatalf("not settled after %v of fake time; jobs %+v", limit, mustJobs(h))
		}
		next, ok := clk.NextTimer()
		if len(acts) > 0 && (!ok || acts[0].at-now < next) {
			clk.Advance(acts[0].at - now)
			continue
		}
		if !ok {
			var dump []string
			for _, id := range saleIDs {
				if s, err := h.e.Sale(id); err == nil {
					dump = append(dump, fmt.Sprintf("%s %s %+v", s.ID, s.State, s.Attempts))
				}
			}
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			os.WriteFile("/tmp/stacks.txt", buf, 0o644)
			t.Fatalf("nothing left to wait for and attempts not final: busy %d, jobs %+v, sales %v", h.e.Busy(), mustJobs(h), dump)
		}
		clk.AdvanceToNext()
	}

	// The ledger.
	if v := sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
	orders := map[string]wxpaytest.Order{}
	for _, o := range sim.Orders() {
		orders[o.OutTradeNo] = o
	}
	var paidSales int64
	for i, id := range saleIDs {
		s, _ := h.e.Sale(id)
		paid := 0
		for _, a := range s.Attempts {
			o, known := orders[a.OutTradeNo]
			if a.State == engine.AttemptPaid {
				paid++
				// Paid and not reversed (refunds are the sale's own, checked below).
				if !known || !o.WasPaid || o.State == wxpaytest.StateRevoked {
					t.Fatalf("sale %d: attempt %s paid but WeChat did not keep it (order %+v)", i, a.OutTradeNo, o)
				}
			} else if known && o.Kept() != 0 {
				t.Fatalf("sale %d: attempt %s %s but WeChat keeps %d (order state %s)", i, a.OutTradeNo, a.State, o.Kept(), o.State)
			}
		}
		if paid > 1 {
			t.Fatalf("sale %d paid %d times", i, paid)
		}
		if qr[i] {
			for _, a := range s.Attempts {
				if a.Kind != engine.AttemptKindQR {
					continue
				}
				qrStats.shown++
				o := orders[a.OutTradeNo]
				switch {
				case a.State == engine.AttemptPaid:
					qrStats.paid++
				case o.WasPaid:
					qrStats.refunded++
				case o.State == wxpaytest.StateClosed:
					qrStats.closed++
				}
			}
		}
		if (s.State == engine.SalePaid) != (paid == 1) {
			t.Fatalf("sale %d in state %s with %d paid attempts", i, s.State, paid)
		}
		if cashierCancelled[i] && s.State != engine.SaleCancelled {
			t.Fatalf("sale %d cancelled by the cashier ends %s", i, s.State)
		}
		if s.State == engine.SalePaid {
			paidSales += s.Amount
			for _, r := range s.Refunds {
				switch r.State {
				case engine.RefundSucceeded:
					paidSales -= r.Amount
				case engine.RefundFailed:
				default:
					t.Fatalf("sale %d: refund %s still %s with an empty queue", i, r.OutRefundNo, r.State)
				}
			}
		}
	}
	if got := sim.Captured(); got != paidSales {
		t.Fatalf("WeChat keeps %d, sales paid (less refunds) %d", got, paidSales)
	}
	if st := h.e.Status(); st.Unresolved != 0 {
		t.Fatalf("status %+v", st)
	}
}

// simNow is the simulator's clock as an engine.Clock (only Now is used, by the client).
type simNow struct{ sim *wxpaytest.Server }

func (c simNow) Now() time.Time                         { return c.sim.Now() }
func (c simNow) After(d time.Duration) <-chan time.Time { return time.After(d) }

func startEngine(t *rapid.T, h *harness) {
	e, err := engine.New(h.cfg, h.gw, h.st, h.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.e = e
	h.runQueue()
}

func stopEngine(h *harness) {
	if h.run != nil {
		h.run()
		<-h.ran
		h.run = nil
	}
	h.e.Close()
}

// idle waits until every goroutine of the engine waits for the clock.
var idleWall time.Duration

func idle(t *rapid.T, h *harness) {
	defer func(t0 time.Time) { idleWall += time.Since(t0) }(time.Now())
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; h.e.Busy() != 0; i++ {
		if i < 1000 {
			runtime.Gosched() // the engine usually needs microseconds: do not sleep
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine never idle (busy %d)", h.e.Busy())
		}
		time.Sleep(20 * time.Microsecond)
	}
}

func mustJobs(h *harness) []engine.Job {
	j, _ := h.e.Jobs()
	return j
}
