// Events: the group-commit insert of events with their deliveries, and reads.
package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/postbode/postbode/internal/store"
)

// InsertEvents writes a batch of events, their deliveries and idempotency
// keys in one transaction.
func (db *DB) InsertEvents(ctx context.Context, events []store.NewEvent) ([]store.InsertResult, error) {
	out := make([]store.InsertResult, len(events))
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		insEvent := prepare(tx, `INSERT INTO events (id, workspace_id, type, label, data, user_id, subject, created_at,
			trace_parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		insDelivery := prepare(tx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id,
			status, next_attempt_at, lease_owner, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		// Routing was decided from a cache: a subscription deleted since gets
		// no delivery, and one no longer active gets it held. This
		// transaction holds the only writer, so the statuses read here stay
		// true until it commits.
		active, err := subscriptionStates(ctx, tx, events)
		if err != nil {
			return err
		}
		msgs := &messageWriter{tx: tx}
		for i := range events {
			ne := &events[i]
			e := &ne.Event
			if ne.IdempotencyKey != "" {
				first, err := claimIdempotencyKey(ctx, tx, ne)
				if err != nil {
					return err
				}
				if first != nil {
					out[i] = store.InsertResult{Event: *first, Duplicate: true}
					continue
				}
			}
			if _, err := insEvent.ExecContext(ctx, e.ID, e.WorkspaceID, e.Type, e.Label, string(e.Data),
				nullString(e.UserID), nullString(e.Subject), micros(e.CreatedAt), emptyNull(e.TraceParent)); err != nil {
				return err
			}
			out[i] = store.InsertResult{Event: *e}
			for _, d := range ne.Deliveries {
				isActive, exists := active[d.SubscriptionID]
				if !exists {
					continue // the subscription is gone
				}
				if !isActive {
					if d.Status == store.DeliveryPending || d.Status == store.DeliverySending {
						d.Status, d.NextAttemptAt = store.DeliveryHeld, nil
					}
					d.LeaseOwner, d.LeaseUntil = "", nil
				}
				var owner any
				if d.LeaseOwner != "" {
					owner = d.LeaseOwner
				}
				if _, err := insDelivery.ExecContext(ctx, d.ID, e.WorkspaceID, e.ID, d.SubscriptionID, d.Status,
					nullMicros(d.NextAttemptAt), owner, nullMicros(d.LeaseUntil), micros(d.CreatedAt), micros(d.CreatedAt)); err != nil {
					return err
				}
				if d.Status == store.DeliverySending {
					out[i].Leased = append(out[i].Leased, d.ID)
				}
			}
			if len(ne.Messages) > 0 {
				if err := msgs.write(ctx, e, ne.Messages, active); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// subscriptionStates reads whether each subscription the batch routes to
// exists (a key) and is active (its value).
func subscriptionStates(ctx context.Context, tx *sql.Tx, events []store.NewEvent) (map[string]bool, error) {
	var ids []any
	seen := map[string]bool{}
	for i := range events {
		for _, d := range events[i].Deliveries {
			if !seen[d.SubscriptionID] {
				seen[d.SubscriptionID] = true
				ids = append(ids, d.SubscriptionID)
			}
		}
		for _, m := range events[i].Messages {
			if !seen[m.SubscriptionID] {
				seen[m.SubscriptionID] = true
				ids = append(ids, m.SubscriptionID)
			}
		}
	}
	states := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		rows, err := tx.QueryContext(ctx, `SELECT id, status = 'active' FROM subscriptions WHERE id IN (`+
			placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var active bool
			if err := rows.Scan(&id, &active); err != nil {
				rows.Close()
				return nil, err
			}
			states[id] = active
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return states, nil
}

// claimIdempotencyKey returns the first event stored under ne's key within
// its window, or records the key for ne's event and returns nil.
func claimIdempotencyKey(ctx context.Context, tx *sql.Tx, ne *store.NewEvent) (*store.Event, error) {
	var eventID string
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT event_id, created_at FROM idempotency_keys WHERE workspace_id = ? AND key = ?`,
		ne.Event.WorkspaceID, ne.IdempotencyKey).Scan(&eventID, &created)
	switch {
	case err == nil && created >= micros(ne.IdempotencySince):
		e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, eventID))
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		// The first event is gone (retention): the key is free again.
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (workspace_id, key, event_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at`,
		ne.Event.WorkspaceID, ne.IdempotencyKey, ne.Event.ID, micros(ne.Event.CreatedAt))
	return nil, err
}

const eventColumns = `id, workspace_id, type, label, data, user_id, subject, created_at, trace_parent`

func scanEvent(row interface{ Scan(...any) error }) (*store.Event, error) {
	var e store.Event
	var data string
	var userID, subject, traceParent sql.NullString
	var created int64
	if err := row.Scan(&e.ID, &e.WorkspaceID, &e.Type, &e.Label, &data, &userID, &subject, &created, &traceParent); err != nil {
		return nil, notFound(err)
	}
	e.Data = []byte(data)
	e.UserID, e.Subject = stringPtr(userID), stringPtr(subject)
	e.TraceParent = traceParent.String
	e.CreatedAt = fromMicros(created)
	return &e, nil
}

const deliveryColumns = `id, workspace_id, event_id, subscription_id, status, attempts, next_attempt_at, last_error,
	created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (*store.Delivery, error) {
	var d store.Delivery
	var next sql.NullInt64
	var created, updated int64
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.EventID, &d.SubscriptionID, &d.Status, &d.Attempts, &next,
		&d.LastError, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	d.NextAttemptAt = timePtr(next)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

// GetEvent returns an event of a workspace with its deliveries.
func (db *DB) GetEvent(ctx context.Context, workspaceID, id string) (*store.Event, []store.Delivery, error) {
	e, err := scanEvent(db.r.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ? AND workspace_id = ?`,
		id, workspaceID))
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	ds := []store.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, nil, err
		}
		ds = append(ds, *d)
	}
	return e, ds, rows.Err()
}

// ListEvents pages a workspace's events newest first, by the
// events_workspace index; data over store.ListBodyLimit bytes is left out.
func (db *DB) ListEvents(ctx context.Context, workspaceID string, f store.EventFilter, p store.Page) ([]store.Event, error) {
	q := `SELECT id, workspace_id, type, label,
		CASE WHEN octet_length(data) <= ? THEN data END, user_id, subject, created_at
		FROM events WHERE workspace_id = ?`
	args := []any{store.ListBodyLimit, workspaceID}
	if p.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, p.Cursor)
	}
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.Subject != "" {
		q += ` AND subject = ?`
		args = append(args, f.Subject)
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, micros(f.Until))
	}
	return queryAll(ctx, db.r, func(row interface{ Scan(...any) error }) (*store.Event, error) {
		var e store.Event
		var data, userID, subject sql.NullString
		var created int64
		if err := row.Scan(&e.ID, &e.WorkspaceID, &e.Type, &e.Label, &data, &userID, &subject, &created); err != nil {
			return nil, err
		}
		if data.Valid {
			e.Data = []byte(data.String)
		} else {
			e.DataTruncated = true
		}
		e.UserID, e.Subject = stringPtr(userID), stringPtr(subject)
		e.CreatedAt = fromMicros(created)
		return &e, nil
	}, q+` ORDER BY id DESC LIMIT ?`, append(args, p.Size())...)
}
