// Package storetest is the conformance suite of the store.Store contract.
// Every engine runs it from its own tests:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, openFresh) }
//
// The suite checks behaviour through the interface only, never an engine's
// tables, so the SQLite and PostgreSQL engines are held to exactly the same
// contract and callers never depend on one engine's quirks. This file holds
// Run and the fixture the tests share; the tests are grouped by concern in
// the other files of the package.
//
// Conventions the suite relies on, which every engine must therefore honour:
//   - times are stored to the microsecond; the suite uses a fixed clock (t0)
//     in the past, so an engine that reads the wall clock where the interface
//     hands it a time shows up here;
//   - ids are opaque strings that sort in creation order (the suite makes
//     them with a zero-padded counter), lists page by id;
//   - Event.Data is stored byte for byte (format raw sends it as it is).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// Run runs the whole suite. open must return a fresh, empty, migrated store
// for each call and close it when t ends (t.Cleanup): every subtest opens
// its own.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Workspaces", workspaceTests()},
		{"Users", userTests()},
		{"EventTypes", eventTypeTests()},
		{"Transactions", txTests()},
		{"UserUpkeep", upkeepTests()},
		{"Sessions", sessionTests()},
		{"Inbound", inboundTests()},
		{"InboundRequests", inboundRequestTests()},
		{"AccountTransactions", accountTxTests()},
		{"AccountRaces", accountRaceTests()},
		{"Subscriptions", subscriptionTests()},
		{"SubscriptionStatus", statusTests()},
		{"Events", eventTests()},
		{"EventList", eventListTests()},
		{"Idempotency", idempotencyTests()},
		{"Claim", claimTests()},
		{"Complete", completeTests()},
		{"Attempts", attemptTests()},
		{"AttemptStats", attemptStatsTests()},
		{"Leases", leaseTests()},
		{"Resend", resendTests()},
		{"Cluster", clusterTests()},
		{"Concurrency", concurrencyTests()},
		{"DeleteRaces", raceTests()},
		{"Mailboxes", mailboxTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, newFixture(t, open))
				})
			}
		})
	}
}

// test is one named behaviour of the contract.
type test struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// t0 is the suite's "now": in the past, with a microsecond part, so both
// wall-clock use and lost precision are caught.
var t0 = time.Date(2024, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 moved by d.
func at(d time.Duration) time.Time { return t0.Add(d) }

var seq atomic.Int64

// newID returns prefix and a zero-padded counter: unique in the process
// and sorting in creation order, like the real UUIDv7 ids.
func newID(prefix string) string {
	return fmt.Sprintf("%s%016d", prefix, seq.Add(1))
}

// fixture is one fresh store with a user and a workspace the user owns,
// and helpers that drive the store the way the application does.
type fixture struct {
	t    *testing.T
	s    store.Store
	ctx  context.Context
	user *store.User
	ws   string
	// eventOf maps a delivery id to its event and workspace, for reading
	// the delivery back through GetEvent.
	eventOf map[string][2]string
}

func newFixture(t *testing.T, open func(t *testing.T) store.Store) *fixture {
	t.Helper()
	s := open(t)
	f := &fixture{t: t, s: s, ctx: t.Context(), eventOf: map[string][2]string{}}
	f.user = f.newUser("owner@example.com")
	f.ws = f.newWorkspace("Main", f.user.ID)
	return f
}

// must fails the test at once on err.
func (f *fixture) must(err error, what string) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

func (f *fixture) newUser(email string) *store.User {
	f.t.Helper()
	u := &store.User{ID: newID("usr_"), Email: email, Name: "User " + email, Role: "member",
		PasswordHash: "hash-of-" + email, Status: "active", CreatedAt: t0}
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	return u
}

func (f *fixture) newWorkspace(name, ownerID string) string {
	f.t.Helper()
	w := &store.Workspace{ID: newID("ws_"), Name: name, CreatedAt: t0}
	f.must(f.s.CreateWorkspace(f.ctx, w, ownerID), "CreateWorkspace")
	return w.ID
}

// newSub creates an active push subscription in ws (f.ws when empty) to
// every event type, after applying edits.
func (f *fixture) newSub(ws string, edits ...func(*store.Subscription)) *store.Subscription {
	f.t.Helper()
	if ws == "" {
		ws = f.ws
	}
	s := &store.Subscription{
		ID: newID("sub_"), WorkspaceID: ws, Name: "Receiver", Mode: "push", URL: "https://hooks.example.com/in",
		EventTypes: []string{"*"}, Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
		Headers: map[string]string{}, SignatureScheme: "standard", SignatureHeader: "X-Postbode-Signature",
		Secret: "whsec_c2VjcmV0", TimeoutSeconds: 10, FailureThreshold: 5, CreatedAt: t0, UpdatedAt: t0,
	}
	for _, e := range edits {
		e(s)
	}
	f.must(f.s.CreateSubscription(f.ctx, s), "CreateSubscription")
	return s
}

// sub reads a subscription back.
func (f *fixture) sub(id string) *store.Subscription {
	f.t.Helper()
	s, err := f.s.SubscriptionByID(f.ctx, id)
	f.must(err, "SubscriptionByID")
	return s
}

// newEvent returns an unsaved event of f.ws created at when.
func (f *fixture) newEvent(when time.Time) store.Event {
	return store.Event{ID: newID("evt_"), WorkspaceID: f.ws, Type: "invoice.paid", Label: "Invoice paid",
		Data: []byte(`{"invoice":42}`), CreatedAt: when}
}

// routed returns a NewEvent for e with one delivery per subscription, as
// ingest builds it: pending and due at the event's time, or held when the
// subscription is not active. Deliveries leave WorkspaceID and EventID
// empty: the engine takes them from the event.
func (f *fixture) routed(e store.Event, subs ...*store.Subscription) store.NewEvent {
	ne := store.NewEvent{Event: e}
	for _, s := range subs {
		d := store.Delivery{ID: newID("dlv_"), SubscriptionID: s.ID, Status: store.DeliveryHeld, CreatedAt: e.CreatedAt}
		if s.Status == store.SubscriptionActive {
			created := e.CreatedAt
			d.Status, d.NextAttemptAt = store.DeliveryPending, &created
		}
		ne.Deliveries = append(ne.Deliveries, d)
	}
	return ne
}

// insert stores events and remembers where their deliveries live.
func (f *fixture) insert(nes ...store.NewEvent) []store.InsertResult {
	f.t.Helper()
	res, err := f.s.InsertEvents(f.ctx, nes)
	f.must(err, "InsertEvents")
	if len(res) != len(nes) {
		f.t.Fatalf("InsertEvents returned %d results for %d events", len(res), len(nes))
	}
	for i, ne := range nes {
		if !res[i].Duplicate {
			for _, d := range ne.Deliveries {
				f.eventOf[d.ID] = [2]string{ne.Event.WorkspaceID, ne.Event.ID}
			}
		}
	}
	return res
}

// publish stores one event created at when, routed to subs, and returns
// the ids of its deliveries in the order of subs.
func (f *fixture) publish(when time.Time, subs ...*store.Subscription) []string {
	f.t.Helper()
	ne := f.routed(f.newEvent(when), subs...)
	f.insert(ne)
	ids := make([]string, len(ne.Deliveries))
	for i, d := range ne.Deliveries {
		ids[i] = d.ID
	}
	return ids
}

// publishHeld stores one event created at when with a held delivery to
// each of subs, as ingest does for a subscription it saw inactive.
func (f *fixture) publishHeld(when time.Time, subs ...*store.Subscription) []string {
	f.t.Helper()
	ne := f.routed(f.newEvent(when), subs...)
	ids := make([]string, len(ne.Deliveries))
	for i := range ne.Deliveries {
		ne.Deliveries[i].Status, ne.Deliveries[i].NextAttemptAt = store.DeliveryHeld, nil
		ids[i] = ne.Deliveries[i].ID
	}
	f.insert(ne)
	return ids
}

// lookup reads a delivery back through GetEvent; ok is false when it no
// longer exists.
func (f *fixture) lookup(id string) (store.Delivery, bool) {
	f.t.Helper()
	loc, known := f.eventOf[id]
	if !known {
		f.t.Fatalf("delivery %s was not made by this fixture", id)
	}
	_, ds, err := f.s.GetEvent(f.ctx, loc[0], loc[1])
	if errors.Is(err, store.ErrNotFound) {
		return store.Delivery{}, false
	}
	f.must(err, "GetEvent")
	for _, d := range ds {
		if d.ID == id {
			return d, true
		}
	}
	return store.Delivery{}, false
}

func (f *fixture) delivery(id string) store.Delivery {
	f.t.Helper()
	d, ok := f.lookup(id)
	if !ok {
		f.t.Fatalf("delivery %s not found", id)
	}
	return d
}

// wantStatus checks the status of each delivery.
func (f *fixture) wantStatus(status string, ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		if got := f.delivery(id).Status; got != status {
			f.t.Errorf("delivery %s: status %q, want %q", id, got, status)
		}
	}
}

// claim leases due deliveries at now for an hour and returns them.
func (f *fixture) claim(now time.Time, limit int, skip ...string) []store.ClaimedDelivery {
	f.t.Helper()
	cds, err := f.s.ClaimDeliveries(f.ctx, store.Claim{Owner: "node-1", Now: now, LeaseUntil: now.Add(time.Hour),
		Limit: limit, Skip: skip})
	f.must(err, "ClaimDeliveries")
	return cds
}

// claimIDs is claim returning the sorted delivery ids.
func (f *fixture) claimIDs(now time.Time, limit int, skip ...string) []string {
	f.t.Helper()
	return deliveryIDs(f.claim(now, limit, skip...))
}

func deliveryIDs(cds []store.ClaimedDelivery) []string {
	ids := []string{}
	for _, cd := range cds {
		ids = append(ids, cd.Delivery.ID)
	}
	sort.Strings(ids)
	return ids
}

// complete writes outcomes as of the latest of t0 and their attempts'
// times, and returns the sorted ids of the subscriptions disabled.
func (f *fixture) complete(outs ...store.Outcome) []string {
	f.t.Helper()
	now := t0
	for _, o := range outs {
		if o.Attempt != nil && o.Attempt.CreatedAt.After(now) {
			now = o.Attempt.CreatedAt
		}
	}
	return f.completeAt(now, outs...)
}

// completeAt is complete as of now.
func (f *fixture) completeAt(now time.Time, outs ...store.Outcome) []string {
	f.t.Helper()
	disabled, err := f.s.CompleteDeliveries(f.ctx, now, outs)
	f.must(err, "CompleteDeliveries")
	disabled = append([]string{}, disabled...)
	sort.Strings(disabled)
	return disabled
}

// attempt returns an attempt at delivery id made at when; status 0 means
// no response (a network error).
func (f *fixture) attempt(id string, when time.Time, status int) *store.Attempt {
	f.t.Helper()
	d := f.delivery(id)
	a := &store.Attempt{ID: newID("att_"), DeliveryID: id, EventID: d.EventID, EventType: "invoice.paid",
		SubscriptionID: d.SubscriptionID, WorkspaceID: d.WorkspaceID, CreatedAt: when, DurationMS: 12,
		Request: store.AttemptRequest{URL: "https://hooks.example.com/in",
			Headers: map[string]string{"Content-Type": "application/json", "Webhook-Id": d.EventID},
			Body:    `{"type":"invoice.paid"}`},
		Succeeded: status >= 200 && status < 300,
	}
	if status == 0 {
		a.Error = "dial tcp: connection refused"
	} else {
		a.Response = &store.AttemptResponse{Status: status, Headers: map[string]string{"X-Seen": "yes"},
			Body: fmt.Sprintf("status %d", status)}
		if !a.Succeeded {
			a.Error = fmt.Sprintf("HTTP %d", status)
		}
	}
	return a
}

// Outcomes as the dispatcher builds them.

func (f *fixture) succeeded(id string, when time.Time) store.Outcome {
	f.t.Helper()
	d := f.delivery(id)
	return store.Outcome{DeliveryID: id, SubscriptionID: d.SubscriptionID, Status: store.DeliverySucceeded,
		Attempt: f.attempt(id, when, 200), Success: true}
}

func (f *fixture) retry(id string, when, next time.Time) store.Outcome {
	f.t.Helper()
	d := f.delivery(id)
	a := f.attempt(id, when, 500)
	return store.Outcome{DeliveryID: id, SubscriptionID: d.SubscriptionID, Status: store.DeliveryPending,
		NextAttemptAt: next, Attempt: a, Error: a.Error, CountFailure: true}
}

func (f *fixture) failed(id string, when time.Time) store.Outcome {
	f.t.Helper()
	d := f.delivery(id)
	a := f.attempt(id, when, 500)
	return store.Outcome{DeliveryID: id, SubscriptionID: d.SubscriptionID, Status: store.DeliveryFailed,
		Attempt: a, Error: a.Error, CountFailure: true}
}

func (f *fixture) gone(id string, when time.Time) store.Outcome {
	f.t.Helper()
	d := f.delivery(id)
	a := f.attempt(id, when, 410)
	return store.Outcome{DeliveryID: id, SubscriptionID: d.SubscriptionID, Status: store.DeliveryHeld,
		Attempt: a, Error: a.Error, Gone: true}
}

// deliverAll claims everything due at when and completes each claimed
// delivery with the outcome made by out.
func (f *fixture) deliverAll(when time.Time, out func(id string) store.Outcome) []string {
	f.t.Helper()
	var outs []store.Outcome
	for _, cd := range f.claim(when, 1000) {
		outs = append(outs, out(cd.Delivery.ID))
	}
	return f.complete(outs...)
}

func (f *fixture) queueDepth() int64 {
	f.t.Helper()
	n, err := f.s.QueueDepth(f.ctx)
	f.must(err, "QueueDepth")
	return n
}

// wantErr checks that err is target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantIDs compares two id lists (order matters).
func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func sorted(ids ...string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

// wantSame compares two records of the same struct type field by field
// and reports every field that differs. Times compare as instants; other
// values with reflect.DeepEqual, so nil and empty slices differ. Fields
// named in ignore are skipped.
func wantSame(t *testing.T, what string, got, want any, ignore ...string) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for gv.Kind() == reflect.Pointer {
		gv, wv = gv.Elem(), wv.Elem()
	}
	var diffs []string
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		if contains(ignore, name) {
			continue
		}
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !sameValue(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(diffs, "\n\t"))
	}
}

func sameValue(g, w any) bool {
	switch g := g.(type) {
	case time.Time:
		return g.Equal(w.(time.Time))
	case *time.Time:
		w := w.(*time.Time)
		if g == nil || w == nil {
			return g == nil && w == nil
		}
		return g.Equal(*w)
	case *store.AttemptResponse:
		w := w.(*store.AttemptResponse)
		if g == nil || w == nil {
			return g == nil && w == nil
		}
		return reflect.DeepEqual(*g, *w)
	}
	return reflect.DeepEqual(g, w)
}

// show formats a field value readably: pointers by what they point to,
// byte slices as text, and long values cut short.
func show(v any) string {
	s := format(v)
	if len(s) > 200 {
		s = fmt.Sprintf("%s… (%d bytes)", s[:200], len(s))
	}
	return s
}

func format(v any) string {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return "nil"
	case rv.Kind() == reflect.Pointer:
		if rv.IsNil() {
			return "nil"
		}
		return "&" + format(rv.Elem().Interface())
	case rv.Kind() == reflect.Slice && rv.IsNil():
		return "nil"
	}
	switch v := v.(type) {
	case []byte:
		return fmt.Sprintf("%q", v)
	case json.RawMessage:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%#v", v)
}

func showDelivery(d store.Delivery) string {
	return fmt.Sprintf("%s of %s/%s to %s: %s, %d attempts, due %s, error %q", d.ID, d.WorkspaceID, d.EventID,
		d.SubscriptionID, d.Status, d.Attempts, show(d.NextAttemptAt), d.LastError)
}

func showDeliveries(cds []store.ClaimedDelivery) []string {
	var out []string
	for _, cd := range cds {
		out = append(out, showDelivery(cd.Delivery))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
