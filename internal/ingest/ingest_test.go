// Tests of the group-commit ingester against a fake store and a fake
// dispatcher: routing (Subscription.Matches, ids, created_at, labels,
// unknown types), PublishBatch atomicity and *BatchError with release of
// reserved places, group commit of queued publishes, isolation of a failing
// request by one-by-one retry without splitting a batch, hand-off versus
// release versus notify of fresh deliveries, and shutdown with concurrent
// writers (every publish answered; every answered event written).
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/store"
)

// ---- fake store ----------------------------------------------------------

var errPoison = errors.New("poisoned insert")

const poisonType = "poison"

// fakeStore implements Store, the three methods ingest uses.
type fakeStore struct {
	mu      sync.Mutex
	labels  map[[2]string]string            // (workspace, name) → label
	subs    map[string][]store.Subscription // workspace → routable subscriptions
	typeErr error                           // returned by GetEventType when set
	noLease map[string]bool                 // subscriptions whose sending deliveries are not stored leased
	calls   []insertCall                    // every InsertEvents call, in order

	// hold, when set, makes the first InsertEvents call signal entered and
	// wait until hold is closed.
	hold    chan struct{}
	entered chan struct{}
	// onInsert, when set, runs at the start of every InsertEvents call with
	// the call's number (1-based), outside mu.
	onInsert func(n int)
}

type insertCall struct {
	events []store.NewEvent // deep enough copy: Deliveries copied
	err    error
}

func newFakeStore() *fakeStore {
	return &fakeStore{labels: map[[2]string]string{}, subs: map[string][]store.Subscription{}, noLease: map[string]bool{}}
}

func (s *fakeStore) addType(ws, name, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.labels[[2]string{ws, name}] = label
}

func (s *fakeStore) setSubs(ws string, subs ...store.Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[ws] = subs
}

func (s *fakeStore) GetEventType(_ context.Context, ws, name string) (*store.EventType, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.typeErr != nil {
		return nil, s.typeErr
	}
	label, ok := s.labels[[2]string{ws, name}]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &store.EventType{WorkspaceID: ws, Name: name, Label: label}, nil
}

func (s *fakeStore) RoutableSubscriptions(_ context.Context, ws string) ([]store.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subs[ws]), nil
}

func (s *fakeStore) InsertEvents(ctx context.Context, events []store.NewEvent) ([]store.InsertResult, error) {
	snap := make([]store.NewEvent, len(events))
	for i, ne := range events {
		snap[i] = ne
		snap[i].Deliveries = slices.Clone(ne.Deliveries)
	}
	var err error
	for _, ne := range events {
		if ne.Event.Type == poisonType {
			err = errPoison
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, insertCall{events: snap, err: err})
	n := len(s.calls)
	hold, entered, onInsert := s.hold, s.entered, s.onInsert
	noLease := make(map[string]bool, len(s.noLease))
	for k, v := range s.noLease {
		noLease[k] = v
	}
	s.mu.Unlock()

	if onInsert != nil {
		onInsert(n)
	}
	if n == 1 && hold != nil {
		close(entered)
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	res := make([]store.InsertResult, len(events))
	for i, ne := range events {
		res[i].Event = ne.Event
		for _, d := range ne.Deliveries {
			if d.Status == store.DeliverySending && !noLease[d.SubscriptionID] {
				res[i].Leased = append(res[i].Leased, d.ID)
			}
		}
	}
	return res, nil
}

// insertCalls returns a copy of the recorded InsertEvents calls.
func (s *fakeStore) insertCalls() []insertCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// written returns the events of the successful InsertEvents calls.
func (s *fakeStore) written() []store.NewEvent {
	var out []store.NewEvent
	for _, c := range s.insertCalls() {
		if c.err == nil {
			out = append(out, c.events...)
		}
	}
	return out
}

// ---- fake dispatcher ---------------------------------------------------

const (
	testOwner = "node-1"
	testLease = 30 * time.Second
)

type fakeDispatch struct {
	mu       sync.Mutex
	refuse   map[string]bool // Reserve says no for these subscriptions
	reserves []string
	releases []string
	handoffs []store.ClaimedDelivery
	notifies int
	reserved time.Time // when Reserve last said yes
}

func newFakeDispatch() *fakeDispatch { return &fakeDispatch{refuse: map[string]bool{}} }

func (d *fakeDispatch) Reserve(subID string, size int) (string, time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refuse[subID] {
		return "", 0, false
	}
	d.reserves = append(d.reserves, subID)
	d.reserved = time.Now()
	return testOwner, testLease, true
}

func (d *fakeDispatch) Release(subID string, size int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releases = append(d.releases, subID)
}

func (d *fakeDispatch) Handoff(cd store.ClaimedDelivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handoffs = append(d.handoffs, cd)
}

func (d *fakeDispatch) Notify() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifies++
}

type dispatchState struct {
	reserves, releases []string
	handoffs           []store.ClaimedDelivery
	notifies           int
	reserved           time.Time
}

func (d *fakeDispatch) state() dispatchState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return dispatchState{slices.Clone(d.reserves), slices.Clone(d.releases), slices.Clone(d.handoffs), d.notifies, d.reserved}
}

// ---- helpers ---------------------------------------------------------------

// isUnknownType reports whether err is the refusal of an unknown event type.
func isUnknownType(err error) bool {
	e, ok := errs.As(err)
	return ok && e.Code == "unknown_event_type" && e.Field == "type"
}

func newIngester(st *fakeStore, d *fakeDispatch, writers int) *Ingester {
	return New(st, d, writers, metrics.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
}

// oneRoute returns an ingester over a store where workspace ws has event
// type "a" and one subscription, sub_1, to every type.
func oneRoute(ws string, writers int) (*fakeStore, *fakeDispatch, *Ingester) {
	st := newFakeStore()
	st.addType(ws, "a", "A")
	st.setSubs(ws, sub("sub_1", "*"))
	d := newFakeDispatch()
	return st, d, newIngester(st, d, writers)
}

// publishN starts n publishes of type "a" to ws, whose data is their index,
// and waits until all of them are queued for the writer.
func publishN(t *testing.T, in *Ingester, ws string, n int) []<-chan outcome {
	t.Helper()
	outs := make([]<-chan outcome, n)
	for i := range n {
		outs[i] = publishAsync(in, Publish{WorkspaceID: ws, Type: "a", Data: data(fmt.Sprint(i))})
	}
	waitQueued(t, in, n)
	return outs
}

// start runs in until the test ends; it returns the cancel of Run's context
// and a channel closed when Run has returned.
func start(t *testing.T, in *Ingester) (context.CancelFunc, <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return cancel, done
}

// waitFor polls cond until it holds, failing the test after a bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// waitQueued waits until n requests sit in the ingester's queue.
func waitQueued(t *testing.T, in *Ingester, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d queued requests", n), func() bool { return len(in.reqs) == n })
}

// recv waits for one value from c, failing the test after a bound.
func recv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a publish to return")
		panic("unreachable")
	}
}

type outcome struct {
	res []store.InsertResult
	err error
}

// publishAsync runs PublishBatch in a goroutine and delivers its outcome.
func publishAsync(in *Ingester, ps ...Publish) <-chan outcome {
	c := make(chan outcome, 1)
	go func() {
		res, err := in.PublishBatch(context.Background(), ps)
		c <- outcome{res, err}
	}()
	return c
}

func sub(id string, types ...string) store.Subscription {
	return store.Subscription{ID: id, EventTypes: types, Status: store.SubscriptionActive}
}

func data(s string) json.RawMessage { return json.RawMessage(s) }

func ptr[T any](v T) *T { return &v }

func subIDs(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.SubscriptionID)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// holdFirstInsert makes the first InsertEvents call block until the
// returned release is called; it waits for that call to begin after
// publishing a blocker event of type "block" in workspace "ws_block".
func holdFirstInsert(t *testing.T, st *fakeStore, in *Ingester) (release func(), blocker <-chan outcome) {
	t.Helper()
	st.addType("ws_block", "block", "Block")
	st.mu.Lock()
	st.hold, st.entered = make(chan struct{}), make(chan struct{})
	hold, entered := st.hold, st.entered
	st.mu.Unlock()
	blocker = publishAsync(in, Publish{WorkspaceID: "ws_block", Type: "block", Data: data(`"blocker"`)})
	recv(t, entered)
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	return release, blocker
}

// ---- 1. routing ---------------------------------------------------------

func TestPublishRoutes(t *testing.T) {
	const ws = "ws_1"
	st := newFakeStore()
	st.addType(ws, "order.created", "Order created")
	st.addType(ws, "order.paid", "Order paid")
	st.addType(ws, "user.deleted", "User deleted")
	st.addType("ws_other", "order.created", "Other label")
	st.setSubs(ws,
		sub("sub_created", "order.created"),
		sub("sub_all", "*"),
		sub("sub_paid", "order.paid"),
		sub("sub_both", "order.paid", "order.created"),
		sub("sub_none"),
		sub("sub_prefix", "order.*"), // no globbing: only "*" alone is a wildcard
		sub("sub_case", "Order.Created"),
	)
	st.setSubs("ws_other", sub("sub_other", "*"))
	d := newFakeDispatch()
	for _, s := range []string{"sub_created", "sub_all", "sub_paid", "sub_both", "sub_none", "sub_prefix", "sub_case", "sub_other"} {
		d.refuse[s] = true // everything pending: routing only
	}
	in := newIngester(st, d, 1)
	start(t, in)

	cases := []struct {
		typ       string
		wantLabel string
		wantSubs  []string
	}{
		{"order.created", "Order created", []string{"sub_created", "sub_all", "sub_both"}},
		{"order.paid", "Order paid", []string{"sub_all", "sub_paid", "sub_both"}},
		{"user.deleted", "User deleted", []string{"sub_all"}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Microsecond)
			p := Publish{WorkspaceID: ws, Type: tc.typ, Data: data(`{"k": [1, 2]}`),
				UserID: ptr("usr_1"), Subject: ptr("order/42"), IdempotencyKey: "key-" + tc.typ}
			res, err := in.Publish(context.Background(), p)
			after := time.Now().UTC()
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			calls := st.insertCalls()
			last := calls[len(calls)-1]
			if last.err != nil || len(last.events) != 1 {
				t.Fatalf("last InsertEvents call: %d events, err %v; want 1 event", len(last.events), last.err)
			}
			ne := last.events[0]
			e := ne.Event
			if res.Event.ID != e.ID {
				t.Errorf("result event %q, stored %q", res.Event.ID, e.ID)
			}
			if !strings.HasPrefix(e.ID, "evt_") || seen[e.ID] {
				t.Errorf("event id %q: want a fresh evt_ id", e.ID)
			}
			seen[e.ID] = true
			if e.WorkspaceID != ws || e.Type != tc.typ || e.Label != tc.wantLabel {
				t.Errorf("event = %s/%s label %q; want %s/%s label %q", e.WorkspaceID, e.Type, e.Label, ws, tc.typ, tc.wantLabel)
			}
			if string(e.Data) != `{"k": [1, 2]}` {
				t.Errorf("data %s not kept byte for byte", e.Data)
			}
			if e.UserID == nil || *e.UserID != "usr_1" || e.Subject == nil || *e.Subject != "order/42" {
				t.Errorf("user/subject not carried: %v %v", e.UserID, e.Subject)
			}
			if e.CreatedAt.Location() != time.UTC || !e.CreatedAt.Equal(e.CreatedAt.Truncate(time.Microsecond)) ||
				e.CreatedAt.Before(before) || e.CreatedAt.After(after) {
				t.Errorf("created_at %v: want UTC, to the microsecond, within [%v, %v]", e.CreatedAt, before, after)
			}
			if ne.IdempotencyKey != p.IdempotencyKey || !ne.IdempotencySince.Equal(e.CreatedAt.Add(-store.IdempotencyWindow)) {
				t.Errorf("idempotency %q since %v; want %q since %v", ne.IdempotencyKey, ne.IdempotencySince, p.IdempotencyKey, e.CreatedAt.Add(-store.IdempotencyWindow))
			}
			if got := subIDs(ne.Deliveries); !slices.Equal(got, tc.wantSubs) {
				t.Errorf("deliveries to %v; want %v", got, tc.wantSubs)
			}
			ids := map[string]bool{}
			for _, dl := range ne.Deliveries {
				if !strings.HasPrefix(dl.ID, "dlv_") || ids[dl.ID] {
					t.Errorf("delivery id %q: want a fresh dlv_ id", dl.ID)
				}
				ids[dl.ID] = true
				if dl.Status != store.DeliveryPending || dl.LeaseOwner != "" || dl.LeaseUntil != nil {
					t.Errorf("delivery %s: status %q owner %q lease %v; want pending, unleased", dl.ID, dl.Status, dl.LeaseOwner, dl.LeaseUntil)
				}
				if !dl.CreatedAt.Equal(e.CreatedAt) || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(e.CreatedAt) {
					t.Errorf("delivery %s: created %v next %v; want both %v", dl.ID, dl.CreatedAt, dl.NextAttemptAt, e.CreatedAt)
				}
			}
		})
	}

	t.Run("unknown type", func(t *testing.T) {
		before := len(st.insertCalls())
		reserves := len(d.state().reserves)
		_, err := in.Publish(context.Background(), Publish{WorkspaceID: ws, Type: "order.refunded", Data: data(`{}`)})
		if !isUnknownType(err) {
			t.Fatalf("err = %v; want ErrUnknownEventType", err)
		}
		// A type of another workspace is unknown here too.
		_, err = in.Publish(context.Background(), Publish{WorkspaceID: "ws_none", Type: "order.created", Data: data(`{}`)})
		if !isUnknownType(err) {
			t.Fatalf("other workspace's type: err = %v; want ErrUnknownEventType", err)
		}
		if n := len(st.insertCalls()); n != before {
			t.Errorf("InsertEvents called %d times for unknown types; want 0", n-before)
		}
		if n := len(d.state().reserves); n != reserves {
			t.Errorf("Reserve called %d times for unknown types", n-reserves)
		}
	})

	t.Run("store error is not unknown type", func(t *testing.T) {
		st2 := newFakeStore()
		boom := errors.New("database down")
		st2.typeErr = boom
		in2 := newIngester(st2, newFakeDispatch(), 1)
		start(t, in2)
		_, err := in2.Publish(context.Background(), Publish{WorkspaceID: ws, Type: "order.created"})
		if !errors.Is(err, boom) || isUnknownType(err) {
			t.Fatalf("err = %v; want the store's error, not ErrUnknownEventType", err)
		}
		if n := len(st2.insertCalls()); n != 0 {
			t.Errorf("InsertEvents called %d times", n)
		}
	})
}

func TestInvalidateReloadsRoutes(t *testing.T) {
	const ws = "ws_1"
	st := newFakeStore()
	st.addType(ws, "a", "A")
	st.setSubs(ws, sub("sub_1", "a"))
	d := newFakeDispatch()
	in := newIngester(st, d, 1)
	start(t, in)
	if _, err := in.Publish(context.Background(), Publish{WorkspaceID: ws, Type: "a"}); err != nil {
		t.Fatal(err)
	}
	st.setSubs(ws, sub("sub_1", "a"), sub("sub_2", "*"))
	in.Invalidate(ws)
	if _, err := in.Publish(context.Background(), Publish{WorkspaceID: ws, Type: "a"}); err != nil {
		t.Fatal(err)
	}
	w := st.written()
	if got := subIDs(w[len(w)-1].Deliveries); !slices.Equal(got, []string{"sub_1", "sub_2"}) {
		t.Errorf("after Invalidate, deliveries to %v; want [sub_1 sub_2]", got)
	}
}

// ---- 2. PublishBatch ------------------------------------------------------

func TestPublishBatch(t *testing.T) {
	const ws = "ws_1"
	setup := func(t *testing.T) (*fakeStore, *fakeDispatch, *Ingester) {
		st := newFakeStore()
		st.addType(ws, "a", "A")
		st.addType(ws, "b", "B")
		st.setSubs(ws, sub("sub_a", "a"), sub("sub_b", "b"), sub("sub_all", "*"))
		d := newFakeDispatch()
		in := newIngester(st, d, 1)
		start(t, in)
		return st, d, in
	}

	t.Run("one transaction, results in order", func(t *testing.T) {
		st, d, in := setup(t)
		ps := []Publish{
			{WorkspaceID: ws, Type: "a", Data: data(`0`)},
			{WorkspaceID: ws, Type: "b", Data: data(`1`)},
			{WorkspaceID: ws, Type: "a", Data: data(`2`)},
			{WorkspaceID: ws, Type: "b", Data: data(`3`)},
		}
		res, err := in.PublishBatch(context.Background(), ps)
		if err != nil {
			t.Fatalf("PublishBatch: %v", err)
		}
		calls := st.insertCalls()
		if len(calls) != 1 {
			t.Fatalf("InsertEvents called %d times; want once for the whole batch", len(calls))
		}
		if len(calls[0].events) != len(ps) || len(res) != len(ps) {
			t.Fatalf("%d events inserted, %d results; want %d", len(calls[0].events), len(res), len(ps))
		}
		for i, p := range ps {
			ne := calls[0].events[i]
			if ne.Event.Type != p.Type || string(ne.Event.Data) != string(p.Data) {
				t.Errorf("inserted[%d] = %s %s; want %s %s", i, ne.Event.Type, ne.Event.Data, p.Type, p.Data)
			}
			if res[i].Event.ID != ne.Event.ID || string(res[i].Event.Data) != string(p.Data) {
				t.Errorf("result[%d] = %s %s; want %s %s", i, res[i].Event.ID, res[i].Event.Data, ne.Event.ID, p.Data)
			}
			if !ne.Event.CreatedAt.Equal(calls[0].events[0].Event.CreatedAt) {
				t.Errorf("event %d created at %v, event 0 at %v: one batch, one time", i, ne.Event.CreatedAt, calls[0].events[0].Event.CreatedAt)
			}
		}
		s := d.state()
		if len(s.reserves) != 8 || len(s.handoffs) != 8 || len(s.releases) != 0 {
			t.Errorf("reserves %d handoffs %d releases %d; want 8 8 0", len(s.reserves), len(s.handoffs), len(s.releases))
		}
	})

	for _, bad := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("unknown type at %d", bad), func(t *testing.T) {
			st, d, in := setup(t)
			ps := []Publish{
				{WorkspaceID: ws, Type: "a"},
				{WorkspaceID: ws, Type: "b"},
				{WorkspaceID: ws, Type: "a"},
				{WorkspaceID: ws, Type: "b"},
			}
			ps[bad].Type = "nope"
			res, err := in.PublishBatch(context.Background(), ps)
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v (%T); want *BatchError", err, err)
			}
			if be.Index != bad || !isUnknownType(err) {
				t.Errorf("BatchError{Index: %d, Err: %v}; want index %d, ErrUnknownEventType", be.Index, be.Err, bad)
			}
			if res != nil {
				t.Errorf("results %v for a refused batch", res)
			}
			if n := len(st.insertCalls()); n != 0 {
				t.Errorf("InsertEvents called %d times for a refused batch", n)
			}
			s := d.state()
			if want := 2 * bad; len(s.reserves) != want { // two subscriptions per earlier event
				t.Errorf("Reserve called %d times; want %d", len(s.reserves), want)
			}
			if !slices.Equal(sorted(s.releases), sorted(s.reserves)) {
				t.Errorf("released %v; want every reserved place %v", s.releases, s.reserves)
			}
			if len(s.handoffs) != 0 {
				t.Errorf("%d hand-offs for a refused batch", len(s.handoffs))
			}
		})
	}
}

// ---- 3. group commit -------------------------------------------------------

func TestGroupCommit(t *testing.T) {
	const ws = "ws_1"
	st, d, in := oneRoute(ws, 1)
	start(t, in)
	release, blocker := holdFirstInsert(t, st, in)

	const n = 6
	outs := publishN(t, in, ws, n)
	release()

	if o := recv(t, blocker); o.err != nil {
		t.Fatalf("blocker: %v", o.err)
	}
	for i, c := range outs {
		o := recv(t, c)
		if o.err != nil {
			t.Fatalf("publish %d: %v", i, o.err)
		}
		// Each caller gets its own event back, not a neighbour's.
		if len(o.res) != 1 || string(o.res[0].Event.Data) != fmt.Sprint(i) {
			t.Errorf("publish %d got %+v", i, o.res)
		}
	}
	calls := st.insertCalls()
	if len(calls) != 2 {
		t.Fatalf("InsertEvents called %d times; want 2 (blocker, then one group)", len(calls))
	}
	if got := len(calls[1].events); got != n {
		t.Fatalf("second InsertEvents carried %d events; want all %d queued publishes together", got, n)
	}
	s := d.state()
	if len(s.handoffs) != n || len(s.releases) != 0 {
		t.Errorf("handoffs %d releases %d; want %d 0", len(s.handoffs), len(s.releases), n)
	}
}

// ---- 4. failure isolation --------------------------------------------------

func TestFailedGroupRetriesOneByOne(t *testing.T) {
	const ws = "ws_1"
	setup := func(t *testing.T) (*fakeStore, *fakeDispatch, *Ingester) {
		st := newFakeStore()
		st.addType(ws, "ok", "OK")
		st.addType(ws, poisonType, "Poison")
		st.setSubs(ws, sub("sub_1", "*"))
		d := newFakeDispatch()
		in := newIngester(st, d, 1)
		start(t, in)
		return st, d, in
	}

	t.Run("poisoned batch among good publishes", func(t *testing.T) {
		st, d, in := setup(t)
		release, blocker := holdFirstInsert(t, st, in)

		n1 := publishAsync(in, Publish{WorkspaceID: ws, Type: "ok", Data: data(`"n1"`)})
		waitQueued(t, in, 1)
		batch := publishAsync(in,
			Publish{WorkspaceID: ws, Type: "ok", Data: data(`"b0"`)},
			Publish{WorkspaceID: ws, Type: poisonType, Data: data(`"b1"`)},
			Publish{WorkspaceID: ws, Type: "ok", Data: data(`"b2"`)},
		)
		waitQueued(t, in, 2)
		n2 := publishAsync(in, Publish{WorkspaceID: ws, Type: "ok", Data: data(`"n2"`)})
		waitQueued(t, in, 3)
		release()

		if o := recv(t, blocker); o.err != nil {
			t.Fatalf("blocker: %v", o.err)
		}
		for name, c := range map[string]<-chan outcome{`"n1"`: n1, `"n2"`: n2} {
			o := recv(t, c)
			if o.err != nil {
				t.Errorf("publish %s failed with its neighbour: %v", name, o.err)
			} else if len(o.res) != 1 || string(o.res[0].Event.Data) != name {
				t.Errorf("publish %s got %+v", name, o.res)
			}
		}
		ob := recv(t, batch)
		if !errors.Is(ob.err, errPoison) || ob.res != nil {
			t.Errorf("batch: res %v err %v; want no result and the store's error", ob.res, ob.err)
		}

		// blocker; the group of 5; then each request alone, in order.
		calls := st.insertCalls()
		var shape [][]string
		for _, c := range calls {
			var ds []string
			for _, ne := range c.events {
				ds = append(ds, string(ne.Event.Data))
			}
			shape = append(shape, ds)
		}
		want := [][]string{
			{`"blocker"`},
			{`"n1"`, `"b0"`, `"b1"`, `"b2"`, `"n2"`},
			{`"n1"`},
			{`"b0"`, `"b1"`, `"b2"`},
			{`"n2"`},
		}
		if fmt.Sprint(shape) != fmt.Sprint(want) {
			t.Errorf("InsertEvents calls %v; want %v (a batch is retried whole, never split)", shape, want)
		}
		var written []string
		for _, ne := range st.written() {
			written = append(written, string(ne.Event.Data))
		}
		if !slices.Equal(written, []string{`"blocker"`, `"n1"`, `"n2"`}) {
			t.Errorf("written %v; want blocker, n1, n2 and nothing of the batch", written)
		}
		// The batch's three places are released; n1's and n2's handed off.
		s := d.state()
		if len(s.reserves) != 5 || len(s.releases) != 3 || len(s.handoffs) != 2 {
			t.Errorf("reserves %d releases %d handoffs %d; want 5 3 2", len(s.reserves), len(s.releases), len(s.handoffs))
		}
		for _, h := range s.handoffs {
			if dd := string(h.Event.Data); dd != `"n1"` && dd != `"n2"` {
				t.Errorf("handed off a delivery of %s", dd)
			}
		}
	})

	t.Run("single failing request is not retried", func(t *testing.T) {
		st, d, in := setup(t)
		_, err := in.Publish(context.Background(), Publish{WorkspaceID: ws, Type: poisonType})
		if !errors.Is(err, errPoison) {
			t.Fatalf("err = %v; want the store's error", err)
		}
		if n := len(st.insertCalls()); n != 1 {
			t.Errorf("InsertEvents called %d times; want 1", n)
		}
		s := d.state()
		if len(s.reserves) != 1 || !slices.Equal(s.releases, s.reserves) || len(s.handoffs) != 0 || s.notifies != 0 {
			t.Errorf("reserves %v releases %v handoffs %d notifies %d; want the place released, nothing else",
				s.reserves, s.releases, len(s.handoffs), s.notifies)
		}
	})
}

// ---- 5. hand-off -------------------------------------------------------

func TestHandoff(t *testing.T) {
	const ws = "ws_1"
	type want struct {
		status  string
		handoff bool
		release bool
	}
	cases := []struct {
		name    string
		refuse  []string // Reserve says no
		noLease []string // the store does not lease these
		want    map[string]want
		notify  bool // Notify must follow the commit
	}{
		{
			name: "reserved and leased",
			want: map[string]want{"sub_1": {store.DeliverySending, true, false}},
		},
		{
			name:    "reserved, not leased by the store",
			noLease: []string{"sub_1"},
			want:    map[string]want{"sub_1": {store.DeliverySending, false, true}},
		},
		{
			name:   "not reserved",
			refuse: []string{"sub_1"},
			want:   map[string]want{"sub_1": {store.DeliveryPending, false, false}},
			notify: true,
		},
		{
			name:    "mixed",
			refuse:  []string{"sub_3"},
			noLease: []string{"sub_2"},
			want: map[string]want{
				"sub_1": {store.DeliverySending, true, false},
				"sub_2": {store.DeliverySending, false, true},
				"sub_3": {store.DeliveryPending, false, false},
			},
			notify: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			st.addType(ws, "a", "A")
			var subs []store.Subscription
			for _, id := range slices.Sorted(maps.Keys(tc.want)) {
				subs = append(subs, sub(id, "a"))
			}
			st.setSubs(ws, subs...)
			for _, id := range tc.noLease {
				st.noLease[id] = true
			}
			d := newFakeDispatch()
			for _, id := range tc.refuse {
				d.refuse[id] = true
			}
			in := newIngester(st, d, 1)
			start(t, in)

			// Hold the writer so that the reservation and the commit are
			// apart in time: the lease must run from the commit.
			release, blocker := holdFirstInsert(t, st, in)
			var atCommit dispatchState
			st.mu.Lock()
			st.onInsert = func(n int) {
				if n == 2 {
					atCommit = d.state()
				}
			}
			st.mu.Unlock()
			out := publishAsync(in, Publish{WorkspaceID: ws, Type: "a", Data: data(`{"x":1}`)})
			waitQueued(t, in, 1)
			reserved := d.state().reserved
			waitFor(t, "the clock to move", func() bool { return time.Now().After(reserved) })
			released := time.Now()
			release()
			if b := recv(t, blocker); b.err != nil {
				t.Fatalf("blocker: %v", b.err)
			}
			o := recv(t, out)
			done := time.Now()
			if o.err != nil {
				t.Fatalf("Publish: %v", o.err)
			}
			calls := st.insertCalls()
			if len(calls) != 2 || len(calls[1].events) != 1 {
				t.Fatalf("InsertEvents calls %d; want blocker then the event", len(calls))
			}
			ne := calls[1].events[0]
			ev := ne.Event
			if o.res[0].Event.ID != ev.ID {
				t.Fatalf("result event %s; stored %s", o.res[0].Event.ID, ev.ID)
			}
			s := d.state()
			stored := map[string]store.Delivery{}
			for _, dl := range ne.Deliveries {
				stored[dl.SubscriptionID] = dl
			}
			if len(stored) != len(tc.want) {
				t.Fatalf("stored deliveries to %v; want %d", subIDs(ne.Deliveries), len(tc.want))
			}
			handed := map[string]store.ClaimedDelivery{}
			for _, h := range s.handoffs {
				handed[h.Delivery.SubscriptionID] = h
			}
			var wantReleases []string
			for subID, w := range tc.want {
				dl := stored[subID]
				if dl.Status != w.status {
					t.Errorf("%s: stored %q; want %q", subID, dl.Status, w.status)
				}
				if w.status == store.DeliverySending {
					if dl.LeaseOwner != testOwner {
						t.Errorf("%s: lease owner %q; want %q", subID, dl.LeaseOwner, testOwner)
					}
					if dl.LeaseUntil == nil {
						t.Errorf("%s: no LeaseUntil", subID)
					} else if dl.LeaseUntil.Before(released.Add(testLease)) || dl.LeaseUntil.After(done.Add(testLease)) {
						t.Errorf("%s: lease until %v; want commit time + %v, within [%v, %v]", subID, dl.LeaseUntil, testLease,
							released.Add(testLease), done.Add(testLease))
					}
				} else if dl.LeaseOwner != "" || dl.LeaseUntil != nil {
					t.Errorf("%s: pending delivery with lease %q %v", subID, dl.LeaseOwner, dl.LeaseUntil)
				}
				h, ok := handed[subID]
				if ok != w.handoff {
					t.Errorf("%s: handed off %v; want %v", subID, ok, w.handoff)
				}
				if ok {
					if h.Delivery.ID != dl.ID || h.Delivery.WorkspaceID != ws || h.Delivery.EventID != ev.ID ||
						h.Delivery.Status != store.DeliverySending || h.Delivery.LeaseOwner != testOwner {
						t.Errorf("%s: handed off %+v; want delivery %s of event %s in %s, sending by %s", subID, h.Delivery, dl.ID, ev.ID, ws, testOwner)
					}
					if h.Event.ID != ev.ID || h.Event.Type != "a" || h.Event.Label != "A" || string(h.Event.Data) != `{"x":1}` {
						t.Errorf("%s: handed off with event %+v; want %+v", subID, h.Event, ev)
					}
				}
				if w.release {
					wantReleases = append(wantReleases, subID)
				}
			}
			if len(s.handoffs) != len(handed) {
				t.Errorf("%d hand-offs, %d distinct", len(s.handoffs), len(handed))
			}
			if !slices.Equal(sorted(s.releases), sorted(wantReleases)) {
				t.Errorf("released %v; want %v", s.releases, wantReleases)
			}
			// Hand-off, release and notify come after the commit.
			if len(atCommit.handoffs) != 0 || len(atCommit.releases) != 0 {
				t.Errorf("at commit: %d hand-offs, %d releases already", len(atCommit.handoffs), len(atCommit.releases))
			}
			// Notify follows the replies of a commit, so it may come just
			// after Publish returns.
			if tc.notify {
				waitFor(t, "Notify after the commit of pending deliveries", func() bool {
					return d.state().notifies > atCommit.notifies
				})
			}
		})
	}
}

// ---- 6. shutdown -----------------------------------------------------------

func TestShutdown(t *testing.T) {
	const ws = "ws_1"
	st, d, in := oneRoute(ws, 2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st.onInsert = func(n int) {
		if n == 5 {
			cancel() // mid-way: while publishers are still going
		}
	}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		in.Run(ctx)
	}()

	const goroutines, each = 8, 40
	type result struct {
		data string
		res  store.InsertResult
		err  error
	}
	results := make(chan result, goroutines*each)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				dd := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				res, err := in.Publish(context.Background(), Publish{WorkspaceID: ws, Type: "a", Data: data(dd)})
				results <- result{dd, res, err}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	select {
	case <-allDone:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish calls hung after shutdown")
	}
	select {
	case <-runDone:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	close(results)

	written := map[string]string{} // data → event id
	for _, ne := range st.written() {
		if _, dup := written[string(ne.Event.Data)]; dup {
			t.Errorf("event %s written twice", ne.Event.Data)
		}
		written[string(ne.Event.Data)] = ne.Event.ID
	}
	ok, failed := 0, 0
	for r := range results {
		if r.err != nil {
			failed++
			if !errors.Is(r.err, errShuttingDown) {
				t.Errorf("publish %s: err %v; want errShuttingDown", r.data, r.err)
			}
			if _, w := written[r.data]; w {
				t.Errorf("publish %s failed but its event was written", r.data)
			}
			continue
		}
		ok++
		if id, w := written[r.data]; !w || id != r.res.Event.ID {
			t.Errorf("publish %s answered with %s but not written (written as %q)", r.data, r.res.Event.ID, id)
		}
	}
	if ok+failed != goroutines*each {
		t.Fatalf("%d answers; want %d", ok+failed, goroutines*each)
	}
	if ok == 0 || failed == 0 {
		t.Errorf("%d succeeded, %d failed: want the shutdown to fall mid-way", ok, failed)
	}
	if len(written) != ok {
		t.Errorf("%d events written, %d publishes succeeded", len(written), ok)
	}
	// Every place reserved is handed off (written) or released (not).
	s := d.state()
	if len(s.reserves) != len(s.handoffs)+len(s.releases) || len(s.handoffs) != ok {
		t.Errorf("reserves %d, handoffs %d, releases %d, written %d: want reserves = handoffs + releases, handoffs = written",
			len(s.reserves), len(s.handoffs), len(s.releases), ok)
	}

	// After Run has returned, a publish fails at once.
	_, err := in.Publish(context.Background(), Publish{WorkspaceID: ws, Type: "a", Data: data(`"late"`)})
	if !errors.Is(err, errShuttingDown) {
		t.Errorf("publish after shutdown: err %v; want errShuttingDown", err)
	}
}

// Publishes queued behind a commit when Run's context ends are either
// written by the writer's last round or answered by the final drain; either
// way each is answered, and a place reserved for an unwritten one is
// released. Which of the two happens is the writer's (random) select, so
// the scenario is repeated to exercise both.
func TestShutdownWithQueuedPublishes(t *testing.T) {
	const ws = "ws_1"
	drained := 0
	for round := range 20 {
		st, d, in := oneRoute(ws, 1)
		cancel, runDone := start(t, in)
		release, blocker := holdFirstInsert(t, st, in)

		const n = 3
		outs := publishN(t, in, ws, n)
		cancel()
		release()
		if o := recv(t, blocker); o.err != nil {
			t.Fatalf("round %d: blocker: %v", round, o.err)
		}
		results := make([]outcome, n)
		for i, c := range outs {
			results[i] = recv(t, c)
		}
		recv(t, runDone)
		written := map[string]bool{}
		for _, ne := range st.written() {
			written[string(ne.Event.Data)] = true
		}
		for i, o := range results {
			switch {
			case o.err == nil && !written[fmt.Sprint(i)]:
				t.Errorf("round %d: publish %d answered but not written", round, i)
			case o.err != nil && !errors.Is(o.err, errShuttingDown):
				t.Errorf("round %d: publish %d: %v; want errShuttingDown", round, i, o.err)
			case o.err != nil && written[fmt.Sprint(i)]:
				t.Errorf("round %d: publish %d failed but was written", round, i)
			case o.err != nil:
				drained++
			}
		}
		s := d.state()
		if len(s.reserves) != n || len(s.handoffs)+len(s.releases) != n || len(s.handoffs) != len(written)-1 {
			t.Errorf("round %d: reserves %d handoffs %d releases %d written %d: every place handed off or released",
				round, len(s.reserves), len(s.handoffs), len(s.releases), len(written)-1)
		}
	}
	t.Logf("%d of %d queued publishes drained at shutdown", drained, 20*3)
}
