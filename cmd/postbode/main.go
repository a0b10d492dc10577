// Command postbode is the Postbode binary: `serve` runs the gateway, the
// other commands manage it and call a running server's API. The command
// tree is internal/cli; this file only sets up the process (the garbage
// collector's target, signals) and exits with the status it returns.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/postbode/postbode/internal/cli"
)

// defaultGCPercent is the garbage collector's target unless GOGC is set.
const defaultGCPercent = 200

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Postbode's live heap is small (tens of MiB) and it allocates per
	// request, so Go's default GOGC of 100 spends a tenth of the CPU on
	// garbage collection. 200 cuts that about in half for a heap about half
	// again as large (docs/performance.md); GOGC in the environment wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
