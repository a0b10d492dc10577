// The cluster part of the Store for an engine that lives in one process:
// there is nobody to notify and nobody to compete with for leadership.
package sqlite

import (
	"context"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// Listen waits for ctx to end: a SQLite data directory has one process, which
// sees its own changes directly.
func (db *DB) Listen(ctx context.Context, fn func(store.Notification)) error {
	<-ctx.Done()
	return nil
}

// TryLead always succeeds: the process holding the data directory is the
// only node.
func (db *DB) TryLead(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return true, nil
}

// Prune deletes old finished events with their deliveries and attempts, and
// expired idempotency keys.
func (db *DB) Prune(ctx context.Context, before, keysBefore time.Time, limit int) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e WHERE e.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending', 'held'))
		ORDER BY e.created_at LIMIT ?)`, micros(before), limit)
	if err != nil {
		return 0, err
	}
	if _, err := db.w.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, micros(keysBefore)); err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
