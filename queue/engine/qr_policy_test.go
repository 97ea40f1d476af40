package engine

import (
	"testing"
	"time"
)

// The QR rules in the pure decision function: t0 + 5 min is time_expire (the deadline),
// t0 + 5 min 30 s the first close (reverseAfter).
func TestNextQR(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	base := func() track {
		return track{qr: true, deadline: at(300), reverseAfter: at(330), lastQuery: at(3), nextQuery: at(4)}
	}
	for _, tc := range []struct {
		name string
		mod  func(*track)
		now  float64
		act  action
		when float64
	}{
		{"shown: polling once a second", nil, 3, actQuery, 4},
		{"expired: keep querying until WeChat takes a close", nil, 301, actQuery, 4},
		{"expired and closable: close", func(t *track) { t.lastQuery, t.nextQuery = at(329.5), at(330.5) }, 330, actReverse, 330},
		{"cancelled: query until the close floor", func(t *track) { t.cancelled = true }, 10, actQuery, 4},
		{"cancelled, at the floor: close", func(t *track) { t.cancelled = true; t.lastQuery, t.nextQuery = at(330), at(331) }, 330, actReverse, 330},
		{"no code yet: send the native order again", func(t *track) { t.needCode, t.nextNative = true, at(6) }, 5, actNative, 6},
		{"no code, never within a second of a query", func(t *track) { t.needCode, t.nextNative = true, at(2) }, 3, actNative, 4},
		{"no code, unclear answer: query first", func(t *track) { t.needCode, t.mustQuery = true, true }, 5, actQuery, 5},
		{"no code, too little time left: no resend", func(t *track) { t.needCode = true; t.nextQuery = at(240) }, 236, actQuery, 240},
		{"no code, cancelled: no resend", func(t *track) { t.needCode, t.cancelled = true, true }, 5, actQuery, 4},
		{"silent until time_expire: query", func(t *track) { t.silent, t.mustQuery = true, true }, 200, actQuery, 200},
		{"silent at time_expire: durable queue", func(t *track) { t.silent, t.mustQuery = true, true }, 300, actUnresolve, 300},
		{"close claimed: confirm with a query", func(t *track) { t.reverseClaimed, t.mustQuery, t.reverseTries = true, true, 1 }, 331, actQuery, 331},
		{"close refused as paid: query", func(t *track) { t.paidClaimed, t.mustQuery, t.reverseTries = true, true, 1 }, 331, actQuery, 331},
		{"paid after cancel: refund", func(t *track) { t.cancelled, t.undo, t.nextRefund = true, undoRefund, at(50) }, 40, actRefund, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := base()
			if tc.mod != nil {
				tc.mod(&tr)
			}
			act, when := next(&tr, at(tc.now))
			when = later(when, at(tc.now))
			if act != tc.act || !when.Equal(later(at(tc.when), at(tc.now))) {
				t.Fatalf("next = %s at %v, want %s at %v", act, when.Sub(t0), tc.act, later(at(tc.when), at(tc.now)).Sub(t0))
			}
		})
	}
}
