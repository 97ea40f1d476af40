package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posd/queue/engine"
)

func TestOpen_CreatesPrivateFileAndDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "posd", "posd.db")
	db := mustOpenPath(t, path)
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	dst, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	if db.Location().String() != "Asia/Hong_Kong" && db.Location().String() != "HKT" {
		t.Errorf("default location %v", db.Location())
	}
}

func TestOpen_TightensWideMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db := mustOpenPath(t, path)
	put(t, db, paidSale("s1", t0))
	db.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path)
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after reopen, want 0600", st.Mode().Perm())
	}
	if _, err := getSale(t, db, "s1"); err != nil {
		t.Errorf("sale after reopen: %v", err)
	}
}

func TestSale_PutGetVersion(t *testing.T) {
	db := mustOpen(t)
	s := paidSale("s1", t0)
	put(t, db, s)
	if s.Version != 1 {
		t.Errorf("version after first put = %d, want 1", s.Version)
	}
	got, err := getSale(t, db, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(s.CreatedAt) || got.Version != 1 || len(got.Attempts) != 1 || got.Attempts[0].TransactionID != "4200s1" {
		t.Errorf("got %+v", got)
	}
	// A write of a stale copy still moves the version forward.
	stale := *got
	stale.Version = 0
	put(t, db, got)
	put(t, db, &stale)
	if got.Version != 2 || stale.Version != 3 {
		t.Errorf("versions %d, %d; want 2, 3", got.Version, stale.Version)
	}
	if _, err := getSale(t, db, "nope"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("missing sale: err %v, want ErrNotFound", err)
	}
	if _, err := getSale(t, db, ""); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("empty id: err %v, want ErrNotFound", err)
	}
	err = db.Update(func(tx engine.Tx) error { return tx.PutSale(&engine.Sale{}) })
	if err == nil {
		t.Error("put of a sale without id succeeded")
	}
}

func TestSale_StoredRecordHasSchemaVersion(t *testing.T) {
	db := mustOpen(t)
	put(t, db, paidSale("s1", t0))
	db.Bolt().View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bSales).Get([]byte("s1"))
		if !bytes.HasPrefix(v, []byte(`{"v":1,`)) {
			t.Errorf("stored value %.40s..., want a version field first", v)
		}
		return nil
	})
}

func TestSaleByOutTradeNo(t *testing.T) {
	db := mustOpen(t)
	s := paidSale("s1", t0)
	s.Attempts = append([]engine.Attempt{{OutTradeNo: "first", State: engine.AttemptFailed, CodeHash: "h0"}}, s.Attempts...)
	put(t, db, s)
	for _, otn := range []string{"first", "HK01_T1_s1"} {
		err := db.View(func(tx engine.ReadTx) error {
			got, err := tx.SaleByOutTradeNo(otn)
			if err == nil && got.ID != "s1" {
				t.Errorf("%s → sale %s", otn, got.ID)
			}
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", otn, err)
		}
	}
	db.View(func(tx engine.ReadTx) error {
		if _, err := tx.SaleByOutTradeNo("other"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("unknown out_trade_no: %v", err)
		}
		return nil
	})
	// Another sale may never take an out_trade_no already used.
	other := paidSale("s2", t0)
	other.Attempts[0].OutTradeNo = "first"
	err := db.Update(func(tx engine.Tx) error { return tx.PutSale(other) })
	if err == nil || !strings.Contains(err.Error(), "already belongs to sale s1") {
		t.Errorf("reused out_trade_no: err %v", err)
	}
	if _, err := getSale(t, db, "s2"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("refused sale was written: %v", err)
	}
}

func TestUpdate_ErrorWritesNothing(t *testing.T) {
	db := mustOpen(t)
	boom := errors.New("boom")
	before := db.Commits()
	err := db.Update(func(tx engine.Tx) error {
		if err := tx.PutSale(paidSale("s1", t0)); err != nil {
			return err
		}
		if err := tx.PutJob(engine.Job{ID: "resolve:x", SaleID: "s1", Due: t0}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Errorf("Update returned %v, want fn's own error", err)
	}
	if _, err := getSale(t, db, "s1"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("rolled-back sale is visible: %v", err)
	}
	if db.Commits() != before {
		t.Errorf("commits %d → %d after a rolled-back Update", before, db.Commits())
	}
}

func TestSalesByDay_NewestFirstAndTimeZone(t *testing.T) {
	db := mustOpen(t)
	hk := db.Location()
	day := func(h, m int) time.Time { return time.Date(2026, 11, 26, h, m, 0, 0, hk) }
	put(t, db,
		paidSale("morning", day(9, 0)),
		paidSale("noon", day(12, 0)),
		paidSale("late", day(23, 59)),
		// 16:30 UTC on the 25th is 00:30 on the 26th in Hong Kong.
		paidSale("justafter", time.Date(2026, 11, 25, 16, 30, 0, 0, time.UTC)),
		paidSale("daybefore", day(0, 0).Add(-time.Minute)),
	)
	list := func(d string) []string {
		var ids []string
		err := db.View(func(tx engine.ReadTx) error {
			sales, err := tx.SalesByDay(d)
			for _, s := range sales {
				ids = append(ids, s.ID)
			}
			return err
		})
		if err != nil {
			t.Fatalf("sales by day %s: %v", d, err)
		}
		return ids
	}
	if got, want := list("2026-11-26"), []string{"late", "noon", "morning", "justafter"}; !reflect.DeepEqual(got, want) {
		t.Errorf("2026-11-26: %v, want %v", got, want)
	}
	if got, want := list("2026-11-25"), []string{"daybefore"}; !reflect.DeepEqual(got, want) {
		t.Errorf("2026-11-25: %v, want %v", got, want)
	}
	if got := list("2026-11-27"); len(got) != 0 {
		t.Errorf("2026-11-27: %v, want none", got)
	}
	// A sale whose created_at moves (e.g. corrected) moves in the index.
	s, _ := getSale(t, db, "noon")
	s.CreatedAt = day(12, 0).Add(24 * time.Hour)
	put(t, db, s)
	if got, want := list("2026-11-26"), []string{"late", "morning", "justafter"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after move, 2026-11-26: %v, want %v", got, want)
	}
	if got, want := list("2026-11-27"), []string{"noon"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after move, 2026-11-27: %v, want %v", got, want)
	}
	for _, bad := range []string{"", "2026-11", "26/11/2026", "2026-11-26x"} {
		err := db.View(func(tx engine.ReadTx) error { _, err := tx.SalesByDay(bad); return err })
		if err == nil {
			t.Errorf("SalesByDay(%q) accepted", bad)
		}
	}
}

func TestOpenSales_FollowsStates(t *testing.T) {
	db := mustOpen(t)
	s := &engine.Sale{ID: "s1", Amount: 100, Currency: "HKD", State: engine.SaleAwaitingScan, CreatedAt: t0}
	steps := []struct {
		name   string
		change func(s *engine.Sale)
		open   bool
	}{
		{"awaiting_scan", func(s *engine.Sale) {}, true},
		{"paying", func(s *engine.Sale) {
			s.State = engine.SalePaying
			s.Attempts = []engine.Attempt{{OutTradeNo: "o1", State: engine.AttemptPaying, CodeHash: "c1"}}
		}, true},
		{"failed, back to awaiting_scan", func(s *engine.Sale) {
			s.State = engine.SaleAwaitingScan
			s.Attempts[0].State = engine.AttemptFailed
		}, true},
		{"cancelled", func(s *engine.Sale) { s.State = engine.SaleCancelled }, false},
		{"cancelled but an attempt unresolved", func(s *engine.Sale) {
			s.Attempts = append(s.Attempts, engine.Attempt{OutTradeNo: "o2", State: engine.AttemptUnresolved})
		}, true},
		{"cancelled, attempt reversed", func(s *engine.Sale) { s.Attempts[1].State = engine.AttemptReversed }, false},
		{"paid", func(s *engine.Sale) {
			s.State = engine.SalePaid
			s.Attempts = append(s.Attempts, engine.Attempt{OutTradeNo: "o3", State: engine.AttemptPaid})
		}, false},
		{"unknown state counts as open", func(s *engine.Sale) { s.State = "refunding" }, true},
	}
	for _, st := range steps {
		st.change(s)
		put(t, db, s)
		got := openIDs(t, db)
		if (len(got) == 1) != st.open {
			t.Errorf("%s: open sales %v, want open=%v", st.name, got, st.open)
		}
	}
}

func TestCodeUsed(t *testing.T) {
	db := mustOpen(t)
	put(t, db, paidSale("s1", t0))
	db.View(func(tx engine.ReadTx) error {
		for code, want := range map[string]bool{"h-s1": true, "h-s2": false, "": false} {
			got, err := tx.CodeUsed(code)
			if err != nil || got != want {
				t.Errorf("CodeUsed(%q) = %v, %v; want %v", code, got, err, want)
			}
		}
		return nil
	})
}

func TestJobs_DueOrderAttentionAndUpdates(t *testing.T) {
	db := mustOpen(t)
	job := func(id string, due time.Duration, attention bool) engine.Job {
		return engine.Job{ID: id, Kind: "resolve", SaleID: "s-" + id, OutTradeNo: "o-" + id, Due: t0.Add(due), Attention: attention, CreatedAt: t0}
	}
	err := db.Update(func(tx engine.Tx) error {
		for _, j := range []engine.Job{
			job("c", 3*time.Second, false), job("a", time.Second, false), job("b", 2*time.Second, false),
			job("late", time.Hour, false), job("person", 0, true), job("same-a", time.Second, false),
		} {
			if err := tx.PutJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(jobs []engine.Job) (out []string) {
		for _, j := range jobs {
			out = append(out, j.ID)
		}
		return out
	}
	due := func(now time.Time, limit int) []string {
		var jobs []engine.Job
		if err := db.View(func(tx engine.ReadTx) (err error) { jobs, err = tx.DueJobs(now, limit); return err }); err != nil {
			t.Fatal(err)
		}
		return ids(jobs)
	}
	if got, want := due(t0.Add(2*time.Second), 0), []string{"a", "same-a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("due at +2s: %v, want %v", got, want)
	}
	if got, want := due(t0.Add(time.Hour), 2), []string{"a", "same-a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("due at +1h limit 2: %v, want %v", got, want)
	}
	if got := due(t0, 0); len(got) != 0 {
		t.Errorf("due at t0: %v, want none (attention jobs are never due)", got)
	}
	// Retry later, give up on one, finish one.
	err = db.Update(func(tx engine.Tx) error {
		a := job("a", 10*time.Second, false)
		a.Tries = 1
		if err := tx.PutJob(a); err != nil {
			return err
		}
		b := job("b", 2*time.Second, true)
		b.Advice = "call WeChat support"
		if err := tx.PutJob(b); err != nil {
			return err
		}
		if err := tx.DeleteJob("c"); err != nil {
			return err
		}
		return tx.DeleteJob("never-existed")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := due(t0.Add(20*time.Second), 0), []string{"same-a", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("due at +20s after updates: %v, want %v", got, want)
	}
	var all []engine.Job
	db.View(func(tx engine.ReadTx) (err error) { all, err = tx.Jobs(); return err })
	if got, want := ids(all), []string{"same-a", "a", "late", "b", "person"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Jobs() = %v, want %v", got, want)
	}
	if all[1].Tries != 1 || !all[3].Attention || all[3].Advice != "call WeChat support" {
		t.Errorf("job fields not kept: %+v", all)
	}
	if err := db.Update(func(tx engine.Tx) error { return tx.PutJob(engine.Job{}) }); err == nil {
		t.Error("job without id accepted")
	}
}

func TestNextSeq_NeverReusedAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	seen := map[uint64]bool{}
	var last uint64
	for restart := 0; restart < 3; restart++ {
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			err := db.Update(func(tx engine.Tx) error {
				n, err := tx.NextSeq()
				if err != nil {
					return err
				}
				if seen[n] || n <= last {
					t.Errorf("NextSeq returned %d after %d", n, last)
				}
				seen[n], last = true, n
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	if len(seen) != 15 {
		t.Errorf("%d distinct numbers, want 15", len(seen))
	}
}

func TestReconciliation(t *testing.T) {
	db := mustOpen(t)
	if _, err := db.Reconciliation("2026-11-25"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if err := db.PutReconciliation("2026-11-25", []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutReconciliation("2026-11-25", []byte(`{"ok":false}`)); err != nil {
		t.Fatal(err)
	}
	got, err := db.Reconciliation("2026-11-25")
	if err != nil || string(got) != `{"ok":false}` {
		t.Errorf("got %q, %v", got, err)
	}
	if err := db.PutReconciliation("yesterday", nil); err == nil {
		t.Error("bad date accepted")
	}
}

func TestBolt_OtherPackagesKeepTheirBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db := mustOpenPath(t, path)
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("print_spool"))
		if err != nil {
			return err
		}
		return b.Put([]byte("job1"), []byte("receipt"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Errorf("check with a printer bucket: %v", err)
	}
}

func TestOptionsReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db := mustOpenPath(t, path)
	put(t, db, paidSale("s1", t0))
	db.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if !ro.ReadOnly() {
		t.Error("ReadOnly() = false")
	}
	if _, err := getSale(t, ro, "s1"); err != nil {
		t.Errorf("read: %v", err)
	}
	err = ro.Update(func(tx engine.Tx) error { return nil })
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
		t.Errorf("Update on read-only: %v", err)
	}
}

func TestOpen_NewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db := mustOpenPath(t, path)
	db.Bolt().Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(keySchema, []byte("99")) })
	db.Close()
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("open of schema 99: %v", err)
	}
}

func TestOpen_ForeignBoltFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
	b.Close()
	before, _ := os.ReadFile(path)
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not a posd journal") {
		t.Errorf("open of a foreign bbolt file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("foreign file was modified")
	}
}

func TestPutSale_AttemptsAreAppendOnly(t *testing.T) {
	db := mustOpen(t)
	s := paidSale("s1", t0)
	put(t, db, s)
	s.Attempts = nil
	err := db.Update(func(tx engine.Tx) error { return tx.PutSale(s) })
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("dropping an attempt: %v", err)
	}
	got, _ := getSale(t, db, "s1")
	if len(got.Attempts) != 1 {
		t.Errorf("attempt lost: %+v", got)
	}
}

func TestPrune_KeepsOpenJobbedAndRecent(t *testing.T) {
	db := mustOpen(t)
	now := t0
	old := now.Add(-MinRetention - 24*time.Hour)
	closedOld := paidSale("closed-old", old)
	openOld := paidSale("open-old", old.Add(time.Minute))
	openOld.Attempts[0].State = engine.AttemptUnresolved
	jobOld := paidSale("job-old", old.Add(2*time.Minute))
	recent := paidSale("recent", now.Add(-MinRetention+time.Hour))
	put(t, db, closedOld, openOld, jobOld, recent)
	for i := 0; i < 30; i++ { // more than a batch
		put(t, db, paidSale(fmt.Sprintf("bulk-%02d", i), old.Add(-time.Duration(i)*time.Hour)))
	}
	err := db.Update(func(tx engine.Tx) error {
		return tx.PutJob(engine.Job{ID: "refund:x", Kind: "refund", SaleID: "job-old", Due: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { pruneBatch = n }(pruneBatch)
	pruneBatch = 7
	// A retention shorter than the minimum is raised to it: nothing recent goes.
	n, err := db.Prune(now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 31 {
		t.Errorf("pruned %d sales, want 31", n)
	}
	for id, want := range map[string]bool{"closed-old": false, "bulk-07": false, "open-old": true, "job-old": true, "recent": true} {
		_, err := getSale(t, db, id)
		if (err == nil) != want {
			t.Errorf("%s: kept=%v, want %v (%v)", id, err == nil, want, err)
		}
	}
	db.View(func(tx engine.ReadTx) error {
		if _, err := tx.SaleByOutTradeNo("HK01_T1_closed-old"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("out_trade_no of a pruned sale: %v", err)
		}
		if used, _ := tx.CodeUsed("h-closed-old"); used {
			t.Error("code of a pruned sale still marked used")
		}
		if used, _ := tx.CodeUsed("h-open-old"); !used {
			t.Error("code of a kept sale lost")
		}
		return nil
	})
	if n, err := db.Prune(now, 0); n != 0 || err != nil {
		t.Errorf("second prune: %d, %v", n, err)
	}
}

// TestPutJob_IndexWriteFailureFailsTheWrite: a job whose index entry cannot be written
// (here: an id that fits bbolt's key limit on its own but not with the due time in front)
// must fail the whole write. Before, the index error was shadowed and the job committed
// without an index entry, so DueJobs never found it.
func TestPutJob_IndexWriteFailureFailsTheWrite(t *testing.T) {
	db := mustOpen(t)
	id := "resolve:" + strings.Repeat("9", bolt.MaxKeySize-len("resolve:")-timeKeyLen+1)
	for _, tc := range []struct {
		name string
		job  engine.Job
	}{
		{"due", engine.Job{ID: id, Kind: "resolve", SaleID: "s1", Due: t0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Update(func(tx engine.Tx) error { return tx.PutJob(tc.job) })
			if err == nil {
				t.Fatal("PutJob with an unwritable due index entry returned nil")
			}
			var all []engine.Job
			if err := db.View(func(tx engine.ReadTx) (err error) { all, err = tx.Jobs(); return err }); err != nil {
				t.Fatal(err)
			}
			if len(all) != 0 {
				t.Errorf("jobs after a failed write: %d, want 0", len(all))
			}
			if err := db.Check(); err != nil {
				t.Errorf("store inconsistent after a failed PutJob: %v", err)
			}
		})
	}
}
