package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
	"github.com/postbode/postbode/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	db, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, open)
}

// TestAnnounceReachesOtherNodes announces through one store handle, as one
// node, and hears it on another's Listen.
func TestAnnounceReachesOtherNodes(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	var nodes [2]*postgres.DB
	for i := range nodes {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	hear := listen(t, ctx, nodes[0], nodes[1])
	want := store.Notification{UserID: "usr_" + time.Now().Format("150405.000000")}
	if err := nodes[1].Announce(ctx, want); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	if !hear(want, time.Second) {
		t.Errorf("Listen did not hear %+v within a second", want)
	}
}

func TestWorkspaceCascade(t *testing.T) {
	storetest.WorkspaceCascade(t, func(t *testing.T) (store.Store, func(context.Context, string) error) {
		url := pgtest.URL(t)
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, func(ctx context.Context, id string) error {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, `DELETE FROM workspaces WHERE id = $1`, id)
			return err
		}
	})
}

func BenchmarkHotPath(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		db, err := postgres.Open(context.Background(), pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}

// listen makes listener Listen until the test ends and returns a function
// that waits, up to within, for a notification equal to want. Listen gives
// no sign that it is listening: until it hears something, announcer
// announces a warm-up.
func listen(t *testing.T, ctx context.Context, listener, announcer store.Store) func(want store.Notification, within time.Duration) bool {
	t.Helper()
	heard := make(chan store.Notification, 100)
	listenCtx, cancel := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		listener.Listen(listenCtx, func(n store.Notification) {
			select {
			case heard <- n:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-listening })
	hear := func(want store.Notification, within time.Duration) bool {
		deadline := time.After(within)
		for {
			select {
			case n := <-heard:
				if n == want {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	warmUp := store.Notification{UserID: "usr_warm_up"}
	for i := 0; !hear(warmUp, 100*time.Millisecond); i++ {
		if i == 50 {
			t.Fatal("Listen heard nothing within 5s")
		}
		if err := announcer.Announce(ctx, warmUp); err != nil {
			t.Fatalf("Announce: %v", err)
		}
	}
	return hear
}
