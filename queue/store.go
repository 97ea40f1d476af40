package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"posd/internal/discard"
	"posd/queue/engine"
)

// schemaVersion is the journal layout version kept in the meta bucket.
const schemaVersion = 1

// DefaultTimeout is how long Open waits for another process to release the file.
const DefaultTimeout = 2 * time.Second

var (
	bMeta                   = []byte("meta")
	bSeq                    = []byte("seq")
	bSales                  = []byte("sales")
	bByDay                  = []byte("sales_by_day")
	bByOTN                  = []byte("sales_by_otn")
	bCodes                  = []byte("codes")
	bOpen                   = []byte("open")
	bJobs                   = []byte("jobs")
	bJobsDue                = []byte("jobs_due")
	bJobsAttn               = []byte("jobs_attention")
	bRecon                  = []byte("reconciliation")
	keySchema               = []byte("schema")
	allBuckets              = [][]byte{bMeta, bSeq, bSales, bByDay, bByOTN, bCodes, bOpen, bJobs, bJobsDue, bJobsAttn, bRecon}
	_          engine.Store = (*DB)(nil)
	emptyValue              = []byte{}
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Timeout bounds the wait for the file lock (default DefaultTimeout).
	Timeout time.Duration
	// Location is the time zone of the day index (default engine.HongKong()).
	Location *time.Location
	// ReadOnly opens the journal for reading only (tools); Update returns ErrReadOnly.
	ReadOnly bool
	// Logger receives warnings (file mode tightened, fallback to read-only). Default: discard.
	Logger logrus.FieldLogger
}

// DB is the journal: engine.Store over a bbolt file. Safe for concurrent use; bbolt runs
// one Update at a time and any number of Views alongside.
type DB struct {
	bolt     *bolt.DB
	path     string
	loc      *time.Location
	readOnly bool
	log      logrus.FieldLogger
	commits  atomic.Uint64
	closed   atomic.Bool
}

// Open opens (creating if needed) the journal at path.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Location == nil {
		opts.Location = engine.HongKong()
	}
	log := opts.Logger
	if log == nil {
		log = discard.Logger()
	}
	db := &DB{path: path, loc: opts.Location, readOnly: opts.ReadOnly, log: log}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, &StorageError{Path: path, Msg: "cannot create its directory", Err: err}
		}
	}
	deadline := time.Now().Add(opts.Timeout)
	if err := db.precheck(deadline); err != nil {
		return nil, err
	}
	bopts := &bolt.Options{
		Timeout:  time.Until(deadline),
		ReadOnly: opts.ReadOnly,
		// FreelistType hashmap: the array freelist degrades badly once Prune has freed many
		// pages; hashmap keeps allocation fast either way.
		FreelistType: bolt.FreelistMapType,
	}
	if bopts.Timeout < 10*time.Millisecond {
		bopts.Timeout = 10 * time.Millisecond
	}
	b, err := openBolt(path, bopts)
	if err != nil && !opts.ReadOnly && readOnlyErr(err) {
		if _, statErr := os.Stat(path); statErr == nil {
			// The disk (or the file) is read-only: open for reading so the till can show
			// its history and refuse new sales with a clear error, rather than not start.
			log.WithError(err).WithField("path", path).Warn("journal is not writable; opened read-only, new sales will be refused")
			bopts.ReadOnly = true
			db.readOnly = true
			b, err = openBolt(path, bopts)
		}
	}
	if err != nil {
		return nil, db.openError(err)
	}
	db.bolt = b
	if !db.readOnly {
		db.tightenMode()
	}
	if err := db.init(); err != nil {
		_ = b.Close()
		return nil, err
	}
	return db, nil
}

// openBolt is bolt.Open with memory faults turned into errors: precheck rules out the
// known ways (truncation), this is the net under anything it missed.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

func readOnlyErr(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

func (db *DB) openError(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return &StorageError{Path: db.path, Msg: "is locked by another process (is posd already running?)", Kind: ErrLocked}
	case errors.Is(err, ErrCorrupt), errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch):
		return &StorageError{Path: db.path, Msg: "is corrupt; the file was left untouched (restore it from a backup or move it aside)", Kind: ErrCorrupt, Err: err}
	case readOnlyErr(err):
		return &StorageError{Path: db.path, Msg: "cannot be opened for writing", Kind: ErrReadOnly, Err: err}
	default:
		return &StorageError{Path: db.path, Msg: "cannot be opened", Err: err}
	}
}

// precheck validates the file before bbolt maps it (see precheck.go), holding a shared
// lock so it never reads a file another posd is writing: a held lock is ErrLocked, not a
// false ErrCorrupt.
func (db *DB) precheck(deadline time.Time) error {
	f, err := os.Open(db.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &StorageError{Path: db.path, Msg: "cannot be read", Err: err}
	}
	defer f.Close()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return &StorageError{Path: db.path, Msg: "cannot be locked", Err: err}
		}
		if time.Now().After(deadline) {
			return &StorageError{Path: db.path, Msg: "is locked by another process (is posd already running?)", Kind: ErrLocked}
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Closing f releases the lock; bbolt takes its own right after.
	if err := precheck(f); err != nil {
		return &StorageError{Path: db.path, Msg: "is corrupt; the file was left untouched (restore it from a backup or move it aside)", Kind: ErrCorrupt, Err: err}
	}
	return nil
}

func (db *DB) tightenMode() {
	st, err := os.Stat(db.path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return
	}
	if err := os.Chmod(db.path, 0o600); err != nil {
		db.log.WithError(err).WithField("path", db.path).Warn("journal is readable by others and its mode could not be tightened")
		return
	}
	db.log.WithField("path", db.path).Warnf("journal mode was %v; tightened to 0600", st.Mode().Perm())
}

// init creates the buckets of a new journal and checks the schema of an existing one.
func (db *DB) init() error {
	check := func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if m == nil {
			return nil
		}
		v, err := strconv.Atoi(string(m.Get(keySchema)))
		if err != nil {
			return &StorageError{Path: db.path, Msg: "is not a posd journal (bad schema marker)", Kind: ErrCorrupt}
		}
		if v > schemaVersion {
			return &StorageError{Path: db.path, Msg: fmt.Sprintf("was written by a newer posd (schema %d, this posd reads %d)", v, schemaVersion), Kind: ErrNewerSchema}
		}
		return nil
	}
	if db.readOnly {
		return db.bolt.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bMeta) == nil {
				if err := tx.ForEach(func([]byte, *bolt.Bucket) error { return errors.New("foreign") }); err != nil {
					return &StorageError{Path: db.path, Msg: "is not a posd journal (no meta bucket)", Kind: ErrCorrupt}
				}
			}
			return check(tx)
		})
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			// A bbolt file with buckets but no meta bucket is some other program's file.
			if err := tx.ForEach(func([]byte, *bolt.Bucket) error { return errors.New("foreign") }); err != nil {
				return &StorageError{Path: db.path, Msg: "is not a posd journal (no meta bucket)", Kind: ErrCorrupt}
			}
		}
		if err := check(tx); err != nil {
			return err
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if tx.Bucket(bMeta).Get(keySchema) == nil {
			return tx.Bucket(bMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
		}
		return nil
	})
	var se *StorageError
	if err != nil && !errors.As(err, &se) {
		err = &StorageError{Path: db.path, Msg: "cannot be initialised", Err: err}
	}
	return err
}

// Close releases the file and its lock.
func (db *DB) Close() error {
	db.closed.Store(true)
	if err := db.bolt.Close(); err != nil {
		return &StorageError{Path: db.path, Msg: "did not close cleanly", Err: err}
	}
	return nil
}

// Path is the journal file's path.
func (db *DB) Path() string { return db.path }

// Location is the time zone of the day index.
func (db *DB) Location() *time.Location { return db.loc }

// ReadOnly reports whether the journal was opened read-only (asked for, or because the
// disk or file is not writable); Update then fails with ErrReadOnly.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Commits is the number of Updates committed (each one fsynced) since Open.
func (db *DB) Commits() uint64 { return db.commits.Load() }

// Bolt exposes the bbolt handle so other packages can keep their own buckets in the same
// file (printer/ keeps its durable spool in buckets named "print..."; every other name is
// reserved for queue/). Do not touch queue's buckets through it.
func (db *DB) Bolt() *bolt.DB { return db.bolt }

// View runs fn on a consistent read-only snapshot.
func (db *DB) View(fn func(engine.ReadTx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var fnErr error
	err = db.bolt.View(func(btx *bolt.Tx) error {
		fnErr = fn(&tx{btx: btx, db: db})
		return fnErr
	})
	if err != nil && (fnErr == nil || err != fnErr) {
		return &StorageError{Path: db.path, Msg: "cannot be read", Err: err}
	}
	return err
}

// Update runs fn in a write transaction and commits it with fsync before returning. If fn
// returns an error, that error is returned as is and nothing is written. A failed commit
// (disk full, read-only, I/O error) returns a *StorageError and nothing is written either.
//
// Numbers handed out by NextSeq inside an Update that did not commit may be handed out
// again: they were never journaled, so nothing outside posd can have seen them.
func (db *DB) Update(fn func(engine.Tx) error) (err error) {
	if db.readOnly {
		return &StorageError{Path: db.path, Msg: "is read-only; nothing can be journaled", Kind: ErrReadOnly}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var fnErr error
	err = db.bolt.Update(func(btx *bolt.Tx) error {
		fnErr = fn(&tx{btx: btx, db: db, writable: true})
		return fnErr
	})
	if err != nil {
		if fnErr != nil && err == fnErr {
			return err
		}
		se := &StorageError{Path: db.path, Msg: "cannot be written", Err: err}
		if readOnlyErr(err) {
			se.Kind = ErrReadOnly
		}
		return se
	}
	db.commits.Add(1)
	return nil
}

// Check runs bbolt's consistency check over the whole file (every page reachable or free,
// no page twice) and then checks posd's indexes against the records. It reads the whole
// journal: for `posd check-config`, doctor and tests, not for the payment path.
func (db *DB) Check() error {
	var errs []error
	err := db.bolt.View(func(btx *bolt.Tx) error {
		// Drain the channel: Check's goroutine blocks until every error is received.
		for err := range btx.Check() {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := db.checkIndexes(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return &StorageError{Path: db.path, Msg: "failed its consistency check", Kind: ErrCorrupt, Err: errors.Join(errs...)}
	}
	return nil
}
