package engine_test

import (
	"regexp"
	"testing"
	"time"

	"pgregory.net/rapid"

	"posd/queue/engine"
)

// TestOutTradeNoProperties: every accepted (store, till) gives at most 32 characters of
// WeChat's allowed set, and distinct (store, till, day, seq) never give the same number —
// the "_" separators keep "HK0"+"01T" apart from "HK00"+"1T".
func TestOutTradeNoProperties(t *testing.T) {
	allowed := regexp.MustCompile(`^[0-9A-Za-z_\-|*]{1,32}$`)
	type in struct {
		store, till, day string
		seq              uint64
	}
	seen := map[string]in{}
	rapid.Check(t, func(t *rapid.T) {
		store := rapid.OneOf(rapid.StringMatching(`[0-9A-Za-z]{1,8}`), rapid.SampledFrom([]string{"HK00", "HK0", "HK001"})).Draw(t, "store")
		till := rapid.OneOf(rapid.StringMatching(`[0-9A-Za-z]{1,6}`), rapid.SampledFrom([]string{"1T", "01T", "T01"})).Draw(t, "till")
		seq := rapid.OneOf(rapid.Uint64Range(0, 1e7), rapid.Uint64Range(0, 9999999999)).Draw(t, "seq")
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 800).Draw(t, "day"))
		got, err := engine.OutTradeNo(store, till, day, seq)
		if err != nil {
			if engine.CheckIDs(store, till) == nil {
				t.Fatalf("OutTradeNo(%q, %q, %d) refused ids CheckIDs accepts: %v", store, till, seq, err)
			}
			return
		}
		if !allowed.MatchString(got) {
			t.Fatalf("%q: not 1–32 characters of WeChat's set", got)
		}
		key := in{store, till, day.Format("060102"), seq}
		if prev, ok := seen[got]; ok && prev != key {
			t.Fatalf("%+v and %+v both give %q", prev, key, got)
		}
		seen[got] = key
	})
}
