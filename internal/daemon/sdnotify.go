package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// sd_notify(3) without a library: one datagram of newline-separated KEY=VALUE pairs to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a leading "@" is the abstract namespace, which Go's
// net package maps by itself).

// Notification states (sd_notify(3)).
const (
	SdReady     = "READY=1"
	SdStopping  = "STOPPING=1"
	SdWatchdog  = "WATCHDOG=1"
	SdReloading = "RELOADING=1"
)

// SdNotify sends state to the service manager. It returns (false, nil) when there is no
// manager to tell ($NOTIFY_SOCKET unset), (false, err) when sending failed and (true, nil)
// when sent.
func SdNotify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return false, fmt.Errorf("sd_notify: unsupported NOTIFY_SOCKET %q", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	// A manager that stops reading must not wedge posd (STOPPING=1 is sent on the way out).
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	return true, nil
}

// SdWatchdogInterval returns WatchdogSec= as passed in $WATCHDOG_USEC, or 0 when the watchdog
// is off or meant for another process ($WATCHDOG_PID). Ping at half of it.
func SdWatchdogInterval() (time.Duration, error) {
	us := os.Getenv("WATCHDOG_USEC")
	if us == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad WATCHDOG_USEC %q", us)
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("bad WATCHDOG_PID %q", p)
		}
		if pid != os.Getpid() {
			return 0, nil
		}
	}
	return time.Duration(n) * time.Microsecond, nil
}
