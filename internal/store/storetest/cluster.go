// Conformance tests of what several nodes share: lease heartbeats, named
// leader leases, change notifications, and retention (Prune).
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func clusterTests() []test {
	return []test{
		{"RefreshStatisticsAfterChurn", func(t *testing.T, f *fixture) {
			// Whatever an engine decides to refresh, it may be called at
			// any time, on an empty queue and on a churned one, and
			// leaves every row as it was.
			_, err := f.s.RefreshStatistics(f.ctx)
			f.must(err, "RefreshStatistics on an empty store")
			s := f.newSub("")
			ids := f.publish(t0, s, s, s)
			f.claimIDs(t0, 10)
			f.complete(f.succeeded(ids[0], t0), f.succeeded(ids[1], t0))
			_, err = f.s.RefreshStatistics(f.ctx)
			f.must(err, "RefreshStatistics after churn")
			wantIDs(t, "still claimable after", f.claimIDs(at(time.Hour), 10), nil)
			n, err := f.s.QueueDepth(f.ctx)
			f.must(err, "QueueDepth")
			if n != 1 {
				t.Errorf("queue depth %d after refreshing, want 1 (the delivery still sending)", n)
			}
		}},
		{"ExtendLeasesRenewsOwnersLeases", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			f.publish(t0, s, s, s)
			pending := f.publish(at(time.Hour), s)
			claim := func(owner string, limit int) []string {
				t.Helper()
				cds, err := f.s.ClaimDeliveries(f.ctx, store.Claim{Owner: owner, Now: t0, LeaseUntil: at(time.Minute), Limit: limit})
				f.must(err, "ClaimDeliveries")
				return deliveryIDs(cds)
			}
			mine, theirs := claim("node-a", 2), claim("node-b", 1)
			// node-a names its own two, one of node-b's and an unclaimed one:
			// only its own are renewed.
			named := append(append(append([]string{}, mine...), theirs...), pending...)
			n, err := f.s.ExtendLeases(f.ctx, "node-a", named, at(10*time.Minute))
			f.must(err, "ExtendLeases")
			if n != 2 {
				t.Errorf("ExtendLeases = %d, want 2", n)
			}
			if n, _ := f.s.ExtendLeases(f.ctx, "node-c", named, at(10*time.Minute)); n != 0 {
				t.Errorf("ExtendLeases of an owner without leases = %d", n)
			}
			n, err = f.s.ReleaseLeases(f.ctx, "", at(5*time.Minute))
			f.must(err, "ReleaseLeases")
			if n != 1 {
				t.Errorf("ReleaseLeases after the heartbeat = %d, want 1 (node-b's)", n)
			}
			f.wantStatus(store.DeliverySending, mine...)
			f.wantStatus(store.DeliveryPending, theirs...)
			f.wantStatus(store.DeliveryPending, pending...) // no lease, nothing to extend
			if n, _ := f.s.ReleaseLeases(f.ctx, "", at(11*time.Minute)); n != 2 {
				t.Errorf("ReleaseLeases after the extended leases ended = %d, want 2", n)
			}
		}},
		{"TryLeadIsExclusive", func(t *testing.T, f *fixture) {
			lead := func(name, owner string, now time.Time, ttl time.Duration, want bool) {
				t.Helper()
				got, err := f.s.TryLead(f.ctx, name, owner, now, ttl)
				f.must(err, "TryLead")
				if got != want {
					t.Errorf("TryLead(%s, %s, %s) = %v, want %v", name, owner, show(now), got, want)
				}
			}
			lead("maintenance", "node-a", t0, time.Hour, true)
			lead("maintenance", "node-a", t0, time.Hour, true) // renewal
			lead("maintenance", "node-b", t0, time.Hour, false)
			lead("other-job", "node-b", t0, time.Hour, true) // names are independent
			lead("other-job", "node-a", t0, time.Hour, false)
			// The lease ends ttl after the time it was taken or renewed at,
			// by the caller's clock (t0 is long past, so an engine reading its
			// own clock shows up): then another owner may take it, and the
			// first one has lost it.
			lead("short", "node-a", t0, time.Minute, true)
			lead("short", "node-a", at(time.Minute), time.Minute, true) // renewed until t0+2m
			lead("short", "node-b", at(90*time.Second), time.Hour, false)
			lead("short", "node-b", at(2*time.Minute), time.Hour, true)
			lead("short", "node-a", at(3*time.Minute), time.Hour, false)
		}},
		{"ListenReturnsWhenContextEnds", func(t *testing.T, f *fixture) {
			ctx, cancel := context.WithCancel(f.ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- f.s.Listen(ctx, func(store.Notification) {}) }()
			select {
			case err := <-done:
				t.Fatalf("Listen returned before its context ended: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Listen after cancel: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Listen did not return within 10s of its context ending")
			}
		}},
		{"AnnounceReachesListen", func(t *testing.T, f *fixture) {
			// Every field set, and each alone: what Listen hears (an engine
			// of one process may hear nothing) is what was announced.
			user := newID("usr_")
			sent := []store.Notification{
				{Deliveries: true, WorkspaceID: f.ws, SubscriptionID: newID("sub_"), UserID: user + "-all", InboundID: newID("inb_")},
				{UserID: user},
				{WorkspaceID: f.ws, SubscriptionID: user + "-sub"},
				{InboundID: user + "-inb"},
			}
			heard := make(chan store.Notification, 100)
			ctx, cancel := context.WithCancel(f.ctx)
			listening := make(chan struct{})
			go func() {
				defer close(listening)
				f.s.Listen(ctx, func(n store.Notification) {
					if strings.HasPrefix(n.UserID, user) || strings.HasPrefix(n.SubscriptionID, user) || strings.HasPrefix(n.InboundID, user) {
						select {
						case heard <- n:
						default: // the test has heard enough
						}
					}
				})
			}()
			defer func() { cancel(); <-listening }()
			got := map[store.Notification]bool{}
			// Listen gives no sign that it is listening: announce until
			// everything is heard, or for a second.
			for deadline := time.Now().Add(time.Second); len(got) < len(sent) && time.Now().Before(deadline); {
				for _, n := range sent {
					f.must(f.s.Announce(f.ctx, n), "Announce")
				}
				for drained := false; !drained; {
					select {
					case n := <-heard:
						got[n] = true
					case <-time.After(50 * time.Millisecond):
						drained = true
					}
				}
			}
			for n := range got {
				if !slices.Contains(sent, n) {
					t.Errorf("Listen heard %+v, which was never announced", n)
				}
			}
			if len(got) > 0 && len(got) < len(sent) {
				t.Errorf("Listen heard %d of the %d notifications announced: %+v", len(got), len(sent), got)
			}
		}},
		{"PruneDeletesOldFinishedEvents", testPrune},
		{"PruneRespectsLimit", func(t *testing.T, f *fixture) {
			for i := range 5 {
				f.insert(f.routed(f.newEvent(at(-time.Duration(10+i) * time.Hour))))
			}
			for _, want := range []int{2, 2, 1, 0} {
				n, err := f.s.Prune(f.ctx, at(-time.Hour), at(-100*time.Hour), 2)
				f.must(err, "Prune")
				if n != want {
					t.Errorf("Prune = %d, want %d", n, want)
				}
			}
		}},
		{"PruneExpiresIdempotencyKeys", func(t *testing.T, f *fixture) {
			keyed := func(key string, when time.Time) store.NewEvent {
				ne := f.routed(f.newEvent(when))
				// A window wider than the keys kept: only Prune frees a key.
				ne.IdempotencyKey, ne.IdempotencySince = key, at(-1000*time.Hour)
				return ne
			}
			old, recent := keyed("old", at(-48*time.Hour)), keyed("recent", at(-time.Hour))
			f.insert(old, recent)
			n, err := f.s.Prune(f.ctx, at(-100*time.Hour), at(-24*time.Hour), 100)
			f.must(err, "Prune")
			if n != 0 {
				t.Errorf("Prune deleted %d events, want none (all are newer than before)", n)
			}
			res := f.insert(keyed("old", t0), keyed("recent", t0))
			if res[0].Duplicate {
				t.Errorf("a key older than keysBefore survived Prune: duplicate of %s", res[0].Event.ID)
			}
			if !res[1].Duplicate || res[1].Event.ID != recent.Event.ID {
				t.Errorf("a key newer than keysBefore: got %s (duplicate %v), want duplicate of %s",
					res[1].Event.ID, res[1].Duplicate, recent.Event.ID)
			}
		}},
		{"PrunedEventFreesItsKey", func(t *testing.T, f *fixture) {
			first := f.routed(f.newEvent(at(-48 * time.Hour)))
			first.IdempotencyKey, first.IdempotencySince = "k", at(-1000*time.Hour)
			f.insert(first)
			// Events kept for less time than keys: the key outlives its event.
			n, err := f.s.Prune(f.ctx, at(-24*time.Hour), at(-1000*time.Hour), 100)
			f.must(err, "Prune")
			if n != 1 {
				t.Fatalf("Prune = %d, want 1", n)
			}
			again := f.routed(f.newEvent(t0), f.newSub(""))
			again.IdempotencyKey, again.IdempotencySince = "k", at(-1000*time.Hour)
			res := f.insert(again)
			if res[0].Duplicate || res[0].Event.ID != again.Event.ID {
				t.Fatalf("key of a pruned event: got %s (duplicate %v), want the new event", res[0].Event.ID, res[0].Duplicate)
			}
			f.delivery(again.Deliveries[0].ID)
		}},
	}
}

// testPrune deletes events older than before whose deliveries are all
// finished, with their deliveries and attempts, and keeps every other.
func testPrune(t *testing.T, f *fixture) {
	s := f.newSub("")
	old := at(-48 * time.Hour)
	succeeded := f.publish(old, s)
	failed := f.publish(old, s)
	mixed := f.publish(old, s, s)
	sending := f.publish(old, s)
	wantIDs(t, "claimed", f.claimIDs(old, 10), sorted(succeeded[0], failed[0], mixed[0], mixed[1], sending[0]))
	f.complete(f.succeeded(succeeded[0], old), f.failed(failed[0], old), f.succeeded(mixed[0], old))
	held := f.publishHeld(old, s)
	due := f.routed(f.newEvent(old), s) // pending, due later
	due.Deliveries[0].NextAttemptAt = ptr(at(time.Hour))
	f.insert(due)
	pending := []string{due.Deliveries[0].ID}
	none := f.routed(f.newEvent(old)) // no deliveries: nothing unfinished
	f.insert(none)
	recent := f.publish(at(-30*time.Minute), s)
	f.claim(at(-30*time.Minute), 10)
	f.complete(f.succeeded(recent[0], at(-30*time.Minute)))

	n, err := f.s.Prune(f.ctx, at(-time.Hour), at(-1000*time.Hour), 100)
	f.must(err, "Prune")
	if n != 3 {
		t.Errorf("Prune = %d, want 3", n)
	}
	for _, id := range []string{succeeded[0], failed[0]} {
		if _, ok := f.lookup(id); ok {
			t.Errorf("delivery %s of a pruned event remains", id)
		}
	}
	_, _, err = f.s.GetEvent(f.ctx, f.ws, none.Event.ID)
	wantErr(t, "GetEvent of the pruned event without deliveries", err, store.ErrNotFound)
	f.wantStatus(store.DeliverySucceeded, mixed[0], recent[0])
	f.wantStatus(store.DeliverySending, mixed[1], sending[0])
	f.wantStatus(store.DeliveryHeld, held...)
	f.wantStatus(store.DeliveryPending, pending...)
	// Attempts of the pruned deliveries went with them.
	var got []string
	for _, a := range listAttempts(f, s.ID, 100, "") {
		got = append(got, a.DeliveryID)
	}
	wantIDs(t, "deliveries with attempts", sorted(got...), sorted(mixed[0], recent[0]))
	if n, _ := f.s.Prune(f.ctx, at(-time.Hour), at(-1000*time.Hour), 100); n != 0 {
		t.Errorf("second Prune = %d, want 0", n)
	}
}
