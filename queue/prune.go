package queue

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"posd/queue/engine"
)

// MinRetention is the shortest retention Prune accepts: refunds are allowed for a year,
// and a manager may need the record a while after that.
const MinRetention = 400 * 24 * time.Hour

// pruneBatch bounds one prune transaction (keys examined), so pruning a large journal
// never holds the write lock long enough to delay a payment noticeably.
var pruneBatch = 500

// Prune deletes sales created more than keep before now (keep below MinRetention, or
// zero, means MinRetention), with their index entries. It never deletes a sale in the open
// index or one that a job refers to. It works in bounded batches, each its own Update, and
// returns how many sales it deleted.
func (db *DB) Prune(now time.Time, keep time.Duration) (int, error) {
	if keep < MinRetention {
		keep = MinRetention
	}
	cutoff := now.Add(-keep)
	lastDay := []byte(cutoff.In(db.loc).Format(time.DateOnly))
	var resume []byte // first key not yet examined
	deleted := 0
	for {
		var done bool
		err := db.Update(func(etx engine.Tx) error {
			t := etx.(*tx)
			n, next, err := t.pruneBatch(resume, lastDay, cutoff)
			deleted += n
			resume, done = next, next == nil
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("prune: %w", err)
		}
		if done {
			return deleted, nil
		}
	}
}

// pruneBatch examines up to pruneBatch day-index keys from resume (nil: the first) while
// their day is at most lastDay, deletes the sales created before cutoff that are
// neither open nor referenced by a job, and returns the key to resume from (nil: done).
func (t *tx) pruneBatch(resume, lastDay []byte, cutoff time.Time) (deleted int, next []byte, err error) {
	defer guard(&err)
	byDay, err := t.bucket(bByDay)
	if err != nil {
		return 0, nil, err
	}
	open, err := t.bucket(bOpen)
	if err != nil {
		return 0, nil, err
	}
	withJob, err := t.jobSales()
	if err != nil {
		return 0, nil, err
	}
	var victims [][]byte // day index keys
	c := byDay.Cursor()
	k, _ := c.First()
	if resume != nil {
		k, _ = c.Seek(resume)
	}
	for examined := 0; k != nil; k, _ = c.Next() {
		if len(k) < dayKeyLen || bytes.Compare(k[:dayKeyLen], lastDay) > 0 {
			k = nil
			break
		}
		if examined == pruneBatch {
			break
		}
		examined++
		_, created, id, err := parseDayIndexKey(k)
		if err != nil {
			return 0, nil, err
		}
		if !created.Before(cutoff) || open.Get([]byte(id)) != nil || withJob[id] {
			continue
		}
		victims = append(victims, bytes.Clone(k))
	}
	if k != nil {
		next = bytes.Clone(k)
	}
	for _, vk := range victims {
		_, _, id, _ := parseDayIndexKey(vk)
		if err := t.deleteSale(id, vk); err != nil {
			return deleted, nil, err
		}
		deleted++
	}
	return deleted, next, nil
}

// jobSales is the set of sale ids that jobs refer to. Jobs are few (the durable queue
// drains), so reading them per batch is cheap.
func (t *tx) jobSales() (map[string]bool, error) {
	jb, err := t.bucket(bJobs)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	err = jb.ForEach(func(k, v []byte) error {
		j, err := decodeJob(k, v)
		if err != nil {
			return err
		}
		ids[j.SaleID] = true
		return nil
	})
	return ids, err
}

// deleteSale removes a sale and every index entry that points at it.
func (t *tx) deleteSale(id string, dayKey []byte) error {
	sales, _ := t.bucket(bSales)
	v := sales.Get([]byte(id))
	if v == nil {
		return fmt.Errorf("%w: day index names missing sale %q", ErrCorrupt, id)
	}
	s, err := decodeSale([]byte(id), v)
	if err != nil {
		return err
	}
	del := func(bucket, key []byte) error {
		b, err := t.bucket(bucket)
		if err != nil {
			return err
		}
		if bytes.Equal(bucket, bSales) || bytes.Equal(bucket, bByDay) || bytes.Equal(b.Get(key), []byte(id)) {
			return b.Delete(key)
		}
		return nil
	}
	errs := []error{del(bByDay, dayKey), del(bSales, []byte(id))}
	for i := range s.Attempts {
		if otn := s.Attempts[i].OutTradeNo; otn != "" {
			errs = append(errs, del(bByOTN, []byte(otn)))
		}
		if h := s.Attempts[i].CodeHash; h != "" {
			errs = append(errs, del(bCodes, []byte(h)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete sale %s: %w", id, err)
	}
	return nil
}

// PutReconciliation stores v as the reconciliation result of date (YYYY-MM-DD), replacing
// any earlier one, durably. The format of v is the manager tools' own.
func (db *DB) PutReconciliation(date string, v []byte) error {
	if _, err := time.Parse(time.DateOnly, date); err != nil || len(date) != dayKeyLen {
		return fmt.Errorf("put reconciliation: date %q is not YYYY-MM-DD", date)
	}
	if v == nil {
		v = emptyValue
	}
	return db.Update(func(etx engine.Tx) error {
		return etx.(*tx).btx.Bucket(bRecon).Put([]byte(date), v)
	})
}

// Reconciliation returns what PutReconciliation stored for date, or engine.ErrNotFound.
func (db *DB) Reconciliation(date string) ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(btx *bolt.Tx) error {
		b := btx.Bucket(bRecon)
		if b == nil {
			return fmt.Errorf("%w: bucket %s missing", ErrCorrupt, bRecon)
		}
		v := b.Get([]byte(date))
		if v == nil {
			return fmt.Errorf("reconciliation %q: %w", date, engine.ErrNotFound)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}
