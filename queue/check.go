package queue

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// checkIndexes reads every record and index entry and reports any disagreement between
// them (at most 20). It reads the whole journal.
func (db *DB) checkIndexes() error {
	var errs []error
	add := func(format string, a ...any) error {
		errs = append(errs, fmt.Errorf(format, a...))
		if len(errs) >= 20 {
			return errors.New("too many problems; stopped")
		}
		return nil
	}
	err := db.bolt.View(func(btx *bolt.Tx) (err error) {
		defer guard(&err)
		t := &tx{btx: btx, db: db}
		b := map[string]*bolt.Bucket{}
		for _, name := range allBuckets {
			if b[string(name)] = btx.Bucket(name); b[string(name)] == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		sales, byDay, byOTN, codes, open := b["sales"], b["sales_by_day"], b["sales_by_otn"], b["codes"], b["open"]
		err = sales.ForEach(func(k, v []byte) error {
			s, err := decodeSale(k, v)
			if err != nil {
				return add("%v", err)
			}
			if byDay.Get(dayIndexKey(t.dayOf(s.CreatedAt), s.CreatedAt, s.ID)) == nil {
				if err := add("sale %s: missing from the day index", s.ID); err != nil {
					return err
				}
			}
			if (open.Get(k) != nil) != saleOpen(s) {
				if err := add("sale %s: open index says %v, record says %v", s.ID, open.Get(k) != nil, saleOpen(s)); err != nil {
					return err
				}
			}
			for _, a := range s.Attempts {
				if a.OutTradeNo != "" && !bytes.Equal(byOTN.Get([]byte(a.OutTradeNo)), k) {
					if err := add("sale %s: out_trade_no %s not indexed to it", s.ID, a.OutTradeNo); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = byDay.ForEach(func(k, _ []byte) error {
			day, created, id, err := parseDayIndexKey(k)
			if err != nil {
				return add("%v", err)
			}
			v := sales.Get([]byte(id))
			if v == nil {
				return add("day index %s: sale %s missing", day, id)
			}
			s, err := decodeSale([]byte(id), v)
			if err != nil {
				return nil // reported above
			}
			if t.dayOf(s.CreatedAt) != day || !s.CreatedAt.Equal(created) {
				return add("day index %s: stale entry for sale %s", day, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, ix := range []struct {
			name string
			b    *bolt.Bucket
		}{{"out_trade_no", byOTN}, {"code", codes}, {"open", open}} {
			err = ix.b.ForEach(func(k, v []byte) error {
				id := v
				if ix.b == open {
					id = k
				}
				if sales.Get(id) == nil {
					return add("%s index %s: sale %s missing", ix.name, k, id)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		jobs, due, attn := b["jobs"], b["jobs_due"], b["jobs_attention"]
		indexed := 0
		err = jobs.ForEach(func(k, v []byte) error {
			j, err := decodeJob(k, v)
			if err != nil {
				return add("%v", err)
			}
			inDue, inAttn := due.Get(dueKey(j.Due, j.ID)) != nil, attn.Get(k) != nil
			if inDue == j.Attention || inAttn != j.Attention {
				return add("job %s: indexed due=%v attention=%v, record says attention=%v", j.ID, inDue, inAttn, j.Attention)
			}
			indexed++
			return nil
		})
		if err != nil {
			return err
		}
		if n := due.Stats().KeyN + attn.Stats().KeyN; n != indexed {
			return add("job indexes hold %d entries for %d jobs", n, indexed)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
