// Package apptest runs a whole Postbode node in-process on a loopback port
// with a fresh data directory, for end-to-end tests of any package.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/app"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
)

// Token is the bootstrap admin's integration token in every test node.
const Token = "pbi_test_token_0123456789abcdefghijklmnopqrstuvwxyz"

// Server is a running node.
type Server struct {
	URL    string
	App    *app.App
	cancel context.CancelFunc
	done   chan error
}

// Config returns the configuration tests start from: a temp data dir,
// private targets allowed (receivers live on loopback), fast retries.
func Config(t testing.TB) config.Config {
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.AllowPrivateTargets = true
	cfg.BootstrapToken = Token
	cfg.RetrySchedule = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}
	return cfg
}

// Start runs a node with Config(t) changed by each mutate; it stops with the test.
func Start(t testing.TB, mutate ...func(*config.Config)) *Server {
	t.Helper()
	cfg := Config(t)
	for _, m := range mutate {
		m(&cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs a node with exactly cfg.
func StartConfig(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return StartLogged(t, cfg, log)
}

// StartLogged runs a node with exactly cfg that logs to log, built with
// opts (such as app.WithTracerProvider).
func StartLogged(t testing.TB, cfg config.Config, log *slog.Logger, opts ...app.Option) *Server {
	t.Helper()
	a, err := app.New(context.Background(), cfg, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{URL: "http://" + ln.Addr().String(), App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the node down; it may be called more than once.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Do sends a request with the admin token; body is JSON-encoded unless it
// is a string or []byte.
func (s *Server) Do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// JSON sends a request, requires want as the status and decodes the answer into out (if not nil).
func (s *Server) JSON(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	status, b := s.Do(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

// Client is the public Go SDK's client for this node, as the admin, without
// retries: a test sees each answer as it is.
func (s *Server) Client() *client.Client {
	return client.New(s.URL, Token, client.WithRetries(0))
}

// Workspace creates a workspace with the given event types through the SDK
// and returns its id.
func (s *Server) Workspace(t testing.TB, eventTypes ...string) string {
	t.Helper()
	c := s.Client()
	ws, err := c.CreateWorkspace(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range eventTypes {
		if _, err := c.CreateEventType(t.Context(), ws.ID, client.EventTypeParams{Name: et, Label: et}); err != nil {
			t.Fatal(err)
		}
	}
	return ws.ID
}

// Receiver is a loopback webhook receiver that records what it gets.
type Receiver struct {
	URL string
	mu  sync.Mutex
	got []Request
	// Handle answers each request; nil answers 200.
	Handle  func(w http.ResponseWriter, r *http.Request, body []byte)
	arrived chan struct{}
	srv     *http.Server
}

// Request is one request a Receiver got.
type Request struct {
	Path    string
	Header  http.Header
	Body    []byte
	Arrived time.Time
}

// NewReceiver starts a receiver that stops with the test.
func NewReceiver(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *Receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &Receiver{URL: "http://" + ln.Addr().String(), Handle: handle, arrived: make(chan struct{}, 1)}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Arrived: time.Now()})
		rc.mu.Unlock()
		select {
		case rc.arrived <- struct{}{}:
		default:
		}
		if rc.Handle != nil {
			rc.Handle(w, r, body)
		}
	})}
	go rc.srv.Serve(ln)
	t.Cleanup(func() { rc.srv.Close() })
	return rc
}

// Requests returns a copy of what arrived so far.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.got...)
}

// Wait blocks until at least n requests arrived or timeout passes, and returns them.
func (rc *Receiver) Wait(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := rc.Requests(); len(got) >= n {
			return got
		}
		select {
		case <-rc.arrived:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			got := rc.Requests()
			t.Fatalf("receiver got %d requests within %s, want %d", len(got), timeout, n)
			return got
		}
	}
}

// Engines runs fn once per store engine: SQLite, and PostgreSQL (a fresh
// schema) where pgtest finds one. engine sets the configuration to use it:
// pass it to Start.
func Engines(t *testing.T, fn func(t *testing.T, engine func(*config.Config))) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func(*config.Config) {}) })
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		fn(t, func(c *config.Config) { c.Database = url })
	})
}
