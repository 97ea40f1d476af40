package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"posd/internal/check"
	"posd/wxpay"
)

// Logging is the daemon's logger and where its entries go: stderr (journald under systemd),
// a size-rotated file under the logs directory, and an in-memory ring for the web UI.
type Logging struct {
	Logger   *logrus.Logger
	Ring     *Ring
	Redactor *Redactor
	file     *RotatingFile
}

// Config is the [log] section of posd.toml.
type Config struct {
	Level        string `toml:"level"`
	Format       string `toml:"format"`
	Dir          string `toml:"dir"`            // rotated log files; default $LOGS_DIRECTORY or /var/log/posd
	FileMaxBytes int64  `toml:"file_max_bytes"` // rotate when the file would exceed this
	FileKeep     int    `toml:"file_keep"`      // rotated files kept besides the current one
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

// LogFileName is the current log file in the logs directory; rotated ones get .1, .2, ...
const LogFileName = "posd.log"

// NewLogging builds the logger. stderr receives the console/journal stream; journal says
// whether that stream is journald's (then no timestamps and <N> priority prefixes).
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
	if cfg.RingSize > 0 {
		l.Ring = NewRing(cfg.RingSize)
		lg.AddHook(l.Ring)
	}
	if cfg.FileMaxBytes > 0 && cfg.Dir != "" {
		f, err := OpenRotatingFile(filepath.Join(cfg.Dir, LogFileName), cfg.FileMaxBytes, cfg.FileKeep)
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

// Close flushes and closes the log file.
func (l *Logging) Close() error {
	if l.file != nil {
		return l.file.Close()
	}
	return nil
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

// Redact masks secrets and 16–24-digit runs in s.
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

// fileHook writes JSON lines to the rotating file.
type fileHook struct {
	f   *RotatingFile
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

// RotatingFile is an append-only file that rotates by size: path, path.1 (newest) ...
// path.N. Each Write is one whole line, so a rotated file never splits an entry.
type RotatingFile struct {
	mu   sync.Mutex
	path string
	max  int64
	keep int
	f    *os.File
	size int64
}

// OpenRotatingFile opens (creating) path for appending.
func OpenRotatingFile(path string, max int64, keep int) (*RotatingFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	r := &RotatingFile{path: path, max: max, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log file: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first if p would push the file past max.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *RotatingFile) rotate() error {
	r.f.Close()
	r.f = nil
	if r.keep == 0 {
		os.Remove(r.path)
	} else {
		os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep))
		for i := r.keep - 1; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
		}
		if err := os.Rename(r.path, r.path+".1"); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate log file: %w", err)
		}
	}
	return r.open()
}

// Close closes the file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// ReadLogFiles reads the rotated JSON log files in dir, oldest first, and filters them.
// Lines that are not posd's JSON are skipped.
func ReadLogFiles(dir string, f LogFilter) ([]LogEntry, error) {
	base := filepath.Join(dir, LogFileName)
	matches, _ := filepath.Glob(base + ".*")
	type numbered struct {
		n    int
		path string
	}
	var files []numbered
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimPrefix(m, base+".")); err == nil {
			files = append(files, numbered{n, m})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].n > files[j].n }) // oldest first
	files = append(files, numbered{0, base})
	var all []LogEntry
	found := false
	for _, nf := range files {
		b, err := os.ReadFile(nf.path)
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
