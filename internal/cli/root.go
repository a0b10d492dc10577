// The command tree, the global flags, table and JSON output, and how
// errors become messages and exit statuses.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/version"
)

// DefaultURL is the server the client commands call without --url or
// POSTBODE_URL: serve's default address.
const DefaultURL = "http://127.0.0.1:8080"

// Env is what the commands read and write besides their arguments.
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin is read by --data @- (nil: os.Stdin).
	Stdin io.Reader
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
	// HTTPClient, when set, is the client commands' HTTP client (tests).
	HTTPClient *http.Client
}

// Main runs the command line args (without the program name) and returns
// the exit status: 0, 1 for an error, 2 for a usage error.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	a := &runner{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	return a.report(cmd, err)
}

// runner holds the global flags and the environment of one run.
type runner struct {
	env       Env
	url       string
	token     string
	workspace string
	json      bool
}

func (a *runner) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "postbode",
		Short: "Postbode, a self-hosted webhook gateway",
		Long: `Postbode, a self-hosted webhook gateway.

The server: serve, migrate, backup, bench, version.
A client for a running server's API: every other command. It reads the
server's URL, an integration token and the workspace from --url, --token and
--workspace, or POSTBODE_URL, POSTBODE_TOKEN and POSTBODE_WORKSPACE.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// -v is not taken by a flag: `postbode --version` still works.
		Version: version.Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.fromEnv(cmd)
			return nil
		},
	}
	root.SetVersionTemplate("postbode {{.Version}}\n")
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.SetIn(a.env.Stdin)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.url, "url", DefaultURL, "the server's base URL (env POSTBODE_URL)")
	pf.StringVar(&a.token, "token", "", "an integration token, pbi_… (env POSTBODE_TOKEN)")
	pf.StringVarP(&a.workspace, "workspace", "w", "", "the workspace id, ws_…, for workspace commands (env POSTBODE_WORKSPACE)")
	pf.BoolVar(&a.json, "json", false, "print the API's JSON instead of a table")

	root.AddGroup(&cobra.Group{ID: "server", Title: "The server:"},
		&cobra.Group{ID: "api", Title: "A running server's API:"},
		&cobra.Group{ID: "dev", Title: "Development:"})
	for _, c := range []*cobra.Command{a.serveCommand(), a.migrateCommand(), a.backupCommand(), a.benchCommand(), a.versionCommand()} {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		a.workspacesCommand(), a.eventTypesCommand(), a.subscriptionsCommand(), a.eventsCommand(),
		a.usersCommand(), a.tokensCommand(), a.inboundCommand(), a.mailboxCommand(), a.portalLinkCommand(),
		a.recoverCommand(), a.resendCommand(),
	} {
		c.GroupID = "api"
		root.AddCommand(c)
	}
	listen := a.listenCommand()
	listen.GroupID = "dev"
	root.AddCommand(listen)
	root.SetHelpCommandGroupID("server")
	root.SetCompletionCommandGroupID("server")
	return root
}

// fromEnv fills the global flags not given from the environment.
func (a *runner) fromEnv(cmd *cobra.Command) {
	for _, f := range []struct {
		flag, env string
		v         *string
	}{{"url", "POSTBODE_URL", &a.url}, {"token", "POSTBODE_TOKEN", &a.token}, {"workspace", "POSTBODE_WORKSPACE", &a.workspace}} {
		// The root's own flag: a command's local flag of the same name
		// would hide it from cmd.Flags().
		if fl := cmd.Root().PersistentFlags().Lookup(f.flag); fl != nil && fl.Changed {
			continue
		}
		if v := strings.TrimSpace(a.env.Getenv(f.env)); v != "" {
			*f.v = v
		}
	}
}

// client returns a client for the server, refusing to go without a token.
func (a *runner) client() (*client.Client, error) {
	if a.token == "" {
		return nil, usageError{errors.New("no token: give --token or set POSTBODE_TOKEN to an integration token (pbi_…); " +
			"a new server prints its admin's token in its log once")}
	}
	opts := []client.Option{client.WithUserAgent("postbode-cli/" + version.Version)}
	if a.env.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(a.env.HTTPClient))
	}
	return client.New(a.url, a.token, opts...), nil
}

// ws returns the workspace the command works in.
func (a *runner) ws() (string, error) {
	if a.workspace == "" {
		return "", usageError{errors.New("no workspace: give --workspace (-w) or set POSTBODE_WORKSPACE; `postbode workspaces list` lists them")}
	}
	return a.workspace, nil
}

// clientWS is client and ws together, for workspace commands.
func (a *runner) clientWS() (*client.Client, string, error) {
	ws, err := a.ws()
	if err != nil {
		return nil, "", err
	}
	c, err := a.client()
	return c, ws, err
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// isUsage tells usage errors, including cobra's own, from others.
func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least",
		"requires at most", "received ", "invalid argument", "flag needs an argument", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// report prints err and returns the exit status.
func (a *runner) report(cmd *cobra.Command, err error) int {
	w := a.env.Stderr
	msg := err.Error()
	if !strings.HasPrefix(msg, "postbode") {
		msg = "postbode: " + msg
	}
	fmt.Fprintln(w, msg)
	if isUsage(err) {
		if cmd != nil {
			fmt.Fprintf(w, "See '%s --help'.\n", cmd.CommandPath())
		}
		return 2
	}
	if client.IsUnauthenticated(err) && client.ErrorCode(err) != "invalid_signature" {
		fmt.Fprintf(w, "The token was not accepted by %s: give --token or set POSTBODE_TOKEN to an integration token (pbi_…) "+
			"of an active user of that server.\n", a.url)
	}
	return 1
}

// args checks the number of positional arguments, naming them.
func args(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, got []string) error {
		if len(got) < len(names) {
			return usagef("missing %s", strings.Join(names[len(got):], ", "))
		}
		if len(got) > len(names) {
			return usagef("unexpected argument %q", got[len(names)])
		}
		return nil
	}
}

// group is a command that only holds subcommands: without one it prints
// its help, with an unknown one it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	c.AddCommand(subs...)
	return c
}

// output prints v as JSON with --json, else calls table with a tabwriter
// on stdout.
func (a *runner) output(v any, table func(w io.Writer)) error {
	if a.json {
		return a.printJSON(v)
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func (a *runner) printJSON(v any) error {
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// row writes tab-separated cells and a newline.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// fields prints name/value pairs of one object, one a line.
func fields(w io.Writer, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(w, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
}

// listFlags pick a page, or every page with --all.
type listFlags struct {
	limit  int
	cursor string
	all    bool
}

func addListFlags(cmd *cobra.Command, lf *listFlags) {
	cmd.Flags().IntVar(&lf.limit, "limit", 0, "items a page (0: the server's default)")
	cmd.Flags().StringVar(&lf.cursor, "cursor", "", "the next_cursor of the previous page")
	cmd.Flags().BoolVar(&lf.all, "all", false, "follow next_cursor to the last page")
}

// collect fetches one page, or with --all every page from --cursor on.
func collect[T any](ctx context.Context, lf *listFlags, fetch func(context.Context, client.ListOptions) (*client.Page[T], error)) ([]T, string, error) {
	opt := client.ListOptions{Limit: lf.limit, Cursor: lf.cursor}
	out := []T{}
	for {
		p, err := fetch(ctx, opt)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p.Data...)
		if !lf.all || p.NextCursor == "" || p.NextCursor == opt.Cursor {
			return out, p.NextCursor, nil
		}
		opt.Cursor = p.NextCursor
	}
}

// jsonPage is a list as the API answers it.
type jsonPage[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// printList prints a list as a table with header, one row per item, and
// says on stderr how to get the next page; with --json, as the API's page.
func printList[T any](a *runner, items []T, next string, header []string, cells func(T) []string) error {
	if a.json {
		p := jsonPage[T]{Data: items}
		if next != "" {
			p.NextCursor = &next
		}
		return a.printJSON(p)
	}
	err := a.output(nil, func(w io.Writer) {
		row(w, header...)
		for _, it := range items {
			row(w, cells(it)...)
		}
	})
	if next != "" {
		fmt.Fprintf(a.env.Stderr, "more: add --cursor %s (or --all)\n", next)
	}
	return err
}

// when formats a time for a table: local, to the second; "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func whenp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t)
}

func str(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseTime reads an RFC 3339 time, a date (2026-01-02, midnight UTC), or a
// duration ago (24h, 90m).
func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("%q is not a time: give RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration ago (24h)", s)
}

// readData reads a JSON value given inline, as @file, or as @- (stdin).
func (a *runner) readData(flag, v string) ([]byte, error) {
	var b []byte
	switch {
	case v == "@-":
		var err error
		if b, err = io.ReadAll(a.env.Stdin); err != nil {
			return nil, fmt.Errorf("--%s: reading stdin: %w", flag, err)
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
	default:
		b = []byte(v)
	}
	if !json.Valid(b) {
		return nil, usagef("--%s: not valid JSON", flag)
	}
	return b, nil
}

// keyValues reads repeated K=V flags into a map.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if kvs == nil {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--%s %q: give NAME=VALUE", flag, kv)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// contextT shortens the closures that adapt list methods.
type contextT = context.Context
