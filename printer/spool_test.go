package printer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"posd/printer/printertest"
)

func openDB(tb testing.TB, path string) *bbolt.DB {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func fastOptions() SpoolOptions {
	return SpoolOptions{
		Format:         Format{Encoding: "big5", Columns: 42, DrawerKick: true},
		MinBackoff:     time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
		StatusInterval: -1,
		JobTimeout:     5 * time.Second,
	}
}

func newTestSpool(t *testing.T, p Printer) (*Spool, *bbolt.DB) {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "posd.db"))
	s, err := NewSpool(db, p, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); db.Close() })
	return s, db
}

func jobState(t *testing.T, s *Spool, id string) JobState {
	t.Helper()
	j, err := s.Job(id)
	if err != nil {
		t.Fatal(err)
	}
	return j.State
}

func decoded(t *testing.T, b []byte) string {
	t.Helper()
	s, err := DecodeText(b, "big5")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpool_PrintsOnce(t *testing.T) {
	v := NewVirtual(0)
	s, _ := newTestSpool(t, v)
	r := sampleReceipt()
	id1, err := s.Enqueue(r)
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := s.Enqueue(r)
	if id1 != id2 || id1 != "sale:s_20261126_0001:HK001T0120261126000001A1" {
		t.Fatalf("ids %q %q: the same receipt must be the same job", id1, id2)
	}
	waitFor(t, "job done", func() bool { return jobState(t, s, id1) == JobDone })
	if _, err := s.Enqueue(r); err != nil { // after it printed, too
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	got := v.Receipts()
	if len(got) != 1 {
		t.Fatalf("printed %d times, want once", len(got))
	}
	text := decoded(t, got[0].Data)
	if !strings.Contains(text, "[DRAWER]") || strings.Contains(text, "COPY") {
		t.Errorf("first print of a paid sale: drawer kick, no COPY:\n%s", text)
	}
	j, _ := s.Job(id1)
	if j.Tries != 1 || j.DoneAt.IsZero() || j.Interrupted {
		t.Errorf("job %+v", j)
	}
	if st := s.Status(); st.State != "ready" || st.Pending != 0 || !st.Healthy() {
		t.Errorf("status %+v", st)
	}
}

func TestSpool_ReprintIsACopy(t *testing.T) {
	v := NewVirtual(0)
	s, _ := newTestSpool(t, v)
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "original printed", func() bool { return jobState(t, s, id) == JobDone })
	c1, err := s.Reprint(id)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := s.Reprint(id)
	if c1 == c2 || !strings.HasPrefix(c1, "copy:"+id+":") {
		t.Fatalf("copy ids %q %q", c1, c2)
	}
	waitFor(t, "copies printed", func() bool { return len(v.Receipts()) == 3 })
	for _, r := range v.Receipts()[1:] {
		text := decoded(t, r.Data)
		if !strings.Contains(text, "*** COPY 副本 ***") || strings.Contains(text, "[DRAWER]") {
			t.Errorf("copy must say COPY and not open the drawer:\n%s", text)
		}
	}
	if _, err := s.Reprint("sale:nope:x"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("reprint of unknown job: %v", err)
	}
	jobs, _ := s.Jobs()
	if len(jobs) != 3 || jobs[0].ID != id || jobs[1].ID != c1 || jobs[2].ID != c2 {
		t.Errorf("Jobs() not in enqueue order: %v", jobIDs(jobs))
	}
}

func jobIDs(js []Job) []string {
	var ids []string
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}

func TestSpool_PaperOutHoldsJob(t *testing.T) {
	for name, st := range map[string]Status{
		"paper out":  {PaperOut: true, Offline: true},
		"cover open": {CoverOpen: true, Offline: true},
	} {
		t.Run(name, func(t *testing.T) {
			v := NewVirtual(0)
			v.SetStatus(st, nil)
			s, _ := newTestSpool(t, v)
			id, _ := s.Enqueue(sampleReceipt())
			waitFor(t, "job held", func() bool { return jobState(t, s, id) == JobWaitingPaper })
			ss := s.Status()
			if string(ss.State) != name || !ss.Waiting || ss.Pending != 1 || ss.Healthy() || ss.Printer == nil {
				t.Errorf("status %+v, want %s and waiting", ss, name)
			}
			if n := len(v.Receipts()); n != 0 {
				t.Fatalf("printed %d receipts into a printer with %s", n, name)
			}
			v.SetStatus(Status{}, nil) // paper loaded, cover closed
			waitFor(t, "job printed", func() bool { return jobState(t, s, id) == JobDone })
			if len(v.Receipts()) != 1 || s.Status().State != "ready" {
				t.Errorf("after recovery: %d receipts, status %+v", len(v.Receipts()), s.Status())
			}
		})
	}
}

func TestSpool_PrintsAnywayWithoutStatus(t *testing.T) {
	v := NewVirtual(0)
	v.SetStatus(Status{}, fmt.Errorf("one-way cable: %w", ErrNoStatus))
	s, _ := newTestSpool(t, v)
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "printed", func() bool { return jobState(t, s, id) == JobDone })
	if st := s.Status(); st.StatusError == "" || st.State != "ready" {
		t.Errorf("status %+v", st)
	}
}

func TestSpool_WaitsForPrinterAndRetries(t *testing.T) {
	v := NewVirtual(0)
	fails := 3
	v.SetWriteHook(func(ctx context.Context, job []byte) error {
		if fails > 0 {
			fails--
			return errors.New("connect printer: connection refused")
		}
		return nil
	})
	s, _ := newTestSpool(t, v)
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "printed", func() bool { return jobState(t, s, id) == JobDone })
	j, _ := s.Job(id)
	if j.Tries != 4 || j.Interrupted || len(v.Receipts()) != 1 {
		t.Errorf("job %+v, %d receipts", j, len(v.Receipts()))
	}
	if strings.Contains(decoded(t, v.Receipts()[0].Data), "INTERRUPTION") {
		t.Error("a job that never reached the printer is marked as interrupted")
	}
}

func TestSpool_Order(t *testing.T) {
	v := NewVirtual(0)
	s, _ := newTestSpool(t, v)
	for i := range 5 {
		r := sampleReceipt()
		r.SaleID = fmt.Sprintf("s%d", i)
		if _, err := s.Enqueue(r); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all printed", func() bool { return len(v.Receipts()) == 5 })
	for i, r := range v.Receipts() {
		if !strings.Contains(decoded(t, r.Data), fmt.Sprintf(" s%d\n", i)) {
			t.Errorf("receipt %d out of order", i)
		}
	}
}

// A network printer that vanishes mid-job: the job is retried, printed complete exactly
// once with the interruption mark, and only then marked done.
func TestSpool_TCPPrinterVanishesMidJob(t *testing.T) {
	srv := printertest.NewServer(t)
	srv.DropNextAfter(120)
	p := &TCP{Address: srv.Addr, ConnectTimeout: 2 * time.Second, WriteTimeout: 5 * time.Second, StatusTimeout: 2 * time.Second}
	s, _ := newTestSpool(t, p)
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "job done", func() bool { return jobState(t, s, id) == JobDone })
	j, _ := s.Job(id)
	if j.Tries != 2 || !j.Interrupted {
		t.Errorf("job %+v: want 2 tries, interrupted", j)
	}
	jobs := srv.Jobs()
	complete := 0
	for _, b := range jobs {
		if bytes.Contains(b, cmdCutPartial) {
			complete++
			text := decoded(t, b)
			if !strings.Contains(text, "REPRINT AFTER INTERRUPTION") {
				t.Errorf("the reprint is not marked:\n%s", text)
			}
			if strings.Contains(text, "[DRAWER]") {
				t.Error("the reprint opened the drawer again")
			}
		}
	}
	if complete != 1 || len(jobs) != 2 || len(jobs[0]) != 120 {
		t.Errorf("printer got %d connections with data, %d complete receipts (want a 120-byte fragment and 1 complete)", len(jobs), complete)
	}
}

func TestSpool_SurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db := openDB(t, path)
	away := NewVirtual(0)
	away.SetWriteHook(func(context.Context, []byte) error { return errors.New("printer off") })
	s, err := NewSpool(db, away, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "job waiting", func() bool { return jobState(t, s, id) == JobWaitingPrinter })
	if st := s.Status(); !st.Waiting || st.LastError == "" || st.Healthy() {
		t.Errorf("status %+v, want waiting with the error", st)
	}
	s.Close()
	// A second job that a crash left half-written: the journal says "printing".
	err = db.Update(func(tx *bbolt.Tx) error {
		seq, _ := tx.Bucket(bucketJobs).NextSequence()
		r := sampleReceipt()
		r.Kind, r.OutRefundNo, r.RefundAmount = KindRefund, "R1", 300
		j := Job{ID: r.JobID(), Seq: seq, Kind: KindRefund, State: JobPrinting, Receipt: &r, Tries: 1}
		v, _ := json.Marshal(j)
		if err := tx.Bucket(bucketJobs).Put([]byte(j.ID), v); err != nil {
			return err
		}
		return tx.Bucket(bucketQueue).Put(seqKey(seq), []byte(j.ID))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openDB(t, path)
	defer db.Close()
	v := NewVirtual(0)
	s, err = NewSpool(db, v, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "both jobs printed after restart", func() bool {
		return jobState(t, s, id) == JobDone && jobState(t, s, "refund:s_20261126_0001:R1") == JobDone
	})
	if len(v.Receipts()) != 2 {
		t.Fatalf("%d receipts after restart, want 2", len(v.Receipts()))
	}
	if strings.Contains(decoded(t, v.Receipts()[0].Data), "INTERRUPTION") {
		t.Error("the job that never started printing is marked interrupted")
	}
	if !strings.Contains(decoded(t, v.Receipts()[1].Data), "REPRINT AFTER INTERRUPTION") {
		t.Error("the job cut off by the crash is not marked as a reprint")
	}
}

// The payment path's only printer work is Enqueue: one small bbolt write. With the
// printer stuck in the middle of a job, Enqueue still returns at once. The database runs
// without fsync here so the measure is the spool's own cost (microseconds), not the
// disk's; with fsync, Enqueue costs one commit, as any journal write does.
func TestSpool_EnqueueNeverWaitsForPrinter(t *testing.T) {
	v := NewVirtual(0)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	v.SetWriteHook(func(ctx context.Context, job []byte) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "posd.db"), 0o600, &bbolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSpool(db, v, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer s.Close()
	defer close(release)
	if _, err := s.Enqueue(sampleReceipt()); err != nil {
		t.Fatal(err)
	}
	<-entered // the printer now holds the spool's goroutine
	var times []time.Duration
	for i := range 100 {
		r := sampleReceipt()
		r.SaleID = fmt.Sprintf("s%03d", i)
		start := time.Now()
		if _, err := s.Enqueue(r); err != nil {
			t.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	t.Logf("Enqueue with the printer blocked: median %v, p99 %v, max %v", times[50], times[98], times[99])
	if times[50] > 10*time.Millisecond {
		t.Errorf("median Enqueue %v: the payment path is waiting", times[50])
	}
	if st := s.Status(); st.Pending != 101 || st.State != "printing" {
		t.Errorf("status %+v", st)
	}
}

func TestSpool_Disabled(t *testing.T) {
	s, _ := newTestSpool(t, None{})
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "job failed", func() bool { return jobState(t, s, id) == JobFailed })
	if st := s.Status(); st.State != "disabled" || st.Pending != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestSpool_Report(t *testing.T) {
	v := NewVirtual(0)
	s, _ := newTestSpool(t, v)
	d := sampleReport()
	id1, _ := s.EnqueueReport(d)
	id2, _ := s.EnqueueReport(d)
	if id1 != id2 {
		t.Errorf("same report, two jobs: %q %q", id1, id2)
	}
	waitFor(t, "report printed", func() bool { return jobState(t, s, id1) == JobDone })
	c, _ := s.Reprint(id1)
	waitFor(t, "copy printed", func() bool { return jobState(t, s, c) == JobDone })
	if len(v.Receipts()) != 2 || !strings.Contains(decoded(t, v.Receipts()[1].Data), "COPY") {
		t.Error("report reprint")
	}
	if _, err := s.Enqueue(Receipt{Kind: "bogus", SaleID: "x"}); err == nil {
		t.Error("bogus kind accepted")
	}
}

// BenchmarkEnqueueWhilePrinterBlocked measures Enqueue while the printer holds the
// spool's goroutine: "nosync" is the spool's own cost, "fsync" adds the disk commit.
func BenchmarkEnqueueWhilePrinterBlocked(b *testing.B) {
	for _, noSync := range []bool{true, false} {
		name := map[bool]string{true: "nosync", false: "fsync"}[noSync]
		b.Run(name, func(b *testing.B) { benchEnqueue(b, noSync) })
	}
}

// BenchmarkEnqueueTx is the print job added inside the payment's own transaction.
func BenchmarkEnqueueTx(b *testing.B) {
	v := NewVirtual(0)
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "posd.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := NewSpool(db, v, fastOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tx, err := db.Begin(true)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	r := sampleReceipt()
	i := 0
	for b.Loop() {
		i++
		r.SaleID = fmt.Sprintf("s%d", i)
		if _, err := s.EnqueueTx(tx, r); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEnqueue(b *testing.B, noSync bool) {
	v := NewVirtual(0)
	v.SetWriteHook(func(ctx context.Context, job []byte) error { <-ctx.Done(); return ctx.Err() })
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "posd.db"), 0o600, &bbolt.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSpool(db, v, fastOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	defer s.Close()
	r := sampleReceipt()
	i := 0
	for b.Loop() {
		i++
		r.SaleID = fmt.Sprintf("s%d", i)
		if _, err := s.Enqueue(r); err != nil {
			b.Fatal(err)
		}
	}
}

// With no job to print, the spool still asks the printer now and then, so the cashier
// sees "paper out" before the next sale rather than after it.
func TestSpool_IdleStatusPoll(t *testing.T) {
	v := NewVirtual(0)
	db := openDB(t, filepath.Join(t.TempDir(), "posd.db"))
	defer db.Close()
	o := fastOptions()
	o.StatusInterval = time.Millisecond
	s, err := NewSpool(db, v, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v.SetStatus(Status{PaperOut: true, Offline: true}, nil)
	waitFor(t, "paper out seen while idle", func() bool { return s.Status().State == "paper out" })
	v.SetStatus(Status{PaperNearEnd: true}, nil)
	waitFor(t, "ready again", func() bool {
		st := s.Status()
		return st.State == "ready" && st.Printer != nil && st.Printer.PaperNearEnd
	})
}

func TestSpool_RetryNow(t *testing.T) {
	v := NewVirtual(0)
	v.SetStatus(Status{PaperOut: true, Offline: true}, nil)
	db := openDB(t, filepath.Join(t.TempDir(), "posd.db"))
	defer db.Close()
	o := fastOptions()
	o.MinBackoff, o.MaxBackoff = time.Hour, time.Hour // only RetryNow can end the wait
	s, err := NewSpool(db, v, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "job held", func() bool { return jobState(t, s, id) == JobWaitingPaper })
	v.SetStatus(Status{}, nil)
	s.RetryNow()
	waitFor(t, "printed after retry", func() bool { return jobState(t, s, id) == JobDone })
}

func TestSpool_Cancel(t *testing.T) {
	v := NewVirtual(0)
	v.SetWriteHook(func(_ context.Context, job []byte) error {
		if strings.Contains(string(job), "s_stuck") {
			return errors.New("connect printer: no route to host")
		}
		return nil
	})
	s, _ := newTestSpool(t, v)
	stuck := sampleReceipt()
	stuck.SaleID = "s_stuck"
	id1, _ := s.Enqueue(stuck)
	id2, _ := s.Enqueue(sampleReceipt())
	waitFor(t, "first job retrying", func() bool { j, _ := s.Job(id1); return j.Tries >= 2 })
	if jobState(t, s, id2) != JobQueued {
		t.Fatal("the second job overtook the first")
	}
	if err := s.Cancel(id1, "printer replaced"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second job printed", func() bool { return jobState(t, s, id2) == JobDone })
	j, _ := s.Job(id1)
	if j.State != JobFailed || j.LastError != "printer replaced" {
		t.Errorf("cancelled job %+v", j)
	}
	if err := s.Cancel("nope", ""); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("cancel unknown: %v", err)
	}
}
