// Package app wires Postbode together: it opens the store, builds the
// ingester, the delivery engine and the HTTP handlers with plain
// constructors, and starts and stops the background loops in order. It is
// the one place that knows every part; `postbode serve`, `postbode bench`
// and the end-to-end tests all run Postbode through it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/api"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/delivery"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/mailbox"
	"github.com/postbode/postbode/internal/maintenance"
	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/netguard"
	"github.com/postbode/postbode/internal/receiver"
	"github.com/postbode/postbode/internal/redact"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/sqlite"
	"github.com/postbode/postbode/internal/subscription"
	"github.com/postbode/postbode/internal/telemetry"
	"github.com/postbode/postbode/internal/version"
	"github.com/postbode/postbode/internal/web"
	"github.com/postbode/postbode/internal/workspace"
)

// App is one running Postbode node.
type App struct {
	Config  config.Config
	Store   store.Store
	Metrics *metrics.Metrics
	Handler http.Handler
	Log     *slog.Logger
	Node    string // this node's name: the owner of its leases

	now         func() time.Time
	auth        *auth.Authenticator
	mailboxes   *mailbox.Service
	ingest      *ingest.Ingester
	maintenance *maintenance.Runner
	dispatcher  *delivery.Dispatcher
	sender      *delivery.Sender
	inbound     *inbound.Service
	// stopTracing flushes the last spans and stops the exporter; it does
	// nothing when tracing is off or the provider is the caller's.
	stopTracing func(context.Context) error
}

// New opens the store and builds every part; nothing runs until Serve.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tp, stopTracing := o.tracerProvider, func(context.Context) error { return nil }
	if tp == nil {
		var err error
		tp, stopTracing, err = telemetry.New(ctx, telemetry.Options{Enabled: cfg.Tracing, ServiceName: cfg.ServiceName,
			Version: version.Version, Log: log})
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
	}
	// Nil when tracing is off: then nothing below makes a span.
	tracer := telemetry.Tracer(tp)
	st, writers, err := openStore(ctx, cfg)
	if err != nil {
		stopTracing(ctx)
		return nil, err
	}
	now := time.Now
	a := &App{Config: cfg, Store: st, Log: log, Node: nodeName(), now: now, stopTracing: stopTracing}
	a.Metrics = metrics.New(st.QueueDepth)
	a.sender = delivery.NewSender(cfg.AllowPrivateTargets, version.Version)
	a.sender.Tracer = tracer
	a.dispatcher = delivery.New(st, a.sender, delivery.Options{
		Owner:         a.Node,
		Concurrency:   cfg.SubscriptionConcurrency,
		RetrySchedule: cfg.RetrySchedule,
		QueueMemory:   cfg.QueueMemory,
		Metrics:       a.Metrics,
		Log:           log,
	})
	a.ingest = ingest.New(st, a.dispatcher, writers, a.Metrics, log, now)
	a.ingest.Tracer = tracer
	a.maintenance = &maintenance.Runner{Store: st, Now: now, Owner: a.Node, Retention: cfg.Retention,
		InactiveAfter: cfg.InactiveAfter, MailboxRetention: cfg.MailboxRetention, MailboxMaxAge: cfg.MailboxMaxAge, Log: log,
		Released: a.dispatcher.Notify}

	// The services: every way in calls these, and only these decide.
	a.auth = auth.NewAuthenticator(st, st, now, cfg.InactiveAfter)
	a.auth.Log = log
	workspaces := workspace.New(st, now)
	a.auth.Forgotten = workspaces.ForgetMember
	var checkTarget func(context.Context, string) error
	if !cfg.AllowPrivateTargets {
		checkTarget = func(ctx context.Context, url string) error {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			return netguard.CheckURL(ctx, nil, url)
		}
	}
	subscriptions := subscription.New(subscription.Options{Store: st, Workspaces: workspaces, Routes: a.ingest,
		Delivery: a.dispatcher, CheckTarget: checkTarget, Now: now})
	events := event.New(st, workspaces, a.ingest, a.dispatcher, now)
	accounts := account.New(account.Options{Store: st, Auth: a.auth, InactiveAfter: cfg.InactiveAfter, Workspaces: workspaces,
		PublicURL: cfg.PublicURL, Now: now})
	a.mailboxes = mailbox.New(st, workspaces, a.auth, now)
	a.ingest.Mailboxes = a.mailboxes

	a.inbound = inbound.New(inbound.Options{Store: st, Workspaces: workspaces, Auth: a.auth, Events: events, Cluster: st,
		PublicURL: cfg.PublicURL, InactiveAfter: cfg.InactiveAfter, Now: now})

	apiServer := api.New(api.Options{Auth: a.auth, Workspaces: workspaces, Subscriptions: subscriptions,
		Events: events, Accounts: accounts, Inbound: a.inbound, Mailboxes: a.mailboxes, Log: log})
	inboundReceiver := receiver.New(a.inbound, log, now)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			// The cause goes to the log only: it may name hosts and users.
			log.Warn("readiness: the store is unreachable", "err", err)
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", a.Metrics.Handler())
	// Everything else is the web UI.
	mux.Handle("/", web.New(web.Options{Accounts: accounts, Workspaces: workspaces, Subscriptions: subscriptions,
		Events: events, Inbound: a.inbound, Mailboxes: a.mailboxes, QueueDepth: st.QueueDepth,
		PublicURL: cfg.PublicURL, FrameAncestors: cfg.PortalFrameAncestors, Log: log, Now: now}))
	// The API takes its own paths whole, so that the mux's redirect of an
	// unclean path (an HTML body) never answers an API client.
	a.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			apiServer.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, receiver.Prefix) || r.URL.Path == strings.TrimSuffix(receiver.Prefix, "/") {
			inboundReceiver.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	if tracer != nil {
		a.Handler = traceRequests(a.Handler, tracer)
		if o.tracerProvider == nil {
			log.Info("tracing: exporting spans over OTLP", "endpoint", redact.URL(cfg.TracingEndpoint),
				"service", cfg.ServiceName)
		}
	}
	return a, nil
}

// openStore opens the engine cfg names: PostgreSQL for a postgres:// URL,
// else SQLite in the data directory. writers is how many group commits
// ingest runs at once: SQLite has one writer connection; on PostgreSQL a
// second group commit gathers and runs while the first waits for its flush.
func openStore(ctx context.Context, cfg config.Config) (st store.Store, writers int, err error) {
	switch {
	case cfg.Database == "":
		st, err = sqlite.Open(ctx, cfg.DataDir)
		return st, 1, err
	case strings.HasPrefix(cfg.Database, "postgres://"), strings.HasPrefix(cfg.Database, "postgresql://"):
		st, err = postgres.Open(ctx, cfg.Database)
		return st, 2, err
	}
	return nil, 0, errors.New("--database: give a postgres:// URL, or leave it empty for the embedded SQLite store")
}

// nodeName identifies this process as a lease owner.
func nodeName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return strings.ReplaceAll(host, " ", "_") + "-" + hex.EncodeToString(b)
}

// notified applies a change another node announced.
func (a *App) notified(n store.Notification) {
	if n.InboundID != "" {
		a.inbound.Forget(n.InboundID)
		return
	}
	if n.UserID != "" {
		a.auth.Forget(n.UserID)
	}
	if n.SubscriptionID != "" {
		a.ingest.Invalidate(n.WorkspaceID)
		a.dispatcher.Invalidate(n.SubscriptionID)
	}
	if n.Deliveries {
		a.dispatcher.Notify()
	}
	if n.Mailbox != "" { // messages stored or released on another node
		a.mailboxes.Notify(n.Mailbox)
	}
}

// Serve runs the node on ln until ctx ends, then shuts down in order: stop
// accepting requests and let those under way finish (each publish waits
// for its commit), stop the group-commit writer, let sends under way finish
// and write their results, return unsent leases, close the store.
//
// On an empty database it first makes the bootstrap admin: only now that
// the listener is bound, so credentials shown once are never shown by a
// process that then fails to start.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if err := a.bootstrap(ctx); err != nil {
		a.Store.Close()
		tracingCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.stopTracing(tracingCtx)
		return fmt.Errorf("bootstrap: %w", err)
	}
	ingestCtx, stopIngest := context.WithCancel(context.Background())
	dispatchCtx, stopDispatch := context.WithCancel(context.Background())
	ingestDone := make(chan struct{})
	go func() { defer close(ingestDone); a.ingest.Run(ingestCtx) }()
	var wg sync.WaitGroup
	wg.Add(5)
	go func() { defer wg.Done(); a.auth.RunActivity(dispatchCtx, a.Store, 10*time.Second) }()
	go func() { defer wg.Done(); a.inbound.Run(dispatchCtx, a.Log) }()
	go func() { defer wg.Done(); a.dispatcher.Run(dispatchCtx) }()
	go func() { defer wg.Done(); a.maintenance.Run(dispatchCtx) }()
	go func() { defer wg.Done(); a.Store.Listen(dispatchCtx, a.notified) }()

	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.Log.Info("postbode is serving", "addr", ln.Addr().String(), "version", version.Version)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	started := time.Now()
	a.Log.Info("shutting down", "addr", ln.Addr().String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	// Ingest stops first: its last commits hand deliveries to the dispatcher.
	stopIngest()
	<-ingestDone
	stopDispatch()
	wg.Wait()
	a.sender.Close()
	if cerr := a.Store.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// The last spans go out once everything else has stopped; a collector
	// that does not answer holds the exit for at most five seconds.
	tracingCtx, cancelTracing := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelTracing()
	if terr := a.stopTracing(tracingCtx); terr != nil {
		a.Log.Warn("tracing: flushing the last spans", "err", terr)
	}
	done := []any{"took", time.Since(started).Round(time.Millisecond).String()}
	if err != nil {
		done = append(done, "err", err)
	}
	a.Log.Info("shutdown complete", done...)
	return err
}

// bootstrap makes the first admin on an empty database and shows its
// generated credentials once.
func (a *App) bootstrap(ctx context.Context) error {
	b, err := auth.Bootstrap(ctx, a.Store, a.Config.BootstrapToken, a.now())
	switch {
	case err != nil:
		return err
	case !b.Created && a.Config.BootstrapToken != "":
		a.Log.Warn("POSTBODE_BOOTSTRAP_TOKEN is set but the database already has users; it was ignored")
	case b.Created && b.Token != "":
		a.Log.Warn("created the first admin; this is the only time its password and token are shown",
			"email", b.Email, "password", b.Password, "token", b.Token)
	case b.Created:
		a.Log.Warn("created the first admin with POSTBODE_BOOTSTRAP_TOKEN as its integration token; this is the only time its password is shown",
			"email", b.Email, "password", b.Password)
	}
	return nil
}

// Flush writes at once what is written in the background in batches: the
// users' activity and the inbound request log (for tests and tools that
// read them back right away).
func (a *App) Flush(ctx context.Context) error {
	if err := a.auth.FlushActivity(ctx, a.Store); err != nil {
		return err
	}
	return a.inbound.Flush(ctx)
}
