// The Postbode side of a bench run: an in-process node on a temporary data
// directory, or nodes on a fresh PostgreSQL schema (or a running server
// given by --url), and the few management
// API calls the bench needs to set a run up and tear it down.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/app"
	"github.com/postbode/postbode/internal/config"
)

// node is an in-process Postbode.
type node struct {
	URL     string
	Token   string
	DataDir string
	Config  config.Config
	cancel  context.CancelFunc
	done    chan error
}

// startNodes starts the in-process node(s) o asks for: one on SQLite in a
// fresh data directory, or o.nodes on a fresh schema of o.database. The
// cleanup stops them and removes what was made for them.
func startNodes(ctx context.Context, o *options, logTo io.Writer) ([]*node, func() error, error) {
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, 33)
	rand.Read(b)
	cfg.AllowPrivateTargets = true
	cfg.BootstrapToken = "pbi_bench_" + base64.RawURLEncoding.EncodeToString(b)
	cfg.SubscriptionConcurrency = o.subConcurrency
	var nodes []*node
	var dropSchema func() error
	cleanup := func() error {
		var errs []error
		for _, n := range nodes {
			errs = append(errs, n.stop())
		}
		if dropSchema != nil {
			errs = append(errs, dropSchema())
		}
		return errors.Join(errs...)
	}
	if o.database != "" {
		if cfg.Database, dropSchema, err = freshSchema(ctx, o.database); err != nil {
			return nil, nil, err
		}
	}
	for range o.nodes {
		n, err := startNode(ctx, o.dataDir, cfg, logTo)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, cleanup, nil
}

// freshSchema makes a new schema in the database at url and returns a URL
// that uses it, and a function that drops it.
func freshSchema(ctx context.Context, url string) (string, func() error, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", nil, fmt.Errorf("--database: %w", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "postbode_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("--database: creating a schema: %w", err)
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		return err
	}
	u, err := neturl.Parse(url)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// startNode runs Postbode with cfg on 127.0.0.1:0; on SQLite with a fresh
// data directory under parent (the system temp dir when empty). Only
// warnings reach logTo.
func startNode(ctx context.Context, parent string, cfg config.Config, logTo io.Writer) (*node, error) {
	if cfg.Database == "" {
		dir, err := os.MkdirTemp(parent, "postbode-bench-")
		if err != nil {
			return nil, err
		}
		cfg.DataDir = dir
	}
	dir := cfg.DataDir
	if cfg.Database != "" {
		dir = ""
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Store.Close()
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	// The node outlives ctx's cancellation long enough to shut down in order.
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &node{URL: "http://" + ln.Addr().String(), Token: cfg.BootstrapToken, DataDir: dir, Config: cfg,
		cancel: cancel, done: make(chan error, 1)}
	go pprof.Do(nctx, pprof.Labels("part", "postbode"), func(ctx context.Context) { n.done <- a.Serve(ctx, ln) })
	return n, nil
}

// stop shuts the node down and removes its data directory.
func (n *node) stop() error {
	n.cancel()
	err := <-n.done
	if n.DataDir != "" {
		if rerr := os.RemoveAll(n.DataDir); err == nil {
			err = rerr
		}
	}
	return err
}

// client calls the management API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(base, token string, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// apiError is a management API answer other than the expected status.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Body) }

// call sends body (raw JSON bytes, or a value to encode, or nil) and decodes
// an answer with status want into out (if not nil).
func (c *client) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &apiError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// waitReady polls /readyz until the server answers 200.
func (c *client) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.call(ctx, http.MethodGet, "/readyz", nil, http.StatusOK, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not ready: %w", c.base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// benchEventType is the event type every bench event has.
const benchEventType = "bench.event"

// benchSchema is the JSON Schema --schema gives the bench event type: what
// a typical publisher checks (an object, required typed fields, a bound).
const benchSchema = `{"type":"object","required":["seq","pad"],"additionalProperties":false,
"properties":{"seq":{"type":"integer","minimum":0},"pad":{"type":"string","maxLength":1000000}}}`

// setup creates a workspace with the bench event type (with benchSchema
// when withSchema) and n subscriptions, subscription i posting to
// receiverURL/s/i; it returns their ids in order.
func (c *client) setup(ctx context.Context, receiverURL string, n int, withSchema bool) (ws string, subs []string, err error) {
	var w struct{ ID string }
	name := "bench " + time.Now().UTC().Format(time.RFC3339)
	if err := c.call(ctx, http.MethodPost, "/api/v1/workspaces", map[string]string{"name": name}, http.StatusCreated, &w); err != nil {
		return "", nil, fmt.Errorf("creating the workspace: %w", err)
	}
	et := map[string]any{"name": benchEventType, "label": "Bench event"}
	if withSchema {
		et["schema"] = json.RawMessage(benchSchema)
	}
	if err := c.call(ctx, http.MethodPost, "/api/v1/workspaces/"+w.ID+"/event-types", et, http.StatusCreated, nil); err != nil {
		return w.ID, nil, fmt.Errorf("creating the event type: %w", err)
	}
	subs = make([]string, n)
	err = parallel(ctx, n, 8, func(i int) error {
		var s struct{ ID string }
		err := c.call(ctx, http.MethodPost, "/api/v1/workspaces/"+w.ID+"/subscriptions", map[string]any{
			"name": "bench " + strconv.Itoa(i), "url": receiverURL + "/s/" + strconv.Itoa(i),
			"event_types": []string{benchEventType},
		}, http.StatusCreated, &s)
		if err != nil {
			return fmt.Errorf("creating subscription %d: %w", i, err)
		}
		subs[i] = s.ID
		return nil
	})
	return w.ID, subs, err
}

// setStatus calls enable or disable on every subscription.
func (c *client) setStatus(ctx context.Context, ws string, subs []string, action string) error {
	return parallel(ctx, len(subs), 8, func(i int) error {
		return c.call(ctx, http.MethodPost, "/api/v1/workspaces/"+ws+"/subscriptions/"+subs[i]+"/"+action,
			nil, http.StatusOK, nil)
	})
}

// deleteSubscriptions removes what setup made on a server that outlives the bench.
func (c *client) deleteSubscriptions(ctx context.Context, ws string, subs []string) error {
	return parallel(ctx, len(subs), 8, func(i int) error {
		if subs[i] == "" {
			return nil
		}
		return c.call(ctx, http.MethodDelete, "/api/v1/workspaces/"+ws+"/subscriptions/"+subs[i], nil, http.StatusNoContent, nil)
	})
}

// parallel runs fn(0..n-1) on up to width goroutines and returns the first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range min(width, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// createInbound makes an inbound webhook for the bench event type in ws
// and returns its id and bearer app token.
func (c *client) createInbound(ctx context.Context, ws string) (string, string, error) {
	var out struct{ ID, Token string }
	err := c.call(ctx, http.MethodPost, "/api/v1/workspaces/"+ws+"/inbound",
		map[string]string{"name": "postbode bench", "auth": "bearer", "event_type": benchEventType}, http.StatusCreated, &out)
	return out.ID, out.Token, err
}
