package engine

import (
	"fmt"
	"sync"
	"time"
)

// MonoClock is a Clock with a reading that never jumps. Within one process every wait,
// floor and deadline of an attempt is measured on it, so a wall-clock step (NTP, a dead
// RTC) neither shortens nor stretches them. Mono returns the time since boot and an id
// of that boot: two readings with the same boot subtract to the real time between them,
// even across a restart of posd. A Clock without it is taken as monotonic itself.
type MonoClock interface {
	Mono() (boot string, sinceBoot time.Duration)
}

// TimerClock is a Clock whose timers can be released early. The engine uses it when the
// injected Clock has it (RealClock and enginetest.FakeClock do): a runner woken by a
// cancel then releases its timer, so a fake clock's count of waiting timers stays exact
// and tests can wait for "the engine is idle" deterministically.
type TimerClock interface {
	Clock
	// NewTimer is like time.NewTimer: the channel receives once after d; stop releases
	// the timer and reports whether it was still pending.
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// RealClock is the wall clock. Its timers use Go's monotonic clock, so a wall-clock jump
// (NTP, a dead RTC battery) does not shorten a wait.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// processStart anchors the fallback monotonic reading (Go's, for this process only).
var (
	processStart = time.Now()
	processBoot  = sync.OnceValue(func() string { return fmt.Sprintf("process-%d", processStart.UnixNano()) })
)

// Mono reads CLOCK_BOOTTIME with the kernel's boot id; where that is not available, Go's
// monotonic clock with an id of this process (readings then compare only within it).
func (realClock) Mono() (string, time.Duration) {
	if boot, d, ok := bootClock(); ok {
		return boot, d
	}
	return processBoot(), time.Since(processStart)
}
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// newTimer uses clk's stoppable timers when it has them, else After (whose timer is
// released when it fires).
func newTimer(clk Clock, d time.Duration) (<-chan time.Time, func() bool) {
	if tc, ok := clk.(TimerClock); ok {
		return tc.NewTimer(d)
	}
	return clk.After(d), func() bool { return false }
}

// HookedClock is implemented by test clocks (enginetest.FakeClock) that call fired
// when a timer fires, before its channel receives. With it the engine counts exactly how
// many of its goroutines are working rather than waiting, so a test can advance time only
// once the engine is idle (see Engine.busy).
type HookedClock interface {
	NewHookedTimer(d time.Duration, fired func()) (c <-chan time.Time, stop func() bool)
}
