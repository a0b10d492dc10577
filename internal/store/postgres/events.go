// Events: the group-commit insert of events with their deliveries (COPY),
// and reads.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

// InsertEvents writes a batch of events, their deliveries and idempotency
// keys in one transaction: keyed events one by one (the key decides whether
// they are written at all), the other events and all deliveries with COPY.
func (db *DB) InsertEvents(ctx context.Context, events []store.NewEvent) (_ []store.InsertResult, err error) {
	defer unavailable(&err)
	out := make([]store.InsertResult, len(events))
	err = db.tx(ctx, func(tx pgx.Tx) error {
		// Keys first, in (workspace, key) order: claiming one locks its row
		// until commit, and two transactions (another node's, or this
		// node's other group commit) claiming the same keys in different
		// orders would deadlock. The sort is stable, so of two events with
		// one key the first in the batch wins, as it would in batch order.
		var keyed []int
		for i := range events {
			if events[i].IdempotencyKey != "" {
				keyed = append(keyed, i)
			}
		}
		slices.SortStableFunc(keyed, func(a, b int) int {
			ea, eb := &events[a], &events[b]
			return cmp.Or(strings.Compare(ea.Event.WorkspaceID, eb.Event.WorkspaceID),
				strings.Compare(ea.IdempotencyKey, eb.IdempotencyKey))
		})
		pending := map[string]*store.Event{}
		for _, i := range keyed {
			ne := &events[i]
			first, err := claimIdempotencyKey(ctx, tx, ne, pending)
			if err != nil {
				return err
			}
			if first != nil {
				out[i] = store.InsertResult{Event: *first, Duplicate: true}
				continue
			}
			pending[ne.Event.ID] = &ne.Event
		}
		var eventRows [][]any
		var subIDs []string
		for i := range events {
			if out[i].Duplicate {
				continue
			}
			e := &events[i].Event
			eventRows = append(eventRows, []any{e.ID, e.WorkspaceID, e.Type, e.Label, string(e.Data), e.UserID, e.Subject,
				e.CreatedAt, emptyNull(e.TraceParent)})
			for _, d := range events[i].Deliveries {
				subIDs = append(subIDs, d.SubscriptionID)
			}
			for _, m := range events[i].Messages {
				subIDs = append(subIDs, m.SubscriptionID)
			}
			out[i] = store.InsertResult{Event: *e}
		}
		if len(eventRows) > 0 {
			if err := insertRows(ctx, tx, "events", eventColumnTypes, eventRows); err != nil {
				return err
			}
		}
		if len(subIDs) == 0 {
			return nil
		}
		// Routing was decided from a cache: a subscription deleted since gets
		// no delivery, and one no longer active gets it held. Share-locked in
		// id order (see CompleteDeliveries), the subscriptions keep the status
		// read here until commit: an enable or disable committing meanwhile
		// either waits for this insert, or is what this reads.
		slices.Sort(subIDs)
		rows, err := tx.Query(ctx, `SELECT id, status = 'active' FROM subscriptions WHERE id = ANY($1) ORDER BY id FOR SHARE`,
			slices.Compact(subIDs))
		if err != nil {
			return err
		}
		active := map[string]bool{} // absent: deleted
		var id string
		var isActive bool
		if _, err := pgx.ForEachRow(rows, []any{&id, &isActive}, func() error {
			active[id] = isActive
			return nil
		}); err != nil {
			return err
		}
		var deliveryRows [][]any
		queued := false // a delivery any node's claimer may take
		for i := range events {
			if out[i].Duplicate {
				continue
			}
			e := &events[i].Event
			for _, d := range events[i].Deliveries {
				isActive, exists := active[d.SubscriptionID]
				if !exists {
					continue
				}
				if !isActive {
					if d.Status == store.DeliveryPending || d.Status == store.DeliverySending {
						d.Status, d.NextAttemptAt = store.DeliveryHeld, nil
					}
					d.LeaseOwner, d.LeaseUntil = "", nil
				}
				var owner *string
				if d.LeaseOwner != "" {
					owner = &d.LeaseOwner
				}
				deliveryRows = append(deliveryRows, []any{d.ID, e.WorkspaceID, e.ID, d.SubscriptionID, d.Status,
					d.NextAttemptAt, owner, d.LeaseUntil, d.CreatedAt, d.CreatedAt})
				queued = queued || d.Status == store.DeliveryPending
				if d.Status == store.DeliverySending {
					out[i].Leased = append(out[i].Leased, d.ID)
				}
			}
		}
		if err := insertRows(ctx, tx, "deliveries", deliveryColumnTypes, deliveryRows); err != nil {
			return err
		}
		if err := writeMessages(ctx, tx, events, out, active); err != nil {
			return err
		}
		// Wake every node's claimer, when there is something to claim: a
		// delivery written sending was handed to this node's dispatcher,
		// and waking the others for it would only have them read that
		// nothing is due. PostgreSQL sends it on commit, once per transaction.
		if !queued {
			return nil
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'd')`, notifyChannel)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimIdempotencyKey returns the first event stored under ne's key within
// its window, or records the key for ne's event and returns nil. pending
// holds this batch's events, not yet copied in. A key being written by
// another node's open transaction makes this wait for it.
func claimIdempotencyKey(ctx context.Context, tx pgx.Tx, ne *store.NewEvent, pending map[string]*store.Event) (*store.Event, error) {
	var owner string
	err := tx.QueryRow(ctx, `INSERT INTO idempotency_keys (workspace_id, key, event_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at
		WHERE idempotency_keys.created_at < $5
		RETURNING event_id`,
		ne.Event.WorkspaceID, ne.IdempotencyKey, ne.Event.ID, ne.Event.CreatedAt, ne.IdempotencySince).Scan(&owner)
	if err == nil {
		return nil, nil // ours
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if err := tx.QueryRow(ctx, `SELECT event_id FROM idempotency_keys WHERE workspace_id = $1 AND key = $2`,
		ne.Event.WorkspaceID, ne.IdempotencyKey).Scan(&owner); err != nil {
		return nil, err
	}
	if e, ok := pending[owner]; ok {
		return e, nil
	}
	e, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, owner))
	if !errors.Is(err, store.ErrNotFound) {
		return e, err
	}
	// The first event is gone (retention): the key is free again.
	_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET event_id = $1, created_at = $2 WHERE workspace_id = $3 AND key = $4`,
		ne.Event.ID, ne.Event.CreatedAt, ne.Event.WorkspaceID, ne.IdempotencyKey)
	return nil, err
}

const eventColumns = `id, workspace_id, type, label, data, user_id, subject, created_at, trace_parent`

func scanEvent(row scanner) (*store.Event, error) {
	var e store.Event
	var data string
	var traceParent *string
	if err := row.Scan(&e.ID, &e.WorkspaceID, &e.Type, &e.Label, &data, &e.UserID, &e.Subject, &e.CreatedAt,
		&traceParent); err != nil {
		return nil, notFound(err)
	}
	e.Data = []byte(data)
	if traceParent != nil {
		e.TraceParent = *traceParent
	}
	e.CreatedAt = utc(e.CreatedAt)
	return &e, nil
}

const deliveryColumns = `id, workspace_id, event_id, subscription_id, status, attempts, next_attempt_at, last_error,
	created_at, updated_at`

func scanDelivery(row scanner) (*store.Delivery, error) {
	var d store.Delivery
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.EventID, &d.SubscriptionID, &d.Status, &d.Attempts, &d.NextAttemptAt,
		&d.LastError, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	d.NextAttemptAt = utcPtr(d.NextAttemptAt)
	d.CreatedAt, d.UpdatedAt = utc(d.CreatedAt), utc(d.UpdatedAt)
	return &d, nil
}

// emptyNull stores an empty string as NULL.
func emptyNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// GetEvent returns an event of a workspace with its deliveries.
func (db *DB) GetEvent(ctx context.Context, workspaceID, id string) (_ *store.Event, _ []store.Delivery, err error) {
	defer unavailable(&err)
	e, err := scanEvent(db.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1 AND workspace_id = $2`,
		id, workspaceID))
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, nil, err
	}
	ds, err := collect(rows, scanDelivery)
	if ds == nil {
		ds = []store.Delivery{}
	}
	return e, ds, err
}

// ListEvents pages a workspace's events newest first, by the
// events_workspace index; data over store.ListBodyLimit bytes is left out.
func (db *DB) ListEvents(ctx context.Context, workspaceID string, f store.EventFilter, p store.Page) (_ []store.Event, err error) {
	defer unavailable(&err)
	q := `SELECT id, workspace_id, type, label,
		CASE WHEN octet_length(data) <= $1 THEN data END, user_id, subject, created_at
		FROM events WHERE workspace_id = $2`
	args := []any{store.ListBodyLimit, workspaceID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(cond, len(args))
	}
	if p.Cursor != "" {
		add(` AND id < $%d`, p.Cursor)
	}
	if f.Type != "" {
		add(` AND type = $%d`, f.Type)
	}
	if f.Subject != "" {
		add(` AND subject = $%d`, f.Subject)
	}
	if !f.Since.IsZero() {
		add(` AND created_at >= $%d`, f.Since)
	}
	if !f.Until.IsZero() {
		add(` AND created_at < $%d`, f.Until)
	}
	add(` ORDER BY id DESC LIMIT $%d`, p.Size())
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row scanner) (*store.Event, error) {
		var e store.Event
		var data *string
		if err := row.Scan(&e.ID, &e.WorkspaceID, &e.Type, &e.Label, &data, &e.UserID, &e.Subject, &e.CreatedAt); err != nil {
			return nil, err
		}
		if data != nil {
			e.Data = []byte(*data)
		} else {
			e.DataTruncated = true
		}
		e.CreatedAt = utc(e.CreatedAt)
		return &e, nil
	})
}

// The columns a publish writes, with their types for unnest.
var (
	eventColumnTypes = [][2]string{{"id", "text"}, {"workspace_id", "text"}, {"type", "text"}, {"label", "text"},
		{"data", "text"}, {"user_id", "text"}, {"subject", "text"}, {"created_at", "timestamptz"}, {"trace_parent", "text"}}
	deliveryColumnTypes = [][2]string{{"id", "text"}, {"workspace_id", "text"}, {"event_id", "text"},
		{"subscription_id", "text"}, {"status", "text"}, {"next_attempt_at", "timestamptz"}, {"lease_owner", "text"},
		{"lease_until", "timestamptz"}, {"created_at", "timestamptz"}, {"updated_at", "timestamptz"}}
)

// copyFrom is the batch size from which COPY writes rows: it costs two
// round trips to the server, an INSERT from arrays one, and an event at a
// time (a modest, steady rate) is what most publishes are.
const copyFrom = 16

// insertRows writes rows (values in the order of columns) into table: a
// few with one INSERT … SELECT FROM unnest of a array per column, many with
// COPY.
func insertRows(ctx context.Context, tx pgx.Tx, table string, columns [][2]string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c[0]
	}
	if len(rows) >= copyFrom {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, pgx.CopyFromRows(rows))
		return err
	}
	args := make([]any, len(columns))
	params := make([]string, len(columns))
	for i, c := range columns {
		col := make([]any, len(rows))
		for j := range rows {
			col[j] = rows[j][i]
		}
		args[i] = col
		params[i] = "$" + strconv.Itoa(i+1) + "::" + c[1] + "[]"
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+pgx.Identifier{table}.Sanitize()+" ("+strings.Join(names, ", ")+
		") SELECT * FROM unnest("+strings.Join(params, ", ")+")", args...)
	return err
}
