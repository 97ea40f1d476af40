//go:build !linux

package engine

import "time"

// bootClock has no boot-wide monotonic clock off Linux: RealClock falls back to Go's
// monotonic clock for this process only (see RealClock.Mono).
func bootClock() (boot string, sinceBoot time.Duration, ok bool) { return "", 0, false }
