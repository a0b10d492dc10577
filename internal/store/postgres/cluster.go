// What makes several nodes one system: notifications between them
// (LISTEN/NOTIFY), named leader leases for singleton jobs, and pruning.
package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

// announce tells every node that a subscription changed. Best effort: the
// nodes' caches expire on their own within seconds anyway.
func (db *DB) announce(ctx context.Context, workspaceID, subscriptionID string) {
	db.pool.Exec(context.WithoutCancel(ctx), `SELECT pg_notify($1, $2)`, notifyChannel, "s "+workspaceID+" "+subscriptionID)
}

// parseNotification reads a payload: "d" (new due deliveries) or
// "s <workspace> <subscription>" (a subscription changed).
func parseNotification(payload string) store.Notification {
	if f := strings.Fields(payload); len(f) == 3 && f[0] == "s" {
		return store.Notification{WorkspaceID: f[1], SubscriptionID: f[2]}
	}
	return store.Notification{Deliveries: true}
}

// Listen holds one connection in LISTEN and calls fn for every notification
// until ctx ends. After a lost connection it reconnects and calls fn with
// Deliveries set, since notifications may have been missed meanwhile.
func (db *DB) Listen(ctx context.Context, fn func(store.Notification)) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		_ = err
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		fn(store.Notification{Deliveries: true})
	}
	return nil
}

func (db *DB) listenOnce(ctx context.Context, fn func(store.Notification)) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "UNLISTEN *")
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(parseNotification(n.Payload))
	}
}

// TryLead makes owner the holder of the named lease until now+ttl if the
// lease is free, expired at now or already owner's, and reports whether
// owner holds it. Nodes' clocks must agree to well within ttl.
func (db *DB) TryLead(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	var holder string
	err := db.pool.QueryRow(ctx, `INSERT INTO leader_leases (name, owner, until) VALUES ($1, $2, $4)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE leader_leases.until <= $3 OR leader_leases.owner = excluded.owner
		RETURNING owner`, name, owner, now, now.Add(ttl)).Scan(&holder)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return false, err
	}
	return holder == owner, nil
}

// Prune deletes, in batches of at most limit, events created before before
// whose deliveries are all finished (with those deliveries and their
// attempts), and idempotency keys older than keysBefore. It returns how many
// events it deleted.
func (db *DB) Prune(ctx context.Context, before, keysBefore time.Time, limit int) (int, error) {
	// Events are locked as they are chosen, skipping any another
	// transaction holds (a resend adding a delivery holds its event), so a
	// delivery added meanwhile never goes with an event being pruned.
	tag, err := db.pool.Exec(ctx, `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e WHERE e.created_at < $1
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending', 'held'))
		ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		before, limit)
	if err != nil {
		return 0, err
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, keysBefore); err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
