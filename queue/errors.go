package queue

import "errors"

// Sentinels; test with errors.Is. Errors from Open and Update are *StorageError values
// that name the file.
var (
	// ErrLocked: another process (another posd) holds the journal's lock.
	ErrLocked = errors.New("storage locked")
	// ErrCorrupt: the file is not a readable posd journal (bad magic or checksum, truncated,
	// a record that does not decode). The file is left untouched.
	ErrCorrupt = errors.New("storage corrupt")
	// ErrReadOnly: the journal was opened read-only (read-only disk or file); Update fails.
	ErrReadOnly = errors.New("storage read-only")
	// ErrNewerSchema: the journal was written by a newer posd.
	ErrNewerSchema = errors.New("storage schema newer than this posd")
)

// StorageError is an error about the journal file: it names the path, says what is wrong
// in words an operator can act on, and matches its Kind (ErrLocked, ErrCorrupt, ...) and
// its cause with errors.Is / errors.As.
type StorageError struct {
	Path string
	Msg  string // e.g. "is locked by another process (is posd already running?)"
	Kind error  // a sentinel of this package, or nil
	Err  error  // the cause, or nil
}

func (e *StorageError) Error() string {
	s := "storage " + e.Path + " " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the kind and the cause, so errors.Is works on both.
func (e *StorageError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
