// Benchmarks of the store's hot path, shared by every engine like the
// conformance suite: the writes one delivered webhook costs, measured without
// HTTP, so a change to a statement or an index shows up on its own.
//
//	func BenchmarkHotPath(b *testing.B) { storetest.Bench(b, openFresh) }
//
// Each reports µs per delivery for its phases; b.N counts deliveries.
package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// benchBatch is how many events one group commit and one claim carry in
// the benchmarks: a busy node's usual batch.
const benchBatch = 256

// Bench runs the hot-path benchmarks. open must return a fresh, empty,
// migrated store and close it when b ends.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	// Claimed: events stored pending, then claimed, then completed.
	b.Run("Claimed", func(b *testing.B) { benchCycle(b, open(b), false) })
	// HandedOff: events stored already leased to the node (ingest's hand-off), then completed.
	b.Run("HandedOff", func(b *testing.B) { benchCycle(b, open(b), true) })
}

func benchCycle(b *testing.B, s store.Store, handoff bool) {
	ctx := b.Context()
	now := time.Now().UTC()
	u := &store.User{ID: newID("usr_"), Email: "bench@example.com", Name: "Bench", Role: "member", Status: "active", CreatedAt: now}
	benchMust(b, s.CreateUser(ctx, u))
	ws := &store.Workspace{ID: newID("ws_"), Name: "Bench", CreatedAt: now}
	benchMust(b, s.CreateWorkspace(ctx, ws, u.ID))
	sub := &store.Subscription{
		ID: newID("sub_"), WorkspaceID: ws.ID, Name: "Receiver", Mode: "push", URL: "http://127.0.0.1:9/hook",
		EventTypes: []string{"*"}, Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
		Headers: map[string]string{}, SignatureScheme: "standard", SignatureHeader: "X-Postbode-Signature",
		Secret: "whsec_c2VjcmV0", TimeoutSeconds: 10, FailureThreshold: 5, CreatedAt: now, UpdatedAt: now,
	}
	benchMust(b, s.CreateSubscription(ctx, sub))
	const owner = "node_bench"
	data := []byte(`{"invoice":"` + strings.Repeat("x", 256) + `"}`)
	body := `{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":` + string(data) + `}`
	headers := map[string]string{"Content-Type": "application/json", "User-Agent": "Postbode/dev",
		"Webhook-Id": "msg_x", "Webhook-Timestamp": "1767225600", "Webhook-Signature": "v1," + strings.Repeat("A", 44)}

	var insert, claim, complete time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(benchBatch, b.N-done)
		t := time.Now()
		batch := make([]store.NewEvent, n)
		for i := range batch {
			e := store.Event{ID: newID("evt_"), WorkspaceID: ws.ID, Type: "invoice.paid", Label: "Invoice paid", Data: data, CreatedAt: t}
			d := store.Delivery{ID: newID("dlv_"), SubscriptionID: sub.ID, Status: store.DeliveryPending, NextAttemptAt: &t, CreatedAt: t}
			if handoff {
				until := t.Add(time.Minute)
				d.Status, d.LeaseOwner, d.LeaseUntil = store.DeliverySending, owner, &until
			}
			batch[i] = store.NewEvent{Event: e, Deliveries: []store.Delivery{d}}
		}
		_, err := s.InsertEvents(ctx, batch)
		benchMust(b, err)
		insert += time.Since(t)

		t = time.Now()
		var sent []store.ClaimedDelivery
		if handoff {
			for _, ne := range batch {
				sent = append(sent, store.ClaimedDelivery{Delivery: ne.Deliveries[0], Event: ne.Event})
			}
		} else {
			sent, err = s.ClaimDeliveries(ctx, store.Claim{Owner: owner, Now: t, LeaseUntil: t.Add(time.Minute), Limit: n})
			benchMust(b, err)
			if len(sent) != n {
				b.Fatalf("claimed %d of %d", len(sent), n)
			}
			claim += time.Since(t)
		}

		t = time.Now()
		outcomes := make([]store.Outcome, len(sent))
		for i, cd := range sent {
			outcomes[i] = store.Outcome{Owner: owner, DeliveryID: cd.Delivery.ID, SubscriptionID: sub.ID,
				Status: store.DeliverySucceeded, Success: true, Attempt: &store.Attempt{
					ID: newID("att_"), DeliveryID: cd.Delivery.ID, EventID: cd.Event.ID, EventType: cd.Event.Type,
					SubscriptionID: sub.ID, WorkspaceID: ws.ID, CreatedAt: t, DurationMS: 1, Succeeded: true,
					Request:  store.AttemptRequest{URL: sub.URL, Headers: headers, Body: body},
					Response: &store.AttemptResponse{Status: 200, Headers: map[string]string{"Content-Length": "0"}},
				}}
		}
		_, err = s.CompleteDeliveries(ctx, t, outcomes)
		benchMust(b, err)
		complete += time.Since(t)
		done += n
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(insert), "insert-µs/op")
	if !handoff {
		b.ReportMetric(per(claim), "claim-µs/op")
	}
	b.ReportMetric(per(complete), "complete-µs/op")
}

func benchMust(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
