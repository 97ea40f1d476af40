package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"posd/internal/config"
	"posd/internal/logging"
)

// Main is the program: it parses a command line and runs one command. The end-to-end tests
// start it (or the built binary) the way main does.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer

	mu      sync.Mutex
	closers []func() error
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// UsageError is a bad command line: exit status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// errPrinted marks an error whose message was already written to stderr.
type errPrinted struct{ err error }

func (e *errPrinted) Error() string { return e.err.Error() }
func (e *errPrinted) Unwrap() error { return e.err }

// ExitCode turns Run's error into the exit status of docs/interfaces.md (0 ok, 1 runtime
// failure, 2 bad usage or bad config), writing the error to stderr.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *UsageError
	var ce *config.ConfigError
	var pr *errPrinted
	code := 1
	switch {
	case errors.As(err, &ue):
		code = 2
	case errors.As(err, &ce):
		code = 2
	}
	if !errors.As(err, &pr) {
		if ce != nil {
			fmt.Fprintln(stderr, ce.Error())
		} else {
			fmt.Fprintln(stderr, "posd:", err)
		}
	}
	return code
}

const usage = `posd: WeChat Pay Quick Pay till daemon

Usage:
  posd run [-config PATH]                 run the daemon (default config /etc/posd/posd.toml)
  posd demo [-listen ADDR]                the whole till on embedded defaults: simulated WeChat Pay,
                                          virtual scanner and printer, web UI on 127.0.0.1:8080
  posd check-config [-config PATH]        validate the config and the files it names
  posd login-link [-config PATH]          print a one-time login link for a browser (the till's kiosk)
  posd rotate-code-key [-config PATH]     new key for the payment codes' hashes (restart posd after)
  posd version                            version, commit, Go version
  posd devices                            list scanners and printers plugged in
  posd logs [-level L] [-grep S] [-n N]   read posd.log and logrotate's copies
  posd report -date YYYY-MM-DD            the day report (Z report)
  posd reconcile -date YYYY-MM-DD         reconcile the journal against WeChat's statement
  posd journal -date YYYY-MM-DD [-format csv|json]   export the day's journal

Exit status: 0 ok, 1 runtime failure, 2 bad usage or bad config.
`

// Run runs the command in args. For run and demo it returns when ctx is cancelled (SIGTERM)
// and the daemon has shut down.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return &errPrinted{&UsageError{"no command"}}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return m.runCmd(ctx, rest)
	case "demo":
		return m.demoCmd(ctx, rest)
	case "check-config":
		return m.checkConfigCmd(rest)
	case "login-link":
		return m.loginLinkCmd(ctx, rest)
	case "rotate-code-key":
		return m.rotateCodeKeyCmd(rest)
	case "version", "-version", "--version":
		printVersion(m.Stdout)
		return nil
	case "devices":
		return m.devicesCmd(ctx, rest)
	case "logs":
		return m.logsCmd(rest)
	case "report", "reconcile", "journal":
		return m.managerCmd(ctx, cmd, rest)
	case "man": // hidden: generates docs/man (make man)
		return m.manCmd(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	default:
		fmt.Fprint(m.Stderr, usage)
		return &errPrinted{&UsageError{fmt.Sprintf("unknown command %q", cmd)}}
	}
}

// Close releases what the last command left open (safe to call more than once).
func (m *Main) Close() error {
	m.mu.Lock()
	cl := m.closers
	m.closers = nil
	m.mu.Unlock()
	var errs []error
	for i := len(cl) - 1; i >= 0; i-- {
		errs = append(errs, cl[i]())
	}
	return errors.Join(errs...)
}

func (m *Main) onClose(f func() error) {
	m.mu.Lock()
	m.closers = append(m.closers, f)
	m.mu.Unlock()
}

// newFlagSet returns a flag set that reports errors as UsageError.
func (m *Main) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("posd "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &errPrinted{&UsageError{err.Error()}}
	}
	if fs.NArg() > 0 {
		return &UsageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// checkConfigCmd validates the file and every file it names; problems one a line, each
// naming its key. Warnings (such as a key readable by others) are printed but pass.
func (m *Main) checkConfigCmd(args []string) error {
	cfg, path, err := m.readConfig("check-config", args)
	if err != nil {
		return err
	}
	_, probs, warns := config.LoadSecrets(&cfg, time.Now())
	for _, w := range warns {
		fmt.Fprintln(m.Stderr, "warning: "+w.String())
	}
	// The code hash key is made at the first start; when it exists it must be private.
	if kp := config.CodeKeyPath(&cfg); fileExists(kp) {
		if _, err := config.LoadCodeKeys(kp, time.Now(), false); err != nil {
			msg, _ := strings.CutPrefix(err.Error(), "storage.code_key_file: ")
			probs = append(probs, config.Problem{Key: "storage.code_key_file", Msg: msg})
		}
	}
	// Texts that would print as '?' or blank: a warning, the till still works.
	for _, p := range cfg.Printer.TextProblems(map[string]string{"till.merchant_name": cfg.Till.MerchantName}) {
		fmt.Fprintln(m.Stderr, "warning: printer: "+p)
	}
	if len(probs) > 0 {
		return &config.ConfigError{Problems: probs}
	}
	fmt.Fprintf(m.Stdout, "%s: ok\n", path)
	return nil
}

// readConfig parses a command's only flag, -config, and reads that file.
func (m *Main) readConfig(cmd string, args []string) (cfg config.Config, path string, err error) {
	fs := m.newFlagSet(cmd)
	p := fs.String("config", config.DefaultConfigPath, "config file")
	if err := parseFlags(fs, args); err != nil {
		return cfg, "", err
	}
	cfg, err = config.ReadConfigFile(*p)
	return cfg, *p, err
}

func fileExists(v string) bool {
	p, err := config.ResolveSecretPath(v)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// rotateCodeKeyCmd puts a new code hash key first; posd uses it from its next start, and
// the previous key keeps matching for a day.
func (m *Main) rotateCodeKeyCmd(args []string) error {
	cfg, _, err := m.readConfig("rotate-code-key", args)
	if err != nil {
		return err
	}
	kp := config.CodeKeyPath(&cfg)
	if err := config.RotateCodeKey(kp, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: new key; restart posd to use it (the previous key still matches for %s)\n", kp, config.CodeKeyOverlap)
	return nil
}

// logsCmd prints the log file and logrotate's copies, filtered.
func (m *Main) logsCmd(args []string) error {
	fs := m.newFlagSet("logs")
	path := fs.String("config", config.DefaultConfigPath, "config file (for log.dir)")
	dir := fs.String("dir", "", "log directory (default: log.dir of the config, or $LOGS_DIRECTORY, or /var/log/posd)")
	level := fs.String("level", "info", "lowest level shown: debug, info, warn, error")
	grep := fs.String("grep", "", "only entries containing this text (case-insensitive)")
	n := fs.Int("n", 100, "the last N matching entries (0 = all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lv, err := logrus.ParseLevel(*level)
	if err != nil {
		return &UsageError{fmt.Sprintf("-level: %v", err)}
	}
	d := *dir
	// Times print on the shop's clock (till.time_zone), not the process zone: a till
	// set to UTC would otherwise print 02:15 for a 10:15 sale.
	loc := config.TillConfig{}.Location()
	if cfg, err := config.ReadConfigFile(*path); err == nil {
		loc = cfg.Till.Location()
		if d == "" {
			d = cfg.Log.Dir
		}
	} else if d == "" {
		d = config.DefaultConfig().Log.Dir
	}
	entries, err := logging.ReadLogFiles(d, logging.LogFilter{MinLevel: lv, Grep: *grep, N: *n})
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range entries {
		e.Time = e.Time.In(loc)
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	_, err = io.WriteString(m.Stdout, b.String())
	return err
}
