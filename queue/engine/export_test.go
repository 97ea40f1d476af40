package engine

// Busy reports how many of the engine's goroutines are working rather than waiting for
// the clock (exact with a HookedClock): tests advance a fake clock only when it is 0.
func (e *Engine) Busy() int64 { return e.busy.Load() }

// QueueRunning reports whether Run has started working.
func (e *Engine) QueueRunning() bool {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	return e.qrun
}
