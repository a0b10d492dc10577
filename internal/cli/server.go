// serve, bench and version: the server's own commands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/internal/app"
	"github.com/postbode/postbode/internal/bench"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/version"
)

// serveCommand runs the gateway. Its flags are config.Parse's, so that
// flags and environment variables have one source: cobra passes the
// arguments through untouched.
func (a *runner) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "serve [flags]",
		Short:              "Run the gateway (postbode serve -h lists every flag with its environment variable)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := serve(cmd.Context(), args, a.env)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			if isConfigError(err) {
				return usageError{err}
			}
			return err
		},
	}
}

// isConfigError: config.Parse refused a flag or an environment variable,
// a usage error.
func isConfigError(err error) bool {
	var ce configError
	return errors.As(err, &ce)
}

type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

func serve(ctx context.Context, args []string, env Env) error {
	cfg, err := config.Parse(args, env.Getenv, env.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return configError{err}
	}
	log := newLogger(env.Stderr, cfg.LogLevel)
	ap, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		ap.Store.Close()
		return err
	}
	return ap.Serve(ctx, ln)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func (a *runner) benchCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "bench [flags]",
		Short:              "Measure delivery throughput and latency in-process (postbode bench -h)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := bench.Main(cmd.Context(), args, a.env.Stdout, a.env.Stderr)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		},
	}
}

func (a *runner) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			v := buildVersion(bi)
			if a.json {
				return a.printJSON(v)
			}
			fmt.Fprint(a.env.Stdout, v.String())
			return nil
		},
	}
}

// versionInfo is what `postbode version` prints.
type versionInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
}

// buildVersion reads the VCS stamp the go command puts in the binary: a
// `go build` in a git checkout has it; `go run`, `go test` and
// -buildvcs=false builds do not.
func buildVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: version.Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return v
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.CommitTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) String() string {
	commit, at := "unknown (built without VCS information: go run, or -buildvcs=false)", "unknown"
	if v.Commit != "" {
		commit = v.Commit
		if v.Modified {
			commit += " (with uncommitted changes)"
		}
	}
	if v.CommitTime != "" {
		at = v.CommitTime
		if t, err := time.Parse(time.RFC3339, v.CommitTime); err == nil {
			at = t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
	}
	return fmt.Sprintf("postbode %s\ncommit:       %s\ncommitted at: %s\ngo:           %s %s\n", v.Version, commit, at, v.Go, v.Platform)
}
