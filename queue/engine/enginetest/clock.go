// Package enginetest holds fakes for testing code built on the payment engine: a fake
// clock, an in-memory Store with the bbolt store's semantics, and a scriptable
// wxpay.Client. They make WeChat's 15–45 s rules run in microseconds.
package enginetest

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// FakeClock is a Clock (and engine.TimerClock) whose time moves only when a test says so.
//
// It keeps two times, like the real clock: the wall time that Now reports, and a
// monotonic time that timers run on and Mono reports (engine.MonoClock). Advance moves
// both; Set (and Jump) move only the wall time, the way NTP or a wrong RTC does, so a
// test can check that a clock jump neither fires nor delays a timer, nor moves a floor.
// Reboot starts a new boot: monotonic readings of the old one no longer compare.
type FakeClock struct {
	mu      sync.Mutex
	wall    time.Time
	mono    time.Duration
	boot    int
	booted  time.Duration // mono when the current boot started
	timers  []*fakeTimer
	changed chan struct{} // closed (and replaced) whenever the set of timers changes
}

type fakeTimer struct {
	at    time.Duration // on the monotonic time
	ch    chan time.Time
	fired func() // optional, called before ch receives
}

// NewFakeClock starts at t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{wall: t, changed: make(chan struct{})}
}

// Now returns the fake wall time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// After is like time.After on the fake clock.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	ch, _ := c.NewTimer(d)
	return ch
}

// NewTimer is like time.NewTimer on the fake clock; stop releases the timer.
func (c *FakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.mono + d, ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.wall
		return t.ch, func() bool { return false }
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t.ch, func() bool { return c.stop(t) }
}

func (c *FakeClock) stop(t *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			c.notifyLocked()
			return true
		}
	}
	return false
}

func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d, firing every timer due on the way in order
// (each sees the time it was due at).
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.mono + d
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at < c.timers[j].at })
	for len(c.timers) > 0 && c.timers[0].at <= end {
		t := c.timers[0]
		c.timers = c.timers[1:]
		c.wall = c.wall.Add(t.at - c.mono)
		c.mono = t.at
		if t.fired != nil {
			t.fired()
		}
		t.ch <- c.wall
	}
	c.wall = c.wall.Add(end - c.mono)
	c.mono = end
	c.notifyLocked()
}

// AdvanceToNext moves the clock to the earliest pending timer and fires it (and any due
// at the same instant). It returns how far the clock moved, and false when no timer waits.
func (c *FakeClock) AdvanceToNext() (time.Duration, bool) {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return 0, false
	}
	next := c.timers[0].at
	for _, t := range c.timers {
		if t.at < next {
			next = t.at
		}
	}
	d := next - c.mono
	c.mu.Unlock()
	c.Advance(d)
	return d, true
}

// Mono returns the current boot and the monotonic time since it started (engine.MonoClock).
func (c *FakeClock) Mono() (boot string, sinceBoot time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("fake-boot-%d", c.boot), c.mono - c.booted
}

// Elapsed is the monotonic time since NewFakeClock, across reboots: the real time an
// outside observer (WeChat) measures.
func (c *FakeClock) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Reboot starts a new boot of the machine: Mono's readings start again from zero under a
// new boot id. Timers keep running (the engine under test is restarted by the test).
func (c *FakeClock) Reboot() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.boot++
	c.booted = c.mono
}

// Jump moves the wall clock by d (forward or back) without moving timers or Mono.
func (c *FakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
	c.notifyLocked()
}

// Set jumps the wall clock to t without moving timers: what NTP or a wrong RTC does.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = t
	c.notifyLocked()
}

// Waiters returns how many timers are pending.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextTimer returns how long until the earliest pending timer fires.
func (c *FakeClock) NextTimer() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0, false
	}
	next := c.timers[0].at
	for _, t := range c.timers {
		if t.at < next {
			next = t.at
		}
	}
	return next - c.mono, true
}

// BlockUntil waits until at least n timers are pending: the goroutines under test have
// reached their waits, so an Advance now is deterministic.
func (c *FakeClock) BlockUntil(n int) {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return
		}
		ch := c.changed
		c.mu.Unlock()
		<-ch
	}
}

// BlockUntilTimeout is BlockUntil with a real-time limit, for tests that must fail
// rather than hang; it reports whether n timers were reached.
func (c *FakeClock) BlockUntilTimeout(n int, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return true
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// NewHookedTimer is NewTimer that calls fired (from Advance, before the channel
// receives) when the timer fires: engine.HookedClock.
func (c *FakeClock) NewHookedTimer(d time.Duration, fired func()) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.mono + d, ch: make(chan time.Time, 1), fired: fired}
	if d <= 0 {
		if fired != nil {
			fired()
		}
		t.ch <- c.wall
		return t.ch, func() bool { return false }
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t.ch, func() bool { return c.stop(t) }
}
