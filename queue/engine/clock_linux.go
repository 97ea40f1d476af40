package engine

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bootClock reads CLOCK_BOOTTIME (monotonic since boot, counting suspend: it never jumps
// with the wall clock) and the kernel's id of this boot, so a reading journaled before a
// restart of posd still subtracts from one taken after it.
func bootClock() (boot string, sinceBoot time.Duration, ok bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return "", 0, false
	}
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil || len(strings.TrimSpace(string(id))) == 0 {
		return "", 0, false
	}
	return strings.TrimSpace(string(id)), time.Duration(ts.Nano()), true
}
