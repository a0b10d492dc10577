// Conformance tests of events: the batched insert with deliveries, reads,
// and Idempotency-Key handling.
package storetest

import (
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func eventTests() []test {
	return []test{
		{"InsertBatchWithDeliveries", func(t *testing.T, f *fixture) {
			active, paused := f.newSub(""), f.newSub("", func(s *store.Subscription) { s.Status = store.SubscriptionPaused })
			plain := f.newEvent(t0)
			full := f.newEvent(at(time.Second))
			full.Type, full.Label = "user.created", "User created"
			// Stored byte for byte: key order and spacing are the publisher's.
			full.Data = json.RawMessage(`{"z": 1, "a": [true, null, "\u00e9"],  "n": 1.50}`)
			full.UserID, full.Subject = ptr("usr_42"), ptr("user/42")
			nes := []store.NewEvent{
				f.routed(plain),
				f.routed(full, active, paused),
				f.routed(f.newEvent(at(2*time.Second)), active),
			}
			res := f.insert(nes...)
			for i, ne := range nes {
				if res[i].Duplicate {
					t.Errorf("event %d: Duplicate without an idempotency key", i)
				}
				wantSame(t, "inserted event", &res[i].Event, &ne.Event)

				e, ds, err := f.s.GetEvent(f.ctx, f.ws, ne.Event.ID)
				f.must(err, "GetEvent")
				wantSame(t, "stored event", e, &ne.Event)
				if len(ds) != len(ne.Deliveries) {
					t.Errorf("event %d: %d deliveries, want %d", i, len(ds), len(ne.Deliveries))
					continue
				}
				sort.Slice(ds, func(a, b int) bool { return ds[a].ID < ds[b].ID })
				for j, want := range ne.Deliveries {
					want.WorkspaceID, want.EventID = f.ws, ne.Event.ID
					wantSame(t, "stored delivery", &ds[j], &want, "UpdatedAt")
				}
			}
			if n := f.queueDepth(); n != 2 {
				t.Errorf("queue depth %d, want 2 (the held delivery does not count)", n)
			}
		}},
		{"InsertFollowsSubscriptionsAtCommit", func(t *testing.T, f *fixture) {
			// Ingest routes from a cache: by the commit, one subscription was
			// deleted and another paused. The event is stored all the same.
			gone, paused, active := f.newSub(""), f.newSub(""), f.newSub("")
			ne := f.routed(f.newEvent(t0), gone, paused, active)
			f.must(f.s.DeleteSubscription(f.ctx, f.ws, gone.ID), "DeleteSubscription")
			_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, paused.ID, store.SubscriptionPaused, t0)
			f.must(err, "SetSubscriptionStatus")
			f.insert(ne)
			_, ds, err := f.s.GetEvent(f.ctx, f.ws, ne.Event.ID)
			f.must(err, "GetEvent")
			got := map[string]string{}
			for _, d := range ds {
				got[d.SubscriptionID] = d.Status
			}
			want := map[string]string{paused.ID: store.DeliveryHeld, active.ID: store.DeliveryPending}
			if len(got) != len(want) || got[paused.ID] != want[paused.ID] || got[active.ID] != want[active.ID] {
				t.Errorf("deliveries by subscription %v, want %v", got, want)
			}
		}},
		{"TraceParentTravelsWithTheEvent", func(t *testing.T, f *fixture) {
			// Ingest stores the traceparent of its span with the event, and
			// every later attempt, claimed by any node, continues that
			// trace. Without tracing it is empty, and reads back empty.
			s := f.newSub("")
			const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
			traced := f.routed(f.newEvent(t0), s)
			traced.Event.TraceParent = tp
			keyed := f.routed(f.newEvent(t0), s) // the engines write keyed events their own way
			keyed.Event.TraceParent = tp
			keyed.IdempotencyKey, keyed.IdempotencySince = "order-1", t0.Add(-time.Hour)
			plain := f.routed(f.newEvent(t0), s)
			res := f.insert(traced, keyed, plain)
			want := map[string]string{traced.Event.ID: tp, keyed.Event.ID: tp, plain.Event.ID: ""}
			for i := range res {
				if got := res[i].Event.TraceParent; got != want[res[i].Event.ID] {
					t.Errorf("inserted event %d: TraceParent %q, want %q", i, got, want[res[i].Event.ID])
				}
			}
			for id, tp := range want {
				e, _, err := f.s.GetEvent(f.ctx, f.ws, id)
				f.must(err, "GetEvent")
				if e.TraceParent != tp {
					t.Errorf("GetEvent %s: TraceParent %q, want %q", id, e.TraceParent, tp)
				}
			}
			cds := f.claim(t0, 10)
			if len(cds) != 3 {
				t.Fatalf("claimed %d deliveries, want 3", len(cds))
			}
			for _, cd := range cds {
				if cd.Event.TraceParent != want[cd.Event.ID] {
					t.Errorf("claimed event %s: TraceParent %q, want %q", cd.Event.ID, cd.Event.TraceParent, want[cd.Event.ID])
				}
			}
			// A repeated key answers with the first event, trace and all.
			again := f.routed(f.newEvent(at(time.Second)), s)
			again.IdempotencyKey, again.IdempotencySince = "order-1", t0.Add(-time.Hour)
			if r := f.insert(again)[0]; !r.Duplicate || r.Event.TraceParent != tp {
				t.Errorf("duplicate: Duplicate %v, TraceParent %q, want true and %q", r.Duplicate, r.Event.TraceParent, tp)
			}
			// A resent delivery is claimed with the event's trace too.
			orig := traced.Deliveries[0].ID
			f.complete(f.succeeded(orig, t0))
			_, err := f.s.Resend(f.ctx, f.ws, orig, newID("dlv_"), at(time.Minute))
			f.must(err, "Resend")
			if cds := f.claim(at(time.Hour), 10); len(cds) != 1 || cds[0].Event.TraceParent != tp {
				t.Errorf("claimed after resend: %d deliveries, want 1 with TraceParent %q", len(cds), tp)
			}
		}},
		{"InsertLeased", func(t *testing.T, f *fixture) {
			// A node may insert deliveries already leased to itself, to send
			// them without claiming; one to an inactive subscription is held.
			active, paused := f.newSub(""), f.newSub("", func(s *store.Subscription) { s.Status = store.SubscriptionPaused })
			ne := f.routed(f.newEvent(t0), active, paused)
			until := at(time.Minute)
			for i := range ne.Deliveries {
				ne.Deliveries[i].Status, ne.Deliveries[i].LeaseOwner, ne.Deliveries[i].LeaseUntil = store.DeliverySending, "node-1", &until
				ne.Deliveries[i].NextAttemptAt = &ne.Event.CreatedAt
			}
			res := f.insert(ne)
			wantIDs(t, "leased", res[0].Leased, []string{ne.Deliveries[0].ID})
			f.wantStatus(store.DeliverySending, ne.Deliveries[0].ID)
			f.wantStatus(store.DeliveryHeld, ne.Deliveries[1].ID)
			wantIDs(t, "claimable while leased", f.claimIDs(t0, 10), nil)
			n, err := f.s.ReleaseLeases(f.ctx, "node-1", t0)
			f.must(err, "ReleaseLeases")
			if n != 1 {
				t.Errorf("released %d, want 1", n)
			}
			wantIDs(t, "claimable once released", f.claimIDs(t0, 10), []string{ne.Deliveries[0].ID})
		}},
		{"GetEventWithoutDeliveriesIsEmpty", func(t *testing.T, f *fixture) {
			e := f.newEvent(t0)
			f.insert(f.routed(e))
			_, ds, err := f.s.GetEvent(f.ctx, f.ws, e.ID)
			f.must(err, "GetEvent")
			if len(ds) != 0 {
				t.Errorf("%d deliveries, want none", len(ds))
			}
		}},
		{"GetUnknownIsNotFound", func(t *testing.T, f *fixture) {
			e := f.newEvent(t0)
			f.insert(f.routed(e, f.newSub("")))
			_, _, err := f.s.GetEvent(f.ctx, f.ws, "evt_unknown")
			wantErr(t, "GetEvent", err, store.ErrNotFound)
			_, _, err = f.s.GetEvent(f.ctx, f.newWorkspace("other", ""), e.ID)
			wantErr(t, "GetEvent from another workspace", err, store.ErrNotFound)
		}},
	}
}

func idempotencyTests() []test {
	const key = "order-1234"
	window := 24 * time.Hour
	// keyed returns a NewEvent with key created at when, routed to subs.
	keyed := func(f *fixture, when time.Time, subs ...*store.Subscription) store.NewEvent {
		ne := f.routed(f.newEvent(when), subs...)
		ne.IdempotencyKey, ne.IdempotencySince = key, when.Add(-window)
		return ne
	}
	// wantDuplicate checks that res reports first and that dup left no trace.
	wantDuplicate := func(t *testing.T, f *fixture, res store.InsertResult, first, dup store.NewEvent) {
		t.Helper()
		if !res.Duplicate {
			t.Errorf("repeated key: Duplicate false")
		}
		wantSame(t, "duplicate's result", &res.Event, &first.Event)
		_, _, err := f.s.GetEvent(f.ctx, dup.Event.WorkspaceID, dup.Event.ID)
		wantErr(t, "GetEvent of the duplicate", err, store.ErrNotFound)
		_, ds, err := f.s.GetEvent(f.ctx, first.Event.WorkspaceID, first.Event.ID)
		f.must(err, "GetEvent")
		if len(ds) != len(first.Deliveries) {
			t.Errorf("first event has %d deliveries, want %d", len(ds), len(first.Deliveries))
		}
	}
	return []test{
		{"RepeatWithinWindowWritesNothing", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			first := keyed(f, t0, s)
			f.insert(first)
			again := keyed(f, at(window-time.Second), s, s)
			again.Event.Data = json.RawMessage(`{"other":true}`)
			res := f.insert(again)
			wantDuplicate(t, f, res[0], first, again)
			if n := f.queueDepth(); n != 1 {
				t.Errorf("queue depth %d, want 1: the duplicate's deliveries were written", n)
			}
			wantIDs(t, "claimable", f.claimIDs(at(window), 10), []string{first.Deliveries[0].ID})
		}},
		{"ExpiredKeyIsReused", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			first := keyed(f, t0, s)
			f.insert(first)
			second := keyed(f, at(window+time.Second), s)
			res := f.insert(second)
			if res[0].Duplicate || res[0].Event.ID != second.Event.ID {
				t.Fatalf("key older than IdempotencySince: got event %s (duplicate %v), want new event %s",
					res[0].Event.ID, res[0].Duplicate, second.Event.ID)
			}
			e, ds, err := f.s.GetEvent(f.ctx, f.ws, second.Event.ID)
			f.must(err, "GetEvent")
			wantSame(t, "new event", e, &second.Event)
			if len(ds) != 1 {
				t.Errorf("new event has %d deliveries, want 1", len(ds))
			}
			// The key now belongs to the new event.
			third := keyed(f, at(window+time.Hour), s)
			wantDuplicate(t, f, f.insert(third)[0], second, third)
		}},
		{"RepeatInOneBatch", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			first, again := keyed(f, t0, s), keyed(f, t0, s)
			other := f.routed(f.newEvent(t0), s)
			res := f.insert(first, other, again)
			if res[0].Duplicate || res[1].Duplicate {
				t.Errorf("first and unkeyed events reported as duplicates")
			}
			wantSame(t, "first result", &res[0].Event, &first.Event)
			wantDuplicate(t, f, res[2], first, again)
			if n := f.queueDepth(); n != 2 {
				t.Errorf("queue depth %d, want 2", n)
			}
		}},
		{"KeysAreScopedByWorkspace", func(t *testing.T, f *fixture) {
			otherWS := f.newWorkspace("other", "")
			mine := keyed(f, t0, f.newSub(""))
			theirs := keyed(f, t0, f.newSub(otherWS))
			theirs.Event.WorkspaceID = otherWS
			res := f.insert(mine, theirs)
			for i, ne := range []store.NewEvent{mine, theirs} {
				if res[i].Duplicate || res[i].Event.ID != ne.Event.ID {
					t.Errorf("workspace %s: got event %s (duplicate %v), want %s", ne.Event.WorkspaceID,
						res[i].Event.ID, res[i].Duplicate, ne.Event.ID)
				}
				_, ds, err := f.s.GetEvent(f.ctx, ne.Event.WorkspaceID, ne.Event.ID)
				f.must(err, "GetEvent")
				if len(ds) != 1 {
					t.Errorf("workspace %s: %d deliveries, want 1", ne.Event.WorkspaceID, len(ds))
				}
			}
		}},
		{"DifferentKeysAreDifferentEvents", func(t *testing.T, f *fixture) {
			a, b := keyed(f, t0), keyed(f, t0)
			b.IdempotencyKey = key + "-2"
			res := f.insert(a, b)
			if res[0].Duplicate || res[1].Duplicate {
				t.Errorf("different keys reported as duplicates")
			}
		}},
		{"ConcurrentRepeatsStoreOneEvent", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			const n = 8
			nes := make([]store.NewEvent, n)
			res := make([]store.InsertResult, n)
			errs := make([]error, n)
			for i := range nes {
				nes[i] = keyed(f, t0, s)
			}
			var wg sync.WaitGroup
			for i := range nes {
				wg.Go(func() {
					var r []store.InsertResult
					r, errs[i] = f.s.InsertEvents(f.ctx, nes[i:i+1])
					if errs[i] == nil {
						res[i] = r[0]
					}
				})
			}
			wg.Wait()
			winner := -1
			for i := range res {
				if errs[i] != nil {
					t.Fatalf("InsertEvents %d: %v", i, errs[i])
				}
				if !res[i].Duplicate {
					if winner >= 0 {
						t.Fatalf("events %d and %d both stored under one key", winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatal("every insert reported a duplicate")
			}
			for i := range res {
				if res[i].Event.ID != nes[winner].Event.ID {
					t.Errorf("insert %d returned event %s, want the stored %s", i, res[i].Event.ID, nes[winner].Event.ID)
				}
			}
			if n := f.queueDepth(); n != 1 {
				t.Errorf("queue depth %d, want 1", n)
			}
		}},
	}
}
