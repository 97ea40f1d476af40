// Command posd is the WeChat Pay Quick Pay till daemon: `posd run` on the till, `posd demo`
// to try it with no hardware and no WeChat account, and the tools IT and managers use.
//
// main stays thin: signals, Main, exit code. Main is what the end-to-end tests start.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	stop()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	os.Exit(ExitCode(err, m.Stderr))
}
