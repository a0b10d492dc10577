// Every route of the API the client has a method for, called once against
// a real node: the answers decode into the client's types, and the
// requests carry only fields the server knows (it refuses any other).
package client_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/app/apptest"
)

func TestSubscriptionRoutes(t *testing.T) {
	_, c, ctx := setup(t)
	rc := apptest.NewReceiver(t, nil)
	ws := workspace(t, ctx, c, "a.b", "c.d")
	sub := must[*client.SubscriptionWithSecret](t)(c.CreateSubscription(ctx, ws, client.SubscriptionParams{
		Name: "s", URL: rc.URL, EventTypes: []string{"a.b"}, SignatureScheme: "hmac-sha256", RetrySchedule: []string{"1s"},
		APIVersion: "2026-01", TimeoutSeconds: 5, Headers: map[string]string{"X-Api-Key": "k1"}}))
	if sub.Headers["X-Api-Key"] != "***" || sub.APIVersion == nil || *sub.APIVersion != "2026-01" || len(sub.RetrySchedule) != 1 {
		t.Fatalf("created %+v", sub)
	}
	got := must[*client.Subscription](t)(c.GetSubscription(ctx, ws, sub.ID))
	if got.ID != sub.ID || got.SignatureHeader != "X-Postbode-Signature" {
		t.Fatalf("get %+v", got)
	}
	name, payload := "renamed", "notification"
	up := must[*client.Subscription](t)(c.UpdateSubscription(ctx, ws, sub.ID, client.SubscriptionUpdate{
		Name: &name, Payload: &payload, EventTypes: []string{"a.b", "c.d"}, Headers: map[string]string{"X-Api-Key": "***", "X-B": "b"},
		DefaultRetrySchedule: true, ClearAPIVersion: true}))
	if up.Name != name || up.Payload != payload || len(up.EventTypes) != 2 || up.RetrySchedule != nil || up.APIVersion != nil ||
		up.Headers["X-B"] != "b" {
		t.Fatalf("updated %+v", up)
	}
	if _, err := c.UpdateSubscription(ctx, ws, sub.ID, client.SubscriptionUpdate{URL: new("ftp://x")}); !client.IsInvalid(err) {
		t.Fatalf("bad url: %v", err)
	}
	page := must[*client.Page[client.Subscription]](t)(c.ListSubscriptions(ctx, ws, client.ListOptions{Limit: 10}))
	if len(page.Data) != 1 {
		t.Fatalf("list %+v", page)
	}

	a := must[*client.Attempt](t)(c.TestSubscription(ctx, ws, sub.ID))
	if !a.Succeeded || !a.Test || a.Response == nil || a.Response.Status != 200 || a.Request.Headers["X-Postbode-Signature"] == "" {
		t.Fatalf("test attempt %+v", a)
	}
	var n int
	for at, err := range c.AllAttempts(ctx, ws, sub.ID, client.ListOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		one := must[*client.Attempt](t)(c.GetAttempt(ctx, ws, sub.ID, at.ID))
		if one.ID != at.ID {
			t.Fatalf("attempt %+v", one)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d attempts", n)
	}
	if s := must[*client.Subscription](t)(c.DisableSubscription(ctx, ws, sub.ID)); s.Status != "paused" {
		t.Fatalf("disabled: %s", s.Status)
	}
	if s := must[*client.Subscription](t)(c.EnableSubscription(ctx, ws, sub.ID)); s.Status != "active" {
		t.Fatalf("enabled: %s", s.Status)
	}
	rot := must[*client.SubscriptionWithSecret](t)(c.RotateSecret(ctx, ws, sub.ID))
	if rot.Secret == "" || rot.Secret == sub.Secret || rot.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated %+v", rot)
	}
	if q, err := c.RecoverDeliveries(ctx, ws, sub.ID, time.Now().Add(-time.Hour)); err != nil || q != 0 {
		t.Fatalf("recover: %d, %v", q, err)
	}
	if err := c.DeleteSubscription(ctx, ws, sub.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSubscription(ctx, ws, sub.ID); !client.IsNotFound(err) {
		t.Fatalf("deleted twice: %v", err)
	}
	if _, err := c.GetSubscription(ctx, ws, ""); err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("empty id: %v", err)
	}
	for et, err := range c.AllEventTypes(ctx, ws, client.ListOptions{Limit: 1}) {
		if err != nil || et.WorkspaceID != ws {
			t.Fatalf("event type %+v, %v", et, err)
		}
	}
	link := must[*client.PortalLink](t)(c.CreatePortalLink(ctx, ws, client.PortalLinkParams{TTLSeconds: 60}))
	if !strings.Contains(link.URL, "/portal/") || time.Until(link.ExpiresAt) > time.Minute+time.Second {
		t.Fatalf("portal link %+v", link)
	}
	if _, err := c.CreatePortalLink(ctx, ws, client.PortalLinkParams{TTLSeconds: 1e6}); !client.IsInvalid(err) {
		t.Fatalf("ttl too long: %v", err)
	}
}

func TestInboundRoutes(t *testing.T) {
	_, c, ctx := setup(t)
	ws := workspace(t, ctx, c, "x.y", "z.z")
	in := must[*client.InboundWithToken](t)(c.CreateInbound(ctx, ws, client.InboundParams{Name: "n", EventType: "x.y",
		Verify: &client.InboundVerify{Scheme: "github", Secret: "s3cret"}, DedupeHeader: "X-GitHub-Delivery"}))
	if in.Verify == nil || in.Verify.Secret != "***" || in.Auth != "bearer" {
		t.Fatalf("created %+v", in)
	}
	// Without the sender's signature: 401 invalid_signature.
	if _, err := c.PostInbound(ctx, in.URL, client.InboundAuth{Token: in.Token}, []byte(`{}`)); !errors.Is(err, client.ErrInvalidSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	et := "z.z"
	up := must[*client.Inbound](t)(c.UpdateInbound(ctx, ws, in.ID, client.InboundUpdate{EventType: &et, RemoveVerify: true,
		DedupeHeader: new("")}))
	if up.EventType != et || up.Verify != nil || up.DedupeHeader != "" {
		t.Fatalf("updated %+v", up)
	}
	// A zero InboundAuth posts with the client's own integration token.
	if _, err := c.PostInbound(ctx, in.URL, client.InboundAuth{}, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	tok := must[*client.InboundWithToken](t)(c.NewInboundToken(ctx, ws, in.ID, ""))
	if tok.Token == "" || tok.Token == in.Token {
		t.Fatalf("new token %+v", tok)
	}
	if _, err := c.PostInbound(ctx, in.URL, client.InboundAuth{Token: in.Token}, []byte(`{}`)); !client.IsUnauthenticated(err) {
		t.Fatalf("old token: %v", err)
	}
	if g := must[*client.Inbound](t)(c.GetInbound(ctx, ws, in.ID)); g.ID != in.ID {
		t.Fatalf("get %+v", g)
	}
	if e := must[*client.Inbound](t)(c.EnableInbound(ctx, ws, in.ID)); e.Status != "active" {
		t.Fatalf("enable %+v", e)
	}
	for h, err := range c.AllInbound(ctx, ws, client.ListOptions{}) {
		if err != nil || h.ID != in.ID {
			t.Fatalf("list %+v, %v", h, err)
		}
	}
	for r, err := range c.AllInboundRequests(ctx, ws, in.ID, client.ListOptions{Limit: 1}) {
		if err != nil || r.ID == "" {
			t.Fatalf("request log %+v, %v", r, err)
		}
	}
	if err := c.DeleteInbound(ctx, ws, in.ID); err != nil {
		t.Fatal(err)
	}
}

func TestUserAndTokenRoutes(t *testing.T) {
	_, c, ctx := setup(t)
	ws := workspace(t, ctx, c)
	me := must[*client.User](t)(c.Me(ctx))
	if me.Role != "admin" || me.Email != "admin@localhost" {
		t.Fatalf("me %+v", me)
	}
	u := must[*client.NewUser](t)(c.CreateUser(ctx, client.UserParams{Email: "m@example.com", Name: "M", Role: "member",
		Workspaces: []string{ws}}))
	if u.Password == "" || u.Status != "active" || len(u.Workspaces) != 1 {
		t.Fatalf("new user %+v", u)
	}
	role := "member"
	up := must[*client.User](t)(c.UpdateUser(ctx, u.ID, client.UserUpdate{Name: new("Em"), Role: &role, Workspaces: []string{}}))
	if up.Name != "Em" || len(up.Workspaces) != 0 {
		t.Fatalf("updated %+v", up)
	}
	if g := must[*client.User](t)(c.GetUser(ctx, u.ID)); g.Email != "m@example.com" {
		t.Fatalf("get %+v", g)
	}
	if r := must[*client.User](t)(c.ReactivateUser(ctx, u.ID)); r.Status != "active" {
		t.Fatalf("reactivated %+v", r)
	}
	if err := c.SetPassword(ctx, u.ID, "a long new password", ""); err != nil {
		t.Fatal(err)
	}
	tok := must[*client.NewToken](t)(c.CreateToken(ctx, u.ID, "ci"))
	if !strings.HasPrefix(tok.Secret, "pbi_") || tok.Kind != "integration" || tok.UserID != u.ID {
		t.Fatalf("token %+v", tok)
	}
	// The member's token sees itself only.
	member := client.New(c.BaseURL(), tok.Secret)
	if m := must[*client.User](t)(member.Me(ctx)); m.ID != u.ID {
		t.Fatalf("member's me %+v", m)
	}
	if _, err := member.CreateUser(ctx, client.UserParams{Email: "x@example.com", Name: "X", Role: "member"}); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("member creating a user: %v", err)
	}
	if err := c.DeleteUser(ctx, u.ID); !errors.Is(err, client.ErrUserHasTokens) {
		t.Fatalf("deleting a user with tokens: %v", err)
	}
	moved := must[*client.Token](t)(c.TransferToken(ctx, tok.ID, me.ID))
	if moved.UserID != me.ID {
		t.Fatalf("moved %+v", moved)
	}
	n := 0
	for tk, err := range c.AllTokens(ctx, me.ID, client.ListOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if tk.ID == tok.ID {
			n++
		}
	}
	if n != 1 {
		t.Fatal("the moved token is not listed under its new owner")
	}
	if err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := member.Me(ctx); !client.IsUnauthenticated(err) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := c.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, err := range c.AllUsers(ctx, client.ListOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		users++
	}
	if users != 1 {
		t.Fatalf("%d users, want 1", users)
	}
	if _, err := c.GetUser(ctx, u.ID); !client.IsNotFound(err) {
		t.Fatalf("deleted user: %v", err)
	}
}

// TestOpenAPIMatchesTheClient reads the server's OpenAPI document: every
// operation in it is one the client has a method for (the list below), so
// that a route added to the server without a method here fails.
func TestOpenAPIMatchesTheClient(t *testing.T) {
	_, c, ctx := setup(t)
	raw, err := client.New(c.BaseURL(), "").OpenAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, op := range clientOperations {
		covered[op] = true
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "patch", "delete", "put":
			default:
				continue
			}
			op := strings.ToUpper(method) + " " + path
			if !covered[op] {
				t.Errorf("the server has %s, which the client has no method for", op)
			}
			delete(covered, op)
		}
	}
	for op := range covered {
		t.Errorf("the client calls %s, which the server's document does not list", op)
	}
}

// clientOperations are the routes the client's methods call.
var clientOperations = []string{
	"GET /api/v1/openapi.json",
	"GET /api/v1/me",
	"DELETE /api/v1/tokens/{id}",
	"POST /api/v1/tokens/{id}/transfer",
	"GET /api/v1/users",
	"POST /api/v1/users",
	"DELETE /api/v1/users/{id}",
	"GET /api/v1/users/{id}",
	"PATCH /api/v1/users/{id}",
	"POST /api/v1/users/{id}/password",
	"POST /api/v1/users/{id}/reactivate",
	"GET /api/v1/users/{id}/tokens",
	"POST /api/v1/users/{id}/tokens",
	"GET /api/v1/workspaces",
	"POST /api/v1/workspaces",
	"POST /api/v1/workspaces/{ws}/deliveries/{id}/resend",
	"GET /api/v1/workspaces/{ws}/event-types",
	"POST /api/v1/workspaces/{ws}/event-types",
	"GET /api/v1/workspaces/{ws}/events",
	"POST /api/v1/workspaces/{ws}/events",
	"POST /api/v1/workspaces/{ws}/events/batch",
	"GET /api/v1/workspaces/{ws}/events/{id}",
	"GET /api/v1/workspaces/{ws}/inbound",
	"POST /api/v1/workspaces/{ws}/inbound",
	"DELETE /api/v1/workspaces/{ws}/inbound/{id}",
	"GET /api/v1/workspaces/{ws}/inbound/{id}",
	"PATCH /api/v1/workspaces/{ws}/inbound/{id}",
	"POST /api/v1/workspaces/{ws}/inbound/{id}/disable",
	"POST /api/v1/workspaces/{ws}/inbound/{id}/enable",
	"GET /api/v1/workspaces/{ws}/inbound/{id}/requests",
	"POST /api/v1/workspaces/{ws}/inbound/{id}/token",
	"POST /api/v1/workspaces/{ws}/portal-links",
	"GET /api/v1/workspaces/{ws}/subscriptions",
	"POST /api/v1/workspaces/{ws}/subscriptions",
	"DELETE /api/v1/workspaces/{ws}/subscriptions/{id}",
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}",
	"PATCH /api/v1/workspaces/{ws}/subscriptions/{id}",
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts",
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts/{attempt}",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/disable",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/enable",
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/ack",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/claim",
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/stats",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/extend",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/failed",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/release",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/success",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/recover",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/rotate-secret",
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/test",
	"POST /in/{id}",
}

// TestOpenAPISchemasMatchTheTypes compares the field names of the
// server's answers, as its OpenAPI document gives them, with the JSON
// names of the client's types: a field added or renamed on one side only
// fails.
func TestOpenAPISchemasMatchTheTypes(t *testing.T) {
	_, c, ctx := setup(t)
	raw, err := c.OpenAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for schema, v := range map[string]any{
		"store.Workspace":          client.Workspace{},
		"store.EventType":          client.EventType{},
		"event.Published":          client.Published{},
		"event.WithDeliveries":     client.Event{},
		"store.Delivery":           client.Delivery{},
		"store.Subscription":       client.Subscription{},
		"subscription.Created":     client.SubscriptionWithSecret{},
		"store.Attempt":            client.Attempt{},
		"store.AttemptRequest":     client.AttemptRequest{},
		"store.AttemptResponse":    client.AttemptResponse{},
		"inbound.View":             client.Inbound{},
		"inbound.Created":          client.InboundWithToken{},
		"verify.Config":            client.InboundVerify{},
		"store.InboundRequest":     client.InboundRequest{},
		"store.InboundRequestData": client.InboundRequestData{},
		"Received":                 client.InboundAccepted{},
		"account.User":             client.User{},
		"account.NewUser":          client.NewUser{},
		"store.Token":              client.Token{},
		"account.NewToken":         client.NewToken{},
		"account.PortalLink":       client.PortalLink{},
		"store.MailboxMessage":     client.MailboxMessage{},
		"mailbox.Claimed":          client.ClaimedMessage{},
		"mailbox.AckResult":        client.AckResult{},
		"mailbox.AckError":         client.Error{},
	} {
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Errorf("the document has no schema %s", schema)
			continue
		}
		want := map[string]bool{}
		for p := range s.Properties {
			want[p] = true
		}
		got := jsonNames(reflect.TypeOf(v))
		for name := range want {
			if !got[name] {
				t.Errorf("%s has %q, which %T lacks", schema, name, v)
			}
		}
		for name := range got {
			if !want[name] && !(schema == "event.WithDeliveries" && name == "deliveries") {
				t.Errorf("%T has %q, which %s lacks", v, name, schema)
			}
		}
	}
}

// jsonNames are the JSON field names of struct type t, embedded structs'
// included.
func jsonNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			for n := range jsonNames(f.Type) {
				out[n] = true
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}
