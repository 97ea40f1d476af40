package daemon

import (
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// sd_notify(3) and the service watchdog through go-systemd's daemon package: one datagram
// to $NOTIFY_SOCKET (abstract "@" names included), and WatchdogSec= from $WATCHDOG_USEC.

// Notification states (sd_notify(3)).
const (
	SdReady     = daemon.SdNotifyReady
	SdStopping  = daemon.SdNotifyStopping
	SdWatchdog  = daemon.SdNotifyWatchdog
	SdReloading = daemon.SdNotifyReloading
)

// SdNotify sends state to the service manager. It returns (false, nil) when there is no
// manager to tell ($NOTIFY_SOCKET unset), (false, err) when sending failed and (true, nil)
// when sent. The environment is kept: the watchdog keeps pinging through it.
func SdNotify(state string) (bool, error) {
	sent, err := daemon.SdNotify(false, state)
	if err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	return sent, nil
}

// SdWatchdogInterval returns WatchdogSec= as passed in $WATCHDOG_USEC, or 0 when the watchdog
// is off or meant for another process ($WATCHDOG_PID). Ping at half of it.
func SdWatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("watchdog: %w", err)
	}
	return d, nil
}
