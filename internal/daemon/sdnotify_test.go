package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listenNotify is a fake service manager: a real unixgram socket, as systemd uses.
func listenNotify(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return c
}

func readNotify(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestSdNotify(t *testing.T) {
	t.Run("Path", func(t *testing.T) {
		c := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
		sent, err := SdNotify(SdReady + "\nSTATUS=ready")
		if !sent || err != nil {
			t.Fatalf("SdNotify = %v, %v", sent, err)
		}
		if got := readNotify(t, c); got != "READY=1\nSTATUS=ready" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("Abstract", func(t *testing.T) {
		c := listenNotify(t, "@posd-test-notify-"+strconv.Itoa(os.Getpid()))
		if sent, err := SdNotify(SdWatchdog); !sent || err != nil {
			t.Fatalf("SdNotify = %v, %v", sent, err)
		}
		if got := readNotify(t, c); got != SdWatchdog {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("Unset", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		if sent, err := SdNotify(SdReady); sent || err != nil {
			t.Fatalf("SdNotify = %v, %v; want false, nil", sent, err)
		}
	})
	t.Run("NoListener", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent.sock"))
		if sent, err := SdNotify(SdReady); sent || err == nil {
			t.Fatalf("SdNotify = %v, %v; want false, error", sent, err)
		}
	})
	t.Run("Relative", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "relative.sock")
		if sent, err := SdNotify(SdReady); sent || err == nil {
			t.Fatalf("SdNotify = %v, %v; want false, error", sent, err)
		}
	})
}

func TestSdWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		wantErr         bool
	}{
		{"Off", "", "", 0, false},
		{"On", "30000000", "", 30 * time.Second, false},
		{"OurPID", "2000000", strconv.Itoa(os.Getpid()), 2 * time.Second, false},
		{"OtherPID", "2000000", "1", 0, false},
		{"BadUsec", "x", "", 0, true},
		{"Zero", "0", "", 0, true},
		{"BadPID", "1000", "y", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			got, err := SdWatchdogInterval()
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %v, %v; want %v, err=%v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
