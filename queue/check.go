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
	c := &checker{}
	err := db.bolt.View(func(btx *bolt.Tx) (err error) {
		defer guard(&err)
		c.t = &tx{btx: btx, db: db}
		c.b = map[string]*bolt.Bucket{}
		for _, name := range allBuckets {
			if c.b[string(name)] = btx.Bucket(name); c.b[string(name)] == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		for _, check := range []func() error{c.sales, c.dayIndex, c.refIndexes, c.jobs} {
			if err := check(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.errs = append(c.errs, err)
	}
	return errors.Join(c.errs...)
}

// checker is one consistency check: the buckets it reads and what it found.
type checker struct {
	t    *tx
	b    map[string]*bolt.Bucket
	errs []error
}

// add records a problem; after 20 it returns an error that stops the check.
func (c *checker) add(format string, a ...any) error {
	c.errs = append(c.errs, fmt.Errorf(format, a...))
	if len(c.errs) >= 20 {
		return errors.New("too many problems; stopped")
	}
	return nil
}

// sales checks that every sale is in the day index, the open index as its state says, and
// the out_trade_no index for each attempt.
func (c *checker) sales() error {
	byDay, byOTN, open := c.b["sales_by_day"], c.b["sales_by_otn"], c.b["open"]
	return c.b["sales"].ForEach(func(k, v []byte) error {
		s, err := decodeSale(k, v)
		if err != nil {
			return c.add("%v", err)
		}
		if byDay.Get(dayIndexKey(c.t.dayOf(s.CreatedAt), s.CreatedAt, s.ID)) == nil {
			if err := c.add("sale %s: missing from the day index", s.ID); err != nil {
				return err
			}
		}
		if (open.Get(k) != nil) != saleOpen(s) {
			if err := c.add("sale %s: open index says %v, record says %v", s.ID, open.Get(k) != nil, saleOpen(s)); err != nil {
				return err
			}
		}
		for _, a := range s.Attempts {
			if a.OutTradeNo != "" && !bytes.Equal(byOTN.Get([]byte(a.OutTradeNo)), k) {
				if err := c.add("sale %s: out_trade_no %s not indexed to it", s.ID, a.OutTradeNo); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// dayIndex checks that every day index entry names an existing sale of that day.
func (c *checker) dayIndex() error {
	sales := c.b["sales"]
	return c.b["sales_by_day"].ForEach(func(k, _ []byte) error {
		day, created, id, err := parseDayIndexKey(k)
		if err != nil {
			return c.add("%v", err)
		}
		v := sales.Get([]byte(id))
		if v == nil {
			return c.add("day index %s: sale %s missing", day, id)
		}
		s, err := decodeSale([]byte(id), v)
		if err != nil {
			return nil // reported above
		}
		if c.t.dayOf(s.CreatedAt) != day || !s.CreatedAt.Equal(created) {
			return c.add("day index %s: stale entry for sale %s", day, id)
		}
		return nil
	})
}

// refIndexes checks that the out_trade_no, code and open indexes name existing sales.
func (c *checker) refIndexes() error {
	sales, open := c.b["sales"], c.b["open"]
	for _, ix := range []struct {
		name string
		b    *bolt.Bucket
	}{{"out_trade_no", c.b["sales_by_otn"]}, {"code", c.b["codes"]}, {"open", open}} {
		err := ix.b.ForEach(func(k, v []byte) error {
			id := v
			if ix.b == open {
				id = k
			}
			if sales.Get(id) == nil {
				return c.add("%s index %s: sale %s missing", ix.name, k, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// jobs checks that every job is in exactly one of the due and attention indexes, as its
// record says, and that the indexes hold nothing else.
func (c *checker) jobs() error {
	due, attn := c.b["jobs_due"], c.b["jobs_attention"]
	indexed := 0
	err := c.b["jobs"].ForEach(func(k, v []byte) error {
		j, err := decodeJob(k, v)
		if err != nil {
			return c.add("%v", err)
		}
		inDue, inAttn := due.Get(dueKey(j.Due, j.ID)) != nil, attn.Get(k) != nil
		if inDue == j.Attention || inAttn != j.Attention {
			return c.add("job %s: indexed due=%v attention=%v, record says attention=%v", j.ID, inDue, inAttn, j.Attention)
		}
		indexed++
		return nil
	})
	if err != nil {
		return err
	}
	if n := due.Stats().KeyN + attn.Stats().KeyN; n != indexed {
		return c.add("job indexes hold %d entries for %d jobs", n, indexed)
	}
	return nil
}
