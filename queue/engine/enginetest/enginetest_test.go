package enginetest_test

import (
	"errors"
	"testing"
	"time"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
)

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	c := enginetest.NewFakeClock(t0)
	a := c.After(2 * time.Second)
	b, stop := c.NewTimer(time.Second)
	fired := 0
	h, _ := c.NewHookedTimer(3*time.Second, func() { fired++ })
	c.BlockUntil(3)
	c.Set(t0.Add(-time.Hour)) // a wall-clock jump moves no timer
	if c.Waiters() != 3 {
		t.Fatal("Set fired or dropped timers")
	}
	c.Set(t0)
	if d, ok := c.NextTimer(); !ok || d != time.Second {
		t.Fatalf("next timer %v %v", d, ok)
	}
	c.Advance(time.Second)
	if got := <-b; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("timer fired at %v", got)
	}
	if stop() {
		t.Fatal("stop of a fired timer reported true")
	}
	if d, ok := c.AdvanceToNext(); !ok || d != time.Second {
		t.Fatalf("AdvanceToNext %v %v", d, ok)
	}
	<-a
	c.Advance(5 * time.Second)
	<-h
	if fired != 1 || !c.Now().Equal(t0.Add(7*time.Second)) || c.Waiters() != 0 {
		t.Fatalf("fired %d now %v waiters %d", fired, c.Now(), c.Waiters())
	}
	_, stop = c.NewTimer(time.Second)
	if !stop() || c.Waiters() != 0 {
		t.Fatal("stop did not release the timer")
	}
	if c.BlockUntilTimeout(1, time.Millisecond) {
		t.Fatal("BlockUntilTimeout reported a timer that does not exist")
	}
}

func TestMemStoreAtomic(t *testing.T) {
	m := enginetest.NewMemStore(nil)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	put := func(id string, fail bool) error {
		return m.Update(func(tx engine.Tx) error {
			if _, err := tx.NextSeq(); err != nil {
				return err
			}
			s := &engine.Sale{ID: id, State: engine.SalePaying, CreatedAt: now,
				Attempts: []engine.Attempt{{OutTradeNo: "O" + id, State: engine.AttemptPaying, CodeHash: "h" + id}}}
			if err := tx.PutSale(s); err != nil {
				return err
			}
			if err := tx.PutJob(engine.Job{ID: "j" + id, Due: now}); err != nil {
				return err
			}
			if fail {
				return errors.New("boom")
			}
			return nil
		})
	}
	if err := put("a", false); err != nil {
		t.Fatal(err)
	}
	if err := put("b", true); err == nil {
		t.Fatal("failing update succeeded")
	}
	err := m.View(func(tx engine.ReadTx) error {
		if _, err := tx.Sale("b"); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("a failed update left sale b: %v", err)
		}
		if used, _ := tx.CodeUsed("hb"); used {
			t.Fatal("a failed update left its code hash")
		}
		if used, _ := tx.CodeUsed("ha"); !used {
			t.Fatal("code hash of a not indexed")
		}
		jobs, _ := tx.Jobs()
		if len(jobs) != 1 {
			t.Fatalf("jobs %+v", jobs)
		}
		s, _ := tx.Sale("a")
		s.Attempts[0].State = engine.AttemptPaid // a copy: the store must not change
		s2, _ := tx.Sale("a")
		if s2.Attempts[0].State != engine.AttemptPaying || s2.Version != 1 {
			t.Fatalf("store shares memory with callers: %+v", s2)
		}
		open, _ := tx.OpenSales()
		if len(open) != 1 {
			t.Fatalf("open %d", len(open))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Commits() != 1 {
		t.Fatalf("commits %d", m.Commits())
	}
	m.FailUpdates(1, nil)
	if err := put("c", false); !errors.Is(err, enginetest.ErrDiskFull) {
		t.Fatalf("err %v", err)
	}
	if err := put("c", false); err != nil {
		t.Fatal(err)
	}
	c := m.Clone()
	if err := put("d", false); err != nil {
		t.Fatal(err)
	}
	_ = c.View(func(tx engine.ReadTx) error {
		if _, err := tx.Sale("d"); err == nil {
			t.Fatal("clone shares writes with its source")
		}
		return nil
	})
}
