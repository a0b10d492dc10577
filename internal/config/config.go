// Package config turns flags and POSTBODE_* environment variables into one
// Config value. A flag beats its environment variable, which beats the default.
package config

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/postbode/postbode/internal/auth"
)

// DefaultRetrySchedule is the Standard Webhooks recommendation: the delays
// between attempts after the first, immediate one.
const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,14h,20h,24h"

// Config is what `postbode serve` runs with.
type Config struct {
	Addr                    string
	DataDir                 string
	Database                string // postgres://… or empty for SQLite in DataDir
	PublicURL               string
	InactiveAfter           time.Duration
	AllowPrivateTargets     bool
	RetrySchedule           []time.Duration
	SubscriptionConcurrency int
	QueueMemory             int64 // bytes the in-memory delivery queues may hold
	Retention               time.Duration
	MailboxRetention        time.Duration
	MailboxMaxAge           time.Duration
	BootstrapToken          string
	LogLevel                string
	// PortalFrameAncestors are the origins that may embed the customer
	// portal in an iframe; none when empty.
	PortalFrameAncestors []string
	// Tracing is on when an OTLP endpoint is configured, the OpenTelemetry
	// way: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
	// set, and OTEL_TRACES_EXPORTER not "none". TracingEndpoint is the one
	// that is set (the traces one first); the exporter reads it, and the
	// other OTEL_* variables, from the environment itself.
	Tracing         bool
	TracingEndpoint string
	// ServiceName is the service.name of the spans: OTEL_SERVICE_NAME, or
	// "postbode".
	ServiceName string
}

// Parse reads args (without the subcommand) and the environment through getenv.
func Parse(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	defaults := map[string]string{} // environment variable → built-in default, for the help
	env := func(name, def string) string {
		defaults[name] = def
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("POSTBODE_ADDR", "127.0.0.1:8080"), "listen address (POSTBODE_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("POSTBODE_DATA_DIR", "./data"), "SQLite data directory (POSTBODE_DATA_DIR)")
	fs.StringVar(&c.Database, "database", env("POSTBODE_DATABASE", ""), "postgres:// URL; empty for embedded SQLite (POSTBODE_DATABASE)")
	fs.StringVar(&c.PublicURL, "public-url", env("POSTBODE_PUBLIC_URL", ""), "external base URL, used to print inbound URLs and portal links (POSTBODE_PUBLIC_URL)")
	inactive := fs.String("inactive-after", env("POSTBODE_INACTIVE_AFTER", "1440h"), "a user without activity this long becomes inactive (POSTBODE_INACTIVE_AFTER)")
	allowEnv, err := strconv.ParseBool(env("POSTBODE_ALLOW_PRIVATE_TARGETS", "false"))
	if err != nil {
		return c, fmt.Errorf("POSTBODE_ALLOW_PRIVATE_TARGETS: %q is not true or false", getenv("POSTBODE_ALLOW_PRIVATE_TARGETS"))
	}
	fs.BoolVar(&c.AllowPrivateTargets, "allow-private-targets", allowEnv, "allow webhook targets on loopback and private networks (POSTBODE_ALLOW_PRIVATE_TARGETS)")
	schedule := fs.String("retry-schedule", env("POSTBODE_RETRY_SCHEDULE", DefaultRetrySchedule), "delays between attempts after the first (POSTBODE_RETRY_SCHEDULE)")
	conc := fs.String("subscription-concurrency", env("POSTBODE_SUBSCRIPTION_CONCURRENCY", "32"), "requests in flight per subscription (POSTBODE_SUBSCRIPTION_CONCURRENCY)")
	queueMemory := fs.String("queue-memory", env("POSTBODE_QUEUE_MEMORY", "128MiB"), "memory the delivery queues may hold, event data included, e.g. 128MiB or 1GiB (POSTBODE_QUEUE_MEMORY)")
	retention := fs.String("retention", env("POSTBODE_RETENTION", "720h"), "finished events, their deliveries and attempts are deleted after this long; 0 keeps them (POSTBODE_RETENTION)")
	mailboxRetention := fs.String("mailbox-retention", env("POSTBODE_MAILBOX_RETENTION", "168h"), "finished mailbox messages (success, failed, replaced, max_retries_exceeded) are deleted after this long; 0 keeps them (POSTBODE_MAILBOX_RETENTION)")
	mailboxMaxAge := fs.String("mailbox-max-age", env("POSTBODE_MAILBOX_MAX_AGE", "1344h"), "mailbox messages nobody claimed are deleted after this long; 0 keeps them (POSTBODE_MAILBOX_MAX_AGE)")
	frameAncestors := fs.String("portal-frame-ancestors", env("POSTBODE_PORTAL_FRAME_ANCESTORS", ""), "space- or comma-separated origins that may embed the customer portal in an iframe, e.g. https://app.example.com; none by default (POSTBODE_PORTAL_FRAME_ANCESTORS)")
	fs.StringVar(&c.LogLevel, "log-level", env("POSTBODE_LOG_LEVEL", "info"), "debug, info, warn or error (POSTBODE_LOG_LEVEL)")
	fs.Usage = func() { printUsage(usage, fs, defaults) }
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.BootstrapToken = getenv("POSTBODE_BOOTSTRAP_TOKEN")
	if c.BootstrapToken != "" {
		if err := auth.CheckBootstrapToken(c.BootstrapToken); err != nil {
			return c, fmt.Errorf("POSTBODE_BOOTSTRAP_TOKEN %w", err)
		}
	}
	// Activity is written at most once a minute per user: a shorter period
	// would make users in constant use inactive. An hour leaves room.
	if c.InactiveAfter, err = time.ParseDuration(*inactive); err != nil || c.InactiveAfter < time.Hour {
		return c, fmt.Errorf("--inactive-after: %q is not a Go duration of at least 1h", *inactive)
	}
	if c.Retention, err = time.ParseDuration(*retention); err != nil || c.Retention < 0 {
		return c, fmt.Errorf("--retention: %q is not a Go duration of 0 or more", *retention)
	}
	if c.MailboxRetention, err = time.ParseDuration(*mailboxRetention); err != nil || c.MailboxRetention < 0 {
		return c, fmt.Errorf("--mailbox-retention: %q is not a Go duration of 0 or more", *mailboxRetention)
	}
	if c.MailboxMaxAge, err = time.ParseDuration(*mailboxMaxAge); err != nil || c.MailboxMaxAge < 0 {
		return c, fmt.Errorf("--mailbox-max-age: %q is not a Go duration of 0 or more", *mailboxMaxAge)
	}
	if c.RetrySchedule, err = ParseSchedule(*schedule); err != nil {
		return c, fmt.Errorf("--retry-schedule: %w", err)
	}
	if c.SubscriptionConcurrency, err = strconv.Atoi(*conc); err != nil || c.SubscriptionConcurrency < 1 || c.SubscriptionConcurrency > 1024 {
		return c, fmt.Errorf("--subscription-concurrency: %q is not a number from 1 to 1024", *conc)
	}
	if c.QueueMemory, err = parseSize(*queueMemory); err != nil || c.QueueMemory < minQueueMemory {
		return c, fmt.Errorf("--queue-memory: %q is not a size of at least 1MiB, such as 128MiB", *queueMemory)
	}
	if c.PortalFrameAncestors, err = parseOrigins(*frameAncestors); err != nil {
		return c, fmt.Errorf("--portal-frame-ancestors: %w", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.LogLevel)
	}
	if err := c.parseTracing(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// printUsage prints serve's flags as a table: the flag and its type, its
// environment variable, its built-in default, and what it does; then the
// variables that have no flag.
func printUsage(w io.Writer, fs *flag.FlagSet, defaults map[string]string) {
	fmt.Fprint(w, "Usage: postbode serve [flags]\n\nRun the gateway. Every flag has an environment variable; a flag beats its variable,\nwhich beats the default.\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "flag\tenvironment\tdefault\tmeaning")
	fs.VisitAll(func(f *flag.Flag) {
		typ, meaning := flag.UnquoteUsage(f)
		if typ == "" {
			typ = "bool"
		}
		env := ""
		if i := strings.LastIndex(meaning, " (POSTBODE_"); i >= 0 && strings.HasSuffix(meaning, ")") {
			env, meaning = meaning[i+2:len(meaning)-1], meaning[:i]
		}
		def, ok := defaults[env]
		if !ok {
			def = f.DefValue
		}
		typ = usageType(typ, def)
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(tw, "--%s %s\t%s\t%s\t%s\n", f.Name, typ, env, def, meaning)
	})
	tw.Flush()
	fmt.Fprint(w, `
Environment only:
  POSTBODE_BOOTSTRAP_TOKEN   the first admin's integration token (at least 32 characters), used on an empty database only
  GOGC                       the garbage collector's target; 200 unless set
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
                             trace to this OTLP/HTTP endpoint (OTEL_SERVICE_NAME, OTEL_TRACES_EXPORTER=none also read)
`)
}

// usageType names what a string flag holds, from its default's form.
func usageType(typ, def string) string {
	if typ != "string" || def == "" {
		return typ
	}
	if _, err := strconv.Atoi(def); err == nil {
		return "int"
	}
	if _, err := time.ParseDuration(def); err == nil {
		return "duration"
	}
	if _, err := parseSize(def); err == nil {
		return "size"
	}
	if d, err := ParseSchedule(def); err == nil && len(d) > 1 {
		return "durations"
	}
	return typ
}

// parseTracing reads the OpenTelemetry variables that decide whether to
// trace. Only OTLP over HTTP (protobuf) is built in: another exporter or
// protocol is refused rather than ignored, so that spans are never silently
// sent nowhere.
func (c *Config) parseTracing(getenv func(string) string) error {
	c.ServiceName = strings.TrimSpace(getenv("OTEL_SERVICE_NAME"))
	if c.ServiceName == "" {
		c.ServiceName = "postbode"
	}
	from := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	c.TracingEndpoint = strings.TrimSpace(getenv(from))
	if c.TracingEndpoint == "" {
		from = "OTEL_EXPORTER_OTLP_ENDPOINT"
		c.TracingEndpoint = strings.TrimSpace(getenv(from))
	}
	switch e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e {
	case "none":
		c.TracingEndpoint = ""
	case "", "otlp":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not otlp or none (only OTLP is built in)", e)
	}
	if c.TracingEndpoint == "" {
		return nil
	}
	if u, err := url.Parse(c.TracingEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an http:// or https:// URL, such as http://127.0.0.1:4318", from, c.TracingEndpoint)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" {
			if p != "http/protobuf" {
				return fmt.Errorf("%s: %q is not http/protobuf (the one protocol built in)", name, p)
			}
			break // the traces one, when set, decides
		}
	}
	c.Tracing = true
	return nil
}

// parseOrigins reads origins separated by spaces or commas. Each must be a
// scheme and host (and port) only, since it goes into a Content-Security-
// Policy header, where anything else would change the policy.
func parseOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(u.Host, ";'\"") {
			return nil, fmt.Errorf("%q is not an origin such as https://app.example.com", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// minQueueMemory is the smallest --queue-memory: the largest event there is.
const minQueueMemory = 1 << 20

// parseSize reads a byte count with an optional unit, as GOMEMLIMIT does:
// 65536, 512KiB, 128MiB, 1GiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, unicode.IsLetter)
	mult, ok := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[s[len(num):]]
	if !ok {
		return 0, fmt.Errorf("%q: the unit is not B, KiB, MiB, GiB or TiB", s)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}

// MaxRetryDelay bounds one step of a retry schedule.
const MaxRetryDelay = 7 * 24 * time.Hour

// MaxRetries bounds the length of a retry schedule.
const MaxRetries = 50

// ParseSchedule reads comma-separated Go durations, each positive and at most
// MaxRetryDelay; an empty string is an empty schedule (one attempt only).
func ParseSchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []time.Duration{}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxRetries {
		return nil, fmt.Errorf("at most %d retries", MaxRetries)
	}
	out := make([]time.Duration, 0, len(parts))
	for _, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%q is not a Go duration: give delays separated by commas, such as 5s,5m,30m,2h", strings.TrimSpace(p))
		}
		if err := CheckDelay(d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// CheckDelay validates one step of a retry schedule.
func CheckDelay(d time.Duration) error {
	if d <= 0 || d > MaxRetryDelay {
		return fmt.Errorf("a delay must be longer than 0s and at most 168h (7 days), such as 30s, 5m or 2h; %s is not "+
			"(for no retries at all, leave the schedule empty)", d)
	}
	return nil
}
