// The cluster part of the Store for an engine that lives in one process:
// there is nobody to notify, and leader leases live in memory.
package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// Listen waits for ctx to end: a SQLite data directory has one process, which
// sees its own changes directly.
func (db *DB) Listen(ctx context.Context, fn func(store.Notification)) error {
	<-ctx.Done()
	return nil
}

// Announce does nothing: the only node has seen the change itself.
func (db *DB) Announce(ctx context.Context, n store.Notification) error {
	return nil
}

// leaderLeases are the named leader leases. The process holding the data
// directory is the only node, so memory is the whole truth; they still
// exclude other owners, as the Store's contract says.
type leaderLeases struct {
	mu sync.Mutex
	m  map[string]leaderLease
}

type leaderLease struct {
	owner string
	until time.Time
}

// TryLead gives owner the named lease until now+ttl if it is free, expired
// at now or owner's already.
func (db *DB) TryLead(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	l := &db.leads
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.m[name]; ok && cur.owner != owner && now.Before(cur.until) {
		return false, nil
	}
	if l.m == nil {
		l.m = map[string]leaderLease{}
	}
	l.m[name] = leaderLease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// Prune deletes old finished events with their deliveries and attempts, and
// expired idempotency keys.
func (db *DB) Prune(ctx context.Context, before, keysBefore time.Time, limit int) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e WHERE e.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending', 'held'))
		AND NOT EXISTS (SELECT 1 FROM mailbox_messages m WHERE m.event_id = e.id AND m.status IN ('new', 'claimed'))
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
