package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posd/queue/engine"
)

func wantLocked(t *testing.T, err error, path string) {
	t.Helper()
	want := "storage " + path + " is locked by another process (is posd already running?)"
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Errorf("error %q (ErrLocked %v), want %q", err, errors.Is(err, ErrLocked), want)
	}
}

func TestOpen_LockedInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	mustOpenPath(t, path)
	start := time.Now()
	_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	wantLocked(t, err, path)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v, want about the 100ms timeout", d)
	}
}

// TestOpen_LockedByChild: another process (another posd) holds the journal.
func TestOpen_LockedByChild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=hold:"+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close() // the child exits when its stdin closes
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "holding" {
		t.Fatalf("child said %q, %v", line, err)
	}
	_, err = Open(path, Options{Timeout: 150 * time.Millisecond})
	wantLocked(t, err, path)

	// Once the other process is gone the journal opens.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	db, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open after the child exited: %v", err)
	}
	db.Close()
}

// corruptFixture writes a journal with some sales and returns its path and bytes.
func corruptFixture(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "posd.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i += 40 { // a few transactions, so both meta pages are in use
		var batch []*engine.Sale
		for j := i; j < i+40; j++ {
			batch = append(batch, paidSale(fmt.Sprintf("s%03d", j), t0.Add(time.Duration(j)*time.Minute)))
		}
		put(t, db, batch...)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func wantCorruptUntouched(t *testing.T, path string, before []byte) {
	t.Helper()
	db, err := Open(path, Options{Timeout: 200 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatal("corrupt journal opened")
	}
	var se *StorageError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &se) || se.Path != path ||
		!strings.HasPrefix(err.Error(), "storage "+path+" is corrupt") {
		t.Errorf("error %q: want ErrCorrupt naming %s", err, path)
	}
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("corrupt file was modified: %d bytes → %d", len(before), len(after))
	}
}

func TestOpen_CorruptMetaPages(t *testing.T) {
	path, orig := corruptFixture(t)
	damaged := bytes.Clone(orig)
	garbage := bytes.Repeat([]byte("not a journal! "), 1000)
	copy(damaged[0:4096], garbage)    // meta 0
	copy(damaged[4096:8192], garbage) // meta 1
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	wantCorruptUntouched(t, path, damaged)
}

func TestOpen_OneTornMetaPageRecovers(t *testing.T) {
	// bbolt keeps two meta pages so a torn meta write falls back to the previous
	// transaction; that is recovery, not corruption.
	path, orig := corruptFixture(t)
	damaged := bytes.Clone(orig)
	for i := 16; i < 80; i++ {
		damaged[i] ^= 0xFF
	}
	os.WriteFile(path, damaged, 0o600)
	db := mustOpenPath(t, path)
	if _, err := getSale(t, db, "s100"); err != nil {
		t.Errorf("sale after a torn meta page: %v", err)
	}
}

func TestOpen_Truncated(t *testing.T) {
	for _, frac := range []struct {
		name string
		size func(n int) int
	}{
		{"half", func(n int) int { return n / 2 }},
		{"last used page short", func(n int) int { return -100 }}, // relative to the high-water mark
		{"inside meta 1", func(n int) int { return 5000 }},
		{"inside meta 0", func(n int) int { return 40 }},
	} {
		t.Run(frac.name, func(t *testing.T) {
			path, orig := corruptFixture(t)
			n := frac.size(len(orig))
			if n < 0 {
				f, _ := os.Open(path)
				m, err := parseMeta(readAt(f, 0))
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				n += int(m.pgid) * int(m.pageSize)
			}
			cut := orig[:n]
			if err := os.WriteFile(path, cut, 0o600); err != nil {
				t.Fatal(err)
			}
			wantCorruptUntouched(t, path, cut)
		})
	}
}

func TestOpen_NotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	text := []byte(strings.Repeat("[storage]\npath = \"/var/lib/posd/posd.db\"\n", 300))
	os.WriteFile(path, text, 0o600)
	wantCorruptUntouched(t, path, text)
}

func TestCorruptRecord_ErrorNotPanic(t *testing.T) {
	db := mustOpen(t)
	put(t, db, paidSale("s1", t0))
	db.Bolt().Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bSales).Put([]byte("s1"), []byte(`{"v":1,"sale":{"id":`))
	})
	if _, err := getSale(t, db, "s1"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged record: %v, want ErrCorrupt", err)
	}
	if err := db.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "s1") {
		t.Errorf("Check: %v", err)
	}
	// Writing the sale again repairs neither silently nor by panicking: the old record is
	// needed to maintain the indexes, so the write is refused.
	err := db.Update(func(tx engine.Tx) error { return tx.PutSale(paidSale("s1", t0)) })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("put over a damaged record: %v", err)
	}
	// Leave the journal healthy for the cleanup check.
	db.Bolt().Update(func(tx *bolt.Tx) error {
		v, _ := encodeSale(paidSale("s1", t0))
		return tx.Bucket(bSales).Put([]byte("s1"), v)
	})
}

func TestCheck_FindsStaleIndexes(t *testing.T) {
	db := mustOpen(t)
	put(t, db, paidSale("s1", t0))
	if err := db.Check(); err != nil {
		t.Fatalf("healthy journal: %v", err)
	}
	db.Bolt().Update(func(tx *bolt.Tx) error { return tx.Bucket(bOpen).Put([]byte("s1"), nil) })
	if err := db.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "open index") {
		t.Errorf("Check with a stale open entry: %v", err)
	}
	db.Bolt().Update(func(tx *bolt.Tx) error { return tx.Bucket(bOpen).Delete([]byte("s1")) })
}

// TestReadOnlyDisk: a journal on a read-only filesystem opens read-only, reads work, and
// every Update fails naming the file, so the engine refuses sales instead of taking a
// payment it cannot journal.
func TestReadOnlyDisk(t *testing.T) {
	dir := mountTmpfs(t, 4<<20)
	path := filepath.Join(dir, "posd.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, paidSale("s1", t0))
	db.Close()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("open on a read-only disk: %v", err)
	}
	defer db.Close()
	if !db.ReadOnly() {
		t.Error("ReadOnly() = false on a read-only disk")
	}
	if _, err := getSale(t, db, "s1"); err != nil {
		t.Errorf("read on a read-only disk: %v", err)
	}
	err = db.Update(func(tx engine.Tx) error { return tx.PutSale(paidSale("s2", t0)) })
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
		t.Errorf("Update on a read-only disk: %v", err)
	}
	// A journal that does not exist yet cannot be created there: a clear error.
	_, err = Open(filepath.Join(dir, "new.db"), Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "new.db")) {
		t.Errorf("creating a journal on a read-only disk: %v", err)
	}
}

// TestFullDisk: when the disk fills, Update fails with the cause (ENOSPC) and the path,
// nothing half-written is visible, the journal stays consistent, and it works again once
// there is room.
func TestFullDisk(t *testing.T) {
	dir := mountTmpfs(t, 512<<10)
	path := filepath.Join(dir, "posd.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Ballast to delete later, so the test can show the journal works again.
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 128<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	// Fill the disk: a sale record is about 700 bytes, 512 KiB cannot hold 2000 of them.
	var full error
	committed := 0
	for i := 0; i < 2000 && full == nil; i++ {
		full = db.Update(func(tx engine.Tx) error {
			for j := 0; j < 10; j++ {
				if err := tx.PutSale(paidSale(fmt.Sprintf("s%05d", i*10+j), t0.Add(time.Duration(i)*time.Second))); err != nil {
					return err
				}
			}
			return nil
		})
		if full == nil {
			committed = (i + 1) * 10
		}
	}
	if full == nil {
		t.Fatal("the disk never filled")
	}
	var se *StorageError
	if !errors.As(full, &se) || se.Path != path || !errors.Is(full, syscall.ENOSPC) {
		t.Errorf("Update on a full disk: %v (want ENOSPC naming %s)", full, path)
	}
	// Whatever was committed is intact; the failed batch is not visible.
	if _, err := getSale(t, db, fmt.Sprintf("s%05d", committed-1)); err != nil {
		t.Errorf("last committed sale: %v", err)
	}
	if _, err := getSale(t, db, fmt.Sprintf("s%05d", committed)); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("sale of the failed Update: %v, want not found", err)
	}
	if err := db.Check(); err != nil {
		t.Errorf("check after ENOSPC: %v", err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	put(t, db, paidSale("after", t0))
	committed++
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after ENOSPC: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("check after reopen: %v", err)
	}
	n := 0
	db.Bolt().View(func(tx *bolt.Tx) error { n = tx.Bucket(bSales).Stats().KeyN; return nil })
	if n != committed {
		t.Errorf("%d sales after reopen, want %d", n, committed)
	}
}

func readAt(f *os.File, off int64) []byte {
	buf := make([]byte, pageHeaderSize+metaSize)
	n, _ := f.ReadAt(buf, off)
	return buf[:n]
}
