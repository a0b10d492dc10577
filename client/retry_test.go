// Retries against an httptest server that fails before it succeeds: waits
// honour Retry-After, bodies arrive whole every time, a publish keeps one
// idempotency key across retries, and only safe requests are repeated
// after a network error.
package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaky answers the first fails requests with status and Retry-After, then
// 2xx with ok; it records each request.
type flaky struct {
	mu         sync.Mutex
	fails      int
	status     int
	retryAfter string
	ok         string
	okStatus   int
	bodies     []string
	keys       []string
	auth       []string
}

// seen returns the bodies and idempotency keys received so far.
func (f *flaky) seen() (bodies, keys []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...), append([]string(nil), f.keys...)
}

// reset forgets the requests received, and sets Retry-After.
func (f *flaky) reset(retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies, f.keys, f.auth, f.retryAfter = nil, nil, nil, retryAfter
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	n := len(f.bodies)
	retryAfter := f.retryAfter
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if n <= f.fails {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(f.status)
		io.WriteString(w, `{"error":{"code":"store_unavailable","message":"the database cannot be reached right now"}}`)
		return
	}
	w.WriteHeader(f.okStatus)
	io.WriteString(w, f.ok)
}

// testClient returns a client of url whose waits are recorded, not slept.
func testClient(url string, opts ...Option) (*Client, *[]time.Duration) {
	c := New(url, "pbi_test", opts...)
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return c, &waits
}

func TestRetryPublishOn503HonoursRetryAfter(t *testing.T) {
	f := &flaky{fails: 2, status: 503, retryAfter: "1", okStatus: 202,
		ok: `{"id":"evt_1","type":"invoice.paid","created_at":"2026-01-02T15:04:05Z","duplicate":false}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, waits := testClient(srv.URL)
	p, err := c.Publish(context.Background(), "ws_1", PublishParams{Type: "invoice.paid", Data: map[string]string{"invoice": "1001"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "evt_1" {
		t.Fatalf("published %+v", p)
	}
	bodies, keys := f.seen()
	if len(bodies) != 3 {
		t.Fatalf("%d requests, want 3", len(bodies))
	}
	for i, b := range bodies {
		if b != `{"type":"invoice.paid","data":{"invoice":"1001"}}` {
			t.Fatalf("request %d body %q", i, b)
		}
	}
	if keys[0] == "" || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Fatalf("idempotency keys %q: want one generated key on every try", keys)
	}
	if len(*waits) != 2 || (*waits)[0] != time.Second || (*waits)[1] != time.Second {
		t.Fatalf("waits %v, want Retry-After's 1s twice", *waits)
	}
	// A second publish gets another key; a key of the caller's is sent as it is.
	firstKey := keys[0]
	f.reset("1")
	if _, err := c.Publish(context.Background(), "ws_1", PublishParams{Type: "invoice.paid", Data: 1}); err != nil {
		t.Fatal(err)
	}
	if _, keys = f.seen(); keys[0] == "" || keys[0] == firstKey {
		t.Fatalf("keys %q after %q", keys, firstKey)
	}
	f.reset("1")
	if _, err := c.Publish(context.Background(), "ws_1", PublishParams{Type: "a", Data: 1, IdempotencyKey: "order-7"}); err != nil {
		t.Fatal(err)
	}
	if _, keys = f.seen(); keys[0] != "order-7" || keys[2] != "order-7" {
		t.Fatalf("keys %q, want order-7", keys)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.auth {
		if a != "Bearer pbi_test" {
			t.Fatalf("request %d auth %q", i, a)
		}
	}
}

func TestRetry429WithoutRetryAfterBacksOff(t *testing.T) {
	f := &flaky{fails: 2, status: 429, okStatus: 201, ok: `{"id":"ws_1","name":"Acme","created_at":"2026-01-02T15:04:05Z"}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, waits := testClient(srv.URL, WithBackoff(100*time.Millisecond, time.Second))
	ws, err := c.CreateWorkspace(context.Background(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if ws.ID != "ws_1" {
		t.Fatalf("workspace %+v", ws)
	}
	bodies, keys := f.seen()
	for i, b := range bodies {
		if b != `{"name":"Acme"}` {
			t.Fatalf("request %d body %q", i, b)
		}
	}
	if keys[0] != "" {
		t.Fatal("a workspace was sent an idempotency key")
	}
	w := *waits
	if len(w) != 2 || w[0] < 50*time.Millisecond || w[0] > 100*time.Millisecond || w[1] < 100*time.Millisecond || w[1] > 200*time.Millisecond {
		t.Fatalf("waits %v, want ~100ms then ~200ms with jitter", w)
	}
}

func TestRetriesRunOut(t *testing.T) {
	f := &flaky{fails: 100, status: 503, retryAfter: "2", okStatus: 200, ok: `{}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, waits := testClient(srv.URL, WithRetries(2))
	_, err := c.Me(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != 503 || e.Code != "store_unavailable" || e.RetryAfter != 2*time.Second {
		t.Fatalf("err %#v", err)
	}
	if !errors.Is(err, ErrUnavailable) || !IsRetryable(err) {
		t.Fatalf("matching %v", err)
	}
	if bodies, _ := f.seen(); len(bodies) != 3 || len(*waits) != 2 {
		t.Fatalf("%d requests and %d waits, want 3 and 2", len(bodies), len(*waits))
	}
	// Retries off: one request, and a publish without a key sends none.
	f.reset("2")
	c0, _ := testClient(srv.URL, WithRetries(0))
	if _, err := c0.Publish(context.Background(), "ws", PublishParams{Type: "a", Data: 1}); !IsRetryable(err) {
		t.Fatalf("err %v", err)
	}
	if bodies, keys := f.seen(); len(bodies) != 1 || keys[0] != "" {
		t.Fatalf("retries off: %d requests, key %q", len(bodies), keys[0])
	}
	// A Retry-After longer than the client waits for is returned at once.
	f.reset("3600")
	_, err = c.Me(context.Background())
	if bodies, _ := f.seen(); !IsRetryable(err) || len(bodies) != 1 {
		t.Fatalf("long Retry-After: %v after %d requests", err, len(bodies))
	}
}

func TestRetryRespectsContext(t *testing.T) {
	f := &flaky{fails: 100, status: 503, retryAfter: "1", okStatus: 200, ok: `{}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(srv.URL, "t") // the real sleep
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Me(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want canceled with the last 503", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("took %s: the wait did not end with the context", d)
	}
	// A deadline shorter than Retry-After: no wait at all.
	ctx, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	f.reset("1")
	_, err = c.Me(ctx)
	if bodies, _ := f.seen(); !IsRetryable(err) || len(bodies) != 1 {
		t.Fatalf("deadline: %v after %d requests", err, len(bodies))
	}
}

// dropFirst closes the connection of the first request without an answer.
type dropFirst struct {
	mu   sync.Mutex
	n    int
	keys []string
	ok   string
}

func (d *dropFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.ReadAll(r.Body)
	d.mu.Lock()
	d.n++
	n := d.n
	d.keys = append(d.keys, r.Header.Get("Idempotency-Key"))
	d.mu.Unlock()
	if n == 1 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, d.ok)
}

func (d *dropFirst) seen() (int, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n, append([]string(nil), d.keys...)
}

func TestNetworkErrorsRetriedOnlyWhenSafe(t *testing.T) {
	// GET: retried.
	d := &dropFirst{ok: `{"id":"usr_1","email":"a@b","name":"A","role":"admin","status":"active","created_at":"2026-01-02T15:04:05Z","workspaces":[],"token_count":1}`}
	srv := httptest.NewServer(d)
	defer srv.Close()
	c, _ := testClient(srv.URL, WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	u, err := c.Me(context.Background())
	if n, _ := d.seen(); err != nil || u.ID != "usr_1" || n != 2 {
		t.Fatalf("GET after a dropped connection: %+v, %v, %d requests", u, err, n)
	}
	// A publish (with a generated key): retried, same key.
	d2 := &dropFirst{ok: `{"id":"evt_1","type":"a","created_at":"2026-01-02T15:04:05Z","duplicate":false}`}
	srv2 := httptest.NewServer(d2)
	defer srv2.Close()
	c2, _ := testClient(srv2.URL, WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	_, err = c2.Publish(context.Background(), "ws", PublishParams{Type: "a", Data: 1})
	if n, keys := d2.seen(); err != nil || n != 2 || keys[0] != keys[1] {
		t.Fatalf("publish after a dropped connection: %v, %d requests, keys %q", err, n, keys)
	}
	// A claim: not retried (a second claim would take other messages).
	d3 := &dropFirst{ok: `{"messages":[]}`}
	srv3 := httptest.NewServer(d3)
	defer srv3.Close()
	c3, _ := testClient(srv3.URL, WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	_, err = c3.Claim(context.Background(), "ws", "sub", ClaimParams{})
	if n, _ := d3.seen(); err == nil || n != 1 {
		t.Fatalf("claim after a dropped connection: %v, %d requests", err, n)
	}
}

func TestErrorBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/me") {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"error":{"code":"lease_lost","message":"claim it again"}}`)
	}))
	defer srv.Close()
	c := New(srv.URL+"/api/v1/", "t")
	_, err := c.Me(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || e.Message != "<html>bad gateway</html>" {
		t.Fatalf("a proxy's page: %#v", err)
	}
	_, err = c.AckSuccess(context.Background(), "ws", "sub", "msg", "lease")
	if !errors.Is(err, ErrLeaseLost) || !errors.Is(err, ErrConflict) || errors.Is(err, ErrUserHasTokens) || errors.Is(err, ErrNotFound) {
		t.Fatalf("lease_lost matching: %v", err)
	}
	if err.Error() != "postbode: 409 lease_lost: claim it again" {
		t.Fatalf("message %q", err.Error())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "x": 0, "999999": 24 * time.Hour,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", v, got, want)
		}
	}
}
