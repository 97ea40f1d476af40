package engine_test

import (
	"regexp"
	"strings"
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

// Ids that always fit: any store/till pair CheckIDs accepts gives an out_trade_no, and
// every out_refund_no made from it (R1..R50 for refunds, C for a cancelled sale's
// payment), of at most 32 characters for the life of the till (a 10-digit sequence);
// any pair that could outgrow it is refused at config time.
func TestIDsAlwaysFit(t *testing.T) {
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for storeLen := 1; storeLen <= 16; storeLen++ {
		for tillLen := 1; tillLen <= 16; tillLen++ {
			store, till := strings.Repeat("S", storeLen), strings.Repeat("T", tillLen)
			err := engine.CheckIDs(store, till)
			otn, oerr := engine.OutTradeNo(store, till, day, 9_999_999_999)
			fits := oerr == nil && len(otn+"R50") <= engine.MaxOutTradeNo && len(otn+"C") <= engine.MaxOutTradeNo
			if err == nil && !fits {
				t.Fatalf("CheckIDs accepts %d+%d characters, but %q + R50 is %d characters", storeLen, tillLen, otn, len(otn+"R50"))
			}
			if err != nil && storeLen+tillLen <= engine.MaxOutTradeNo-2-6-10-3 {
				t.Fatalf("CheckIDs refuses %d+%d characters that fit: %v", storeLen, tillLen, err)
			}
		}
	}
	if _, err := engine.OutTradeNo("S", "T", day, 10_000_000_000); err == nil {
		t.Fatal("an 11-digit sequence was accepted")
	}
}
