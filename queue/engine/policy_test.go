package engine

import (
	"testing"
	"time"
)

// The pure decision function: which call next, and when.
func TestNext(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	base := func() track {
		return track{deadline: at(30), reverseAfter: at(15), lastQuery: at(3), nextQuery: at(4)}
	}
	for _, tc := range []struct {
		name string
		mod  func(*track)
		now  float64
		act  action
		when float64
	}{
		{"polling", nil, 3, actQuery, 4},
		{"never two queries within a second", func(t *track) { t.nextQuery = at(3.2) }, 3.1, actQuery, 4},
		{"deadline reached: reverse", func(t *track) { t.lastQuery, t.nextQuery = at(29.5), at(30.5) }, 30, actReverse, 30},
		{"cancelled: reverse at the floor, not before", func(t *track) { t.cancelled = true; t.nextQuery = at(20) }, 3, actReverse, 15},
		{"cancelled after the floor: reverse now", func(t *track) { t.cancelled = true; t.nextQuery = at(21) }, 20, actReverse, 20},
		{"silence before the deadline: query", func(t *track) { t.silent, t.mustQuery = true, true }, 10, actQuery, 10},
		{"silence at the deadline: durable queue", func(t *track) { t.silent, t.mustQuery = true, true }, 30, actUnresolve, 30},
		{"reverse claimed: confirm with a query", func(t *track) { t.reverseClaimed, t.mustQuery, t.reverseTries = true, true, 1 }, 31, actQuery, 31},
		{"reversing: keep reversing with backoff", func(t *track) { t.reverseTries, t.nextReverse = 1, at(33) }, 31, actReverse, 33},
		{"paid after cancel: reverse, floor still holds", func(t *track) { t.undo, t.cancelled = undoReverse, true }, 5, actReverse, 15},
		{"paid after cancel, too old: refund", func(t *track) { t.undo, t.nextRefund = undoRefund, at(40) }, 35, actRefund, 40},
		{"refund accepted: confirm", func(t *track) { t.undo, t.refundAccepted, t.nextRefund = undoRefund, true, at(45) }, 41, actQueryRefund, 45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := base()
			if tc.mod != nil {
				tc.mod(&tr)
			}
			act, when := next(&tr, at(tc.now))
			when = later(when, at(tc.now)) // a time in the past means now
			if act != tc.act || !when.Equal(at(tc.when)) {
				t.Fatalf("next = %s at %v, want %s at %v", act, when.Sub(t0), tc.act, at(tc.when).Sub(t0))
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	for n := 0; n < 20; n++ {
		d := backoff(jobBackoff, maxJobBackoff, n)
		if d < time.Second/2 || d > maxJobBackoff*6/5 {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
}
