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

// A notification's payload is one or more clauses separated by single
// spaces: "d" (new due deliveries), "s <workspace> <subscription>" (a
// subscription changed), "u <user>" (a user's account or tokens changed),
// "m <subscription>" (messages claimable in a mailbox; "m *": any).
// Ids hold no spaces. Statements that notify in SQL write the same clauses.

// Announce tells every node, this one included, of n. A notification with
// nothing set says nothing, and is not sent.
func (db *DB) Announce(ctx context.Context, n store.Notification) (err error) {
	defer unavailable(&err)
	var f []string
	if n.Deliveries {
		f = append(f, "d")
	}
	if n.SubscriptionID != "" {
		f = append(f, "s", n.WorkspaceID, n.SubscriptionID)
	}
	if n.UserID != "" {
		f = append(f, "u", n.UserID)
	}
	if n.Mailbox != "" {
		f = append(f, "m", n.Mailbox)
	}
	if n.InboundID != "" {
		f = append(f, "i", n.InboundID)
	}
	if len(f) == 0 {
		return nil
	}
	_, err = db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, strings.Join(f, " "))
	return err
}

// announce tells every node that a subscription changed. Best effort: the
// nodes' caches expire on their own within seconds anyway.
func (db *DB) announce(ctx context.Context, workspaceID, subscriptionID string) {
	db.Announce(context.WithoutCancel(ctx), store.Notification{WorkspaceID: workspaceID, SubscriptionID: subscriptionID})
}

// parseNotification reads a payload. One it does not understand (from a
// newer node, say) still wakes the dispatcher: that is always harmless.
func parseNotification(payload string) store.Notification {
	var n store.Notification
	for f := strings.Split(payload, " "); len(f) > 0; {
		switch {
		case f[0] == "d":
			n.Deliveries, f = true, f[1:]
		case f[0] == "s" && len(f) >= 3:
			n.WorkspaceID, n.SubscriptionID, f = f[1], f[2], f[3:]
		case f[0] == "u" && len(f) >= 2:
			n.UserID, f = f[1], f[2:]
		case f[0] == "m" && len(f) >= 2:
			n.Mailbox, f = f[1], f[2:]
		case f[0] == "i" && len(f) >= 2:
			n.InboundID, f = f[1], f[2:]
		default:
			n.Deliveries = true
			return n
		}
	}
	return n
}

// Listen holds one connection in LISTEN and calls fn for every notification
// until ctx ends. After a lost connection it reconnects and calls fn with
// Deliveries set and Mailbox MailboxAny, since notifications may have been
// missed meanwhile.
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
		fn(store.Notification{Deliveries: true, Mailbox: store.MailboxAny})
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
func (db *DB) TryLead(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (_ bool, err error) {
	defer unavailable(&err)
	var holder string
	err = db.pool.QueryRow(ctx, `INSERT INTO leader_leases (name, owner, until) VALUES ($1, $2, $4)
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
func (db *DB) Prune(ctx context.Context, before, keysBefore time.Time, limit int) (_ int, err error) {
	defer unavailable(&err)
	// Events are locked as they are chosen, skipping any another
	// transaction holds (a resend adding a delivery holds its event), so a
	// delivery added meanwhile never goes with an event being pruned.
	tag, err := db.pool.Exec(ctx, `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e WHERE e.created_at < $1
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending', 'held'))
		AND NOT EXISTS (SELECT 1 FROM mailbox_messages m WHERE m.event_id = e.id AND m.status IN ('new', 'claimed'))
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
