package scanner

import (
	"context"
	"fmt"
	"time"
)

// OpenOptions are what a Source needs from its supervisor.
type OpenOptions struct {
	Now func() time.Time // default time.Now
	// Problem receives non-fatal trouble: a refused over-long line, a partial code dropped
	// after a gap. Default: ignored. Messages never contain a whole code.
	Problem func(error)
}

func (o OpenOptions) withDefaults() OpenOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Problem == nil {
		o.Problem = func(error) {}
	}
	return o
}

// OpenConfig opens the scanner cfg describes.
func OpenConfig(ctx context.Context, cfg Config, o OpenOptions) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if cfg.Name == "" {
		cfg.Name = cfg.DisplayName()
	}
	switch cfg.Kind {
	case "serial":
		return OpenSerial(cfg, o)
	case "hid":
		return openHID(cfg, o)
	case "virtual":
		// Its codes are typed in the web UI and handed to the daemon directly; as a
		// device it only says it is there.
		return NewFake(cfg.Name).Open(ctx)
	}
	return nil, fmt.Errorf("scanner %s: kind %q: want serial or hid", cfg.Name, cfg.Kind)
}

// item is what a device's reader goroutine passes to Next: a code or the error that ended it.
type item struct {
	scan Scan
	err  error
}
