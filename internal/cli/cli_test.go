package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/webhook"
)

// result is one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command line in-process with only env as the environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runCtx(t, context.Background(), env, "", args...)
}

func runCtx(t *testing.T, ctx context.Context, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(ctx, args, Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(stdin),
		Getenv: func(k string) string { return env[k] }})
	return result{code, out.String(), errb.String()}
}

// ok requires exit status 0 and returns stdout.
func (r result) ok(t *testing.T) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
}

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// server starts a node and returns it with the environment that points the
// command line at it.
func server(t *testing.T, mutate ...func(*config.Config)) (*apptest.Server, map[string]string) {
	srv := apptest.Start(t, mutate...)
	return srv, map[string]string{"POSTBODE_URL": srv.URL, "POSTBODE_TOKEN": apptest.Token}
}

// eventually polls cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestResources(t *testing.T) {
	srv, env := server(t)
	var ws struct{ ID, Name string }
	decode(t, run(t, env, "workspaces", "create", "Acme", "--json").ok(t), &ws)
	if ws.Name != "Acme" || !strings.HasPrefix(ws.ID, "ws_") {
		t.Fatalf("workspace %+v", ws)
	}
	env["POSTBODE_WORKSPACE"] = ws.ID
	contains(t, "workspaces list", run(t, env, "workspaces", "list").ok(t), "ID", "NAME", ws.ID, "Acme")

	schema := filepath.Join(t.TempDir(), "schema.json")
	os.WriteFile(schema, []byte(`{"type":"object","required":["n"]}`), 0o600)
	run(t, env, "event-types", "create", "invoice.paid", "--label", "Invoice paid", "--schema", schema).ok(t)
	contains(t, "event-types list", run(t, env, "event-types", "list").ok(t), "invoice.paid", "Invoice paid", "yes")
	var types struct {
		Data []struct{ Name string }
	}
	decode(t, run(t, env, "event-types", "list", "--json").ok(t), &types)
	if len(types.Data) != 1 || types.Data[0].Name != "invoice.paid" {
		t.Fatalf("event types %+v", types)
	}

	rc := apptest.NewReceiver(t, nil)
	var sub struct{ ID, Secret string }
	decode(t, run(t, env, "subscriptions", "create", "billing", "--target", rc.URL+"/hook", "--event-type", "invoice.paid",
		"--header", "X-Tenant=acme", "--json").ok(t), &sub)
	if !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("no secret in %+v", sub)
	}
	contains(t, "subscriptions list", run(t, env, "subscriptions", "list").ok(t), sub.ID, "billing", "push", "active", "invoice.paid")
	contains(t, "subscriptions get", run(t, env, "subscriptions", "get", sub.ID).ok(t), "X-Tenant: acme", "/hook")
	contains(t, "subscriptions update", run(t, env, "subscriptions", "update", sub.ID, "--name", "billing2", "--retry-schedule", "1s,2s").ok(t),
		"billing2", "1s,2s")

	// Schema refused: the API's code and message, exit 1.
	r := run(t, env, "events", "publish", "invoice.paid", "--data", `{"x":1}`)
	if r.code != 1 || !strings.Contains(r.stderr, "422 schema_mismatch") {
		t.Fatalf("schema mismatch: %+v", r)
	}
	var pub struct{ ID string }
	decode(t, runCtx(t, context.Background(), env, `{"n":1}`, "events", "publish", "invoice.paid", "--data", "@-",
		"--subject", "invoice/1", "--idempotency-key", "k1", "--json").ok(t), &pub)
	rc.Wait(t, 1, 10*time.Second)
	if got := rc.Requests()[0]; got.Header.Get("X-Tenant") != "acme" {
		t.Errorf("header: %v", got.Header)
	}
	contains(t, "a repeated publish", run(t, env, "events", "publish", "invoice.paid", "--data", `{"n":1}`, "--idempotency-key", "k1").ok(t),
		pub.ID, "duplicate")
	contains(t, "events list", run(t, env, "events", "list", "--type", "invoice.paid", "--since", "1h").ok(t), pub.ID, "invoice/1", `{"n":1}`)
	eventually(t, "the delivery to succeed", func() bool {
		return strings.Contains(run(t, env, "events", "get", pub.ID).ok(t), "succeeded")
	})
	var attempts struct {
		Data []struct {
			Succeeded bool
			Response  struct{ Status int }
		}
		NextCursor *string `json:"next_cursor"`
	}
	decode(t, run(t, env, "subscriptions", "attempts", sub.ID, "--json").ok(t), &attempts)
	if len(attempts.Data) != 1 || !attempts.Data[0].Succeeded || attempts.Data[0].Response.Status != 200 || attempts.NextCursor != nil {
		t.Fatalf("attempts %+v", attempts)
	}
	contains(t, "test", run(t, env, "subscriptions", "test", sub.ID).ok(t), "succeeded:", "true")
	contains(t, "disable", run(t, env, "subscriptions", "disable", sub.ID).ok(t), "paused")
	contains(t, "enable", run(t, env, "subscriptions", "enable", sub.ID).ok(t), "active")
	contains(t, "rotate-secret", run(t, env, "subscriptions", "rotate-secret", sub.ID).ok(t), "whsec_", "previous secret until")

	// Pages: one at a time, with the next cursor on stderr.
	for i := range 3 {
		run(t, env, "events", "publish", "invoice.paid", "--data", fmt.Sprintf(`{"n":%d}`, i+2)).ok(t)
	}
	r = run(t, env, "events", "list", "--limit", "2")
	if strings.Count(r.ok(t), "evt_") != 2 || !strings.Contains(r.stderr, "more: add --cursor") {
		t.Fatalf("a page of 2: %+v", r)
	}
	if n := strings.Count(run(t, env, "events", "list", "--type", "invoice.paid", "--limit", "2", "--all").ok(t), "evt_"); n != 4 {
		t.Fatalf("--all listed %d events, want 4", n)
	}

	// Users and tokens.
	var user struct{ ID, Password string }
	decode(t, run(t, env, "users", "create", "ann@example.com", "--name", "Ann", "--workspaces", ws.ID, "--json").ok(t), &user)
	if user.Password == "" {
		t.Fatal("no generated password")
	}
	contains(t, "users list", run(t, env, "users", "list").ok(t), "ann@example.com", "member", "admin@localhost")
	contains(t, "users get (me)", run(t, env, "users", "get").ok(t), "admin@localhost", "admin")
	contains(t, "users update", run(t, env, "users", "update", user.ID, "--name", "Ann B").ok(t), "Ann B")
	runCtx(t, context.Background(), env, "a long new password 123\n", "users", "password", user.ID, "--stdin").ok(t)
	var tok struct{ ID, Token string }
	decode(t, run(t, env, "tokens", "create", user.ID, "ci", "--json").ok(t), &tok)
	if !strings.HasPrefix(tok.Token, "pbi_") {
		t.Fatalf("token %+v", tok)
	}
	contains(t, "tokens list", run(t, env, "tokens", "list", user.ID).ok(t), tok.ID, "integration", "ci")
	r = run(t, env, "users", "delete", user.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "user_has_tokens") || !strings.Contains(r.stderr, "tokens transfer") {
		t.Fatalf("deleting a user with tokens: %+v", r)
	}
	run(t, env, "tokens", "revoke", tok.ID).ok(t)
	contains(t, "users delete", run(t, env, "users", "delete", user.ID).ok(t), "deleted "+user.ID)

	// Inbound webhooks.
	var in struct{ ID, Token, URL string }
	decode(t, run(t, env, "inbound", "create", "payments", "--event-type", "invoice.paid", "--json").ok(t), &in)
	contains(t, "inbound list", run(t, env, "inbound", "list").ok(t), in.ID, "payments", "bearer", "active")
	contains(t, "inbound disable", run(t, env, "inbound", "disable", in.ID).ok(t), "disabled")
	contains(t, "inbound enable", run(t, env, "inbound", "enable", in.ID).ok(t), "active")
	contains(t, "inbound update", run(t, env, "inbound", "update", in.ID, "--name", "pay", "--dedupe-header", "X-Id").ok(t), "pay", "X-Id")
	contains(t, "inbound token", run(t, env, "inbound", "token", in.ID).ok(t), "pba_")
	req, _ := http.NewRequest("POST", srv.URL+"/in/"+in.ID, strings.NewReader(`{"n":9}`))
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("posting to the inbound webhook: %v %v", resp, err)
	}
	eventually(t, "the inbound request logged", func() bool {
		return strings.Contains(run(t, env, "inbound", "requests", in.ID).ok(t), "evt_")
	})
	contains(t, "inbound requests", run(t, env, "inbound", "requests", in.ID).ok(t), "202", "evt_")
	run(t, env, "inbound", "delete", in.ID).ok(t)

	// A mailbox.
	var pull struct{ ID, Token string }
	decode(t, run(t, env, "subscriptions", "create", "EPD", "--mode", "pull", "--event-type", "invoice.paid", "--json").ok(t), &pull)
	run(t, env, "events", "publish", "invoice.paid", "--data", `{"n":7}`).ok(t)
	var claimed struct {
		Messages []struct {
			ID      string `json:"id"`
			LeaseID string `json:"lease_id"`
		}
	}
	decode(t, run(t, env, "mailbox", "claim", pull.ID, "--count", "10", "--json").ok(t), &claimed)
	if len(claimed.Messages) != 1 {
		t.Fatalf("claimed %+v", claimed)
	}
	m := claimed.Messages[0]
	contains(t, "mailbox search", run(t, env, "mailbox", "search", pull.ID, "--status", "claimed").ok(t), m.ID, "claimed")
	contains(t, "mailbox ack", run(t, env, "mailbox", "ack", pull.ID, m.ID, "success", "--lease-id", m.LeaseID).ok(t), "success")
	contains(t, "mailbox stats", run(t, env, "mailbox", "stats", pull.ID).ok(t), "STATUS", "success")
	// The mailbox's own app token works for the mailbox commands.
	env2 := map[string]string{"POSTBODE_URL": srv.URL, "POSTBODE_TOKEN": pull.Token, "POSTBODE_WORKSPACE": ws.ID}
	run(t, env2, "mailbox", "stats", pull.ID).ok(t)

	contains(t, "portal-link", run(t, env, "portal-link", "--ttl", "10m").ok(t), "url:", "/portal/")
	run(t, env, "subscriptions", "delete", sub.ID).ok(t)
	r = run(t, env, "subscriptions", "get", sub.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "404 not_found") {
		t.Fatalf("a deleted subscription: %+v", r)
	}
}

func TestErrors(t *testing.T) {
	srv, env := server(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"wrong token", map[string]string{"POSTBODE_URL": srv.URL, "POSTBODE_TOKEN": "pbi_wrong"}, []string{"workspaces", "list"}, 1,
			[]string{"401 unauthenticated", "The token was not accepted by " + srv.URL}},
		{"no token", map[string]string{"POSTBODE_URL": srv.URL}, []string{"workspaces", "list"}, 2, []string{"no token", "POSTBODE_TOKEN"}},
		{"no workspace", env, []string{"subscriptions", "list"}, 2, []string{"no workspace", "POSTBODE_WORKSPACE"}},
		{"not found", env, []string{"subscriptions", "get", "sub_nope", "-w", "ws_nope"}, 1, []string{"404 not_found"}},
		{"unknown command", env, []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{"unknown subcommand", env, []string{"workspaces", "frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{"unknown flag", env, []string{"workspaces", "list", "--frob"}, 2, []string{"unknown flag: --frob", "See 'postbode workspaces list --help'"}},
		{"missing argument", env, []string{"workspaces", "create"}, 2, []string{"missing NAME"}},
		{"bad JSON", env, []string{"events", "publish", "x", "--data", "{", "-w", "ws_x"}, 2, []string{"--data: not valid JSON"}},
		{"bad time", env, []string{"recover", "sub_x", "--since", "yesterday", "-w", "ws_x"}, 2, []string{`"yesterday" is not a time`}},
		{"server down", map[string]string{"POSTBODE_URL": "http://127.0.0.1:1", "POSTBODE_TOKEN": "pbi_x"}, []string{"workspaces", "list"}, 1,
			[]string{"connection refused"}},
		{"serve bad flag", env, []string{"serve", "--retention", "soon"}, 2, []string{"--retention"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			contains(t, "stderr", r.stderr, tc.want...)
		})
	}
	// The flag beats the environment.
	r := run(t, map[string]string{"POSTBODE_URL": "http://127.0.0.1:1", "POSTBODE_TOKEN": "pbi_x"}, "workspaces", "list",
		"--url", srv.URL, "--token", apptest.Token)
	r.ok(t)
}

// failingSubscription makes a subscription whose receiver fails until ok is
// set, publishes n events to it and waits until their deliveries failed.
func failingSubscription(t *testing.T, srv *apptest.Server, env map[string]string, n int) (ws, sub string, evts []string, ok *atomic.Bool) {
	ok = new(atomic.Bool)
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if !ok.Load() {
			w.WriteHeader(500)
		}
	})
	ws = srv.Workspace(t, "invoice.paid")
	env["POSTBODE_WORKSPACE"] = ws
	var s struct{ ID string }
	decode(t, run(t, env, "subscriptions", "create", "flaky", "--target", rc.URL, "--event-type", "invoice.paid", "--json").ok(t), &s)
	for i := range n {
		var p struct{ ID string }
		decode(t, run(t, env, "events", "publish", "invoice.paid", "--data", fmt.Sprintf(`{"n":%d}`, i), "--json").ok(t), &p)
		evts = append(evts, p.ID)
	}
	for _, e := range evts {
		eventually(t, "the delivery to fail", func() bool {
			var ev struct{ Deliveries []struct{ Status string } }
			srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/events/"+e, nil, 200, &ev)
			return len(ev.Deliveries) == 1 && (ev.Deliveries[0].Status == "failed" || ev.Deliveries[0].Status == "held")
		})
	}
	return ws, s.ID, evts, ok
}

func TestRecoverWithProgress(t *testing.T) {
	srv, env := server(t)
	_, sub, _, ok := failingSubscription(t, srv, env, 3)
	ok.Store(true)
	r := run(t, env, "recover", sub, "--since", "1h", "--wait")
	contains(t, "stdout", r.ok(t), "recovered 3 of 3 deliveries; 0 failed again")
	// Not a terminal: plain lines, the last one complete, no \r.
	contains(t, "stderr", r.stderr, "queued 3 deliveries", "recover: 3/3\n")
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("a carriage return on a non-terminal: %q", r.stderr)
	}
	var out struct{ Queued int }
	decode(t, run(t, env, "recover", sub, "--since", "1h", "--json").ok(t), &out)
	if out.Queued != 0 {
		t.Errorf("recovered again: %+v", out)
	}
}

func TestResend(t *testing.T) {
	srv, env := server(t)
	_, sub, evts, ok := failingSubscription(t, srv, env, 2)
	// Without --yes: only what would be resent.
	r := run(t, env, "resend", "--subscription", sub, "--since", "1h", "--status", "failed,held")
	if strings.Count(r.ok(t), "dlv_") != 2 || !strings.Contains(r.stderr, "2 deliveries would be resent: add --yes") {
		t.Fatalf("dry run: %+v", r)
	}
	ok.Store(true)
	r = run(t, env, "resend", "--subscription", sub, "--since", "1h", "--status", "failed,held", "--yes")
	r.ok(t)
	contains(t, "stderr", r.stderr, "reading events: 2/2", "resend: 2/2", "resent 2 deliveries")
	var res struct {
		Resent, Failed int
	}
	decode(t, run(t, env, "resend", "--event", evts[0], "--json").ok(t), &res)
	if res.Resent != 1 || res.Failed != 0 {
		t.Fatalf("resend --event: %+v", res)
	}
	r = run(t, env, "resend", "dlv_nope")
	if r.code != 1 || !strings.Contains(r.stdout, "404 not_found") || !strings.Contains(r.stderr, "1 of 1 deliveries were not resent") {
		t.Fatalf("resending a delivery that is not there: %+v", r)
	}
	if r := run(t, env, "resend"); r.code != 2 {
		t.Fatalf("resend without anything: %+v", r)
	}
}

func TestListen(t *testing.T) {
	srv, env := server(t)
	ws := srv.Workspace(t, "invoice.paid", "other")
	env["POSTBODE_WORKSPACE"] = ws
	secret := newSecret()
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*webhook.Event
	var calls atomic.Int32
	target := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(503) // the first try fails: released, forwarded again
			return
		}
		b, _ := io.ReadAll(r.Body)
		e, err := webhook.Parse(b)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})))
	defer target.Close()

	// listen runs the command until ctx ends, returning once it is ready.
	listen := func(ctx context.Context) (chan result, *syncBuffer) {
		done := make(chan result, 1)
		out, errb := &syncBuffer{}, &syncBuffer{}
		go func() {
			code := Main(ctx, []string{"listen", "--forward-to", target.URL + "/hook", "--secret", secret, "--event-type", "invoice.paid",
				"--name", "dev", "--retry-delay", "1s"}, Env{Stdout: out, Stderr: errb, Getenv: func(k string) string { return env[k] }})
			done <- result{code: code, stderr: errb.String()}
		}()
		eventually(t, "listen to be ready", func() bool { return strings.Contains(errb.String(), "Ready") })
		return done, out
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, out := listen(ctx)
	defer func() {
		if t.Failed() {
			cancel()
			r := <-done
			t.Logf("listen's output:\n%s\n%s", out.String(), r.stderr)
		}
	}()
	run(t, env, "events", "publish", "other", "--data", `{"skip":true}`).ok(t)
	var pub struct{ ID string }
	decode(t, run(t, env, "events", "publish", "invoice.paid", "--data", `{"n":1}`, "--subject", "invoice/1", "--json").ok(t), &pub)
	eventually(t, "the event forwarded", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 && calls.Load() == 0 {
			select {
			case r := <-done:
				t.Fatalf("listen stopped: %+v %s", r, out.String())
			default:
			}
		}
		return len(got) == 1
	})
	eventually(t, "the acknowledgement", func() bool { return strings.Contains(out.String(), " 200 ") })
	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("listen exited %d: %s", r.code, r.stderr)
	}
	contains(t, "listen's stderr", r.stderr, `Made the pull subscription`, "Forwarding invoice.paid to "+target.URL)
	contains(t, "listen's stdout", out.String(), "invoice.paid", pub.ID, "503", "again in 1s", "200")
	e := got[0]
	if e.ID != pub.ID || e.Type != "invoice.paid" || string(e.Data) != `{"n":1}` || e.Subject == nil || *e.Subject != "invoice/1" || e.WorkspaceID != ws {
		t.Fatalf("forwarded %+v", e)
	}

	// A second run reuses the subscription, which collected an event meanwhile.
	run(t, env, "events", "publish", "invoice.paid", "--data", `{"n":2}`).ok(t)
	ctx, cancel = context.WithCancel(context.Background())
	done, _ = listen(ctx)
	eventually(t, "the event published while listen was away", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	cancel()
	r = <-done
	contains(t, "the second run's stderr", r.stderr, "Reusing the pull subscription")
	var subs struct{ Data []struct{ Name string } }
	decode(t, run(t, env, "subscriptions", "list", "--json").ok(t), &subs)
	if len(subs.Data) != 1 || subs.Data[0].Name != "dev" {
		t.Fatalf("subscriptions %+v", subs)
	}
	if r := run(t, env, "listen"); r.code != 2 || !strings.Contains(r.stderr, "--forward-to") {
		t.Fatalf("listen without --forward-to: %+v", r)
	}
}

// syncBuffer is a bytes.Buffer safe to read while another goroutine writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	srv, env := server(t, func(c *config.Config) { c.DataDir = dir })
	ws := srv.Workspace(t, "invoice.paid")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var published atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/events", map[string]any{"type": "invoice.paid", "data": map[string]int{"n": 1}}, 202, nil)
				published.Add(1)
			}
		}()
	}
	eventually(t, "some events", func() bool { return published.Load() >= 50 })
	to := filepath.Join(t.TempDir(), "copy.db")
	r := run(t, env, "backup", "--data-dir", dir, "--to", to)
	close(stop)
	wg.Wait()
	contains(t, "backup", r.ok(t), "backed up "+dir+" to "+to)

	db, err := sql.Open("sqlite3", "file:"+to+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	var events, deliveries int
	if err := db.QueryRow("SELECT count(*) FROM events").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events < 50 || int64(events) > published.Load()+1 {
		t.Fatalf("the copy has %d events; %d were published", events, published.Load())
	}
	if err := db.QueryRow("SELECT count(*) FROM workspaces").Scan(&deliveries); err != nil || deliveries != 1 {
		t.Fatalf("workspaces in the copy: %d %v", deliveries, err)
	}

	if r := run(t, env, "backup", "--data-dir", dir, "--to", to); r.code != 1 || !strings.Contains(r.stderr, "exists already") {
		t.Fatalf("overwriting: %+v", r)
	}
	if r := run(t, env, "backup", "--database", "postgres://x/y", "--to", to+"2"); r.code != 2 || !strings.Contains(r.stderr, "pg_dump") {
		t.Fatalf("PostgreSQL: %+v", r)
	}
	if r := run(t, env, "backup", "--data-dir", t.TempDir(), "--to", to+"3"); r.code != 1 || !strings.Contains(r.stderr, "no database") {
		t.Fatalf("an empty directory: %+v", r)
	}
	// migrate refuses a data directory a server holds.
	if r := run(t, map[string]string{"POSTBODE_DATA_DIR": dir}, "migrate"); r.code != 1 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("migrate while serving: %+v", r)
	}
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	out := run(t, nil, "migrate", "--data-dir", dir).ok(t)
	if !strings.Contains(out, dir+": schema version 0 → ") {
		t.Fatalf("first migrate: %s", out)
	}
	var v struct{ Before, After, Latest int64 }
	decode(t, run(t, map[string]string{"POSTBODE_DATA_DIR": dir}, "migrate", "--json").ok(t), &v)
	if v.Before != v.After || v.After != v.Latest || v.Latest < 1 {
		t.Fatalf("second migrate: %+v", v)
	}
	contains(t, "up to date", run(t, nil, "migrate", "--data-dir", dir).ok(t), "up to date")
}

func TestVersion(t *testing.T) {
	contains(t, "version", run(t, nil, "version").ok(t), "postbode dev", "commit:", "go:")
	v := buildVersion(&debug.BuildInfo{GoVersion: "go1.99", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}})
	contains(t, "stamped", v.String(), "0123abc (with uncommitted changes)", "2026-01-02 03:04:05 UTC", "go1.99")
	contains(t, "unstamped", buildVersion(&debug.BuildInfo{}).String(), "commit:       unknown", "committed at: unknown")
	contains(t, "--version", run(t, nil, "--version").ok(t), "postbode dev")
}

func TestHelp(t *testing.T) {
	r := run(t, nil, "serve", "-h")
	r.ok(t)
	contains(t, "serve -h", r.stderr, "--addr string", "POSTBODE_ADDR", "127.0.0.1:8080", "--retention duration", "720h",
		"--queue-memory size", "POSTBODE_BOOTSTRAP_TOKEN")
	// A variable set does not change the default shown.
	r = run(t, map[string]string{"POSTBODE_ADDR": "0.0.0.0:1"}, "serve", "-h")
	if strings.Contains(r.stderr, "0.0.0.0:1") {
		t.Errorf("serve -h shows the environment's value as the default")
	}
	contains(t, "postbode --help", run(t, nil, "--help").ok(t), "subscriptions", "listen", "backup", "POSTBODE_TOKEN")
	contains(t, "postbode workspaces", run(t, nil, "workspaces").ok(t), "create", "list")
}
