package queue

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// childEnv makes the test binary act as a child process of a test (another posd holding
// the lock, a posd to kill) instead of running tests: POSD_QUEUE_CHILD=mode:arg.
const childEnv = "POSD_QUEUE_CHILD"

var childModes = map[string]func(arg string) int{
	"hold": holdLock,
}

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		mode, arg, _ := strings.Cut(v, ":")
		run, ok := childModes[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
			os.Exit(2)
		}
		os.Exit(run(arg))
	}
	os.Exit(m.Run())
}

// holdLock opens the journal at path, says "holding" and keeps it open until stdin closes.
func holdLock(path string) int {
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("holding")
	var b [1]byte
	os.Stdin.Read(b[:])
	if err := db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
