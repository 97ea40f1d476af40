package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"posd/queue/engine"
)

// recordVersion is the schema version written into every stored value. A reader refuses a
// value with a version it does not know rather than guess at its fields.
const recordVersion = 1

type saleRecord struct {
	V    int          `json:"v"`
	Sale *engine.Sale `json:"sale"`
}

type jobRecord struct {
	V   int         `json:"v"`
	Job *engine.Job `json:"job"`
}

// salesDecoded counts decoded sale records; tests use it to prove OpenSales reads only
// the open index.
var salesDecoded atomic.Uint64

func encodeSale(s *engine.Sale) ([]byte, error) {
	b, err := json.Marshal(saleRecord{V: recordVersion, Sale: s})
	if err != nil {
		return nil, fmt.Errorf("encode sale %s: %w", s.ID, err)
	}
	return b, nil
}

// decodeSale decodes a stored sale. key is the bucket key it was stored under (the sale id);
// a value that does not decode, has an unknown version or belongs to another key is corrupt.
func decodeSale(key, val []byte) (*engine.Sale, error) {
	salesDecoded.Add(1)
	var r saleRecord
	if err := json.Unmarshal(val, &r); err != nil {
		return nil, fmt.Errorf("%w: sale %q: %v", ErrCorrupt, key, err)
	}
	if r.V != recordVersion {
		if r.V > recordVersion {
			return nil, fmt.Errorf("%w: sale %q has record version %d", ErrNewerSchema, key, r.V)
		}
		return nil, fmt.Errorf("%w: sale %q has record version %d", ErrCorrupt, key, r.V)
	}
	if r.Sale == nil || r.Sale.ID != string(key) {
		return nil, fmt.Errorf("%w: record under key %q is not that sale", ErrCorrupt, key)
	}
	return r.Sale, nil
}

func encodeJob(j *engine.Job) ([]byte, error) {
	b, err := json.Marshal(jobRecord{V: recordVersion, Job: j})
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	return b, nil
}

func decodeJob(key, val []byte) (*engine.Job, error) {
	var r jobRecord
	if err := json.Unmarshal(val, &r); err != nil {
		return nil, fmt.Errorf("%w: job %q: %v", ErrCorrupt, key, err)
	}
	if r.V != recordVersion {
		if r.V > recordVersion {
			return nil, fmt.Errorf("%w: job %q has record version %d", ErrNewerSchema, key, r.V)
		}
		return nil, fmt.Errorf("%w: job %q has record version %d", ErrCorrupt, key, r.V)
	}
	if r.Job == nil || r.Job.ID != string(key) {
		return nil, fmt.Errorf("%w: record under key %q is not that job", ErrCorrupt, key)
	}
	return r.Job, nil
}

// timeKeyLen is the length of a sortable time key: seconds since 1970 with the sign bit
// flipped (so times before 1970 sort first) then nanoseconds, both big-endian. It covers
// every time.Time, including the zero value, unlike UnixNano.
const timeKeyLen = 12

func timeKey(dst []byte, t time.Time) []byte {
	var b [timeKeyLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
	return append(dst, b[:]...)
}

func parseTimeKey(b []byte) (time.Time, error) {
	if len(b) < timeKeyLen {
		return time.Time{}, errors.New("short time key")
	}
	sec := int64(binary.BigEndian.Uint64(b[:8]) ^ (1 << 63))
	nsec := int64(binary.BigEndian.Uint32(b[8:12]))
	if nsec >= 1e9 {
		return time.Time{}, errors.New("bad nanoseconds in time key")
	}
	return time.Unix(sec, nsec), nil
}

// dayKeyLen is len("2006-01-02").
const dayKeyLen = 10

// dayIndexKey is day + inverted created_at + id: a prefix scan on the day lists its sales
// newest first.
func dayIndexKey(day string, created time.Time, id string) []byte {
	k := make([]byte, 0, dayKeyLen+timeKeyLen+len(id))
	k = append(k, day...)
	k = timeKey(k, created)
	for i := dayKeyLen; i < dayKeyLen+timeKeyLen; i++ {
		k[i] = ^k[i]
	}
	return append(k, id...)
}

// parseDayIndexKey returns the day, created_at and sale id of a sales_by_day key.
func parseDayIndexKey(k []byte) (day string, created time.Time, id string, err error) {
	if len(k) <= dayKeyLen+timeKeyLen {
		return "", time.Time{}, "", fmt.Errorf("%w: short day index key %q", ErrCorrupt, k)
	}
	var tk [timeKeyLen]byte
	for i := range tk {
		tk[i] = ^k[dayKeyLen+i]
	}
	created, err = parseTimeKey(tk[:])
	if err != nil {
		return "", time.Time{}, "", fmt.Errorf("%w: day index key %q: %v", ErrCorrupt, k, err)
	}
	return string(k[:dayKeyLen]), created, string(k[dayKeyLen+timeKeyLen:]), nil
}

func dueKey(due time.Time, id string) []byte {
	k := make([]byte, 0, timeKeyLen+len(id))
	k = timeKey(k, due)
	return append(k, id...)
}

// saleOpen reports whether recovery has work on the sale: the sale is not paid or
// cancelled (an unknown state counts as open: resuming too much is safe, forgetting is
// not), or one of its attempts is not final.
func saleOpen(s *engine.Sale) bool {
	if s.State != engine.SalePaid && s.State != engine.SaleCancelled {
		return true
	}
	for i := range s.Attempts {
		if !s.Attempts[i].State.Final() {
			return true
		}
	}
	return false
}
