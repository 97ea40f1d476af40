package queue

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"pgregory.net/rapid"

	"posd/queue/engine"
)

// TestIndexesFollowRandomUpdates applies random writes (sales changing state, day and
// attempts; jobs moving between due times and attention; prunes) and after each one checks
// every index against a plain in-memory model and against the records themselves.
func TestIndexesFollowRandomUpdates(t *testing.T) {
	dir := t.TempDir()
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		db, err := Open(filepath.Join(dir, fmt.Sprintf("p%d.db", n)), Options{})
		if err != nil {
			rt.Fatal(err)
		}
		defer db.Close()
		// Index logic, not durability, is under test here: skip the fsyncs to keep it quick.
		db.bolt.NoSync = true
		loc := db.Location()
		sales := map[string]*engine.Sale{}
		jobs := map[string]engine.Job{}
		codes := map[string]string{} // code hash → last sale that used it
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, loc)
		now := base.Add(500 * 24 * time.Hour)
		states := []engine.SaleState{engine.SaleAwaitingScan, engine.SalePaying, engine.SalePaid, engine.SaleCancelled}
		astates := []engine.AttemptState{engine.AttemptPaying, engine.AttemptPaid, engine.AttemptFailed, engine.AttemptReversed, engine.AttemptUnresolved}

		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1, 2, 3, 4: // put a sale
				id := fmt.Sprintf("s%d", rapid.IntRange(0, 6).Draw(rt, "sale"))
				s := &engine.Sale{ID: id, Amount: 100, Currency: "HKD"}
				if old := sales[id]; old != nil {
					c := *old
					s = &c
				}
				s.State = rapid.SampledFrom(states).Draw(rt, "state")
				// Days straddling midnight in Hong Kong and the retention cutoff.
				s.CreatedAt = base.Add(time.Duration(rapid.IntRange(0, 3).Draw(rt, "day"))*100*24*time.Hour +
					time.Duration(rapid.IntRange(-2, 2).Draw(rt, "hour"))*time.Hour)
				// Attempts are append-only: old ones change state, new ones are added.
				s.Attempts = slices.Clone(s.Attempts)
				for k := range s.Attempts {
					s.Attempts[k].State = rapid.SampledFrom(astates).Draw(rt, "astate")
				}
				for k := rapid.IntRange(0, 2).Draw(rt, "attempts"); k > 0; k-- {
					s.Attempts = append(s.Attempts, engine.Attempt{
						OutTradeNo: fmt.Sprintf("%s-%d", id, len(s.Attempts)),
						State:      rapid.SampledFrom(astates).Draw(rt, "astate"),
						CodeHash:   fmt.Sprintf("h%d", rapid.IntRange(0, 9).Draw(rt, "code")),
					})
				}
				err := db.Update(func(tx engine.Tx) error { return tx.PutSale(s) })
				if err != nil {
					rt.Fatalf("put %s: %v", id, err)
				}
				c := *s
				sales[id] = &c
				for _, a := range s.Attempts {
					codes[a.CodeHash] = id
				}
			case 5, 6: // put a job
				id := fmt.Sprintf("j%d", rapid.IntRange(0, 4).Draw(rt, "job"))
				j := engine.Job{ID: id, Kind: "resolve", SaleID: fmt.Sprintf("s%d", rapid.IntRange(0, 6).Draw(rt, "jsale")),
					Due:       now.Add(time.Duration(rapid.IntRange(-3, 3).Draw(rt, "due")) * time.Second),
					Attention: rapid.Bool().Draw(rt, "attention")}
				if err := db.Update(func(tx engine.Tx) error { return tx.PutJob(j) }); err != nil {
					rt.Fatal(err)
				}
				jobs[id] = j
			case 7: // delete a job
				id := fmt.Sprintf("j%d", rapid.IntRange(0, 4).Draw(rt, "job"))
				if err := db.Update(func(tx engine.Tx) error { return tx.DeleteJob(id) }); err != nil {
					rt.Fatal(err)
				}
				delete(jobs, id)
			case 8: // prune
				pruneBatch = rapid.IntRange(1, 4).Draw(rt, "batch")
				deleted, err := db.Prune(now, 0)
				pruneBatch = 500
				if err != nil {
					rt.Fatal(err)
				}
				want := 0
				for id, s := range sales {
					withJob := false
					for _, j := range jobs {
						withJob = withJob || j.SaleID == id
					}
					if s.CreatedAt.Before(now.Add(-MinRetention)) && !saleOpen(s) && !withJob {
						delete(sales, id)
						for h, owner := range codes {
							if owner == id {
								delete(codes, h)
							}
						}
						want++
					}
				}
				if deleted != want {
					rt.Fatalf("prune deleted %d, want %d", deleted, want)
				}
			case 9: // reopen
				db.Close()
				if db, err = Open(db.Path(), Options{}); err != nil {
					rt.Fatal(err)
				}
				db.bolt.NoSync = true
			}
			if err := db.checkIndexes(); err != nil {
				rt.Fatalf("indexes: %v", err)
			}
			compareModel(rt, db, sales, jobs, codes, now)
		}
	})
}

func compareModel(rt *rapid.T, db *DB, sales map[string]*engine.Sale, jobs map[string]engine.Job, codes map[string]string, now time.Time) {
	var wantOpen []string
	byDay := map[string][]*engine.Sale{}
	for id, s := range sales {
		if saleOpen(s) {
			wantOpen = append(wantOpen, id)
		}
		d := s.CreatedAt.In(db.Location()).Format(time.DateOnly)
		byDay[d] = append(byDay[d], s)
	}
	sort.Strings(wantOpen)
	err := db.View(func(tx engine.ReadTx) error {
		open, err := tx.OpenSales()
		if err != nil {
			return err
		}
		var gotOpen []string
		for _, s := range open {
			gotOpen = append(gotOpen, s.ID)
		}
		if !slices.Equal(gotOpen, wantOpen) {
			rt.Fatalf("open sales %v, want %v", gotOpen, wantOpen)
		}
		for d, list := range byDay {
			sort.Slice(list, func(i, j int) bool {
				if !list[i].CreatedAt.Equal(list[j].CreatedAt) {
					return list[i].CreatedAt.After(list[j].CreatedAt)
				}
				return list[i].ID < list[j].ID
			})
			got, err := tx.SalesByDay(d)
			if err != nil {
				return err
			}
			if len(got) != len(list) {
				rt.Fatalf("day %s: %d sales, want %d", d, len(got), len(list))
			}
			for i := range got {
				if got[i].ID != list[i].ID || !reflect.DeepEqual(got[i].Attempts, list[i].Attempts) || got[i].State != list[i].State {
					rt.Fatalf("day %s #%d: %+v, want %+v", d, i, got[i], list[i])
				}
			}
		}
		for id, s := range sales {
			for _, a := range s.Attempts {
				got, err := tx.SaleByOutTradeNo(a.OutTradeNo)
				if err != nil || got.ID != id {
					rt.Fatalf("out_trade_no %s: %v, %v; want sale %s", a.OutTradeNo, got, err, id)
				}
			}
		}
		for i := 0; i < 10; i++ {
			h := fmt.Sprintf("h%d", i)
			_, want := codes[h]
			if used, err := tx.CodeUsed(h); err != nil || used != want {
				rt.Fatalf("CodeUsed(%s) = %v, %v; want %v", h, used, err, want)
			}
		}
		var wantDue, wantAll []string
		var dueList []engine.Job
		for _, j := range jobs {
			if !j.Attention && !j.Due.After(now) {
				dueList = append(dueList, j)
			}
			wantAll = append(wantAll, j.ID)
		}
		sort.Slice(dueList, func(i, k int) bool {
			if !dueList[i].Due.Equal(dueList[k].Due) {
				return dueList[i].Due.Before(dueList[k].Due)
			}
			return dueList[i].ID < dueList[k].ID
		})
		for _, j := range dueList {
			wantDue = append(wantDue, j.ID)
		}
		due, err := tx.DueJobs(now, 0)
		if err != nil {
			return err
		}
		var gotDue []string
		for _, j := range due {
			gotDue = append(gotDue, j.ID)
		}
		if !slices.Equal(gotDue, wantDue) {
			rt.Fatalf("due jobs %v, want %v", gotDue, wantDue)
		}
		all, err := tx.Jobs()
		if err != nil {
			return err
		}
		var gotAll []string
		for _, j := range all {
			gotAll = append(gotAll, j.ID)
		}
		sort.Strings(gotAll)
		sort.Strings(wantAll)
		if !slices.Equal(gotAll, wantAll) {
			rt.Fatalf("jobs %v, want %v", gotAll, wantAll)
		}
		return nil
	})
	if err != nil {
		rt.Fatal(err)
	}
}

// TestOpenSales_ReadsOnlyOpenSales: with 20,000 closed sales in the journal, OpenSales
// decodes exactly the open ones (the open index, not a scan), and is fast.
func TestOpenSales_ReadsOnlyOpenSales(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	if err := buildJournal(path, 20000, 7); err != nil {
		t.Fatal(err)
	}
	// Not mustOpenPath: its cleanup Check would decode all 20,000 sales (slow under -race).
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := salesDecoded.Load()
	ids := openIDs(t, db)
	if decoded := salesDecoded.Load() - before; decoded != 7 || len(ids) != 7 {
		t.Errorf("OpenSales decoded %d sales and returned %d; want 7 and 7", decoded, len(ids))
	}
}
