// Tests of the SQLite engine: the shared conformance suite on a fresh data
// directory per subtest, and what only this engine promises: one process
// per data directory, and a restart handing every lease of the previous
// process straight back to the queue.
package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	})
}

func TestDataDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	second, err := Open(t.Context(), dir)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of the same data dir succeeded")
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: %q, want an error naming the dir and saying it is in use", err)
	}
	// The failed Open must not have taken the lock away from the first.
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping of the first store: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Closing releases the directory.
	again, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

func TestOpenReleasesPreviousLeases(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ws := &store.Workspace{ID: "ws_1", Name: "w", CreatedAt: now}
	must(t, db.CreateWorkspace(ctx, ws, ""))
	sub := &store.Subscription{ID: "sub_1", WorkspaceID: ws.ID, Name: "s", Mode: "push", URL: "https://example.com",
		EventTypes: []string{"*"}, Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
		Headers: map[string]string{}, SignatureScheme: "standard", Secret: "whsec_eA==", TimeoutSeconds: 10,
		FailureThreshold: 5, CreatedAt: now, UpdatedAt: now}
	must(t, db.CreateSubscription(ctx, sub))
	var nes []store.NewEvent
	for i := range 3 {
		id := string(rune('a' + i))
		nes = append(nes, store.NewEvent{
			Event: store.Event{ID: "evt_" + id, WorkspaceID: ws.ID, Type: "t", Label: "T", Data: []byte(`{}`), CreatedAt: now},
			Deliveries: []store.Delivery{{ID: "dlv_" + id, SubscriptionID: sub.ID, Status: store.DeliveryPending,
				NextAttemptAt: &now, CreatedAt: now}},
		})
	}
	_, err = db.InsertEvents(ctx, nes)
	must(t, err)
	// Claimed under a lease that would hold for an hour; the process then
	// stops without completing them.
	claimed, err := db.ClaimDeliveries(ctx, store.Claim{Owner: "node-1", Now: now, LeaseUntil: now.Add(time.Hour), Limit: 2})
	must(t, err)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d, want 2", len(claimed))
	}
	must(t, db.Close())

	db, err = Open(ctx, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	for _, cd := range claimed {
		_, ds, err := db.GetEvent(ctx, ws.ID, cd.Delivery.EventID)
		must(t, err)
		if len(ds) != 1 || ds[0].Status != store.DeliveryPending {
			t.Errorf("event %s after reopen: %d deliveries, want one pending", cd.Delivery.EventID, len(ds))
			for _, d := range ds {
				t.Logf("delivery %s: %s", d.ID, d.Status)
			}
		}
	}
	again, err := db.ClaimDeliveries(ctx, store.Claim{Owner: "node-2", Now: now, LeaseUntil: now.Add(time.Hour), Limit: 10})
	must(t, err)
	if len(again) != 3 {
		t.Errorf("claimed %d after reopen, want all 3", len(again))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkHotPath(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		db, err := Open(b.Context(), b.TempDir())
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}

func TestWorkspaceCascade(t *testing.T) {
	storetest.WorkspaceCascade(t, func(t *testing.T) (store.Store, func(context.Context, string) error) {
		db, err := Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, func(ctx context.Context, id string) error {
			_, err := db.w.ExecContext(ctx, `DELETE FROM workspaces WHERE id = ?`, id)
			return err
		}
	})
}
