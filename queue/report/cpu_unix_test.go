//go:build unix

package report_test

import (
	"syscall"
	"time"
)

// processCPU is user+system CPU time of the test process: benchmarks and the 50k bound
// use it next to wall time because a shared CI machine's load inflates wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
