package queue

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// MaxOutTradeNo is WeChat's limit on out_trade_no.
const MaxOutTradeNo = 32

// NewOutTradeNo builds the out_trade_no of one attempt. For store and till ids of letters
// and digits that fit (engine.CheckIDs enforces that at startup), it is exactly the engine's
// format (engine.OutTradeNo, which refuses other ids):
//
//	STORE "_" TILL "_" YYMMDD SEQ      e.g. "HK001_T01_261126000042"
//
// where YYMMDD is day's date as given (pass it in the till's time zone) and SEQ is seq in
// decimal, at least 6 digits (a NextSeq number: never reused by this till's journal).
//
// Any other input (an id with other characters, empty, or too long for 32 characters with
// this seq) is shortened deterministically instead of being refused, because an attempt
// must always get a number:
//
//	STOREH "_" TILLP "_" YYMMDD SEQ36
//
// STOREH is up to two letters or digits of the store id, "-", and a base-36 FNV-1a hash of
// the whole id, 8 characters in all ("Central Store #1" → "Ce-3KX7Q"); TILLP is the till id
// when it is at most 7 letters and digits, else hashed the same way; SEQ36 is seq in
// upper-case base 36. Only a seq of 10 or more base-36 digits shrinks the two parts.
//
// The result is at most 32 characters of WeChat's allowed set ([0-9A-Za-z_-|*]; only
// [0-9A-Za-z_-] is used) and unique across tills, restarts and days: "_" appears only as
// the two separators, so equal results mean equal store part, till part, date and seq; the
// "-" of a hashed store part keeps the two formats apart. Two distinct ids that both need
// hashing collide only if their prefixes and 5-character hashes both match (about 1 in 60
// million).
func NewOutTradeNo(storeID, tillID string, day time.Time, seq uint64) string {
	date := day.Format("060102")
	if storeID != "" && tillID != "" && plainID(storeID) && plainID(tillID) {
		s := storeID + "_" + tillID + "_" + date + fmt.Sprintf("%06d", seq)
		if len(s) <= MaxOutTradeNo {
			return s
		}
	}
	q := strings.ToUpper(strconv.FormatUint(seq, 36))
	storeBudget, tillBudget := 8, 7
	if over := len(q) - 9; over > 0 { // 32 = 8 + 1 + 7 + 1 + 6 + 9
		tillBudget -= over / 2
		storeBudget -= over - over/2
	}
	till := tillID
	if tillID == "" || len(tillID) > tillBudget || !plainID(tillID) {
		till = hashedID(tillID, tillBudget)
	}
	return hashedID(storeID, storeBudget) + "_" + till + "_" + date + q
}

func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		if !isAlnum(id[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// hashedID is up to budget-6 letters or digits of id, "-", and a base-36 hash of id
// filling the budget.
func hashedID(id string, budget int) string {
	prefixLen := budget - 6 // leave "-" and 5 hash characters
	var prefix []byte
	for i := 0; i < len(id) && len(prefix) < prefixLen; i++ {
		if isAlnum(id[i]) {
			prefix = append(prefix, id[i])
		}
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	hash := strings.ToUpper(strconv.FormatUint(h.Sum64(), 36))
	hash = strings.Repeat("0", 13-len(hash)) + hash // 13 = base-36 digits of 2^64-1
	n := budget - 1 - len(prefix)
	return string(prefix) + "-" + hash[len(hash)-n:]
}
