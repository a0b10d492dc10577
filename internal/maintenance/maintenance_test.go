package maintenance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
	"github.com/postbode/postbode/internal/store/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func engines(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			db, err := sqlite.Open(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T) store.Store {
			db, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
}

// TestRound checks one round's work: expired leases back to the queue,
// finished events past retention deleted, everything else kept.
func TestRound(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			ws := &store.Workspace{ID: "ws_1", Name: "w", CreatedAt: now}
			must(t, s.CreateWorkspace(ctx, ws, ""))
			sub := &store.Subscription{ID: "sub_1", WorkspaceID: ws.ID, Name: "s", Mode: "push", URL: "http://x",
				EventTypes: []string{"*"}, Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
				Headers: map[string]string{}, SignatureScheme: "standard", SignatureHeader: "X-Sig", Secret: "whsec_x",
				TimeoutSeconds: 10, FailureThreshold: 5, CreatedAt: now, UpdatedAt: now}
			must(t, s.CreateSubscription(ctx, sub))

			old, recent := now.Add(-40*24*time.Hour), now.Add(-time.Hour)
			expired := now.Add(-time.Minute)
			event := func(id string, at time.Time, status string, lease *time.Time) store.NewEvent {
				d := store.Delivery{ID: "dlv_" + id, SubscriptionID: sub.ID, Status: status, CreatedAt: at}
				if status == store.DeliveryPending || status == store.DeliverySending {
					d.NextAttemptAt = &at
				}
				if lease != nil {
					d.LeaseOwner, d.LeaseUntil = "dead-node", lease
				}
				return store.NewEvent{Event: store.Event{ID: "evt_" + id, WorkspaceID: ws.ID, Type: "t", Label: "T",
					Data: []byte(`{}`), CreatedAt: at}, Deliveries: []store.Delivery{d}}
			}
			_, err := s.InsertEvents(ctx, []store.NewEvent{
				event("old_done", old, store.DeliverySucceeded, nil),
				event("old_held", old, store.DeliveryHeld, nil),
				event("recent_done", recent, store.DeliverySucceeded, nil),
				event("orphan", recent, store.DeliverySending, &expired),
			})
			must(t, err)

			released := false
			var leading bool
			r := &Runner{Store: s, Owner: "node-1", Retention: 30 * 24 * time.Hour, Log: quiet,
				Released: func() { released = true }, Leading: func(l bool) { leading = l }}
			r.Round(ctx)
			if !leading || !released {
				t.Errorf("leading %v, released %v; want both", leading, released)
			}
			for id, want := range map[string]bool{"old_done": false, "old_held": true, "recent_done": true, "orphan": true} {
				_, ds, err := s.GetEvent(ctx, ws.ID, "evt_"+id)
				if exists := !errors.Is(err, store.ErrNotFound); exists != want {
					t.Errorf("event %s exists %v, want %v (%v)", id, exists, want, err)
				}
				if id == "orphan" && (len(ds) != 1 || ds[0].Status != store.DeliveryPending) {
					t.Errorf("the expired lease's delivery: %+v, want it pending again", ds)
				}
			}
		})
	}
}

// TestOneLeader checks that two nodes on one store do not both lead.
func TestOneLeader(t *testing.T) {
	ctx := context.Background()
	s := engines(t)["postgres"](t)
	var a, b bool
	ra := &Runner{Store: s, Owner: "node-a", Log: quiet, Leading: func(l bool) { a = l }}
	rb := &Runner{Store: s, Owner: "node-b", Log: quiet, Leading: func(l bool) { b = l }}
	ra.Round(ctx)
	rb.Round(ctx)
	ra.Round(ctx) // renewing
	if !a || b {
		t.Errorf("node-a leads %v, node-b leads %v; want only node-a", a, b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
