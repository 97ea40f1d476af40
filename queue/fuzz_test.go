package queue

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecodeSale: a stored value damaged in any way gives an error, never a panic, and a
// value that decodes re-encodes to an equivalent record.
func FuzzDecodeSale(f *testing.F) {
	good, _ := encodeSale(paidSale("s1", t0))
	f.Add([]byte("s1"), good)
	f.Add([]byte("s1"), good[:len(good)/2])
	f.Add([]byte("s1"), []byte(`{"v":2,"sale":{"id":"s1"}}`))
	f.Add([]byte("s1"), []byte(`{"v":1,"sale":null}`))
	f.Add([]byte("s2"), good)
	f.Add([]byte(""), []byte(`{"v":1,"sale":{"id":"","attempts":[{"state":"paid","started_at":"x"}]}}`))
	f.Fuzz(func(t *testing.T, key, val []byte) {
		s, err := decodeSale(key, val)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrNewerSchema", err)
			}
			return
		}
		again, err := encodeSale(s)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		s2, err := decodeSale(key, again)
		if err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(s2)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the sale:\n%s\n%s", a, b)
		}
	})
}

func FuzzDecodeJob(f *testing.F) {
	good, _ := json.Marshal(jobRecord{V: 1, Job: nil})
	f.Add([]byte("resolve:o1"), []byte(`{"v":1,"job":{"id":"resolve:o1","kind":"resolve","sale_id":"s1","due":"2026-11-26T10:00:00+08:00","tries":3,"attention":true}}`))
	f.Add([]byte("x"), good)
	f.Add([]byte("x"), []byte(`{"v":1,"job":{"id":"x","due":"not a time"}}`))
	f.Fuzz(func(t *testing.T, key, val []byte) {
		j, err := decodeJob(key, val)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrNewerSchema", err)
			}
			return
		}
		if j.ID != string(key) {
			t.Fatalf("job %q under key %q", j.ID, key)
		}
	})
}

// FuzzIndexKeys: index keys read back from the file never panic the parser, and keys
// built by the store parse back to what went in.
func FuzzIndexKeys(f *testing.F) {
	f.Add([]byte(dayIndexKey("2026-11-26", t0, "s1")), int64(1700000000), uint32(5), "sale-1")
	f.Add([]byte("2026-11-26"), int64(-62135596800), uint32(999999999), "")
	f.Fuzz(func(t *testing.T, raw []byte, sec int64, nsec uint32, id string) {
		parseDayIndexKey(raw)
		parseTimeKey(raw)
		if id == "" {
			return
		}
		ts := time.Unix(sec, int64(nsec%1e9))
		day, got, gotID, err := parseDayIndexKey(dayIndexKey("2026-11-26", ts, id))
		if err != nil || day != "2026-11-26" || !got.Equal(ts) || gotID != id {
			t.Fatalf("round trip of %v %q: %q %v %q %v", ts, id, day, got, gotID, err)
		}
	})
}

// FuzzPrecheck: whatever bytes the journal file holds, the pre-open check returns
// (accepting or refusing), never panics; a file it accepts opens without a fault.
func FuzzPrecheck(f *testing.F) {
	orig := fuzzFixture(f)
	f.Add(orig[:8192])
	f.Add(orig)
	f.Add([]byte("garbage"))
	f.Add(orig[:100])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		p := filepath.Join(dir, "fuzz.db")
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		perr := precheck(fh)
		fh.Close()
		if perr != nil {
			return
		}
		// Accepted: Open must not crash (it may still refuse, e.g. a damaged branch page
		// that only a full Check finds).
		if db, err := Open(p, Options{Timeout: 100 * time.Millisecond}); err == nil {
			db.Close()
		}
	})
}

func fuzzFixture(tb testing.TB) []byte {
	path := filepath.Join(tb.TempDir(), "posd.db")
	db, err := Open(path, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	put(tb, db, paidSale("s1", t0), paidSale("s2", t0.Add(time.Hour)))
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
