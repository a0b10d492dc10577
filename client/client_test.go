// End-to-end tests of the client against a real Postbode node
// (apptest.Start: SQLite, loopback targets allowed).
package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/app/apptest"
)

func setup(t *testing.T) (*apptest.Server, *client.Client, context.Context) {
	t.Helper()
	srv := apptest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return srv, client.New(srv.URL, apptest.Token), ctx
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// workspace makes a workspace with event types.
func workspace(t *testing.T, ctx context.Context, c *client.Client, types ...string) string {
	t.Helper()
	ws := must[*client.Workspace](t)(c.CreateWorkspace(ctx, "acme"))
	for _, et := range types {
		must[*client.EventType](t)(c.CreateEventType(ctx, ws.ID, client.EventTypeParams{Name: et, Label: et}))
	}
	return ws.ID
}

func TestWorkspaceEventTypeSubscriptionPublish(t *testing.T) {
	_, c, ctx := setup(t)
	rc := apptest.NewReceiver(t, nil)

	ws, err := c.CreateWorkspace(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if ws.Name != "Acme" || ws.ID == "" || ws.CreatedAt.IsZero() {
		t.Fatalf("workspace %+v", ws)
	}
	et, err := c.CreateEventType(ctx, ws.ID, client.EventTypeParams{Name: "invoice.paid", Label: "Invoice paid",
		Schema: json.RawMessage(`{"type":"object","required":["invoice"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if et.Name != "invoice.paid" || et.WorkspaceID != ws.ID || len(et.Schema) == 0 {
		t.Fatalf("event type %+v", et)
	}
	_, err = c.CreateEventType(ctx, ws.ID, client.EventTypeParams{Name: "invoice.paid", Label: "again"})
	if !errors.Is(err, client.ErrEventTypeExists) || !client.IsConflict(err) {
		t.Fatalf("a second event type: %v, want event_type_exists", err)
	}
	sub, err := c.CreateSubscription(ctx, ws.ID, client.SubscriptionParams{Name: "billing", URL: rc.URL + "/hook",
		EventTypes: []string{"invoice.paid"}, Headers: map[string]string{"X-Consumer": "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Secret == "" || sub.Mode != "push" || sub.Status != "active" || sub.SignatureScheme != "standard" {
		t.Fatalf("subscription %+v", sub)
	}

	// Publish twice with one key: one event.
	p := client.PublishParams{Type: "invoice.paid", Data: map[string]any{"invoice": "1001"}, Subject: "invoice/1001",
		IdempotencyKey: "order-1001"}
	first, err := c.Publish(ctx, ws.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Publish(ctx, ws.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != again.ID || first.Duplicate || !again.Duplicate {
		t.Fatalf("publish twice: %+v then %+v, want the same id, the second a duplicate", first, again)
	}
	got := rc.Wait(t, 1, 10*time.Second)
	if got[0].Header.Get("webhook-id") != first.ID || got[0].Header.Get("X-Consumer") != "c1" {
		t.Fatalf("delivery headers %v", got[0].Header)
	}

	// Data that does not match the schema, and an unknown type.
	_, err = c.Publish(ctx, ws.ID, client.PublishParams{Type: "invoice.paid", Data: map[string]any{}})
	if !errors.Is(err, client.ErrSchemaMismatch) || !client.IsInvalid(err) {
		t.Fatalf("schema mismatch: %v", err)
	}
	_, err = c.Publish(ctx, ws.ID, client.PublishParams{Type: "nope", Data: 1})
	if !errors.Is(err, client.ErrUnknownEventType) {
		t.Fatalf("unknown type: %v", err)
	}

	ev, err := c.GetEvent(ctx, ws.ID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "invoice.paid" || string(ev.Data) != `{"invoice":"1001"}` || ev.Subject == nil || *ev.Subject != "invoice/1001" ||
		len(ev.Deliveries) != 1 || ev.Deliveries[0].SubscriptionID != sub.ID {
		t.Fatalf("event %+v", ev)
	}
	d, err := c.ResendDelivery(ctx, ws.ID, ev.Deliveries[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.EventID != first.ID || d.ID == ev.Deliveries[0].ID {
		t.Fatalf("resend %+v", d)
	}
	rc.Wait(t, 2, 10*time.Second)
}

func TestPaginationIterators(t *testing.T) {
	_, c, ctx := setup(t)
	ws := workspace(t, ctx, c, "tick")
	var batch []client.BatchEvent
	for i := range 7 {
		batch = append(batch, client.BatchEvent{Type: "tick", Data: map[string]int{"n": i}})
	}
	pub, err := c.PublishBatch(ctx, ws, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 7 {
		t.Fatalf("batch answered %d events", len(pub))
	}

	page, err := c.ListEvents(ctx, ws, client.EventFilter{Type: "tick"}, client.ListOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 || page.NextCursor == "" {
		t.Fatalf("first page: %d events, cursor %q", len(page.Data), page.NextCursor)
	}
	var ids []string
	for ev, err := range c.AllEvents(ctx, ws, client.EventFilter{Type: "tick"}, client.ListOptions{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	want := make([]string, len(pub))
	for i, p := range pub {
		want[len(pub)-1-i] = p.ID // newest first
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("iterated %v, want %v", ids, want)
	}
	// Breaking out of the loop stops fetching.
	n := 0
	for _, err := range c.AllEvents(ctx, ws, client.EventFilter{}, client.ListOptions{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	// Filters and a page beyond the end.
	none, err := c.ListEvents(ctx, ws, client.EventFilter{Since: time.Now().Add(time.Hour)}, client.ListOptions{})
	if err != nil || len(none.Data) != 0 || none.NextCursor != "" {
		t.Fatalf("events from the future: %+v, %v", none, err)
	}
	// A bad limit is a 422 naming the field, yielded by the iterator.
	for _, err := range c.AllEvents(ctx, ws, client.EventFilter{}, client.ListOptions{Limit: 5000}) {
		if !client.IsInvalid(err) {
			t.Fatalf("limit 5000: %v, want a 422", err)
		}
	}
	// Workspaces iterate too.
	for range 2 {
		workspace(t, ctx, c)
	}
	count := 0
	for _, err := range c.AllWorkspaces(ctx, client.ListOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 3 {
		t.Fatalf("%d workspaces, want 3", count)
	}
}

func TestNotFoundIsTyped(t *testing.T) {
	_, c, ctx := setup(t)
	ws := workspace(t, ctx, c)
	_, err := c.GetSubscription(ctx, ws, "sub_doesnotexist")
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err %T %v, want *client.Error", err, err)
	}
	if e.Status != http.StatusNotFound || e.Code != "not_found" || e.Message == "" {
		t.Fatalf("error %+v", e)
	}
	if !errors.Is(err, client.ErrNotFound) || !client.IsNotFound(err) || client.IsConflict(err) || client.ErrorCode(err) != "not_found" {
		t.Fatalf("matching %v", err)
	}
	// A workspace of nobody's is not found either, and a bad token is 401.
	if _, err := c.ListEvents(ctx, "ws_nope", client.EventFilter{}, client.ListOptions{}); !client.IsNotFound(err) {
		t.Fatalf("unknown workspace: %v", err)
	}
	bad := client.New(c.BaseURL(), "pbi_wrong_wrong_wrong_wrong_wrong_wrong_wrong")
	if _, err := bad.Me(ctx); !client.IsUnauthenticated(err) {
		t.Fatalf("bad token: %v", err)
	}
}

func TestMailboxClaimAndAck(t *testing.T) {
	_, c, ctx := setup(t)
	ws := workspace(t, ctx, c, "patient.update")
	mb, err := c.CreateSubscription(ctx, ws, client.SubscriptionParams{Name: "EPD", Mode: "pull", Auth: "basic",
		EventTypes: []string{"patient.update"}})
	if err != nil {
		t.Fatal(err)
	}
	if mb.Token == "" || mb.Username != mb.ID || mb.Secret != "" {
		t.Fatalf("pull subscription %+v", mb)
	}
	for i := range 3 {
		if _, err := c.Publish(ctx, ws, client.PublishParams{Type: "patient.update", Data: map[string]int{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	// The consumer uses the mailbox's own app token.
	consumer := client.New(c.BaseURL(), mb.Token)
	msgs, err := consumer.Claim(ctx, ws, mb.ID, client.ClaimParams{Count: 2, LeaseSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].LeaseID == "" || msgs[0].Event.Type != "patient.update" || msgs[0].Claims != 1 {
		t.Fatalf("claimed %+v", msgs)
	}
	m, err := consumer.AckSuccess(ctx, ws, mb.ID, msgs[0].ID, msgs[0].LeaseID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != client.MessageSuccess {
		t.Fatalf("after success: %+v", m)
	}
	// Acknowledging again under the lease is lease_lost.
	if _, err := consumer.AckSuccess(ctx, ws, mb.ID, msgs[0].ID, msgs[0].LeaseID); !errors.Is(err, client.ErrLeaseLost) {
		t.Fatalf("second ack: %v, want lease_lost", err)
	}
	if _, err := consumer.Extend(ctx, ws, mb.ID, msgs[1].ID, msgs[1].LeaseID, 120); err != nil {
		t.Fatal(err)
	}
	// The batch route: one applied, one refused on its own.
	res, err := consumer.AckBatch(ctx, ws, mb.ID, []client.BatchAck{
		{ID: msgs[1].ID, Action: client.AckFailed, AckParams: client.AckParams{LeaseID: msgs[1].LeaseID, Reason: "no such patient"}},
		{ID: msgs[0].ID, Action: client.AckSuccess, AckParams: client.AckParams{LeaseID: msgs[0].LeaseID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Status != client.MessageFailed || res[0].Error != nil ||
		res[1].Error == nil || !errors.Is(res[1].Error, client.ErrLeaseLost) {
		t.Fatalf("batch results %+v", res)
	}
	// The third: claim, release, claim again.
	third, err := consumer.Claim(ctx, ws, mb.ID, client.ClaimParams{Count: 10, WaitSeconds: 1})
	if err != nil || len(third) != 1 {
		t.Fatalf("third claim: %v, %v", third, err)
	}
	if _, err := consumer.Release(ctx, ws, mb.ID, third[0].ID, third[0].LeaseID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.AckFailed(ctx, ws, mb.ID, third[0].ID, "", "gone"); !client.IsConflict(err) {
		t.Fatalf("failing a released message: %v, want 409", err)
	}
	stats, err := consumer.MailboxStats(ctx, ws, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stats[client.MessageSuccess] != 1 || stats[client.MessageFailed] != 1 || stats[client.MessageNew] != 1 {
		t.Fatalf("stats %v", stats)
	}
	var statuses []string
	for m, err := range consumer.AllMailboxMessages(ctx, ws, mb.ID, client.MailboxFilter{}, client.ListOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, m.Status)
	}
	if !slices.Equal(statuses, []string{client.MessageSuccess, client.MessageFailed, client.MessageNew}) {
		t.Fatalf("search: %v", statuses)
	}
	page, err := c.SearchMailbox(ctx, ws, mb.ID, client.MailboxFilter{Status: client.MessageFailed}, client.ListOptions{})
	if err != nil || len(page.Data) != 1 || page.Data[0].Reason != "no such patient" {
		t.Fatalf("search failed: %+v, %v", page, err)
	}
	// The app token is for the mailbox only.
	if _, err := consumer.ListSubscriptions(ctx, ws, client.ListOptions{}); !client.IsUnauthenticated(err) {
		t.Fatalf("app token on the management API: %v", err)
	}
}

func TestInboundBasicAuth(t *testing.T) {
	_, c, ctx := setup(t)
	ws := workspace(t, ctx, c, "payment.received")
	in, err := c.CreateInbound(ctx, ws, client.InboundParams{Name: "payments", Auth: "basic", EventType: "payment.received"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Token == "" || in.Username != in.ID || in.URL != "/in/"+in.ID || in.Status != "active" {
		t.Fatalf("inbound %+v", in)
	}
	acc, err := c.PostInbound(ctx, in.URL, client.InboundAuth{Username: in.Username, Token: in.Token}, []byte(`{"amount":990}`))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.GetEvent(ctx, ws, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "payment.received" || string(ev.Data) != `{"amount":990}` {
		t.Fatalf("event %+v", ev)
	}
	// The absolute URL works too, and a form becomes an object.
	acc2, err := c.PostInboundRequest(ctx, client.InboundPost{URL: c.BaseURL() + in.URL,
		Auth: client.InboundAuth{Username: in.Username, Token: in.Token}, Body: []byte("invoice=1005"),
		ContentType: "application/x-www-form-urlencoded"})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := c.GetEvent(ctx, ws, acc2.ID); err != nil || string(ev.Data) != `{"invoice":"1005"}` {
		t.Fatalf("form event %+v, %v", ev, err)
	}
	// A wrong username is 401; a disabled webhook 403 inbound_disabled.
	_, err = c.PostInbound(ctx, in.URL, client.InboundAuth{Username: "someone", Token: in.Token}, []byte(`{}`))
	if !client.IsUnauthenticated(err) {
		t.Fatalf("wrong username: %v", err)
	}
	if _, err := c.DisableInbound(ctx, ws, in.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.PostInbound(ctx, in.URL, client.InboundAuth{Username: in.Username, Token: in.Token}, []byte(`{}`))
	if !errors.Is(err, client.ErrInboundDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	// The log, written in the background.
	deadline := time.Now().Add(5 * time.Second)
	for {
		page, err := c.ListInboundRequests(ctx, ws, in.ID, client.ListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) >= 4 {
			if page.Data[len(page.Data)-1].Status != http.StatusAccepted || page.Data[0].Status != http.StatusForbidden ||
				page.Data[0].Request.Headers["Authorization"] != "***" {
				t.Fatalf("log %+v", page.Data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d requests, want 4", len(page.Data))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
