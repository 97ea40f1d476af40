package main

import (
	"context"
	"fmt"
	"time"

	"posd/internal/config"
	"posd/internal/manager"
)

// managerCmd runs report, reconcile and journal: it parses and checks the flags, and
// internal/manager answers (from the journal, or through the running posd's API).
func (m *Main) managerCmd(ctx context.Context, cmd string, args []string) error {
	fs := m.newFlagSet(cmd)
	path := fs.String("config", config.DefaultConfigPath, "config file")
	date := fs.String("date", "", "day YYYY-MM-DD in Hong Kong time (default: today; reconcile: yesterday)")
	format := fs.String("format", "", "journal: csv (default) or json; report and reconcile print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.ReadConfigFile(*path)
	if err != nil {
		return err
	}
	loc := cfg.Till.Location()
	if *date == "" {
		day := time.Now().In(loc)
		if cmd == "reconcile" {
			day = day.AddDate(0, 0, -1)
		}
		*date = day.Format(time.DateOnly)
	}
	if _, err := time.Parse(time.DateOnly, *date); err != nil {
		return &UsageError{fmt.Sprintf("-date %q: want YYYY-MM-DD", *date)}
	}
	switch {
	case cmd == "journal" && *format == "":
		*format = "csv"
	case cmd == "journal" && *format != "csv" && *format != "json":
		return &UsageError{"-format: csv or json"}
	case cmd != "journal" && *format != "" && *format != "json":
		return &UsageError{"-format: " + cmd + " prints JSON"}
	}

	return manager.Run(ctx, m.Stdout, &cfg, manager.Request{Tool: cmd, Date: *date, Format: *format})
}
