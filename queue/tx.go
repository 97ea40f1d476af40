package queue

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"posd/queue/engine"
)

// tx implements engine.Tx (and engine.ReadTx when not writable) over one bbolt transaction.
type tx struct {
	btx      *bolt.Tx
	db       *DB
	writable bool
}

// guard turns a panic inside bbolt (a damaged page: bbolt panics on an invalid page type or
// a page id past the high-water mark; a fault is a panic under SetPanicOnFault) into an
// ErrCorrupt error, so a damaged record refuses one operation instead of killing posd.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
	}
}

func (t *tx) bucket(name []byte) (*bolt.Bucket, error) {
	b := t.btx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, name)
	}
	return b, nil
}

func (t *tx) Sale(id string) (s *engine.Sale, err error) {
	defer guard(&err)
	return t.sale(id)
}

func (t *tx) sale(id string) (*engine.Sale, error) {
	b, err := t.bucket(bSales)
	if err != nil {
		return nil, err
	}
	v := b.Get([]byte(id))
	if v == nil || id == "" {
		return nil, fmt.Errorf("sale %q: %w", id, engine.ErrNotFound)
	}
	return decodeSale([]byte(id), v)
}

func (t *tx) SaleByOutTradeNo(otn string) (s *engine.Sale, err error) {
	defer guard(&err)
	b, err := t.bucket(bByOTN)
	if err != nil {
		return nil, err
	}
	id := b.Get([]byte(otn))
	if id == nil || otn == "" {
		return nil, fmt.Errorf("out_trade_no %q: %w", otn, engine.ErrNotFound)
	}
	s, err = t.sale(string(id))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("%w: out_trade_no %q names missing sale %q", ErrCorrupt, otn, id)
	}
	return s, err
}

func (t *tx) SalesByDay(day string) (sales []*engine.Sale, err error) {
	defer guard(&err)
	if _, perr := time.Parse(time.DateOnly, day); perr != nil || len(day) != dayKeyLen {
		return nil, fmt.Errorf("sales by day: day %q is not YYYY-MM-DD", day)
	}
	b, err := t.bucket(bByDay)
	if err != nil {
		return nil, err
	}
	prefix := []byte(day)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		_, _, id, err := parseDayIndexKey(k)
		if err != nil {
			return nil, err
		}
		s, err := t.sale(id)
		if errors.Is(err, engine.ErrNotFound) {
			return nil, fmt.Errorf("%w: day index names missing sale %q", ErrCorrupt, id)
		}
		if err != nil {
			return nil, err
		}
		sales = append(sales, s)
	}
	return sales, nil
}

func (t *tx) OpenSales() (sales []*engine.Sale, err error) {
	defer guard(&err)
	b, err := t.bucket(bOpen)
	if err != nil {
		return nil, err
	}
	err = b.ForEach(func(k, _ []byte) error {
		s, err := t.sale(string(k))
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("%w: open index names missing sale %q", ErrCorrupt, k)
		}
		if err != nil {
			return err
		}
		sales = append(sales, s)
		return nil
	})
	return sales, err
}

func (t *tx) CodeUsed(codeHash string) (used bool, err error) {
	defer guard(&err)
	if codeHash == "" {
		return false, nil
	}
	b, err := t.bucket(bCodes)
	if err != nil {
		return false, err
	}
	return b.Get([]byte(codeHash)) != nil, nil
}

func (t *tx) job(b *bolt.Bucket, id []byte) (*engine.Job, error) {
	v := b.Get(id)
	if v == nil {
		return nil, fmt.Errorf("%w: job index names missing job %q", ErrCorrupt, id)
	}
	return decodeJob(id, v)
}

func (t *tx) DueJobs(now time.Time, limit int) (jobs []engine.Job, err error) {
	defer guard(&err)
	jb, err := t.bucket(bJobs)
	if err != nil {
		return nil, err
	}
	db, err := t.bucket(bJobsDue)
	if err != nil {
		return nil, err
	}
	end := timeKey(nil, now)
	c := db.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) <= timeKeyLen {
			return nil, fmt.Errorf("%w: short due key %q", ErrCorrupt, k)
		}
		if bytes.Compare(k[:timeKeyLen], end) > 0 || (limit > 0 && len(jobs) >= limit) {
			break
		}
		j, err := t.job(jb, k[timeKeyLen:])
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, *j)
	}
	return jobs, nil
}

func (t *tx) Jobs() (jobs []engine.Job, err error) {
	defer guard(&err)
	jb, err := t.bucket(bJobs)
	if err != nil {
		return nil, err
	}
	// Due order first, then those needing attention (by id).
	for _, idx := range [][]byte{bJobsDue, bJobsAttn} {
		b, err := t.bucket(idx)
		if err != nil {
			return nil, err
		}
		timed := bytes.Equal(idx, bJobsDue)
		err = b.ForEach(func(k, _ []byte) error {
			id := k
			if timed { // strip the due time
				if len(k) <= timeKeyLen {
					return fmt.Errorf("%w: short due key %q", ErrCorrupt, k)
				}
				id = k[timeKeyLen:]
			}
			j, err := t.job(jb, id)
			if err != nil {
				return err
			}
			jobs = append(jobs, *j)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

func (t *tx) NextSeq() (n uint64, err error) {
	defer guard(&err)
	b, err := t.bucket(bSeq)
	if err != nil {
		return 0, err
	}
	n, err = b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("next sequence: %w", err)
	}
	return n, nil
}

func (t *tx) dayOf(ts time.Time) string { return ts.In(t.db.loc).Format(time.DateOnly) }

// PutSale stores s, sets s.Version to one more than the stored (or given, if higher)
// version, and brings every index up to date. It refuses an out_trade_no that another sale
// holds, and a write that drops an attempt (by out_trade_no) the stored sale has.
func (t *tx) PutSale(s *engine.Sale) (err error) {
	defer guard(&err)
	if s == nil || s.ID == "" {
		return errors.New("put sale: no sale id")
	}
	b, err := t.saleBuckets()
	if err != nil {
		return err
	}
	id := []byte(s.ID)

	// Refuse an out_trade_no that another sale already holds: a number is never reused.
	if err := checkOTNOwners(b.byOTN, s, id); err != nil {
		return err
	}

	var old *engine.Sale
	if v := b.sales.Get(id); v != nil {
		if old, err = decodeSale(id, v); err != nil {
			return fmt.Errorf("put sale %s: %w", s.ID, err)
		}
	}
	version := s.Version
	if old != nil && old.Version > version {
		version = old.Version
	}
	newDayKey := dayIndexKey(t.dayOf(s.CreatedAt), s.CreatedAt, s.ID)
	if old != nil {
		if err := t.unindexOld(b, s, old, id, newDayKey); err != nil {
			return err
		}
	}

	s.Version = version + 1
	val, err := encodeSale(s)
	if err != nil {
		s.Version = version
		return err
	}
	if err := b.sales.Put(id, val); err != nil {
		s.Version = version
		return fmt.Errorf("put sale %s: %w", s.ID, err)
	}
	return indexSale(b, s, id, newDayKey)
}

// saleBuckets are the buckets a sale is stored and indexed in.
type saleBuckets struct {
	sales, byDay, byOTN, codes, open *bolt.Bucket
}

// saleBuckets looks up every bucket PutSale writes, so a missing one is
// reported before anything is written.
func (t *tx) saleBuckets() (b saleBuckets, err error) {
	if b.sales, err = t.bucket(bSales); err != nil {
		return b, err
	}
	if b.byDay, err = t.bucket(bByDay); err != nil {
		return b, err
	}
	if b.byOTN, err = t.bucket(bByOTN); err != nil {
		return b, err
	}
	if b.codes, err = t.bucket(bCodes); err != nil {
		return b, err
	}
	if b.open, err = t.bucket(bOpen); err != nil {
		return b, err
	}
	return b, nil
}

// checkOTNOwners refuses s when one of its out_trade_nos is indexed to
// another sale: a number is never reused.
func checkOTNOwners(byOTN *bolt.Bucket, s *engine.Sale, id []byte) error {
	for i := range s.Attempts {
		otn := s.Attempts[i].OutTradeNo
		if otn == "" {
			continue
		}
		if owner := byOTN.Get([]byte(otn)); owner != nil && !bytes.Equal(owner, id) {
			return fmt.Errorf("put sale %s: out_trade_no %s already belongs to sale %s", s.ID, otn, owner)
		}
	}
	return nil
}

// unindexOld removes the stored version's index entries that s no longer
// has (a moved day key, a changed code hash) and refuses s if it drops one of
// old's attempts.
func (t *tx) unindexOld(b saleBuckets, s, old *engine.Sale, id, newDayKey []byte) error {
	if k := dayIndexKey(t.dayOf(old.CreatedAt), old.CreatedAt, old.ID); !bytes.Equal(k, newDayKey) {
		if err := b.byDay.Delete(k); err != nil {
			return fmt.Errorf("put sale %s: day index: %w", s.ID, err)
		}
	}
	// Attempts are append-only: dropping one would lose the record of a charge that may
	// have moved money. A code hash that changed frees its old entry, so Prune (which
	// follows the sale's attempts) leaves nothing behind.
	newCode := map[string]string{}
	for i := range s.Attempts {
		newCode[s.Attempts[i].OutTradeNo] = s.Attempts[i].CodeHash
	}
	for i := range old.Attempts {
		a := &old.Attempts[i]
		if a.OutTradeNo == "" {
			continue
		}
		h, kept := newCode[a.OutTradeNo]
		if !kept {
			return fmt.Errorf("put sale %s: attempt %s would be dropped (attempts are append-only)", s.ID, a.OutTradeNo)
		}
		if a.CodeHash != "" && h != a.CodeHash && bytes.Equal(b.codes.Get([]byte(a.CodeHash)), id) {
			if err := b.codes.Delete([]byte(a.CodeHash)); err != nil {
				return fmt.Errorf("put sale %s: code index: %w", s.ID, err)
			}
		}
	}
	return nil
}

// indexSale points the day, out_trade_no, code and open indexes at the sale
// just stored.
func indexSale(b saleBuckets, s *engine.Sale, id, dayKey []byte) error {
	if err := b.byDay.Put(dayKey, emptyValue); err != nil {
		return fmt.Errorf("put sale %s: day index: %w", s.ID, err)
	}
	for i := range s.Attempts {
		a := &s.Attempts[i]
		if a.OutTradeNo != "" {
			if err := b.byOTN.Put([]byte(a.OutTradeNo), id); err != nil {
				return fmt.Errorf("put sale %s: out_trade_no index: %w", s.ID, err)
			}
		}
		if a.CodeHash != "" {
			if err := b.codes.Put([]byte(a.CodeHash), id); err != nil {
				return fmt.Errorf("put sale %s: code index: %w", s.ID, err)
			}
		}
	}
	var err error
	if saleOpen(s) {
		err = b.open.Put(id, emptyValue)
	} else {
		err = b.open.Delete(id)
	}
	if err != nil {
		return fmt.Errorf("put sale %s: open index: %w", s.ID, err)
	}
	return nil
}

// PutJob stores j (replacing the job with the same id) in the due index, or in the
// attention list when j.Attention.
func (t *tx) PutJob(j engine.Job) (err error) {
	defer guard(&err)
	if j.ID == "" {
		return errors.New("put job: no job id")
	}
	if err := t.DeleteJob(j.ID); err != nil {
		return err
	}
	jb, err := t.bucket(bJobs)
	if err != nil {
		return err
	}
	val, err := encodeJob(&j)
	if err != nil {
		return err
	}
	if err := jb.Put([]byte(j.ID), val); err != nil {
		return fmt.Errorf("put job %s: %w", j.ID, err)
	}
	// One err for both branches: an index write that fails must fail the whole write, or
	// the job is committed where DueJobs never finds it.
	idx, key := bJobsDue, dueKey(j.Due, j.ID)
	if j.Attention {
		idx, key = bJobsAttn, []byte(j.ID)
	}
	b, err := t.bucket(idx)
	if err != nil {
		return err
	}
	if err := b.Put(key, emptyValue); err != nil {
		return fmt.Errorf("put job %s: index: %w", j.ID, err)
	}
	return nil
}

// DeleteJob removes a job and its index entries; deleting a missing job is not an error.
func (t *tx) DeleteJob(id string) (err error) {
	defer guard(&err)
	if id == "" {
		return errors.New("delete job: no job id")
	}
	jb, err := t.bucket(bJobs)
	if err != nil {
		return err
	}
	v := jb.Get([]byte(id))
	if v == nil {
		return nil
	}
	old, err := decodeJob([]byte(id), v)
	if err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	due, err := t.bucket(bJobsDue)
	if err != nil {
		return err
	}
	attn, err := t.bucket(bJobsAttn)
	if err != nil {
		return err
	}
	if err := due.Delete(dueKey(old.Due, id)); err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	if err := attn.Delete([]byte(id)); err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	if err := jb.Delete([]byte(id)); err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	return nil
}
