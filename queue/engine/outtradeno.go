package engine

import (
	"fmt"
	"time"
)

// MaxOutTradeNo is WeChat's limit for out_trade_no (and out_refund_no).
const MaxOutTradeNo = 32

// Widths that must fit in MaxOutTradeNo for the life of a till: the sequence (NextSeq,
// shared by sales and attempts: 10 digits last a till thousands of years) and the
// longest suffix an out_refund_no adds to its out_trade_no ("R50"; "C" is shorter).
const (
	maxSeqDigits    = 10
	maxSeq          = 9_999_999_999
	maxRefundSuffix = len("R50")
)

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
	if seq > maxSeq {
		return "", fmt.Errorf("sequence %d has more than %d digits: out_trade_no and its refund numbers could exceed %d characters", seq, maxSeqDigits, MaxOutTradeNo)
	}
	s := fmt.Sprintf("%s_%s_%s%06d", store, till, day.Format("060102"), seq)
	if len(s) > MaxOutTradeNo {
		return "", fmt.Errorf("out_trade_no %q is longer than %d characters: use shorter store and till ids", s, MaxOutTradeNo)
	}
	return s, nil
}

// CheckIDs checks store and till ids for out_trade_no: letters and digits only, and short
// enough that an out_trade_no with a 10-digit sequence, and every out_refund_no made
// from it (+ "R1".."R50", + "C"), still fit 32 characters. A refund number that did not
// fit would be refused by WeChat and retried forever, so it is refused at config time.
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
	// store + "_" + till + "_" + YYMMDD + up to 10 digits of sequence + "R50".
	fixed := 2 + 6 + maxSeqDigits + maxRefundSuffix
	if n := len(store) + len(till) + fixed; n > MaxOutTradeNo {
		return fmt.Errorf("store_id %q and till_id %q are too long together: with a %d-digit sequence and a refund suffix (R50) the refund number could exceed %d characters (at most %d characters together)", store, till, maxSeqDigits, MaxOutTradeNo, MaxOutTradeNo-fixed)
	}
	return nil
}
