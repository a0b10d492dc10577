package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/postbode/postbode/internal/api"
	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// openAPIDoc is the document as served.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Responses map[string]struct {
			Content map[string]any `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

// TestOpenAPICoversTheRoutes: every route the API registers is documented,
// and every documented route is registered (or is the inbound receiver's).
func TestOpenAPICoversTheRoutes(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{"POST /in/{id}": true} // the receiver, beside the API
	for _, p := range api.New(api.Options{}).Patterns {
		registered[p] = true
		if !documented[p] {
			t.Errorf("%s is registered but not documented", p)
		}
	}
	for p := range documented {
		if !registered[p] {
			t.Errorf("%s is documented but not registered", p)
		}
	}
}

// TestOpenAPIDocsAreCurrent: docs/openapi.json is the document the server
// serves. Run `go test ./internal/api -run TestOpenAPIDocsAreCurrent -update`
// after changing the API.
func TestOpenAPIDocsAreCurrent(t *testing.T) {
	checkGenerated(t, "../../docs/openapi.json", api.OpenAPI())
	checkGenerated(t, "../../docs/api-reference.md", api.Reference())
}

// operationCheck validates real answers against the document.
type operationCheck struct {
	t      *testing.T
	srv    *apptest.Server
	c      *jsonschema.Compiler
	doc    openAPIDoc
	called map[string]bool
}

// call sends a request to the path pattern with vars filled in, checks the
// status and the body against the documented ones, and decodes the body.
func (o *operationCheck) call(method, pattern string, vars map[string]string, body any, token string, out any) {
	o.t.Helper()
	o.send(method, pattern, vars, body, token, out, false)
}

// fail is call for a request that must be refused with the error body.
func (o *operationCheck) fail(method, pattern string, vars map[string]string, body any, token string) {
	o.t.Helper()
	o.send(method, pattern, vars, body, token, nil, true)
}

func (o *operationCheck) send(method, pattern string, vars map[string]string, body any, token string, out any, expectError bool) {
	o.t.Helper()
	path := pattern
	for k, v := range vars {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, o.srv.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	op, ok := o.doc.Paths[pattern][strings.ToLower(method)]
	if !ok {
		o.t.Fatalf("%s %s is not documented", method, pattern)
	}
	o.called[method+" "+pattern] = true
	status := strconv.Itoa(resp.StatusCode)
	documented, ok := op.Responses[status]
	if !ok && resp.StatusCode >= 400 && expectError {
		status, documented, ok = "default", op.Responses["default"], true
	}
	if !ok {
		o.t.Fatalf("%s %s answered %s, not a documented status: %s", method, path, status, got)
	}
	if expectError && status != "default" {
		o.t.Errorf("%s %s: %s, want an error", method, path, status)
	}
	if documented.Content == nil {
		if len(got) != 0 {
			o.t.Errorf("%s %s: a body where none is documented: %s", method, path, got)
		}
		return
	}
	ptr := "openapi.json#/paths/" + escapePointer(pattern) + "/" + strings.ToLower(method) + "/responses/" + status + "/content/application~1json/schema"
	sch, err := o.c.Compile(ptr)
	if err != nil {
		o.t.Fatalf("compiling %s: %v", ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(got))
	if err != nil {
		o.t.Fatalf("%s %s: not JSON: %s", method, path, got)
	}
	if err := sch.Validate(v); err != nil {
		o.t.Errorf("%s %s: the answer does not match its schema: %v\n%s", method, path, err, got)
	}
	if out != nil {
		json.Unmarshal(got, out)
	}
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// TestOpenAPIMatchesAnswers calls every documented route with valid input
// on a real node and checks each answer's status and body against the
// document, on both engines.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		var doc openAPIDoc
		json.Unmarshal(api.OpenAPI(), &doc)
		raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(api.OpenAPI()))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource("openapi.json", raw); err != nil {
			t.Fatal(err)
		}
		o := &operationCheck{t: t, srv: srv, c: c, doc: doc, called: map[string]bool{}}
		admin := "Bearer " + apptest.Token
		rc := apptest.NewReceiver(t, nil)

		o.call("GET", "/api/v1/openapi.json", nil, nil, "", nil)
		var ws struct{ ID string }
		o.call("POST", "/api/v1/workspaces", nil, map[string]any{"name": "Docs"}, admin, &ws)
		o.call("GET", "/api/v1/workspaces", nil, nil, admin, nil)
		v := map[string]string{"ws": ws.ID}
		o.call("POST", "/api/v1/workspaces/{ws}/event-types", v, map[string]any{"name": "invoice.paid", "label": "Invoice paid",
			"schema": map[string]any{"type": "object"}}, admin, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/event-types", v, nil, admin, nil)
		var sub, pull struct{ ID, Token, Username string }
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions", v, map[string]any{"name": "CRM", "url": rc.URL,
			"event_types": []string{"*"}, "headers": map[string]string{"X-Api-Key": "secret"}, "retry_schedule": []string{"1s"}}, admin, &sub)
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions", v, map[string]any{"name": "Box", "mode": "pull", "auth": "basic",
			"event_types": []string{"*"}}, admin, &pull)
		v["id"] = sub.ID
		o.call("GET", "/api/v1/workspaces/{ws}/subscriptions", v, nil, admin, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/subscriptions/{id}", v, nil, admin, nil)
		o.call("PATCH", "/api/v1/workspaces/{ws}/subscriptions/{id}", v, map[string]any{"api_version": "2026-11"}, admin, nil)
		var evt struct{ ID string }
		o.call("POST", "/api/v1/workspaces/{ws}/events", v, map[string]any{"type": "invoice.paid", "data": map[string]any{"n": 1}, "subject": "invoice/1"}, admin, &evt)
		o.call("POST", "/api/v1/workspaces/{ws}/events/batch", v, map[string]any{"events": []any{
			map[string]any{"type": "invoice.paid", "data": map[string]any{}, "idempotency_key": "k1"}}}, admin, nil)
		rc.Wait(t, 2, 10*time.Second)
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/test", v, nil, admin, nil)
		var attempts struct{ Data []struct{ ID string } }
		for deadline := time.Now().Add(10 * time.Second); len(attempts.Data) < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			o.call("GET", "/api/v1/workspaces/{ws}/subscriptions/{id}/attempts", v, nil, admin, &attempts)
		}
		v["attempt"] = attempts.Data[0].ID
		o.call("GET", "/api/v1/workspaces/{ws}/subscriptions/{id}/attempts/{attempt}", v, nil, admin, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/events", v, nil, admin, nil)
		var full struct{ Deliveries []struct{ ID string } }
		v["id"] = evt.ID
		o.call("GET", "/api/v1/workspaces/{ws}/events/{id}", v, nil, admin, &full)
		v["id"] = full.Deliveries[0].ID
		o.call("POST", "/api/v1/workspaces/{ws}/deliveries/{id}/resend", v, nil, admin, nil)
		v["id"] = sub.ID
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/disable", v, nil, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/enable", v, nil, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/rotate-secret", v, nil, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/recover", v, map[string]any{"since": "2020-01-01T00:00:00Z"}, admin, nil)

		// The mailbox, with its own basic credentials.
		v["id"] = pull.ID
		basic := "Basic " + basicAuth(pull.Username, pull.Token)
		var claims struct {
			Messages []struct {
				ID      string `json:"id"`
				LeaseID string `json:"lease_id"`
			} `json:"messages"`
		}
		srv.Publish(t, ws.ID, "invoice.paid", map[string]any{"n": 3})
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/claim", v, map[string]any{"count": 3}, basic, &claims)
		if len(claims.Messages) != 3 {
			t.Fatalf("claimed %d messages, want 3", len(claims.Messages))
		}
		v["message"] = claims.Messages[0].ID
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/extend", v, map[string]any{"lease_seconds": 30}, basic, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/release", v, nil, basic, nil)
		v["message"] = claims.Messages[1].ID
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/failed", v, map[string]any{"reason": "no"}, basic, nil)
		v["message"] = claims.Messages[2].ID
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/success", v, nil, basic, nil)
		// One refused (no longer claimed) and one unknown: results with errors.
		o.call("POST", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/ack", v, map[string]any{"acks": []any{
			map[string]any{"id": claims.Messages[0].ID, "action": "success"}, map[string]any{"id": "msg_00000000000000000000000000000000", "action": "success"}}}, basic, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox", v, nil, basic, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/stats", v, nil, basic, nil)
		o.call("DELETE", "/api/v1/workspaces/{ws}/subscriptions/{id}", v, nil, admin, nil)

		// Inbound webhooks and the receiver.
		var hook struct{ ID, Token, Username string }
		o.call("POST", "/api/v1/workspaces/{ws}/inbound", v, map[string]any{"name": "Shop", "auth": "basic", "event_type": "invoice.paid",
			"verify": nil}, admin, &hook)
		v["id"] = hook.ID
		o.call("POST", "/in/{id}", v, map[string]any{"order": 1}, "Basic "+basicAuth(hook.Username, hook.Token), nil)
		o.call("GET", "/api/v1/workspaces/{ws}/inbound", v, nil, admin, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/inbound/{id}", v, nil, admin, nil)
		o.call("PATCH", "/api/v1/workspaces/{ws}/inbound/{id}", v, map[string]any{"dedupe_header": "X-Delivery"}, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/inbound/{id}/disable", v, nil, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/inbound/{id}/enable", v, nil, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/inbound/{id}/token", v, nil, admin, nil)
		o.call("GET", "/api/v1/workspaces/{ws}/inbound/{id}/requests", v, nil, admin, nil)
		o.call("DELETE", "/api/v1/workspaces/{ws}/inbound/{id}", v, nil, admin, nil)
		o.call("POST", "/api/v1/workspaces/{ws}/portal-links", v, map[string]any{"ttl_seconds": 60}, admin, nil)

		// Users and tokens.
		o.call("GET", "/api/v1/me", nil, nil, admin, nil)
		var u struct{ ID string }
		o.call("POST", "/api/v1/users", nil, map[string]any{"email": "docs@example.com", "name": "Docs", "workspaces": []string{ws.ID}}, admin, &u)
		v["id"] = u.ID
		o.call("GET", "/api/v1/users", nil, nil, admin, nil)
		o.call("GET", "/api/v1/users/{id}", v, nil, admin, nil)
		o.call("PATCH", "/api/v1/users/{id}", v, map[string]any{"name": "Docs Writer"}, admin, nil)
		o.call("POST", "/api/v1/users/{id}/reactivate", v, nil, admin, nil)
		o.call("POST", "/api/v1/users/{id}/password", v, map[string]any{"password": "a long new password"}, admin, nil)
		var tok struct{ ID string }
		o.call("POST", "/api/v1/users/{id}/tokens", v, map[string]any{"name": "ci"}, admin, &tok)
		o.call("GET", "/api/v1/users/{id}/tokens", v, nil, admin, nil)
		var me struct{ ID string }
		json.Unmarshal(mustGet(t, srv, "/api/v1/me"), &me)
		o.call("POST", "/api/v1/tokens/{id}/transfer", map[string]string{"id": tok.ID}, map[string]any{"user_id": me.ID}, admin, nil)
		o.call("DELETE", "/api/v1/tokens/{id}", map[string]string{"id": tok.ID}, nil, admin, nil)
		o.call("DELETE", "/api/v1/users/{id}", v, nil, admin, nil)

		// An error answers with the documented error body.
		o.fail("GET", "/api/v1/users/{id}", v, nil, admin)

		var missed []string
		for path, ops := range doc.Paths {
			for method := range ops {
				if k := strings.ToUpper(method) + " " + path; !o.called[k] {
					missed = append(missed, k)
				}
			}
		}
		sort.Strings(missed)
		if len(missed) > 0 {
			t.Errorf("documented routes the test did not call: %v", missed)
		}
	})
}

func mustGet(t *testing.T, srv *apptest.Server, path string) []byte {
	status, b := srv.Do(t, "GET", path, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	return b
}

func basicAuth(user, pass string) string {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// update rewrites generated files instead of comparing them.
var update = flag.Bool("update", false, "rewrite the generated docs")

// checkGenerated compares a generated file with what it should hold.
func checkGenerated(t *testing.T, path string, want []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not current: run go test ./internal/api -run TestOpenAPIDocsAreCurrent -update", path)
	}
}
