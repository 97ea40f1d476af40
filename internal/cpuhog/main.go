// Command cpuhog keeps every CPU busy until it is stopped (or for -for): `make stress`
// runs the money-path tests under it when stress-ng is not installed, so a till's busy
// CPU is part of what the tests must survive.
package main

import (
	"flag"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	workers := flag.Int("cpu", runtime.NumCPU(), "busy goroutines (one per CPU by default)")
	limit := flag.Duration("for", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	flag.Parse()
	for i := 0; i < *workers; i++ {
		go spin()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	var timeout <-chan time.Time
	if *limit > 0 {
		timeout = time.After(*limit)
	}
	select {
	case <-stop:
	case <-timeout:
	}
}

// spin burns CPU without allocating (so it does not load the GC of the tests either).
func spin() {
	x := uint64(1)
	for {
		for i := 0; i < 1<<20; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if x == 0 {
			println(x) // never: keeps the loop from being optimised away
		}
	}
}
