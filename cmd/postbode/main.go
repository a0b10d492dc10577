// Command postbode is the Postbode binary: `serve` runs the gateway,
// `bench` measures it, `version` prints the version. Subcommands only parse
// their arguments and call into internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/postbode/postbode/internal/app"
	"github.com/postbode/postbode/internal/bench"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/version"
)

const usage = `Postbode, a self-hosted webhook gateway.

Usage:
  postbode serve [flags]    run the gateway (postbode serve -h lists the flags)
  postbode bench [flags]    measure delivery throughput and latency (postbode bench -h)
  postbode version          print the version
`

// defaultGCPercent is the garbage collector's target unless GOGC is set.
const defaultGCPercent = 200

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Postbode's live heap is small (tens of MiB) and it allocates per
	// request, so Go's default GOGC of 100 spends a tenth of the CPU on
	// garbage collection. 200 cuts that about in half for a heap about half
	// again as large (docs/performance.md); GOGC in the environment wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "bench":
		err = bench.Main(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "version", "-version", "--version":
		fmt.Println("postbode", version.Version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "postbode: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "postbode:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, args []string) error {
	cfg, err := config.Parse(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	log := newLogger(os.Stderr, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.Store.Close()
		return err
	}
	return a.Serve(ctx, ln)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
