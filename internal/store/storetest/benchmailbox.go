// The mailbox benchmark, shared by every engine: messages published, then
// claimed by 8 claimers taking 100 at a time and acknowledged, as consumers
// of a pull subscription do (the target: 20,000 a second
// on SQLite).
//
//	func BenchmarkMailbox(b *testing.B) { storetest.BenchMailbox(b, openFresh) }
//
// b.N counts messages.
package storetest

import (
	"cmp"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// BenchMailbox runs the mailbox benchmark on a fresh store: acknowledged
// one by one (each its own transaction), and a claim's worth at a time
// (AckMessages: the group commit a service can make of concurrent
// acknowledgements).
func BenchMailbox(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("AckEach", func(b *testing.B) { benchMailbox(b, open(b), true) })
	b.Run("AckBatch", func(b *testing.B) { benchMailbox(b, open(b), false) })
}

func benchMailbox(b *testing.B, s store.Store, one bool) {
	const claimers, count = 8, 100
	ctx := b.Context()
	now := time.Now().UTC()
	u := &store.User{ID: newID("usr_"), Email: "bench@example.com", Name: "Bench", Role: "member", Status: "active", CreatedAt: now}
	benchMust(b, s.CreateUser(ctx, u))
	ws := &store.Workspace{ID: newID("ws_"), Name: "Bench", CreatedAt: now}
	benchMust(b, s.CreateWorkspace(ctx, ws, u.ID))
	sub := &store.Subscription{
		ID: newID("sub_"), WorkspaceID: ws.ID, Name: "Mailbox", Mode: store.ModePull, EventTypes: []string{"*"},
		Status: store.SubscriptionActive, Payload: "full", Format: "envelope", Headers: map[string]string{},
		SignatureScheme: "standard", SignatureHeader: "X-Postbode-Signature", Secret: "whsec_c2VjcmV0",
		TimeoutSeconds: 10, FailureThreshold: 5, Auth: store.AuthBearer, CreatedAt: now, UpdatedAt: now,
	}
	benchMust(b, s.CreateSubscription(ctx, sub))
	data := []byte(`{"invoice":"` + fmt.Sprint(now.UnixNano()) + `"}`)

	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		n := min(benchBatch, b.N-done)
		batch := make([]store.NewEvent, n)
		t := time.Now()
		for i := range batch {
			e := store.Event{ID: newID("evt_"), WorkspaceID: ws.ID, Type: "invoice.paid", Label: "Invoice paid", Data: data, CreatedAt: t}
			batch[i] = store.NewEvent{Event: e, Messages: []store.MailboxMessage{{ID: newID("msg_"), SubscriptionID: sub.ID}}}
		}
		_, err := s.InsertEvents(ctx, batch)
		benchMust(b, err)
		done += n
	}
	insert := time.Since(start)

	start = time.Now()
	var handled atomic.Int64
	var claimTime, ackTime atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for c := range claimers {
		wg.Go(func() {
			for round := 0; ; round++ {
				t := time.Now()
				lease := fmt.Sprintf("bench-%d-%d", c, round)
				cms, err := s.ClaimMessages(ctx, store.MailboxClaim{WorkspaceID: ws.ID, SubscriptionID: sub.ID, Count: count,
					Now: t, LeaseUntil: t.Add(time.Minute), LeaseID: lease})
				if err != nil {
					failed.Store(err)
					return
				}
				claimTime.Add(int64(time.Since(t)))
				if len(cms) == 0 {
					return
				}
				t = time.Now()
				acks := make([]store.MailboxAck, len(cms))
				for i, cm := range cms {
					acks[i] = store.MailboxAck{WorkspaceID: ws.ID, SubscriptionID: sub.ID, MessageID: cm.Message.ID,
						LeaseID: lease, Action: store.AckSuccess, Now: t}
				}
				if one {
					for _, a := range acks {
						if _, err := s.AckMessage(ctx, a); err != nil {
							failed.Store(err)
							return
						}
					}
				} else {
					res, err := s.AckMessages(ctx, acks)
					if err == nil {
						for _, r := range res {
							err = cmp.Or(err, r.Err)
						}
					}
					if err != nil {
						failed.Store(err)
						return
					}
				}
				ackTime.Add(int64(time.Since(t)))
				handled.Add(int64(len(cms)))
			}
		})
	}
	wg.Wait()
	work := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if int(handled.Load()) != b.N {
		b.Fatalf("handled %d of %d messages", handled.Load(), b.N)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(insert), "insert-µs/op")
	// Claim and ack times are summed over the claimers, which run at once.
	b.ReportMetric(per(time.Duration(claimTime.Load())), "claim-µs/op")
	b.ReportMetric(per(time.Duration(ackTime.Load())), "ack-µs/op")
	b.ReportMetric(float64(b.N)/work.Seconds(), "claimed+acked/s")
}
