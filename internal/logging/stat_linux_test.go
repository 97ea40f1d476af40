package logging

import (
	"os"
	"syscall"
	"testing"
)

func statDevIno(t testing.TB, f *os.File) (uint64, uint64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Dev), st.Ino
}
