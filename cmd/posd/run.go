package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"posd/internal/config"
	"posd/internal/daemon"
	"posd/internal/logging"
	"posd/scanner"
)

// runCmd is `posd run`: the daemon, until SIGTERM.
func (m *Main) runCmd(ctx context.Context, args []string) error {
	cfg, _, err := m.readConfig("run", args)
	if err != nil {
		return err
	}
	logs, err := logging.NewLogging(cfg.Log, os.Stderr, logging.StderrIsJournal(os.Stderr))
	if err != nil {
		return &config.ConfigError{Problems: []config.Problem{{Key: "log.level", Msg: err.Error()}}}
	}
	if m.Stderr != os.Stderr {
		logs.Logger.SetOutput(m.Stderr)
	}
	m.onClose(logs.Close)
	logs.ReopenOnHUP(ctx)
	secrets, probs, warns := config.LoadSecrets(&cfg, time.Now())
	for _, w := range warns {
		logs.Logger.WithField("key", w.Key).Warn(w.Msg)
	}
	if len(probs) > 0 {
		return &config.ConfigError{Problems: probs}
	}
	d, err := daemon.Start(daemon.Parts{
		Config: cfg, Secrets: secrets, Logging: logs,
		GWConfig: cfg.WxPayClientConfig(secrets), Version: version(), Commit: commit(),
	})
	if err != nil {
		logs.Logger.WithError(err).Error("posd failed to start")
		return err
	}
	<-ctx.Done()
	d.Shutdown(context.Background())
	return nil
}

// devicesCmd lists scanners (serial ports and HID interfaces) with the config lines to use.
func (m *Main) devicesCmd(_ context.Context, args []string) error {
	fs := m.newFlagSet("devices")
	path := fs.String("config", "", "config file: mark the devices it already names")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var configured []scanner.Config
	if *path != "" {
		cfg, err := config.ReadConfigFile(*path)
		if err != nil {
			return err
		}
		configured = cfg.Scanner
	}
	if err := scanner.WriteDevices(m.Stdout, configured); err != nil {
		return fmt.Errorf("list devices: %w", err)
	}
	return nil
}
