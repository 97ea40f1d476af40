package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"posd/internal/config"
	"posd/internal/daemon"
	"posd/internal/demo"
	"posd/internal/logging"
	"posd/wxpay/wxpaytest"
)

// demoCmd is `posd demo`: the whole till on embedded defaults, with no hardware and no
// WeChat account. The demo is a configuration, not a mode: the WeChat Pay simulator's
// endpoint, a scanner and a printer of kind "virtual"; the daemon runs it like any till. The simulator runs in amount-driven mode on the real clock (the last two
// digits of an amount choose what WeChat does), storage lives in a temp dir that is
// removed on exit, the virtual scanner is the UI's code field and the virtual printer's
// receipts appear in the UI.
func (m *Main) demoCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("demo")
	listen := fs.String("listen", "127.0.0.1:8080", "web UI address (loopback only: the demo has no TLS)")
	keep := fs.String("dir", "", "keep the demo's journal and logs in this directory (default: a temp dir removed on exit)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return &UsageError{fmt.Sprintf("-listen %q: want host:port such as 127.0.0.1:8080", *listen)}
	}
	if !config.IsLoopback(host) {
		return &UsageError{fmt.Sprintf("-listen %q: the demo listens on loopback only (it has no TLS)", *listen)}
	}

	dir := *keep
	if dir == "" {
		dir, err = os.MkdirTemp("", "posd-demo-")
		if err != nil {
			return fmt.Errorf("demo directory: %w", err)
		}
		m.onClose(func() error { return os.RemoveAll(dir) })
	}

	sim, err := wxpaytest.Start(wxpaytest.Options{AmountDriven: true})
	if err != nil {
		return fmt.Errorf("start the WeChat Pay simulator: %w", err)
	}
	m.onClose(func() error { sim.Close(); return nil })

	cfg, secrets, err := demo.Config(sim, dir, *listen, *level)
	if err != nil {
		return err
	}
	logs, err := logging.NewLogging(cfg.Log, m.Stderr, false)
	if err != nil {
		return err
	}
	m.onClose(logs.Close)

	d, err := daemon.Start(daemon.Parts{
		Config: cfg, Secrets: secrets, Logging: logs,
		GWConfig: cfg.WxPayClientConfig(secrets),
		Amounts:  wxpaytest.AmountTable(),
		Version:  version(),
		Commit:   commit(),
		CustomerPays: func(_ context.Context, codeURL string) error {
			_, err := sim.PayCodeURL(codeURL)
			return err
		},
	})
	if err != nil {
		return err
	}
	// A one-time login link: nothing else on the machine gets a cashier session without
	// the token (security review). It lasts the demo's day; a reload keeps working.
	link, _ := d.LoginLink(24 * time.Hour)
	fmt.Fprintf(m.Stdout, "posd demo: open %s\n", strings.TrimSuffix(d.URL(), "/")+link)
	fmt.Fprintf(m.Stdout, "customer display (second screen, QR Code Payment): %s/customer\n", strings.TrimSuffix(d.URL(), "/"))
	fmt.Fprintf(m.Stdout, "api token: %s\n", secrets.APIToken)
	fmt.Fprintf(m.Stdout, "manager PIN: %s\n", secrets.ManagerPIN)
	fmt.Fprintf(m.Stdout, "WeChat Pay simulator: %s (the last two digits of an amount pick its behaviour)\n", sim.URL())
	for _, c := range wxpaytest.AmountTable() {
		fmt.Fprintf(m.Stdout, "  x.%02d  %-20s %s\n", c.Cents, c.Name, c.Description)
	}
	fmt.Fprintf(m.Stdout, "journal and logs: %s\nPress Ctrl-C to stop.\n", dir)
	<-ctx.Done()
	d.Shutdown(context.Background())
	return nil
}
