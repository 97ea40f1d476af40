package engine

import (
	"fmt"
	"time"
)

// MaxOutTradeNo is WeChat's limit for out_trade_no.
const MaxOutTradeNo = 32

// OutTradeNo formats an attempt's out_trade_no: store, till, the day (YYMMDD in day's
// location) and a sequence number from Tx.NextSeq, e.g. "HK001_T01_261126000042".
//
// It is unique across tills, restarts and days as long as each (store, till) pair is
// unique in the merchant (docs/interfaces.md) and seq is never reused (NextSeq). The "_"
// separators keep the parts unambiguous ("HK0"+"01T" vs "HK00"+"1T"), which is why
// store and till ids may hold only letters and digits (checked by CheckIDs). The
// sequence has at least 6 digits so numbers of one day sort.
func OutTradeNo(store, till string, day time.Time, seq uint64) (string, error) {
	if err := CheckIDs(store, till); err != nil {
		return "", err
	}
	s := fmt.Sprintf("%s_%s_%s%06d", store, till, day.Format("060102"), seq)
	if len(s) > MaxOutTradeNo {
		return "", fmt.Errorf("out_trade_no %q is longer than %d characters: use shorter store and till ids", s, MaxOutTradeNo)
	}
	return s, nil
}

// CheckIDs checks store and till ids for out_trade_no: letters and digits only, and short
// enough that an out_trade_no with a 10-digit sequence still fits 32 characters.
func CheckIDs(store, till string) error {
	for _, p := range []struct{ name, v string }{{"store_id", store}, {"till_id", till}} {
		if p.v == "" {
			return fmt.Errorf("%s is empty", p.name)
		}
		for _, r := range p.v {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return fmt.Errorf("%s %q: only letters and digits are allowed (it is part of out_trade_no)", p.name, p.v)
			}
		}
	}
	// store + "_" + till + "_" + YYMMDD + up to 10 digits of sequence.
	if n := len(store) + len(till) + 2 + 6 + 10; n > MaxOutTradeNo {
		return fmt.Errorf("store_id %q and till_id %q are too long together for a 32-character out_trade_no (at most %d characters together)", store, till, MaxOutTradeNo-18)
	}
	return nil
}
