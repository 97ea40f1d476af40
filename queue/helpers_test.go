package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"posd/queue/engine"
)

// t0 is a fixed instant: 2026-11-26 10:00 in Hong Kong.
var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// mustOpen opens a journal in a fresh temp dir and checks it on cleanup.
func mustOpen(tb testing.TB) *DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "state", "posd.db"))
}

func mustOpenPath(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if !db.ReadOnly() && !db.closed.Load() {
			if err := db.Check(); err != nil {
				tb.Errorf("check on cleanup: %v", err)
			}
		}
		_ = db.Close()
	})
	return db
}

// paidSale is a sale paid by its first attempt.
func paidSale(id string, created time.Time) *engine.Sale {
	return &engine.Sale{
		ID: id, Amount: 1250, Currency: "HKD", State: engine.SalePaid,
		StoreID: "HK01", TillID: "T1", CreatedAt: created, UpdatedAt: created.Add(3 * time.Second),
		Attempts: []engine.Attempt{{
			OutTradeNo: "HK01_T1_" + id, State: engine.AttemptPaid, TransactionID: "4200" + id,
			Code: "13******1234", CodeHash: "h-" + id, StartedAt: created.Add(time.Second),
			Deadline: created.Add(31 * time.Second), ReverseAfter: created.Add(16 * time.Second),
			Events: []engine.Event{
				{At: created.Add(time.Second), Call: "micropay", Outcome: "paid"},
			},
			UpdatedAt: created.Add(3 * time.Second),
		}},
	}
}

func put(tb testing.TB, db *DB, sales ...*engine.Sale) {
	tb.Helper()
	err := db.Update(func(tx engine.Tx) error {
		for _, s := range sales {
			if err := tx.PutSale(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("put: %v", err)
	}
}

func getSale(tb testing.TB, db *DB, id string) (*engine.Sale, error) {
	tb.Helper()
	var s *engine.Sale
	err := db.View(func(tx engine.ReadTx) (err error) {
		s, err = tx.Sale(id)
		return err
	})
	return s, err
}

func openIDs(tb testing.TB, db *DB) []string {
	tb.Helper()
	var ids []string
	err := db.View(func(tx engine.ReadTx) error {
		sales, err := tx.OpenSales()
		for _, s := range sales {
			ids = append(ids, s.ID)
		}
		return err
	})
	if err != nil {
		tb.Fatalf("open sales: %v", err)
	}
	return ids
}

// mountTmpfs mounts a tmpfs of size bytes in a temp dir (needs root, as in CI's container).
func mountTmpfs(tb testing.TB, size int) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		tb.Skipf("cannot mount a tmpfs to test a full or read-only disk (needs root or CAP_SYS_ADMIN; uid %d): %v", os.Getuid(), err)
	}
	tb.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
