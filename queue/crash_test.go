package queue

// Crash tests (issue 3, "Proof"): a child process (this test binary, in a child mode) runs
// the real engine on a real bbolt journal against the WeChat Pay simulator, which runs in
// the parent so its ledger survives the child's death. The child is SIGKILLed right after
// its Nth durable Update, for every N in turn, and at random moments; then restarted to
// recover. After recovery the simulator's ledger and the journal must agree: no sale paid
// twice, the money captured equals the sales in state paid, every attempt paid, failed or
// reversed, every order WeChat saw is in the journal, no protocol violation. A SIGTERM in
// the middle of a payment must shut down cleanly and recover the same way.
//
// Time: the child and the simulator share a scaled clock (crashScale× real time, from a
// common epoch, on the same machine), so WeChat's 15–45 s rules take milliseconds.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"

	"posd/queue/engine"
	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// crashScale speeds time up. Real latency is magnified by it too: a micropay that takes
// 100 ms to reach the simulator makes the order 10 s "younger" than the engine's t0. The
// engine reverses at its deadline, PollUntil (45 s here) after t0, so a latency of up to
// (45 − 15) s / crashScale = 300 ms still leaves the 15 s WeChat wants before a reverse.
const crashScale = 100

func init() {
	childModes["crash"] = crashChild
}

// scaledClock runs scale× faster than the wall clock from a shared epoch. Parent (the
// simulator) and child (the engine) compute it from the same wall clock, so they agree.
type scaledClock struct {
	epoch time.Time
	scale int64
}

func (c scaledClock) Now() time.Time {
	return c.epoch.Add(time.Since(c.epoch) * time.Duration(c.scale))
}
func (c scaledClock) real(d time.Duration) time.Duration { return d / time.Duration(c.scale) }
func (c scaledClock) After(d time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	time.AfterFunc(c.real(d), func() { out <- c.Now() })
	return out
}
func (c scaledClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	out := make(chan time.Time, 1)
	t := time.AfterFunc(c.real(d), func() { out <- c.Now() })
	return out, t.Stop
}

// crashSale is one sale of the workload: an amount (the simulator's amount-driven
// behaviour) and the codes tried in turn, each optionally scripted.
type crashSale struct {
	amount int64
	codes  []crashCode
	cancel bool // cancel the sale once its last attempt is final (if not paid)
	// QR Code Payment instead of codes: the till shows a QR code; qrCancel cancels the
	// sale as soon as the code is shown; qrPay has the customer pay it (after the cancel,
	// if any: the payment must then be refunded).
	qr, qrCancel, qrPay bool
}

type crashCode struct {
	fault *wxpaytest.Fault
	then  []wxpaytest.Fault // more faults for the same code (after fault)
	// outage (non-zero): WeChat becomes unreachable as soon as the micropay's outcome is
	// journaled (so the micropay itself gets through and every query fails), until the
	// recovery starts.
	outage time.Duration
}

// crashWorkloads, by name. "main": paid at once; refused then paid with the answer lost on
// the way; the customer never confirms (reversed at the deadline) then the sale is
// cancelled; SYSTEMERROR but paid (found by a query); USERPAYING then paid; a slow uplink
// with a customer who never confirms (reversed 15 s after WeChat's order). "outage": the
// answer to a paid micropay is lost and WeChat is unreachable past the deadline, so the
// attempt goes unresolved into the durable queue, which resolves it once WeChat is back.
var crashWorkloads = map[string][]crashSale{
	"main": {
		{amount: 1001, codes: []crashCode{{}}},
		{amount: 1000, codes: []crashCode{
			{fault: &wxpaytest.Fault{Kind: wxpaytest.FaultFail, Code: "NOTENOUGH"}},
			{fault: &wxpaytest.Fault{Kind: wxpaytest.FaultLost}},
		}},
		{amount: 1018, codes: []crashCode{{}}, cancel: true},
		{amount: 1004, codes: []crashCode{{}}},
		{amount: 1002, codes: []crashCode{{}}},
		// A slow uplink: the micropay reaches WeChat 8 s (scaled) after it left, and the
		// customer never confirms: the reverse must still come 15 s after WeChat's order.
		{amount: 1019, codes: []crashCode{{fault: &wxpaytest.Fault{Kind: wxpaytest.FaultSlowUplink, Delay: 8 * time.Second},
			then: []wxpaytest.Fault{{Kind: wxpaytest.FaultUserPayingForever}}}}},
	},
	// "qr": QR Code Payment. Paid by the customer; cancelled by the cashier and paid by
	// the customer anyway (refunded); never paid (closed once WeChat allows, 5 min 30 s
	// of scaled time after it was created).
	"qr": {
		{amount: 2001, qr: true, qrPay: true},
		{amount: 2002, qr: true, qrCancel: true, qrPay: true},
		{amount: 2003, qr: true},
	},
	"outage": {
		// Without any answer the engine gives up at the deadline (45 s after t0).
		{amount: 1000, codes: []crashCode{{fault: &wxpaytest.Fault{Kind: wxpaytest.FaultLost}, outage: 60 * time.Second}}},
	},
}

// crashRig is the parent's side: simulator, journal path, workload codes.
type crashRig struct {
	t        *testing.T
	sim      *wxpaytest.Server
	clk      scaledClock
	dir      string
	dbPath   string
	caPath   string
	workload string
	codes    [][]string // per sale, per attempt
}

func newCrashRig(t *testing.T, workload string) *crashRig {
	t.Helper()
	r := &crashRig{t: t, clk: scaledClock{epoch: time.Now(), scale: crashScale}, dir: t.TempDir(), workload: workload}
	r.sim = wxpaytest.New(wxpaytest.Options{Now: r.clk.Now, AmountDriven: true,
		// A slow uplink waits on the scaled clock.
		Sleep: func(ctx context.Context, d time.Duration) bool {
			t := time.NewTimer(r.clk.real(d))
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-ctx.Done():
				return false
			}
		}})
	t.Cleanup(r.sim.Close)
	r.dbPath = filepath.Join(r.dir, "state", "posd.db")
	r.caPath = filepath.Join(r.dir, "ca.pem")
	if err := os.WriteFile(r.caPath, r.sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, s := range crashWorkloads[workload] {
		var codes []string
		for j, c := range s.codes {
			code := fmt.Sprintf("13%08d%08d", i*10+j, rand.IntN(1e8))
			if c.fault != nil {
				r.sim.Script(wxpaytest.Match{AuthCode: code}, append([]wxpaytest.Fault{*c.fault}, c.then...)...)
			}
			codes = append(codes, code)
		}
		r.codes = append(r.codes, codes)
	}
	return r
}

// child starts the test binary in crash mode: "work" runs the workload, "recover" only
// recovers. killAt > 0 makes it SIGKILL itself right after its killAt-th durable Update.
func (r *crashRig) child(mode string, killAt int) (*exec.Cmd, childOut, *bytes.Buffer) {
	r.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var codes []string
	for _, c := range r.codes {
		codes = append(codes, strings.Join(c, "+"))
	}
	cmd.Env = append(os.Environ(),
		childEnv+"=crash:"+mode,
		"POSD_CRASH_DB="+r.dbPath,
		"POSD_CRASH_URL="+r.sim.URL(),
		"POSD_CRASH_CA="+r.caPath,
		"POSD_CRASH_EPOCH="+strconv.FormatInt(r.clk.epoch.UnixNano(), 10),
		"POSD_CRASH_SCALE="+strconv.FormatInt(r.clk.scale, 10),
		"POSD_CRASH_KILLAT="+strconv.Itoa(killAt),
		"POSD_CRASH_CODES="+strings.Join(codes, ","),
		"POSD_CRASH_WORKLOAD="+r.workload,
		// Under -race a process sleeps 1 s before exiting by default: 50 children add up.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
	)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	return cmd, childOut{bufio.NewReader(out), in}, stderr
}

// run runs a child to its end and returns its durable Update count and how it ended.
func (r *crashRig) run(mode string, killAt int) (updates int, killed bool) {
	r.t.Helper()
	if mode == "recover" {
		r.sim.EndOutages() // WeChat is back: the durable queue can resolve what is queued
	}
	cmd, out, stderr := r.child(mode, killAt)
	updates, done := r.readChild(out)
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil && done:
		return updates, false
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		return updates, true
	default:
		r.t.Fatalf("%s child (kill at %d): %v, done=%v, after %d updates\n%s", mode, killAt, err, done, updates, stderr)
		return 0, false
	}
}

// childOut is a child's stdout and stdin.
type childOut struct {
	out *bufio.Reader
	in  io.WriteCloser
}

// readChild reads the child's lines: "update N" per durable Update, "outage D" when WeChat
// must become unreachable (until the recovery starts; the child waits for "ok"), "done" at
// the end.
func (r *crashRig) readChild(c childOut) (updates int, done bool) {
	defer c.in.Close()
	for {
		line, err := c.out.ReadString('\n')
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "update "):
			updates++
		case strings.HasPrefix(line, "outage "):
			// WeChat stays unreachable until the recovery starts (run): an outage of a
			// fixed scaled time would end early on a busy machine, where the child needs
			// more real time to reach its deadline, and the attempt would never queue.
			now := r.clk.Now()
			r.sim.AddOutage(wxpaytest.Outage{From: now.Add(-time.Hour), Until: now.Add(100 * 365 * 24 * time.Hour)})
			fmt.Fprintln(c.in, "ok") // the child waits for this before paying
		case strings.HasPrefix(line, "qrpay "):
			// The customer scans and pays, if WeChat still takes it.
			r.sim.PayNative(strings.TrimPrefix(line, "qrpay "))
			fmt.Fprintln(c.in, "ok")
		case line == "done":
			done = true
		}
		if err != nil {
			return updates, done
		}
	}
}

// recoverAndCheck restarts the child until recovery completes, then checks the invariants.
func (r *crashRig) recoverAndCheck(what string) {
	r.t.Helper()
	if _, killed := r.run("recover", 0); killed {
		r.t.Fatalf("%s: recovery child was killed", what)
	}
	r.checkInvariants(what)
}

func (r *crashRig) checkInvariants(what string) {
	t := &failFlag{T: r.t}
	t.Helper()
	db, err := Open(r.dbPath, Options{})
	if err != nil {
		t.Fatalf("%s: open journal: %v", what, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("%s: journal check: %v", what, err)
	}
	var sales []*engine.Sale
	db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bSales).ForEach(func(k, v []byte) error {
			s, err := decodeSale(k, v)
			if err != nil {
				t.Errorf("%s: %v", what, err)
				return nil
			}
			sales = append(sales, s)
			return nil
		})
	})
	attempts := map[string]*engine.Attempt{}
	saleOf := map[string]*engine.Sale{}
	var paidSum int64
	for _, s := range sales {
		paid := 0
		for i := range s.Attempts {
			a := &s.Attempts[i]
			attempts[a.OutTradeNo], saleOf[a.OutTradeNo] = a, s
			if !a.State.Final() {
				t.Errorf("%s: sale %s attempt %s ended %s, want paid, failed or reversed", what, s.ID, a.OutTradeNo, a.State)
			}
			if a.State == engine.AttemptPaid {
				paid++
			}
		}
		if paid > 1 {
			t.Errorf("%s: sale %s has %d paid attempts", what, s.ID, paid)
		}
		if (s.State == engine.SalePaid) != (paid == 1) {
			t.Errorf("%s: sale %s is %s with %d paid attempts", what, s.ID, s.State, paid)
		}
		if s.State == engine.SalePaid {
			paidSum += s.Amount
		}
	}
	kept := map[string]int64{} // sale id → money WeChat kept for it
	for _, o := range r.sim.Orders() {
		a, ok := attempts[o.OutTradeNo]
		if !ok {
			t.Errorf("%s: WeChat has order %s (%s) that the journal does not know", what, o.OutTradeNo, o.State)
			continue
		}
		s := saleOf[o.OutTradeNo]
		kept[s.ID] += o.Kept()
		if (o.Kept() > 0) != (a.State == engine.AttemptPaid) {
			t.Errorf("%s: order %s keeps %d at WeChat (%s) but the journal says %s", what, o.OutTradeNo, o.Kept(), o.State, a.State)
		}
	}
	for _, s := range sales {
		if kept[s.ID] > s.Amount {
			t.Errorf("%s: sale %s of %d: WeChat kept %d (paid more than once)", what, s.ID, s.Amount, kept[s.ID])
		}
	}
	if c := r.sim.Captured(); c != paidSum {
		t.Errorf("%s: WeChat captured %d, the journal's paid sales total %d", what, c, paidSum)
	}
	for _, v := range r.sim.Violations() {
		t.Errorf("%s: protocol violation: %v", what, v)
	}
	if t.failed {
		r.explain(attempts)
	}
}

// failFlag records whether this check failed (t.Failed stays true for later checks).
type failFlag struct {
	*testing.T
	failed bool
}

func (f *failFlag) Errorf(format string, a ...any) {
	f.T.Helper()
	f.failed = true
	f.T.Errorf(format, a...)
}

// explain logs what WeChat saw and what the journal says, attempt by attempt.
func (r *crashRig) explain(attempts map[string]*engine.Attempt) {
	for _, q := range r.sim.Requests() {
		r.t.Logf("  wechat %s %-9s %s → %d %s %s", q.Time.Sub(r.clk.epoch).Round(time.Millisecond), q.Endpoint, q.OutTradeNo, q.Status, q.Outcome, q.Fault)
	}
	for otn, a := range attempts {
		r.t.Logf("  journal %s %s started %s", otn, a.State, a.StartedAt.Sub(r.clk.epoch).Round(time.Millisecond))
		for _, e := range a.Events {
			r.t.Logf("    %s %s %s %s %s", e.At.Sub(r.clk.epoch).Round(time.Millisecond), e.Call, e.Outcome, e.Code, e.Detail)
		}
	}
}

// TestCrash_KillAtEveryJournaledStep: SIGKILL right after each durable Update in turn.
func TestCrash_KillAtEveryJournaledStep(t *testing.T) { killAtEveryStep(t, "main", 10, false) }

// TestCrash_QRKillAtEveryJournaledStep: the same for QR Code Payment: killed while the
// code is being requested, shown, cancelled, paid after the cancel, refunded, closed.
func TestCrash_QRKillAtEveryJournaledStep(t *testing.T) {
	killAtEveryStep(t, "qr", 6, true)
	// Without kills the workload reaches each outcome (else it tests less than it says).
	r := newCrashRig(t, "qr")
	r.run("work", 0)
	r.recoverAndCheck("qr outcomes")
	got := map[int64]string{}
	for _, o := range r.sim.Orders() {
		switch {
		case o.Kept() > 0:
			got[o.Amount] = "paid"
		case o.WasPaid:
			got[o.Amount] = "refunded"
		default:
			got[o.Amount] = o.State
		}
	}
	if got[2001] != "paid" || got[2002] != "refunded" || got[2003] != wxpaytest.StateClosed {
		t.Fatalf("QR outcomes at WeChat: %v", got)
	}
}

// TestCrash_KillDuringOutage: the same through an outage, so kills land while the attempt
// is unresolved and its job waits in the durable queue, and while the queue resolves it.
func TestCrash_KillDuringOutage(t *testing.T) {
	killAtEveryStep(t, "outage", 3, true)
	r := newCrashRig(t, "outage")
	r.run("work", 0)
	var queued bool
	db, err := Open(r.dbPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The workload ends with the job still queued (WeChat was down past the deadline).
	db.View(func(tx engine.ReadTx) error {
		jobs, _ := tx.Jobs()
		queued = len(jobs) > 0
		return nil
	})
	db.Close()
	if !queued {
		t.Error("the outage workload left no job in the durable queue: it does not test the queue")
	}
}

// killAtEveryStep kills the workload after each of its durable Updates in turn; with
// inRecovery, it also lets the workload finish and kills the recovery after each of its
// Updates (the durable queue at work).
func killAtEveryStep(t *testing.T, workload string, minUpdates int, inRecovery bool) {
	base := newCrashRig(t, workload)
	total, killed := base.run("work", 0)
	if killed || total < minUpdates {
		t.Fatalf("workload without a kill: %d updates, killed=%v", total, killed)
	}
	recovery, killed := base.run("recover", 0)
	if killed {
		t.Fatal("recovery without a kill was killed")
	}
	base.checkInvariants("no crash")
	t.Logf("%s: the workload journals %d durable updates, its recovery %d; killing after each", workload, total, recovery)
	for n := 1; n <= total; n++ {
		r := newCrashRig(t, workload)
		_, killed := r.run("work", n)
		what := fmt.Sprintf("%s: killed after update %d/%d", workload, n, total)
		if !killed {
			// Timing moved work around (e.g. fewer polls): this run needed fewer updates.
			what = fmt.Sprintf("%s: run asked to die after update %d finished first", workload, n)
		}
		r.recoverAndCheck(what)
	}
	if !inRecovery {
		return
	}
	for n := 1; n <= recovery; n++ {
		r := newCrashRig(t, workload)
		r.run("work", 0)
		r.run("recover", n)
		r.recoverAndCheck(fmt.Sprintf("%s: recovery killed after update %d/%d", workload, n, recovery))
	}
}

// TestCrash_KillAtRandomMoments: SIGKILL at random real-time points of the workload, and a
// second kill during recovery.
func TestCrash_KillAtRandomMoments(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("seed %d", seed)
	for i := 0; i < 4; i++ {
		r := newCrashRig(t, "main")
		for _, mode := range []string{"work", "recover"} {
			cmd, out, _ := r.child(mode, 0)
			go r.readChild(out)
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		}
		r.recoverAndCheck(fmt.Sprintf("random kill #%d (seed %d)", i, seed))
	}
}

// TestCrash_SIGTERMMidPayment: SIGTERM while the customer is confirming on the phone; the
// child must stop promptly and cleanly, and the restarted child must finish the attempt.
func TestCrash_SIGTERMMidPayment(t *testing.T) {
	r := newCrashRig(t, "main")
	cmd, out, stderr := r.child("sigterm", 0)
	for {
		line, err := out.out.ReadString('\n')
		if err != nil {
			t.Fatalf("child ended before paying: %v\n%s", err, stderr)
		}
		if strings.TrimSpace(line) == "paying" {
			break
		}
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	go io.Copy(io.Discard, out.out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child after SIGTERM: %v\n%s", err, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	// The order is still USERPAYING at WeChat: the attempt was left to recovery.
	r.recoverAndCheck("SIGTERM mid-payment")
}

// crashChild is the child process: the real engine, real journal, real wxpay client.
func crashChild(mode string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", a...)
		return 1
	}
	epoch, _ := strconv.ParseInt(os.Getenv("POSD_CRASH_EPOCH"), 10, 64)
	scale, _ := strconv.ParseInt(os.Getenv("POSD_CRASH_SCALE"), 10, 64)
	killAt, _ := strconv.Atoi(os.Getenv("POSD_CRASH_KILLAT"))
	clk := scaledClock{epoch: time.Unix(0, epoch), scale: scale}

	db, err := Open(os.Getenv("POSD_CRASH_DB"), Options{})
	if err != nil {
		return fail("open: %v", err)
	}
	st := &killingStore{DB: db, killAt: int64(killAt)}
	gw, err := crashGateway(clk)
	if err != nil {
		return fail("gateway: %v", err)
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	eng, err := engine.New(engine.Config{StoreID: "HK001", TillID: "T01", Description: "crash test",
		PollUntil: engine.MaxPollUntil, QRCodePayment: true}, gw, st, clk, log)
	if err != nil {
		return fail("engine: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	if err := eng.Recover(ctx); err != nil {
		return fail("recover: %v", err)
	}
	runDone := make(chan struct{})
	go func() { defer close(runDone); eng.Run(ctx) }()
	shutdown := func() int {
		eng.Stop()
		cancel()
		// Run first, then Close: Close while Run still launches jobs races on the engine's
		// WaitGroup (Add during Wait; reported to the engine, seen under -race).
		<-runDone
		eng.Close()
		if err := db.Close(); err != nil {
			return fail("close: %v", err)
		}
		return 0
	}
	// settle polls cond for up to 20 s of real time (minutes of scaled time).
	settle := func(cond func() bool) bool {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if cond() {
				return true
			}
		}
		return false
	}
	// settled: the sale's last attempt is final, or handed to the durable queue.
	settled := func(id string) bool {
		s, err := eng.Sale(id)
		if err != nil || len(s.Attempts) == 0 {
			return false
		}
		st := s.Attempts[len(s.Attempts)-1].State
		return st.Final() || st == engine.AttemptUnresolved
	}

	codes := strings.Split(os.Getenv("POSD_CRASH_CODES"), ",")
	switch mode {
	case "work":
		for i, spec := range crashWorkloads[os.Getenv("POSD_CRASH_WORKLOAD")] {
			s, err := eng.OpenSale(ctx, engine.OpenSaleRequest{Amount: spec.amount, Currency: "HKD", Reference: fmt.Sprintf("w%d", i)})
			if err != nil {
				return fail("open sale: %v", err)
			}
			if spec.qr {
				if rc := qrWork(ctx, eng, s.ID, spec, settle, settled, fail); rc != 0 {
					return rc
				}
				continue
			}
			for j, code := range strings.Split(codes[i], "+") {
				st.outage.Store(int64(spec.codes[j].outage))
				if _, err := eng.Pay(ctx, s.ID, code); err != nil {
					return fail("pay %s: %v", s.ID, err)
				}
				if !settle(func() bool { return settled(s.ID) }) {
					return fail("sale %s did not settle", s.ID)
				}
			}
			if spec.cancel {
				if cur, _ := eng.Sale(s.ID); cur.State != engine.SalePaid {
					if _, err := eng.Cancel(ctx, s.ID); err != nil {
						return fail("cancel %s: %v", s.ID, err)
					}
				}
			}
		}
	case "recover":
		idle := func() bool {
			stt := eng.Status()
			return stt.Ready && stt.Unresolved == 0 && stt.QueueDepth == 0
		}
		if !settle(idle) {
			return fail("recovery did not finish: %+v", eng.Status())
		}
	case "sigterm":
		// USERPAYING for 20 s (past the reverse floor), then paid.
		s, err := eng.OpenSale(ctx, engine.OpenSaleRequest{Amount: 1017, Currency: "HKD"})
		if err != nil {
			return fail("open sale: %v", err)
		}
		if _, err := eng.Pay(ctx, s.ID, strings.Split(codes[0], "+")[0]); err != nil {
			return fail("pay: %v", err)
		}
		fmt.Println("paying")
		<-terms
		return shutdown()
	}
	if rc := shutdown(); rc != 0 {
		return rc
	}
	fmt.Println("done")
	return 0
}

// qrWork is a QR sale of the workload: the code is shown, then cancelled and/or paid by the
// customer (the parent's simulator, asked on stdout) as the spec says.
func qrWork(ctx context.Context, eng *engine.Engine, id string, spec crashSale, settle func(func() bool) bool, settled func(string) bool, fail func(string, ...any) int) int {
	s, err := eng.ShowQR(ctx, id)
	if err != nil {
		return fail("show QR %s: %v", id, err)
	}
	otn := s.Attempts[len(s.Attempts)-1].OutTradeNo
	shown := func() bool {
		cur, err := eng.Sale(id)
		if err != nil {
			return false
		}
		a := cur.Attempts[len(cur.Attempts)-1]
		return a.CodeURL != "" || a.State.Final() || a.State == engine.AttemptUnresolved
	}
	if !settle(shown) {
		return fail("sale %s: no QR code", id)
	}
	if spec.qrCancel {
		if _, err := eng.Cancel(ctx, id); err != nil {
			return fail("cancel %s: %v", id, err)
		}
	}
	if spec.qrPay {
		fmt.Printf("qrpay %s\n", otn)
		bufio.NewReader(os.Stdin).ReadString('\n')
		if !spec.qrCancel && !settle(func() bool { return settled(id) }) {
			return fail("sale %s did not settle", id)
		}
	}
	return 0
}

// killingStore is the journal, reporting each durable Update on stdout and killing the
// process (SIGKILL: no deferred code, no flush, like a power cut for the process) right
// after the killAt-th one.
type killingStore struct {
	*DB
	n      atomic.Int64
	killAt int64
	outage atomic.Int64 // a wanted outage (time.Duration), 0 once asked for
}

func (s *killingStore) Update(fn func(engine.Tx) error) error {
	err := s.DB.Update(fn)
	if err == nil {
		n := s.n.Add(1)
		fmt.Printf("update %d\n", n)
		if n == s.killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		s.maybeOutage()
	}
	return err
}

// maybeOutage: once a micropay's outcome is journaled while an outage is wanted, ask the
// parent to cut WeChat off and wait until it has, before the engine (blocked in this
// Update) can send its first query.
func (s *killingStore) maybeOutage() {
	d := time.Duration(s.outage.Load())
	if d == 0 {
		return
	}
	sent := false
	s.DB.View(func(tx engine.ReadTx) error {
		open, _ := tx.OpenSales()
		for _, sale := range open {
			for _, a := range sale.Attempts {
				for _, e := range a.Events {
					sent = sent || e.Call == "micropay"
				}
			}
		}
		return nil
	})
	if sent && s.outage.CompareAndSwap(int64(d), 0) {
		fmt.Printf("outage %s\n", d)
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
}

// crashGateway is the real wxpay client (v3) set up for the parent's simulator, with its
// built-in throwaway credentials (wxpaytest.DefaultCredentials) and the scaled clock.
func crashGateway(clk scaledClock) (wxpay.Client, error) {
	ca, err := os.ReadFile(os.Getenv("POSD_CRASH_CA"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	cr := wxpaytest.DefaultCredentials()
	parse := func(p []byte) (*x509.Certificate, error) {
		b, _ := pem.Decode(p)
		if b == nil {
			return nil, errors.New("no PEM")
		}
		return x509.ParseCertificate(b.Bytes)
	}
	mcert, err := parse(cr.MerchantCertPEM)
	if err != nil {
		return nil, fmt.Errorf("merchant cert: %w", err)
	}
	plat, err := parse(cr.PlatformCertPEM)
	if err != nil {
		return nil, fmt.Errorf("platform cert: %w", err)
	}
	kb, _ := pem.Decode(cr.MerchantKeyPEM)
	if kb == nil {
		return nil, errors.New("merchant key: no PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("merchant key: %w", err)
	}
	pair, err := tls.X509KeyPair(cr.ClientCertPEM, cr.ClientKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("client cert: %w", err)
	}
	return wxpay.New(wxpay.Config{
		API: wxpay.APIv3Global, BaseURL: os.Getenv("POSD_CRASH_URL"), RootCAs: roots,
		Currency: "HKD", MerchantCategoryCode: "5411", AppID: cr.AppID, MchID: cr.MchID,
		APIKey: cr.APIKey, SignType: wxpay.SignTypeHMACSHA256, ClientCert: &pair,
		PrivateKey: key.(*rsa.PrivateKey), MerchantSerialNo: strings.ToUpper(mcert.SerialNumber.Text(16)),
		APIv3Key: cr.APIv3Key, PlatformCerts: []*x509.Certificate{plat},
		DeviceID: "T01", StoreID: "HK001", StoreName: "Demo Store", ClientIP: "127.0.0.1",
		NotifyURL: wxpaytest.NotifyURL, Now: clk.Now,
	})
}
