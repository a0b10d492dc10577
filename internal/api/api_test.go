package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/api"
	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
)

// page is one page of a list response.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// listAll follows next_cursor from path (which may carry a query) and
// returns every page.
func listAll[T any](t *testing.T, srv *apptest.Server, path string) []page[T] {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var pages []page[T]
	next := path
	for range 100 {
		var p page[T]
		srv.JSON(t, "GET", next, nil, http.StatusOK, &p)
		pages = append(pages, p)
		if p.NextCursor == nil {
			return pages
		}
		if *p.NextCursor == "" {
			t.Fatalf("GET %s: next_cursor is an empty string, want null or a cursor", next)
		}
		next = path + sep + "cursor=" + *p.NextCursor
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

func pageSizes[T any](pages []page[T]) []int {
	var n []int
	for _, p := range pages {
		n = append(n, len(p.Data))
	}
	return n
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
	}
}

// doAs sends a request with token instead of the admin's.
func doAs(t *testing.T, srv *apptest.Server, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// newMember adds a member user with an integration token, and returns the token.
func newMember(t *testing.T, srv *apptest.Server, email string) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	u := &store.User{ID: id.New(id.User), Email: email, Name: "Member", Role: "member", Status: "active", CreatedAt: now}
	if err := srv.App.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok := auth.NewToken(store.TokenIntegration)
	if err := srv.App.Store.CreateToken(ctx, &store.Token{ID: id.New(id.Token), UserID: u.ID, Kind: store.TokenIntegration,
		Name: "member", Hash: auth.HashToken(tok), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// subscription is a subscription as the API shows it.
// The API's JSON as these tests read it.
type (
	subscription = apptest.Subscription
	delivery     = apptest.Delivery
	event        = apptest.Event
	attempt      = apptest.Attempt
)

func createSub(t *testing.T, srv *apptest.Server, ws string, body map[string]any) subscription {
	t.Helper()
	var s subscription
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", body, http.StatusCreated, &s)
	return s
}

// waitDeliveries waits until every delivery of the event has status.
func waitDeliveries(t *testing.T, srv *apptest.Server, ws, evt string, n int, status string) event {
	t.Helper()
	var e event
	eventually(t, 5*time.Second, fmt.Sprintf("%d deliveries of %s %s", n, evt, status), func() bool {
		e = srv.Event(t, ws, evt)
		if len(e.Deliveries) != n {
			return false
		}
		for _, d := range e.Deliveries {
			if d.Status != status {
				return false
			}
		}
		return true
	})
	return e
}

// checkSecret requires a generated secret: whsec_ and the base64 of 32 bytes.
func checkSecret(t *testing.T, secret string) {
	t.Helper()
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		t.Fatalf("secret %q does not start with whsec_", secret)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) != 32 {
		t.Fatalf("secret %q: want the base64 of 32 bytes, got %d bytes (%v)", secret, len(key), err)
	}
}

// signedWith reports whether a Standard Webhooks request carries a valid
// signature made with secret.
func signedWith(t *testing.T, r apptest.Request, secret string) bool {
	t.Helper()
	key, err := signing.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	var ts int64
	if _, err := fmt.Sscan(r.Header.Get("webhook-timestamp"), &ts); err != nil {
		t.Fatalf("webhook-timestamp %q: %v", r.Header.Get("webhook-timestamp"), err)
	}
	want := key.Sign(r.Header.Get("webhook-id"), ts, r.Body)
	return slices.Contains(strings.Fields(r.Header.Get("webhook-signature")), want)
}

func TestWorkspacesCreateAndPage(t *testing.T) {
	srv := apptest.Start(t)
	var ids []string
	for i := range 5 {
		var w struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			CreatedAt string `json:"created_at"`
		}
		name := fmt.Sprintf("  workspace %d ", i)
		srv.JSON(t, "POST", "/api/v1/workspaces", map[string]string{"name": name}, http.StatusCreated, &w)
		if !strings.HasPrefix(w.ID, "ws_") {
			t.Errorf("id %q, want the ws_ prefix", w.ID)
		}
		if w.Name != strings.TrimSpace(name) {
			t.Errorf("name %q, want %q", w.Name, strings.TrimSpace(name))
		}
		if ts, err := time.Parse(time.RFC3339Nano, w.CreatedAt); err != nil || !strings.HasSuffix(w.CreatedAt, "Z") ||
			time.Since(ts) > time.Minute {
			t.Errorf("created_at %q: want a recent RFC 3339 UTC time (%v)", w.CreatedAt, err)
		}
		ids = append(ids, w.ID)
	}

	for _, tc := range []struct {
		query string
		sizes []int
	}{
		{"", []int{5}},
		{"?limit=1", []int{1, 1, 1, 1, 1}},
		{"?limit=2", []int{2, 2, 1}},
		{"?limit=4", []int{4, 1}},
		{"?limit=5", []int{5}}, // an exact fit: no empty last page
		{"?limit=1000", []int{5}},
	} {
		t.Run("query="+tc.query, func(t *testing.T) {
			pages := listAll[struct{ ID string }](t, srv, "/api/v1/workspaces"+tc.query)
			if got := pageSizes(pages); !slices.Equal(got, tc.sizes) {
				t.Errorf("page sizes %v, want %v", got, tc.sizes)
			}
			var got []string
			for _, p := range pages {
				for _, w := range p.Data {
					got = append(got, w.ID)
				}
			}
			if !slices.Equal(got, ids) {
				t.Errorf("listed %v, want every workspace once in creation order %v", got, ids)
			}
		})
	}

	// The last page says so with an explicit null.
	status, body := srv.Do(t, "GET", "/api/v1/workspaces", nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"next_cursor":null`) {
		t.Errorf("last page: %d %s, want next_cursor null", status, body)
	}
	// A cursor past the end is an empty page, not an error.
	var p page[struct{ ID string }]
	srv.JSON(t, "GET", "/api/v1/workspaces?cursor="+ids[4], nil, http.StatusOK, &p)
	if p.Data == nil || len(p.Data) != 0 || p.NextCursor != nil {
		t.Errorf("after the last id: %+v, want data [] and next_cursor null", p)
	}
}

func TestWorkspacesListOnlyTheCallers(t *testing.T) {
	srv := apptest.Start(t)
	adminWS := srv.Workspace(t)
	member := newMember(t, srv, "member@example.com")
	status, body := doAs(t, srv, member, "POST", "/api/v1/workspaces", map[string]string{"name": "mine"})
	if status != http.StatusCreated {
		t.Fatalf("member creates a workspace: %d %s", status, body)
	}
	var mine struct{ ID string }
	json.Unmarshal(body, &mine)

	status, body = doAs(t, srv, member, "GET", "/api/v1/workspaces", nil)
	var p page[struct{ ID string }]
	if err := json.Unmarshal(body, &p); status != http.StatusOK || err != nil {
		t.Fatalf("member lists workspaces: %d %s", status, body)
	}
	if len(p.Data) != 1 || p.Data[0].ID != mine.ID {
		t.Errorf("member sees %+v, want only its own workspace %s", p.Data, mine.ID)
	}
	if status, body := doAs(t, srv, member, "GET", "/api/v1/workspaces/"+adminWS+"/event-types", nil); status != http.StatusNotFound {
		t.Errorf("member reads another workspace: %d %s, want 404", status, body)
	}
	// The admin sees every workspace.
	pages := listAll[struct{ ID string }](t, srv, "/api/v1/workspaces")
	if len(pages[0].Data) != 2 {
		t.Errorf("admin sees %d workspaces, want 2", len(pages[0].Data))
	}
}

func TestEventTypesCreateAndList(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t)
	other := srv.Workspace(t)
	type eventType struct {
		Name        string          `json:"name"`
		Label       string          `json:"label"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
	}
	var created eventType
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/event-types", map[string]any{
		"name": "invoice.paid", "label": "Invoice paid", "description": "An invoice was paid in full.",
		"schema": map[string]any{"type": "object"},
	}, http.StatusCreated, &created)
	if created.Name != "invoice.paid" || created.Label != "Invoice paid" || created.Description != "An invoice was paid in full." ||
		string(created.Schema) != `{"type":"object"}` {
		t.Errorf("created %+v", created)
	}
	for _, name := range []string{"user_1.created-v2", "a.first", "z.last"} {
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/event-types", map[string]any{"name": name, "label": name},
			http.StatusCreated, nil)
	}
	// Names are unique per workspace, not across workspaces.
	srv.JSON(t, "POST", "/api/v1/workspaces/"+other+"/event-types", map[string]any{"name": "invoice.paid", "label": "x"},
		http.StatusCreated, nil)

	want := []string{"a.first", "invoice.paid", "user_1.created-v2", "z.last"}
	for _, q := range []string{"", "?limit=1", "?limit=3"} {
		var got []string
		for _, p := range listAll[eventType](t, srv, "/api/v1/workspaces/"+ws+"/event-types"+q) {
			for _, et := range p.Data {
				got = append(got, et.Name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("list%s: %v, want %v", q, got, want)
		}
	}
	var p page[eventType]
	srv.JSON(t, "GET", "/api/v1/workspaces/"+other+"/event-types", nil, http.StatusOK, &p)
	if len(p.Data) != 1 || p.Data[0].Label != "x" {
		t.Errorf("other workspace lists %+v, want only its own invoice.paid", p.Data)
	}
}

func TestSubscriptionSecretShownOnce(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "billing", "url": "http://127.0.0.1:9/hook",
		"event_types": []string{"invoice.paid"}})
	checkSecret(t, sub.Secret)
	if !strings.HasPrefix(sub.ID, "sub_") || sub.WorkspaceID != ws {
		t.Errorf("id %q workspace %q", sub.ID, sub.WorkspaceID)
	}
	// The documented defaults.
	want := subscription{ID: sub.ID, WorkspaceID: ws, Name: "billing", Mode: "push", URL: "http://127.0.0.1:9/hook",
		EventTypes: []string{"invoice.paid"}, Status: "active", Payload: "full", Format: "envelope", Headers: map[string]string{},
		SignatureScheme: "standard", SignatureHeader: "X-Postbode-Signature", TimeoutSeconds: 10, FailureThreshold: 5,
		CreatedAt: sub.CreatedAt, UpdatedAt: sub.UpdatedAt, Secret: sub.Secret}
	if !reflect.DeepEqual(sub, want) {
		t.Errorf("created\n%+v\nwant\n%+v", sub, want)
	}

	second := createSub(t, srv, ws, map[string]any{"name": "b", "url": "http://127.0.0.1:9/b", "event_types": []string{"*"}})
	if second.Secret == sub.Secret {
		t.Error("two subscriptions got the same secret")
	}
	// Neither a read nor a list shows a secret again.
	for _, path := range []string{
		"/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID,
		"/api/v1/workspaces/" + ws + "/subscriptions",
	} {
		status, body := srv.Do(t, "GET", path, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		for _, s := range []string{sub.Secret, second.Secret, strings.TrimPrefix(sub.Secret, "whsec_"), `"secret"`, "previous_secret\""} {
			if strings.Contains(string(body), s) {
				t.Errorf("GET %s shows %s: %s", path, s, body)
			}
		}
	}

	// A secret chosen by the caller is kept and shown back once.
	own := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	chosen := createSub(t, srv, ws, map[string]any{"name": "c", "url": "http://127.0.0.1:9/c", "event_types": []string{"*"},
		"secret": own})
	if chosen.Secret != own {
		t.Errorf("chosen secret shown as %q, want %q", chosen.Secret, own)
	}
}

func TestSubscriptionPatchChangesOnlyGivenFields(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid", "order.created")
	sub := createSub(t, srv, ws, map[string]any{"name": "billing", "url": "http://127.0.0.1:9/hook",
		"event_types": []string{"invoice.paid"}, "headers": map[string]string{"X-Tenant": "42"},
		"api_version": "2024-06-01", "timeout_seconds": 5, "failure_threshold": 7, "retry_schedule": []string{"1s", "2m"},
		"signature_scheme": "hmac-sha256", "signature_header": "X-Sig", "payload": "notification"})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID
	var before subscription
	srv.JSON(t, "GET", path, nil, http.StatusOK, &before)

	steps := []struct {
		patch  string
		change func(*subscription)
	}{
		{`{}`, func(*subscription) {}},
		{`{"timeout_seconds":20}`, func(s *subscription) { s.TimeoutSeconds = 20 }},
		{`{"api_version":null}`, func(s *subscription) { s.APIVersion = nil }},
		{`{"api_version":"v2"}`, func(s *subscription) { v := "v2"; s.APIVersion = &v }},
		{`{"name":" renamed ","event_types":["*"]}`, func(s *subscription) { s.Name, s.EventTypes = "renamed", []string{"*"} }},
		{`{"url":"https://127.0.0.1:9/new"}`, func(s *subscription) { s.URL = "https://127.0.0.1:9/new" }},
		{`{"headers":{}}`, func(s *subscription) { s.Headers = map[string]string{} }},
		{`{"retry_schedule":["30s"]}`, func(s *subscription) { s.RetrySchedule = []string{"30s"} }},
		{`{"retry_schedule":null}`, func(s *subscription) { s.RetrySchedule = nil }},
		{`{"retry_schedule":[]}`, func(s *subscription) { s.RetrySchedule = []string{} }},
		{`{"payload":"full","format":"raw"}`, func(s *subscription) { s.Payload, s.Format = "full", "raw" }},
		{`{"signature_scheme":"standard","failure_threshold":1}`, func(s *subscription) {
			s.SignatureScheme, s.FailureThreshold = "standard", 1
		}},
	}
	want := before
	for _, step := range steps {
		var got subscription
		srv.JSON(t, "PATCH", path, step.patch, http.StatusOK, &got)
		step.change(&want)
		var read subscription
		srv.JSON(t, "GET", path, nil, http.StatusOK, &read)
		for name, s := range map[string]subscription{"PATCH answer": got, "GET after": read} {
			if s.UpdatedAt.Before(want.UpdatedAt) {
				t.Errorf("PATCH %s: %s updated_at went back", step.patch, name)
			}
			s.UpdatedAt = want.UpdatedAt
			if !reflect.DeepEqual(s, want) {
				t.Errorf("PATCH %s: %s\n%+v\nwant\n%+v", step.patch, name, s, want)
			}
		}
		if got.Secret != "" || read.Secret != "" {
			t.Errorf("PATCH %s shows the secret", step.patch)
		}
		want.UpdatedAt = read.UpdatedAt
	}

	// A refused PATCH changes nothing, not even the fields that were valid.
	status, body := srv.Do(t, "PATCH", path, `{"name":"half","timeout_seconds":99}`)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid PATCH: %d %s", status, body)
	}
	var after subscription
	srv.JSON(t, "GET", path, nil, http.StatusOK, &after)
	if !reflect.DeepEqual(after, want) {
		t.Errorf("a refused PATCH changed\n%+v\nto\n%+v", want, after)
	}

	// A new signature header may not clash with a header already set.
	srv.JSON(t, "PATCH", path, `{"headers":{"X-Signed-By":"me"}}`, http.StatusOK, nil)
	status, body = srv.Do(t, "PATCH", path, `{"signature_header":"x-signed-by"}`)
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "signature_header") {
		t.Errorf("signature_header clashing with headers: %d %s, want 422 naming signature_header", status, body)
	}
}

func TestSubscriptionDelete(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"*"}})
	keep := createSub(t, srv, ws, map[string]any{"name": "keep", "url": rc.URL, "event_types": []string{"*"}})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID

	status, body := srv.Do(t, "DELETE", path, nil)
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("DELETE: %d %q, want 204 and no body", status, body)
	}
	for _, m := range []string{"GET", "DELETE", "PATCH"} {
		var b any
		if m == "PATCH" {
			b = `{"name":"x"}`
		}
		if status, body := srv.Do(t, m, path, b); status != http.StatusNotFound {
			t.Errorf("%s after DELETE: %d %s, want 404", m, status, body)
		}
	}
	var p page[subscription]
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions", nil, http.StatusOK, &p)
	if len(p.Data) != 1 || p.Data[0].ID != keep.ID {
		t.Errorf("list after DELETE: %+v, want only %s", p.Data, keep.ID)
	}
	// Events go only to what is left.
	evt := srv.Publish(t, ws, "invoice.paid", map[string]int{"n": 1})
	e := waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded)
	if e.Deliveries[0].SubscriptionID != keep.ID {
		t.Errorf("delivery to %s, want %s", e.Deliveries[0].SubscriptionID, keep.ID)
	}
}

func TestPublish(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid", "order.created")
	exact := createSub(t, srv, ws, map[string]any{"name": "exact", "url": rc.URL + "/exact", "event_types": []string{"invoice.paid"}})
	all := createSub(t, srv, ws, map[string]any{"name": "all", "url": rc.URL + "/all", "event_types": []string{"*"}})
	createSub(t, srv, ws, map[string]any{"name": "other", "url": rc.URL + "/other", "event_types": []string{"order.created"}})

	status, body := srv.Do(t, "POST", "/api/v1/workspaces/"+ws+"/events", map[string]any{
		"type": "invoice.paid", "data": map[string]any{"amount": 42, "currency": "EUR"}, "user_id": "u-7", "subject": "invoice/9",
	})
	if status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", status, body)
	}
	var res map[string]any
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	evt, _ := res["id"].(string)
	created, _ := res["created_at"].(string)
	if !strings.HasPrefix(evt, "evt_") || res["type"] != "invoice.paid" {
		t.Errorf("publish answered %s, want {id: evt_…, type: invoice.paid, created_at}", body)
	}
	if _, err := time.Parse(time.RFC3339Nano, created); err != nil || !strings.HasSuffix(created, "Z") {
		t.Errorf("created_at %q is not RFC 3339 UTC", created)
	}

	e := waitDeliveries(t, srv, ws, evt, 2, store.DeliverySucceeded)
	if e.ID != evt || e.Type != "invoice.paid" || string(e.Data) != `{"amount":42,"currency":"EUR"}` ||
		e.UserID == nil || *e.UserID != "u-7" || e.Subject == nil || *e.Subject != "invoice/9" {
		t.Errorf("GET event: %+v", e)
	}
	var to []string
	for _, d := range e.Deliveries {
		to = append(to, d.SubscriptionID)
		if !strings.HasPrefix(d.ID, "dlv_") || d.EventID != evt || d.Attempts != 1 {
			t.Errorf("delivery %+v", d)
		}
	}
	slices.Sort(to)
	if want := []string{exact.ID, all.ID}; !slices.Equal(to, slices.Sorted(slices.Values(want))) {
		t.Errorf("deliveries to %v, want %v", to, want)
	}

	// What arrived is the envelope, signed with the secret shown at creation.
	secrets := map[string]string{"/exact": exact.Secret, "/all": all.Secret}
	for _, r := range rc.Wait(t, 2, 5*time.Second) {
		if r.Path == "/other" {
			t.Errorf("order.created subscription got an invoice.paid event")
			continue
		}
		if r.Header.Get("webhook-id") != evt || !signedWith(t, r, secrets[r.Path]) {
			t.Errorf("%s: webhook-id %q, signature %q do not match the event and secret", r.Path,
				r.Header.Get("webhook-id"), r.Header.Get("webhook-signature"))
		}
		var env map[string]any
		if err := json.Unmarshal(r.Body, &env); err != nil || env["id"] != evt || env["type"] != "invoice.paid" ||
			env["workspace_id"] != ws || env["subject"] != "invoice/9" || env["user_id"] != "u-7" {
			t.Errorf("%s: envelope %s", r.Path, r.Body)
		}
	}

	// An unknown type is refused and stores nothing.
	status, body = srv.Do(t, "POST", "/api/v1/workspaces/"+ws+"/events", map[string]any{"type": "invoice.void", "data": 1})
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"unknown_event_type"`) {
		t.Errorf("unknown type: %d %s, want 422 unknown_event_type", status, body)
	}
	// An event of another workspace is not found here.
	other := srv.Workspace(t)
	if status, body := srv.Do(t, "GET", "/api/v1/workspaces/"+other+"/events/"+evt, nil); status != http.StatusNotFound {
		t.Errorf("event read through another workspace: %d %s", status, body)
	}
}

func TestPublishIdempotencyKey(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	other := srv.Workspace(t, "invoice.paid")
	createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"*"}})

	publishWithKey := func(ws, key string, data any) (id, created string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"type": "invoice.paid", "data": data})
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/workspaces/"+ws+"/events", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+apptest.Token)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			ID        string `json:"id"`
			CreatedAt string `json:"created_at"`
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &out) != nil {
			t.Fatalf("publish with key %q: %d %s", key, resp.StatusCode, body)
		}
		return out.ID, out.CreatedAt
	}

	first, firstCreated := publishWithKey(ws, "order-1", 1)
	waitDeliveries(t, srv, ws, first, 1, store.DeliverySucceeded)
	for i := range 3 {
		again, created := publishWithKey(ws, "order-1", 100+i) // even with other data
		if again != first || created != firstCreated {
			t.Errorf("repeat %d: %s at %s, want the first event %s at %s", i, again, created, first, firstCreated)
		}
	}
	// Another key, no key, or the same key in another workspace: new events.
	seen := map[string]bool{first: true}
	for _, c := range []struct{ ws, key string }{{ws, "order-2"}, {ws, ""}, {ws, ""}, {other, "order-1"}} {
		id, _ := publishWithKey(c.ws, c.key, 2)
		if seen[id] {
			t.Errorf("key %q in %s returned event %s again", c.key, c.ws, id)
		}
		seen[id] = true
	}

	// The repeats created no deliveries: one for the first event, one per new event in ws.
	rc.Wait(t, 4, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.Requests()); n != 4 {
		t.Errorf("receiver got %d requests, want 4 (repeats must not be delivered)", n)
	}
	n := 0
	for _, r := range rc.Requests() {
		if r.Header.Get("webhook-id") == first {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the first event arrived %d times, want once", n)
	}
	if e := srv.Event(t, ws, first); len(e.Deliveries) != 1 || string(e.Data) != "1" {
		t.Errorf("first event: %d deliveries, data %s; want 1 delivery and the first data", len(e.Deliveries), e.Data)
	}
}

func TestPublishBatch(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid", "order.created")
	createSub(t, srv, ws, map[string]any{"name": "all", "url": rc.URL, "event_types": []string{"*"}})
	path := "/api/v1/workspaces/" + ws + "/events/batch"
	type answer struct {
		Events []struct {
			ID, Type, CreatedAt string
			Duplicate           bool
		}
	}

	batch := map[string]any{"events": []map[string]any{
		{"type": "invoice.paid", "data": map[string]any{"n": 1}, "user_id": "u-1", "subject": "invoice/1"},
		{"type": "order.created", "data": map[string]any{"n": 2}, "idempotency_key": "order-2"},
		{"type": "invoice.paid", "data": map[string]any{"n": 3}},
	}}
	var first answer
	srv.JSON(t, "POST", path, batch, http.StatusAccepted, &first)
	if len(first.Events) != 3 {
		t.Fatalf("answer holds %d events, want 3", len(first.Events))
	}
	for i, want := range []string{"invoice.paid", "order.created", "invoice.paid"} {
		e := first.Events[i]
		if !strings.HasPrefix(e.ID, "evt_") || e.Type != want || e.Duplicate {
			t.Errorf("events[%d] = %+v, want a new %s event", i, e, want)
		}
	}
	// Each event is stored as published and delivered.
	for i, e := range first.Events {
		got := waitDeliveries(t, srv, ws, e.ID, 1, store.DeliverySucceeded)
		if want := fmt.Sprintf(`{"n":%d}`, i+1); string(got.Data) != want {
			t.Errorf("events[%d] data %s, want %s", i, got.Data, want)
		}
		if i == 0 && (got.UserID == nil || *got.UserID != "u-1" || got.Subject == nil || *got.Subject != "invoice/1") {
			t.Errorf("events[0] lost user_id or subject: %+v", got)
		}
	}

	// A repeat of an idempotency key returns the first event and stores nothing new for it.
	var again answer
	srv.JSON(t, "POST", path, map[string]any{"events": []map[string]any{
		{"type": "order.created", "data": 9, "idempotency_key": "order-2"},
		{"type": "invoice.paid", "data": 4},
	}}, http.StatusAccepted, &again)
	if again.Events[0].ID != first.Events[1].ID || !again.Events[0].Duplicate || again.Events[1].Duplicate {
		t.Errorf("repeat: %+v, want events[0] to be %s (duplicate) and events[1] new", again.Events, first.Events[1].ID)
	}

	// One refused event refuses the batch: nothing of it is stored or sent.
	status, body := srv.Do(t, "POST", path, map[string]any{"events": []map[string]any{
		{"type": "invoice.paid", "data": 5},
		{"type": "invoice.void", "data": 6},
	}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"unknown_event_type"`) ||
		!strings.Contains(string(body), "events[1].type") {
		t.Errorf("batch with an unknown type: %d %s, want 422 unknown_event_type naming events[1].type", status, body)
	}
	rc.Wait(t, 4, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.Requests()); n != 4 {
		t.Errorf("receiver got %d requests, want 4: three events, one new one in the repeat, none of the refused batch", n)
	}
}

func TestRotateSecret(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"*"}})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID

	var rotated subscription
	srv.JSON(t, "POST", path+"/rotate-secret", nil, http.StatusOK, &rotated)
	checkSecret(t, rotated.Secret)
	if rotated.Secret == sub.Secret {
		t.Fatal("rotate-secret returned the old secret")
	}
	if exp := rotated.PreviousSecretExpiresAt; exp == nil || exp.Sub(time.Now().Add(24*time.Hour)).Abs() > time.Minute {
		t.Errorf("previous_secret_expires_at %v, want about 24 h from now", exp)
	}
	status, body := srv.Do(t, "GET", path, nil)
	if status != http.StatusOK || strings.Contains(string(body), rotated.Secret) || strings.Contains(string(body), sub.Secret) {
		t.Errorf("GET after rotation shows a secret: %d %s", status, body)
	}

	// Both secrets sign during the grace period.
	srv.Publish(t, ws, "invoice.paid", 1)
	r := rc.Wait(t, 1, 5*time.Second)[0]
	if sigs := strings.Fields(r.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("webhook-signature %q, want two signatures", r.Header.Get("webhook-signature"))
	}
	if !signedWith(t, r, rotated.Secret) || !signedWith(t, r, sub.Secret) {
		t.Errorf("webhook-signature %q is not signed with both the new and the old secret", r.Header.Get("webhook-signature"))
	}

	var again subscription
	srv.JSON(t, "POST", path+"/rotate-secret", "{}", http.StatusOK, &again)
	if again.Secret == rotated.Secret || again.Secret == sub.Secret {
		t.Error("a second rotation did not make a new secret")
	}
}

func TestEnableDisable(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"*"}})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID

	var s subscription
	srv.JSON(t, "POST", path+"/disable", nil, http.StatusOK, &s)
	if s.Status != store.SubscriptionPaused {
		t.Fatalf("after disable: status %q, want paused", s.Status)
	}
	srv.JSON(t, "GET", path, nil, http.StatusOK, &s)
	if s.Status != store.SubscriptionPaused {
		t.Fatalf("GET after disable: status %q, want paused", s.Status)
	}
	// New deliveries are held, not sent and not dropped.
	evt := srv.Publish(t, ws, "invoice.paid", 1)
	waitDeliveries(t, srv, ws, evt, 1, store.DeliveryHeld)
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("a paused subscription got %d requests", n)
	}
	// Disabling twice is harmless.
	srv.JSON(t, "POST", path+"/disable", "{}", http.StatusOK, &s)

	srv.JSON(t, "POST", path+"/enable", nil, http.StatusOK, &s)
	if s.Status != store.SubscriptionActive {
		t.Fatalf("after enable: status %q, want active", s.Status)
	}
	got := rc.Wait(t, 1, 5*time.Second)
	if got[0].Header.Get("webhook-id") != evt {
		t.Errorf("released delivery carried %q, want %s", got[0].Header.Get("webhook-id"), evt)
	}
	waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded)
}

func TestRecover(t *testing.T) {
	srv := apptest.Start(t)
	var failing atomic.Bool
	failing.Store(true)
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"*"},
		"retry_schedule": []string{"10ms"}, "failure_threshold": 100})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID
	start := time.Now().UTC()
	evts := []string{srv.Publish(t, ws, "invoice.paid", 1), srv.Publish(t, ws, "invoice.paid", 2)}
	for _, evt := range evts {
		waitDeliveries(t, srv, ws, evt, 1, store.DeliveryFailed)
	}

	recoverSince := func(since time.Time) int {
		t.Helper()
		var out map[string]int
		srv.JSON(t, "POST", path+"/recover", map[string]string{"since": since.Format(time.RFC3339Nano)}, http.StatusOK, &out)
		n, ok := out["queued"]
		if !ok || len(out) != 1 {
			t.Fatalf("recover answered %v, want {queued:N}", out)
		}
		return n
	}
	if n := recoverSince(time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("recover since an hour ahead queued %d, want 0", n)
	}
	failing.Store(false)
	if n := recoverSince(start.Add(-time.Minute)); n != 2 {
		t.Errorf("recover queued %d, want 2", n)
	}
	for _, evt := range evts {
		waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded)
	}
	if n := recoverSince(start.Add(-time.Minute)); n != 0 {
		t.Errorf("recover with nothing failed queued %d, want 0", n)
	}

	// An auto-disabled subscription: recover releases its held deliveries and makes it active.
	failing.Store(true)
	srv.JSON(t, "PATCH", path, `{"failure_threshold":1}`, http.StatusOK, nil)
	evt := srv.Publish(t, ws, "invoice.paid", 3)
	eventually(t, 5*time.Second, "auto-disable", func() bool {
		var s subscription
		srv.JSON(t, "GET", path, nil, http.StatusOK, &s)
		return s.Status == store.SubscriptionDisabled
	})
	held := srv.Publish(t, ws, "invoice.paid", 4)
	waitDeliveries(t, srv, ws, held, 1, store.DeliveryHeld)
	failing.Store(false)
	if n := recoverSince(start); n != 2 {
		t.Errorf("recover of a disabled subscription queued %d, want 2", n)
	}
	var s subscription
	srv.JSON(t, "GET", path, nil, http.StatusOK, &s)
	if s.Status != store.SubscriptionActive {
		t.Errorf("after recover: status %q, want active", s.Status)
	}
	waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded)
	waitDeliveries(t, srv, ws, held, 1, store.DeliverySucceeded)
}

func TestResend(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"*"}})
	evt := srv.Publish(t, ws, "invoice.paid", map[string]int{"n": 1})
	first := waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded).Deliveries[0]

	var d delivery
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/deliveries/"+first.ID+"/resend", nil, http.StatusAccepted, &d)
	if !strings.HasPrefix(d.ID, "dlv_") || d.ID == first.ID || d.EventID != evt || d.SubscriptionID != sub.ID {
		t.Errorf("resend answered %+v, want a new delivery of %s to %s", d, evt, sub.ID)
	}
	got := rc.Wait(t, 2, 5*time.Second)
	if len(got) != 2 || got[1].Header.Get("webhook-id") != evt || !bytes.Equal(got[0].Body, got[1].Body) {
		t.Errorf("resent request: %d requests, webhook-id %q", len(got), got[len(got)-1].Header.Get("webhook-id"))
	}
	e := waitDeliveries(t, srv, ws, evt, 2, store.DeliverySucceeded)
	if !slices.ContainsFunc(e.Deliveries, func(x delivery) bool { return x.ID == d.ID }) {
		t.Errorf("GET event lists %+v, without the resent delivery %s", e.Deliveries, d.ID)
	}
	// A delivery is not found through another workspace.
	other := srv.Workspace(t)
	if status, body := srv.Do(t, "POST", "/api/v1/workspaces/"+other+"/deliveries/"+first.ID+"/resend", nil); status != http.StatusNotFound {
		t.Errorf("resend through another workspace: %d %s", status, body)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.Requests()); n != 2 {
		t.Errorf("receiver got %d requests, want exactly 2", n)
	}
}

func TestAttemptsPaging(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("X-Receiver", "yes")
		w.Write([]byte("thanks"))
	})
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL + "/hook", "event_types": []string{"*"}})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID + "/attempts"
	var evts []string
	for i := range 12 {
		evt := srv.Publish(t, ws, "invoice.paid", i)
		waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded) // one at a time: attempts in publish order
		evts = append(evts, evt)
	}
	slices.Reverse(evts) // newest first

	pages := listAll[attempt](t, srv, path)
	if got := pageSizes(pages); !slices.Equal(got, []int{10, 2}) {
		t.Errorf("default page sizes %v, want [10 2]", got)
	}
	for _, tc := range []struct {
		limit string
		sizes []int
	}{{"1", slices.Repeat([]int{1}, 12)}, {"5", []int{5, 5, 2}}, {"12", []int{12}}, {"100", []int{12}}} {
		pages := listAll[attempt](t, srv, path+"?limit="+tc.limit)
		if got := pageSizes(pages); !slices.Equal(got, tc.sizes) {
			t.Errorf("limit=%s: page sizes %v, want %v", tc.limit, got, tc.sizes)
		}
		var got []string
		var ids []string
		for _, p := range pages {
			for _, a := range p.Data {
				got = append(got, a.EventID)
				ids = append(ids, a.ID)
			}
		}
		if !slices.Equal(got, evts) {
			t.Errorf("limit=%s: attempts for events %v, want newest first %v", tc.limit, got, evts)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 12 {
			t.Errorf("limit=%s: attempt ids repeat: %v", tc.limit, ids)
		}
	}

	a := pages[0].Data[0]
	if !strings.HasPrefix(a.ID, "att_") || !strings.HasPrefix(a.DeliveryID, "dlv_") || a.EventID != evts[0] ||
		a.EventType != "invoice.paid" || a.CreatedAt.IsZero() || a.DurationMS == nil || !a.Succeeded ||
		a.Error == nil || *a.Error != "" {
		t.Errorf("attempt %+v", a)
	}
	if a.Request.URL != rc.URL+"/hook" || a.Request.Headers["webhook-id"] != evts[0] || !strings.Contains(a.Request.Body, evts[0]) {
		t.Errorf("attempt request %+v", a.Request)
	}
	if a.Response == nil || a.Response.Status != 200 || a.Response.Body != "thanks" || a.Response.Headers["X-Receiver"] != "yes" {
		t.Errorf("attempt response %+v", a.Response)
	}
}

// TestAttemptListsCutBodies: a page of attempts stays small whatever the
// events weigh; one attempt is shown whole at its own route.
func TestAttemptListsCutBodies(t *testing.T) {
	srv := apptest.Start(t)
	big := strings.Repeat("é", 5000) // 10,000 bytes: cut at a character boundary
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Write([]byte(big))
	})
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL + "/hook", "event_types": []string{"*"}})
	evt := srv.Publish(t, ws, "invoice.paid", map[string]string{"text": big})
	waitDeliveries(t, srv, ws, evt, 1, store.DeliverySucceeded)
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID + "/attempts"
	var list struct {
		Data []struct {
			ID      string
			Request struct {
				Body          string
				BodyTruncated *bool `json:"body_truncated"`
			}
			Response struct {
				Body          string
				BodyTruncated *bool `json:"body_truncated"`
			}
		}
	}
	srv.JSON(t, "GET", path, nil, http.StatusOK, &list)
	if len(list.Data) != 1 {
		t.Fatalf("%d attempts", len(list.Data))
	}
	a := list.Data[0]
	for what, b := range map[string]struct {
		body string
		cut  *bool
	}{"request": {a.Request.Body, a.Request.BodyTruncated}, "response": {a.Response.Body, a.Response.BodyTruncated}} {
		if len(b.body) > 4096 || len(b.body) < 4000 || !utf8.ValidString(b.body) || b.cut == nil || !*b.cut {
			t.Errorf("listed %s body: %d bytes, valid UTF-8 %v, body_truncated %v", what, len(b.body), utf8.ValidString(b.body), b.cut)
		}
	}
	var whole attempt
	srv.JSON(t, "GET", path+"/"+a.ID, nil, http.StatusOK, &whole)
	if whole.Response == nil || whole.Response.Body != big || !strings.Contains(whole.Request.Body, big) {
		t.Errorf("the attempt's own route cuts its bodies: %d and %d bytes", len(whole.Request.Body), len(whole.Response.Body))
	}
	for _, other := range []string{"att_nope", a.ID + "x"} {
		if status, body := srv.Do(t, "GET", path+"/"+other, nil); status != http.StatusNotFound {
			t.Errorf("GET attempt %s: %d %s", other, status, body)
		}
	}
}

func TestSubscriptionTestSend(t *testing.T) {
	srv := apptest.Start(t)
	var fail atomic.Bool
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSub(t, srv, ws, map[string]any{"name": "b", "url": rc.URL, "event_types": []string{"invoice.paid"},
		"failure_threshold": 1})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID

	var res struct{ Attempt *attempt }
	srv.JSON(t, "POST", path+"/test", nil, http.StatusOK, &res)
	if res.Attempt == nil || !res.Attempt.Succeeded || res.Attempt.EventType != "webhook.test" || res.Attempt.Response == nil ||
		res.Attempt.Response.Status != 200 {
		t.Fatalf("test answered %+v", res.Attempt)
	}
	// Synchronous: the request arrived before the answer.
	got := rc.Requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests by the time test answered, want 1", len(got))
	}
	var env struct {
		Type string
		Data map[string]string
	}
	if err := json.Unmarshal(got[0].Body, &env); err != nil || env.Type != "webhook.test" ||
		env.Data["email"] != auth.BootstrapEmail || env.Data["name"] != "Admin" || !strings.HasPrefix(env.Data["id"], "usr_") {
		t.Errorf("test body %s: want type webhook.test and data the calling user {id,email,name}", got[0].Body)
	}
	if !signedWith(t, got[0], sub.Secret) {
		t.Error("test send is not signed with the subscription's secret")
	}

	// A failed test is reported, and does not count toward auto-disable.
	fail.Store(true)
	for range 3 {
		srv.JSON(t, "POST", path+"/test", "{}", http.StatusOK, &res)
		if res.Attempt == nil || res.Attempt.Succeeded || res.Attempt.Response == nil || res.Attempt.Response.Status != 503 {
			t.Fatalf("failed test answered %+v", res.Attempt)
		}
	}
	var s subscription
	srv.JSON(t, "GET", path, nil, http.StatusOK, &s)
	if s.Status != store.SubscriptionActive || s.ConsecutiveFailures != 0 {
		t.Errorf("after failed tests: status %q, %d consecutive failures; want active and 0", s.Status, s.ConsecutiveFailures)
	}
	// Test attempts show in the log.
	var p page[attempt]
	srv.JSON(t, "GET", path+"/attempts", nil, http.StatusOK, &p)
	if len(p.Data) != 4 {
		t.Errorf("attempts after 4 tests: %d", len(p.Data))
	}
}

// TestListEvents: newest first, filtered, paged; large data left out of
// the list and shown by the event's own route.
func TestListEvents(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid", "user.created")
	var ids []string
	for i := range 5 {
		typ := []string{"invoice.paid", "user.created"}[i%2]
		ids = append(ids, srv.Publish(t, ws, typ, map[string]int{"n": i}))
	}
	big := srv.Publish(t, ws, "invoice.paid", map[string]string{"text": strings.Repeat("x", 5000)})
	path := "/api/v1/workspaces/" + ws + "/events"
	var got []string
	for _, p := range listAll[struct{ ID string }](t, srv, path+"?type=invoice.paid&limit=2") {
		for _, e := range p.Data {
			got = append(got, e.ID)
		}
	}
	if want := []string{big, ids[4], ids[2], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("invoice.paid events %v, want newest first %v", got, want)
	}
	var first page[struct {
		ID            string
		Data          json.RawMessage
		DataTruncated bool `json:"data_truncated"`
	}]
	srv.JSON(t, "GET", path+"?limit=1", nil, http.StatusOK, &first)
	if len(first.Data) != 1 || first.Data[0].ID != big || !first.Data[0].DataTruncated || string(first.Data[0].Data) != "null" {
		t.Errorf("the large event listed as %+v", first.Data)
	}
	var whole struct{ Data json.RawMessage }
	srv.JSON(t, "GET", path+"/"+big, nil, http.StatusOK, &whole)
	if len(whole.Data) < 5000 {
		t.Errorf("the event's own route shows %d bytes of data", len(whole.Data))
	}
	var none page[struct{ ID string }]
	srv.JSON(t, "GET", path+"?since=2999-01-01T00:00:00Z", nil, http.StatusOK, &none)
	if len(none.Data) != 0 {
		t.Errorf("events since 2999: %v", none.Data)
	}
}

// TestAbandonedRequestNotLoggedAsError: a request whose client went away
// (a long poll given up) fails with the context's error; that is no
// internal error worth an ERROR line, while other internal errors are.
func TestAbandonedRequestNotLoggedAsError(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, "POST", "/api/v1/x", nil)
	api.WriteError(httptest.NewRecorder(), r, log, context.Canceled)
	if strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), "abandoned") {
		t.Errorf("abandoned request logged as:\n%s", logged.String())
	}
	logged.Reset()
	api.WriteError(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/x", nil), log, errors.New("disk on fire"))
	if !strings.Contains(logged.String(), "level=ERROR") {
		t.Errorf("internal error logged as:\n%s", logged.String())
	}
}
