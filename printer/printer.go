package printer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"posd/internal/check"
)

// Printer is one receipt printer behind some link.
type Printer interface {
	// Write sends one whole job. nil means every byte was accepted by the link. An
	// *InterruptedError means some bytes may have reached the printer before the link
	// failed; any other error means nothing was sent.
	Write(ctx context.Context, job []byte) error
	// Status asks the printer for its state (DLE EOT). ErrNoStatus means the link or the
	// printer does not answer; callers print anyway.
	Status(ctx context.Context) (Status, error)
	Close() error
}

var (
	// ErrNoStatus: the printer or its link gives no status (a file, a one-way cable, a
	// printer that ignores DLE EOT, or one that answered garbage).
	ErrNoStatus = errors.New("printer status not available")
	// ErrDisabled: the printer kind is "none".
	ErrDisabled = errors.New("no printer configured")
)

// InterruptedError reports a job cut off after Sent bytes had left for the printer: part
// of the receipt may be on paper.
type InterruptedError struct {
	Sent int
	Err  error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("print interrupted after %d bytes: %v", e.Sent, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// Config is the [printer] section of posd.toml.
type Config struct {
	Kind         string `toml:"kind"`          // tcp, usb, serial, file, virtual or none
	Address      string `toml:"address"`       // tcp: host:port
	Device       string `toml:"device"`        // usb, serial, file: a path
	Baud         int    `toml:"baud"`          // serial: default 9600
	Encoding     string `toml:"encoding"`      // big5, big5-hkscs, gb18030 or ascii
	Raster       string `toml:"raster"`        // line (default), receipt or off
	Font         string `toml:"font"`          // CJK font file for raster lines and previews
	Columns      int    `toml:"columns"`       // 32, 42 or 48
	DrawerKick   bool   `toml:"drawer_kick"`   // open the cash drawer after a paid sale
	MerchantCopy bool   `toml:"merchant_copy"` // print a merchant copy too

	// Link timeouts; zero means the defaults below.
	ConnectTimeout time.Duration `toml:"-"` // tcp dial: 3 s
	WriteTimeout   time.Duration `toml:"-"` // one job: 20 s
	StatusTimeout  time.Duration `toml:"-"` // one DLE EOT answer: 700 ms
}

// Format is the layout part of the configuration.
func (c Config) Format() Format {
	return Format{Encoding: c.Encoding, Columns: c.Columns, DrawerKick: c.DrawerKick, MerchantCopy: c.MerchantCopy, Raster: c.Raster, Font: c.Font}
}

func (c Config) connectTimeout() time.Duration { return orDefault(c.ConnectTimeout, 3*time.Second) }
func (c Config) writeTimeout() time.Duration   { return orDefault(c.WriteTimeout, 20*time.Second) }
func (c Config) statusTimeout() time.Duration {
	return orDefault(c.StatusTimeout, 700*time.Millisecond)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Validate checks the kind, the fields it needs, the encoding and the width: every
// problem, one a line, each naming its key ("printer.columns: ...").
func (c Config) Validate() error {
	var errs []error
	for _, p := range check.Under("printer.", c.Problems()) {
		errs = append(errs, errors.New(p.String()))
	}
	return errors.Join(errs...)
}

// Problems lists what is wrong with the [printer] section, each naming its key within the
// section (kind, address, device, encoding, columns).
func (c Config) Problems() []check.Problem {
	var p check.List
	switch c.Kind {
	case "tcp":
		if c.Address == "" {
			p.Add("address", "required for kind tcp")
		} else if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
			p.Add("address", "host:port such as 192.168.1.50:9100 (got %q)", c.Address)
		}
	case "usb", "serial", "file":
		if c.Device == "" {
			p.Add("device", "required for kind %s", c.Kind)
		}
	case "none", "virtual":
	default:
		p.Add("kind", "%q is not tcp, usb, serial, file or none (or virtual: receipts shown in the web UI only)", c.Kind)
	}
	if _, err := newCodec(c.Encoding); err != nil {
		p.Add("encoding", "%v", err)
	}
	switch c.Raster {
	case "", RasterLine, RasterReceipt, RasterOff:
	default:
		p.Add("raster", "%q is not line, receipt or off", c.Raster)
	}
	switch c.Columns {
	case 0, 32, 42, 48:
	default:
		p.Add("columns", "%d is not 32, 42 or 48", c.Columns)
	}
	return p
}

// Open returns the printer the configuration names. It does not touch the device yet:
// links are opened per job, so a printer that is off at start-up is not an error.
func Open(cfg Config) (Printer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Kind {
	case "tcp":
		return &TCP{Address: cfg.Address, ConnectTimeout: cfg.connectTimeout(), WriteTimeout: cfg.writeTimeout(), StatusTimeout: cfg.statusTimeout()}, nil
	case "usb":
		return &Device{Path: cfg.Device, WriteTimeout: cfg.writeTimeout(), StatusTimeout: cfg.statusTimeout()}, nil
	case "serial":
		return &Serial{Port: cfg.Device, Baud: cfg.Baud, WriteTimeout: cfg.writeTimeout(), StatusTimeout: cfg.statusTimeout()}, nil
	case "file":
		return &File{Path: cfg.Device}, nil
	case "virtual":
		return NewVirtual(0), nil
	}
	return None{}, nil
}

// None is the printer of kind "none": every job fails with ErrDisabled.
type None struct{}

func (None) Write(context.Context, []byte) error { return ErrDisabled }
func (None) Status(context.Context) (Status, error) {
	return Status{}, ErrDisabled
}
func (None) Close() error { return nil }

// TextProblems says which of the configured texts (key → text, e.g. "till.merchant_name")
// will not print as written with this configuration: characters the encoding lacks
// when raster is off, no usable font when it is on, or a font without the glyph. An
// empty result means every character prints.
func (c Config) TextProblems(texts map[string]string) []string {
	cd, err := newCodec(c.Encoding)
	if err != nil {
		return nil // Validate reports the encoding
	}
	var out []string
	if c.Font != "" && c.Raster != RasterOff {
		// A font named but unusable is worth saying even when today's texts need none.
		if _, err := openFont(c.Font); err != nil {
			out = append(out, fmt.Sprintf("printer.font: %v; lines with characters %s lacks will print '?'", err, firstNonEmpty(c.Encoding, EncodingASCII)))
		}
	}
	keys := make([]string, 0, len(texts))
	for k := range texts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		miss := cd.missing(texts[k])
		if len(miss) == 0 {
			continue
		}
		enc := firstNonEmpty(c.Encoding, EncodingASCII)
		if c.Raster == RasterOff {
			hint := "set printer.raster = \"line\""
			if enc == EncodingBig5 {
				hint = "set printer.encoding = \"big5-hkscs\" if the printer has HKSCS, or printer.raster = \"line\""
			}
			out = append(out, fmt.Sprintf("%s: %s is not in %s and printer.raster is off, so it prints as '?' (%s)", k, quoteRunes(miss), enc, hint))
			continue
		}
		f, err := fontFor(c.Font)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %s is not in %s and %v, so it prints as '?'", k, quoteRunes(miss), enc, err))
			continue
		}
		var noGlyph []rune
		for _, r := range miss {
			if !f.has(r) {
				noGlyph = append(noGlyph, r)
			}
		}
		if len(noGlyph) > 0 {
			out = append(out, fmt.Sprintf("%s: %s is neither in %s nor in the font %s, so it prints blank", k, quoteRunes(noGlyph), enc, f.path))
		}
	}
	return out
}

func quoteRunes(rs []rune) string {
	q := make([]string, len(rs))
	for i, r := range rs {
		q[i] = fmt.Sprintf("%q", string(r))
	}
	return strings.Join(q, " ")
}
