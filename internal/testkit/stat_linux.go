package testkit

import (
	"os"
	"syscall"
	"testing"
)

// StatDevIno is the device and inode of an open file: a test tells a reopened log file
// from the one logrotate moved away.
func StatDevIno(t testing.TB, f *os.File) (uint64, uint64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Dev), st.Ino
}
