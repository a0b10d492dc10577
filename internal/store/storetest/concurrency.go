// Conformance tests under concurrency: ingest and several nodes' claimers
// working the queue at once must never hand one delivery out twice while
// its lease holds, nor lose one.
package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func concurrencyTests() []test {
	return []test{
		{"InsertAndClaimAtOnce", testInsertAndClaim},
		{"SameKeysInOtherOrders", testSameKeysInOtherOrders},
	}
}

// testSameKeysInOtherOrders inserts, at once, batches that carry the same
// idempotency keys in opposite orders, as two nodes (or one node's two
// group commits) may. Every insert must succeed (no deadlock between
// them), and every key must end up with exactly one event.
func testSameKeysInOtherOrders(t *testing.T, f *fixture) {
	const rounds, keys = 20, 5
	s := f.newSub("")
	batch := func(round int, reverse bool) []store.NewEvent {
		var nes []store.NewEvent
		for k := range keys {
			if reverse {
				k = keys - 1 - k
			}
			ne := f.routed(f.newEvent(t0), s)
			ne.IdempotencyKey, ne.IdempotencySince = fmt.Sprintf("order-%d-%d", round, k), t0.Add(-time.Hour)
			nes = append(nes, ne)
		}
		return nes
	}
	for round := range rounds {
		a, b := batch(round, false), batch(round, true)
		var wg sync.WaitGroup
		results := make([][]store.InsertResult, 2)
		errs := make([]error, 2)
		for i, nes := range [][]store.NewEvent{a, b} {
			wg.Go(func() { results[i], errs[i] = f.s.InsertEvents(f.ctx, nes) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, batch %d: InsertEvents: %v", round, i, err)
			}
		}
		// Key k is a[k] and b[keys-1-k]: one of the two is the first, the
		// other a duplicate answering with the first's event.
		for k := range keys {
			ra, rb := results[0][k], results[1][keys-1-k]
			if ra.Duplicate == rb.Duplicate || ra.Event.ID != rb.Event.ID {
				t.Errorf("round %d, key %d: answers %s (duplicate %v) and %s (duplicate %v), want one event, once new",
					round, k, ra.Event.ID, ra.Duplicate, rb.Event.ID, rb.Duplicate)
			}
		}
	}
}

func testInsertAndClaim(t *testing.T, f *fixture) {
	const (
		inserters = 6
		batches   = 20
		perBatch  = 4
		claimers  = 4
	)
	subs := []*store.Subscription{f.newSub(""), f.newSub("")}
	now := at(time.Hour)

	// Build every batch up front: the fixture's helpers are not safe for
	// concurrent use, the store is.
	work := make([][]store.NewEvent, inserters*batches)
	want := map[string]bool{}
	for i := range work {
		for range perBatch {
			ne := f.routed(f.newEvent(t0), subs...)
			for _, d := range ne.Deliveries {
				want[d.ID] = true
			}
			work[i] = append(work[i], ne)
		}
	}

	var (
		errs     = make(chan error, inserters+claimers)
		inserted atomic.Bool
		iwg, cwg sync.WaitGroup
		mu       sync.Mutex
		claimed  = map[string]string{} // delivery id → owner
		dups     []string
		sending  int
	)
	for i := range inserters {
		iwg.Go(func() {
			for b := i; b < len(work); b += inserters {
				if _, err := f.s.InsertEvents(f.ctx, work[b]); err != nil {
					errs <- fmt.Errorf("InsertEvents: %w", err)
					return
				}
			}
		})
	}
	for c := range claimers {
		owner := fmt.Sprintf("node-%d", c)
		cwg.Go(func() {
			for n := 0; ; n++ {
				done := inserted.Load()
				cds, err := f.s.ClaimDeliveries(f.ctx, store.Claim{Owner: owner, Now: now, LeaseUntil: now.Add(time.Hour),
					Limit: 7})
				if err != nil {
					errs <- fmt.Errorf("ClaimDeliveries: %w", err)
					return
				}
				if len(cds) == 0 {
					if done {
						return // everything was inserted before this claim began
					}
					time.Sleep(time.Millisecond)
					continue
				}
				// Finish every other batch, so that writes of outcomes
				// contend with claims and inserts; the rest stay leased.
				var outs []store.Outcome
				mu.Lock()
				for _, cd := range cds {
					if prev, ok := claimed[cd.Delivery.ID]; ok {
						dups = append(dups, fmt.Sprintf("%s by %s and %s", cd.Delivery.ID, prev, owner))
					}
					claimed[cd.Delivery.ID] = owner
					if cd.Event.ID != cd.Delivery.EventID {
						dups = append(dups, fmt.Sprintf("%s came with event %s", cd.Delivery.ID, cd.Event.ID))
					}
					if n%2 == 0 {
						sending++
						continue
					}
					outs = append(outs, store.Outcome{DeliveryID: cd.Delivery.ID, SubscriptionID: cd.Delivery.SubscriptionID,
						Status: store.DeliverySucceeded, Success: true, Attempt: &store.Attempt{
							ID: newID("att_"), DeliveryID: cd.Delivery.ID, EventID: cd.Event.ID, EventType: cd.Event.Type,
							SubscriptionID: cd.Delivery.SubscriptionID, WorkspaceID: cd.Delivery.WorkspaceID,
							CreatedAt: now, Response: &store.AttemptResponse{Status: 204}, Succeeded: true}})
				}
				mu.Unlock()
				if len(outs) > 0 {
					if _, err := f.s.CompleteDeliveries(f.ctx, now, outs); err != nil {
						errs <- fmt.Errorf("CompleteDeliveries: %w", err)
						return
					}
				}
			}
		})
	}
	iwg.Wait()
	inserted.Store(true)
	finished := make(chan struct{})
	go func() { cwg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("claimers did not drain the queue within 2 minutes")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for _, d := range dups {
		t.Errorf("claimed twice: %s", d)
	}
	missing := 0
	for id := range want {
		if _, ok := claimed[id]; !ok {
			missing++
		}
	}
	if missing > 0 || len(claimed) != len(want) {
		t.Errorf("claimed %d distinct deliveries of %d; %d never claimed", len(claimed), len(want), missing)
	}
	if n := f.queueDepth(); n != int64(sending) {
		t.Errorf("queue depth %d, want the %d still leased", n, sending)
	}
	wantIDs(t, "claimable at the end", f.claimIDs(now, 10), nil)
}
