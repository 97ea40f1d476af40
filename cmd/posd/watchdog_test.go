package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"posd/internal/config"
	"posd/internal/daemon"
	"posd/internal/logging"
)

// TestDaemon_Watchdog starts the daemon in-process with a 200 ms watchdog: it pings while
// the journal answers, and stops pinging once the journal does not, so systemd would
// restart it.
func TestDaemon_Watchdog(t *testing.T) {
	tl := newTill(t, tillOptions{noDevices: true})
	sock := filepath.Join(tl.dir, "wd.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")

	cfg, err := config.ReadConfigFile(tl.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	secrets, probs, _ := config.LoadSecrets(&cfg, time.Now())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var logs syncBuffer
	lg, err := logging.NewLogging(cfg.Log, &logs, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	d, err := daemon.Start(daemon.Parts{Config: cfg, Secrets: secrets, Logging: lg, GWConfig: cfg.WxPayClientConfig(secrets)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())

	read := func(wait time.Duration) string {
		buf := make([]byte, 512)
		nc.SetReadDeadline(time.Now().Add(wait))
		n, err := nc.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	if m := read(5 * time.Second); !bytes.HasPrefix([]byte(m), []byte("READY=1")) {
		t.Fatalf("first message %q", m)
	}
	for i := range 3 {
		if m := read(2 * time.Second); !strings.HasPrefix(m, "WATCHDOG=1") {
			t.Fatalf("ping %d: %q", i, m)
		}
	}
	// The journal stops answering (as if its disk went away).
	d.Journal().Close()
	for read(300*time.Millisecond) != "" { // drain a ping that was already on its way
	}
	if m := read(time.Second); m != "" {
		t.Fatalf("pinged while the journal is gone: %q\n%s", m, logs.String())
	}
	if !bytes.Contains([]byte(logs.String()), []byte("not pinging the watchdog")) {
		t.Fatalf("no log of the failed health check:\n%s", logs.String())
	}
}

// BenchmarkDaemon_StartReady measures start (journal open, recovery, listeners) to ready
// on an empty store, in-process: the part of `posd run` after the exec (TestE2E_Idle
// measures the whole, exec included, against the 200 ms budget).
func BenchmarkDaemon_StartReady(b *testing.B) {
	tl := newTill(b, tillOptions{noDevices: true})
	base, err := config.ReadConfigFile(tl.cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	secrets, probs, _ := config.LoadSecrets(&base, time.Now())
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	var sink bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		cfg := base
		cfg.Storage.Path = filepath.Join(b.TempDir(), "posd.db") // empty store every time
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.Log.FileMaxBytes = 0
		lg, err := logging.NewLogging(cfg.Log, &sink, false)
		if err != nil {
			b.Fatal(err)
		}
		d, err := daemon.Start(daemon.Parts{Config: cfg, Secrets: secrets, Logging: lg, GWConfig: cfg.WxPayClientConfig(secrets)})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d.Shutdown(context.Background())
		sink.Reset()
		b.StartTimer()
	}
}
