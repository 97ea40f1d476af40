package logging

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"

	"posd/internal/check"
	"posd/wxpay"
)

// Logging is the daemon's logger and where its entries go: the journal (natively, with
// structured fields, when stderr is journald's stream) or stderr, the log file under the
// logs directory (rotated by logrotate), and an in-memory ring for the web UI.
type Logging struct {
	Logger   *logrus.Logger
	Ring     *Ring
	Redactor *Redactor
	file     *LogFile
}

// Config is the [log] section of posd.toml.
type Config struct {
	Level        string `toml:"level"`
	Format       string `toml:"format"`
	Dir          string `toml:"dir"`            // posd.log; default $LOGS_DIRECTORY or /var/log/posd
	FileMaxBytes int64  `toml:"file_max_bytes"` // 0: no log file; logrotate rotates it (/etc/logrotate.d/posd)
	FileKeep     int    `toml:"file_keep"`      // unused: logrotate's "rotate" keeps the copies
	RingSize     int    `toml:"ring_size"`      // entries kept in memory for the UI
}

// Problems lists what is wrong with the [log] section, each naming its key within the
// section.
func (c Config) Problems() []check.Problem {
	var p check.List
	if _, err := logrus.ParseLevel(c.Level); err != nil {
		p.OneOf("level", c.Level, "debug", "info", "warn", "error")
	}
	p.OneOf("format", c.Format, "text", "json")
	if c.FileMaxBytes < 0 || (c.FileMaxBytes > 0 && c.FileMaxBytes < 64<<10) {
		p.Add("file_max_bytes", "0 (no log file) or at least 65536 (got %d)", c.FileMaxBytes)
	}
	if c.FileKeep < 0 || c.FileKeep > 100 {
		p.Add("file_keep", "between 0 and 100 (got %d)", c.FileKeep)
	}
	if c.RingSize < 0 || c.RingSize > 100000 {
		p.Add("ring_size", "between 0 and 100000 (got %d)", c.RingSize)
	}
	return p
}

// LogFileName is the log file in the logs directory; logrotate's copies are .1, .2.gz, ...
const LogFileName = "posd.log"

// journalSend writes one entry to journald; journalEnabled says whether its socket
// answers. Variables so tests can stand in for journald.
var (
	journalSend    = journal.Send
	journalEnabled = journal.Enabled
)

// NewLogging builds the logger. stderr receives the console stream; journal says whether
// that stream is journald's: then entries go to the journal natively (fields SALE_ID,
// OUT_TRADE_NO, PRIORITY, ... for `journalctl -u posd OUT_TRADE_NO=...`), and stderr gets
// "<N>"-prefixed lines without timestamps only if the journal socket does not answer.
func NewLogging(cfg Config, stderr io.Writer, journal bool) (*Logging, error) {
	lv, err := logrus.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	lg := logrus.New()
	lg.SetLevel(lv)
	lg.SetOutput(stderr)
	lg.SetFormatter(consoleFormatter(cfg.Format, journal))

	l := &Logging{Logger: lg, Redactor: NewRedactor()}
	// The redactor runs first: every later hook and the console see the masked entry.
	lg.AddHook(l.Redactor)
	if journal && journalEnabled() {
		lg.AddHook(&journalHook{send: journalSend, fallback: stderr, fmt: lg.Formatter})
		lg.SetOutput(io.Discard) // the hook writes the entry (or its fallback line)
	}
	if cfg.RingSize > 0 {
		l.Ring = NewRing(cfg.RingSize)
		lg.AddHook(l.Ring)
	}
	if cfg.FileMaxBytes > 0 && cfg.Dir != "" {
		f, err := OpenLogFile(filepath.Join(cfg.Dir, LogFileName))
		if err != nil {
			// A full or read-only log disk must not stop payments: say so and go on.
			lg.WithError(err).Warn("log file unavailable; logging to the console only")
		} else {
			l.file = f
			lg.AddHook(&fileHook{f: f, fmt: &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano}})
		}
	}
	return l, nil
}

// Reopen starts a new log file after logrotate moved the old one away (SIGHUP).
func (l *Logging) Reopen() error {
	if l.file == nil {
		return nil
	}
	return l.file.Reopen()
}

// Close closes the log file.
func (l *Logging) Close() error {
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}

// journalHook writes entries to journald natively: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER
// and every field as an upper-case journal field, posd's ids under fixed names (SALE_ID,
// OUT_TRADE_NO) so IT can follow one payment with `journalctl -u posd OUT_TRADE_NO=...`
// across restarts. It runs after the redactor: a payment code never reaches the journal.
type journalHook struct {
	send     func(msg string, p journal.Priority, vars map[string]string) error
	fallback io.Writer
	fmt      logrus.Formatter
}

func (h *journalHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *journalHook) Fire(e *logrus.Entry) error {
	if err := h.send(e.Message, journal.Priority(syslogPriority(e.Level)), journalFields(e)); err != nil {
		// journald gone (restarting, socket full): the stream still reaches it.
		if b, ferr := h.fmt.Format(e); ferr == nil {
			_, _ = h.fallback.Write(b)
		}
	}
	return nil
}

// journalKeys are posd's field names with a fixed journal name.
var journalKeys = map[string]string{
	"sale": "SALE_ID", "sale_id": "SALE_ID", "out_trade_no": "OUT_TRADE_NO",
	"out_refund_no": "OUT_REFUND_NO", "error": "ERROR", "component": "POSD_COMPONENT",
}

// journalFields turns an entry's fields into journal variables.
func journalFields(e *logrus.Entry) map[string]string {
	vars := make(map[string]string, len(e.Data)+1)
	vars["SYSLOG_IDENTIFIER"] = "posd"
	for k, v := range e.Data {
		name, ok := journalKeys[k]
		if !ok {
			name = journalFieldName(k)
		}
		if name == "" {
			continue
		}
		switch x := v.(type) {
		case error:
			vars[name] = x.Error()
		default:
			vars[name] = fmt.Sprint(x)
		}
	}
	return vars
}

// journalFieldName maps a logrus key to a valid journal field name: upper-case letters,
// digits and "_", not starting with "_" (trusted fields) or a digit; at most 64 bytes.
// Names journald reserves for itself (MESSAGE, PRIORITY, ...) get a POSD_ prefix.
func journalFieldName(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	n := strings.TrimLeft(b.String(), "_0123456789")
	switch n {
	case "", "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "MESSAGE_ID", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO", "SYSLOG_FACILITY", "SYSLOG_PID":
		if n == "" {
			return ""
		}
		n = "POSD_" + n
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// consoleFormatter picks the stderr format.
func consoleFormatter(format string, journal bool) logrus.Formatter {
	var f logrus.Formatter
	if format == "json" {
		f = &logrus.JSONFormatter{DisableTimestamp: journal, TimestampFormat: time.RFC3339Nano}
	} else {
		f = &logrus.TextFormatter{DisableTimestamp: journal, FullTimestamp: true, DisableColors: journal, TimestampFormat: time.RFC3339Nano}
	}
	if journal {
		return &journalFormatter{inner: f}
	}
	return f
}

// journalFormatter prefixes each line with its syslog priority: journald
// (SyslogLevelPrefix=yes) strips "<N>" and files the entry at that priority.
type journalFormatter struct{ inner logrus.Formatter }

func (j *journalFormatter) Format(e *logrus.Entry) ([]byte, error) {
	b, err := j.inner.Format(e)
	if err != nil {
		return nil, err
	}
	return append([]byte("<"+strconv.Itoa(syslogPriority(e.Level))+">"), b...), nil
}

// syslogPriority maps logrus levels to sd-daemon.h priorities.
func syslogPriority(l logrus.Level) int {
	switch l {
	case logrus.PanicLevel:
		return 0 // emerg
	case logrus.FatalLevel:
		return 2 // crit
	case logrus.ErrorLevel:
		return 3 // err
	case logrus.WarnLevel:
		return 4 // warning
	case logrus.InfoLevel:
		return 6 // info
	default:
		return 7 // debug
	}
}

// StderrIsJournal reports whether stderr is connected to journald: $JOURNAL_STREAM holds
// "<dev>:<ino>" of the journal's stream socket, which must match fstat(2) of fd 2 (a child
// that inherited the variable but writes elsewhere must not add prefixes).
func StderrIsJournal(f *os.File) bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" || f == nil {
		return false
	}
	devS, inoS, ok := strings.Cut(v, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// Redactor is a defence-in-depth hook: whatever a component logs, a run of 16 to 24 digits
// (a payment code's shape) is masked, and registered secret values never come through.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// NewRedactor returns a Redactor with no secrets registered yet.
func NewRedactor() *Redactor { return &Redactor{} }

// AddSecret registers values that must never be logged (short values are ignored: masking
// every "1234" would make logs unreadable, and PINs are never logged by design).
func (r *Redactor) AddSecret(vals ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vals {
		if len(v) >= 8 {
			r.secrets = append(r.secrets, v)
		}
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Levels is every level.
func (r *Redactor) Levels() []logrus.Level { return logrus.AllLevels }

// Fire masks the entry in place (logrus gives each hook call its own copy of Data).
func (r *Redactor) Fire(e *logrus.Entry) error {
	e.Message = r.Redact(e.Message)
	for k, v := range e.Data {
		switch x := v.(type) {
		case nil, bool, float64, float32, time.Time, time.Duration:
		case string:
			e.Data[k] = r.Redact(x)
		case error:
			if s := x.Error(); r.Redact(s) != s {
				e.Data[k] = r.Redact(s)
			}
		case fmt.Stringer:
			if s := x.String(); r.Redact(s) != s {
				e.Data[k] = r.Redact(s)
			}
		case int, int64, uint64, uint, int32, uint32:
			s := fmt.Sprint(x)
			if r.Redact(s) != s {
				e.Data[k] = r.Redact(s)
			}
		case []byte:
			e.Data[k] = r.Redact(string(x))
		default:
			// Structs and maps: render them once to see whether they carry a code.
			s := fmt.Sprintf("%+v", x)
			if red := r.Redact(s); red != s {
				e.Data[k] = red
			}
		}
	}
	return nil
}

// posd's own identifiers survive: out_trade_no separates its parts with "_" (digit runs of
// at most 16: YYMMDD and the sequence), transaction and refund ids are 28+ digits.

// Redact masks secrets, 16–24-digit runs and code-shaped 18-digit windows in s.
func (r *Redactor) Redact(s string) string {
	r.mu.RLock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	r.mu.RUnlock()
	return wxpay.MaskCodeRuns(s)
}

// LogEntry is one log line as the UI and `posd logs` show it.
type LogEntry struct {
	Time    time.Time         `json:"time"`
	Level   string            `json:"level"`
	Message string            `json:"msg"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// LogFilter selects entries: at least MinLevel (by severity), containing Grep (case
// insensitive, in the message or a field), the last N (0 = all).
type LogFilter struct {
	MinLevel logrus.Level
	Grep     string
	N        int
}

// Match reports whether e passes the level and substring filter.
func (f LogFilter) Match(e LogEntry) bool {
	lv, err := logrus.ParseLevel(e.Level)
	if err == nil && lv > f.MinLevel {
		return false
	}
	if f.Grep == "" {
		return true
	}
	g := strings.ToLower(f.Grep)
	if strings.Contains(strings.ToLower(e.Message), g) {
		return true
	}
	for k, v := range e.Fields {
		if strings.Contains(strings.ToLower(k+"="+v), g) {
			return true
		}
	}
	return false
}

// Ring keeps the last entries in memory for the UI's log page.
type Ring struct {
	mu   sync.Mutex
	buf  []LogEntry
	next int
	full bool
}

// NewRing keeps the last n entries.
func NewRing(n int) *Ring { return &Ring{buf: make([]LogEntry, n)} }

// Levels is every level.
func (r *Ring) Levels() []logrus.Level { return logrus.AllLevels }

// Fire stores a copy of the (already redacted) entry.
func (r *Ring) Fire(e *logrus.Entry) error {
	le := toLogEntry(e)
	r.mu.Lock()
	r.buf[r.next] = le
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
	return nil
}

// Entries returns the matching entries, oldest first.
func (r *Ring) Entries(f LogFilter) []LogEntry {
	r.mu.Lock()
	var all []LogEntry
	if r.full {
		all = append(all, r.buf[r.next:]...)
	}
	all = append(all, r.buf[:r.next]...)
	r.mu.Unlock()
	return filterTail(all, f)
}

func filterTail(all []LogEntry, f LogFilter) []LogEntry {
	out := all[:0:0]
	for _, e := range all {
		if f.Match(e) {
			out = append(out, e)
		}
	}
	if f.N > 0 && len(out) > f.N {
		out = out[len(out)-f.N:]
	}
	return out
}

func toLogEntry(e *logrus.Entry) LogEntry {
	le := LogEntry{Time: e.Time, Level: e.Level.String(), Message: e.Message}
	if len(e.Data) > 0 {
		le.Fields = make(map[string]string, len(e.Data))
		for k, v := range e.Data {
			switch x := v.(type) {
			case error:
				le.Fields[k] = x.Error()
			default:
				le.Fields[k] = fmt.Sprint(x)
			}
		}
	}
	return le
}

// String renders the entry as one text line, as `posd logs` prints it.
func (e LogEntry) String() string {
	var b strings.Builder
	b.WriteString(e.Time.Format("2006-01-02 15:04:05.000"))
	fmt.Fprintf(&b, " %-7s %s", strings.ToUpper(e.Level), e.Message)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := e.Fields[k]
		if strings.ContainsAny(v, " \t\"=") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	return b.String()
}

// fileHook writes JSON lines to the log file.
type fileHook struct {
	f   *LogFile
	fmt logrus.Formatter
}

func (h *fileHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *fileHook) Fire(e *logrus.Entry) error {
	b, err := h.fmt.Format(e)
	if err != nil {
		return nil // a field that cannot be encoded must not stop other hooks
	}
	_, _ = h.f.Write(b) // the file is best effort: the console stream still has it
	return nil
}

// LogFile is the append-only posd.log. posd never rotates it: logrotate does, the Debian
// way (/etc/logrotate.d/posd renames it to posd.log.1, compresses older ones, then sends
// SIGHUP), and Reopen starts a new posd.log. Each Write is one whole line.
type LogFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenLogFile opens (creating) path for appending.
func OpenLogFile(path string) (*LogFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	l := &LogFile{path: path}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	l.f = f
	return nil
}

// Write appends p.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	return l.f.Write(p)
}

// Reopen closes the file and opens path again: after logrotate moved it away, a new one.
// If the new one cannot be opened the old descriptor is kept, so no line is lost.
func (l *LogFile) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return os.ErrClosed
	}
	old := l.f
	if err := l.open(); err != nil {
		l.f = old
		return err
	}
	return old.Close()
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ReadLogFiles reads the JSON log files in dir, oldest first, and filters them: posd.log
// and what logrotate made of it (posd.log.1, posd.log.2.gz, ...). Lines that are not
// posd's JSON are skipped.
func ReadLogFiles(dir string, f LogFilter) ([]LogEntry, error) {
	base := filepath.Join(dir, LogFileName)
	matches, _ := filepath.Glob(base + ".*")
	type numbered struct {
		n    int
		path string
	}
	var files []numbered
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(m, base+"."), ".gz")); err == nil {
			files = append(files, numbered{n, m})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].n > files[j].n }) // oldest first
	files = append(files, numbered{0, base})
	var all []LogEntry
	found := false
	for _, nf := range files {
		b, err := readMaybeGzip(nf.path)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("read log file: %w", err)
		}
		found = true
		for _, line := range bytes.Split(b, []byte("\n")) {
			if e, ok := parseLogLine(line); ok && f.Match(e) {
				all = append(all, e)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("no log file in %s", dir)
	}
	return filterTail(all, LogFilter{MinLevel: logrus.TraceLevel, N: f.N}), nil
}

// readMaybeGzip reads a file, gunzipping one whose name ends in .gz.
func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return b, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// parseLogLine decodes one JSON line written by the file hook.
func parseLogLine(line []byte) (LogEntry, bool) {
	if len(bytes.TrimSpace(line)) == 0 {
		return LogEntry{}, false
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return LogEntry{}, false
	}
	var e LogEntry
	ts, _ := m["time"].(string)
	e.Time, _ = time.Parse(time.RFC3339Nano, ts)
	e.Level, _ = m["level"].(string)
	e.Message, _ = m["msg"].(string)
	if e.Level == "" {
		return LogEntry{}, false
	}
	for k, v := range m {
		if k == "time" || k == "level" || k == "msg" {
			continue
		}
		if e.Fields == nil {
			e.Fields = map[string]string{}
		}
		if s, ok := v.(string); ok {
			e.Fields[k] = s
		} else {
			b, _ := json.Marshal(v)
			e.Fields[k] = string(b)
		}
	}
	return e, true
}

// ReopenOnHUP starts a new log file on SIGHUP, which logrotate's postrotate sends after
// moving posd.log away (/etc/logrotate.d/posd). Until ctx ends.
func (logs *Logging) ReopenOnHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := logs.Reopen(); err != nil {
					logs.Logger.WithError(err).Warn("cannot reopen the log file; still writing the old one")
				} else {
					logs.Logger.Info("log file reopened")
				}
			}
		}
	}()
}
