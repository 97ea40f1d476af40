//go:build unix

package wxpay

import (
	"syscall"
	"time"
)

// processCPU is user+system CPU time of the test process. Benchmarks report CPU time per
// operation next to wall time because a shared CI machine's load inflates wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
