// The delivery queue: claiming due deliveries with FOR UPDATE SKIP LOCKED
// under leases, so nodes never wait on each other's rows; writing results
// back in pipelined batches; counting failures toward auto-disable under the
// subscription's row lock, so the count is right across nodes.
package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

// ClaimDeliveries leases up to c.Limit due deliveries to c.Owner and returns
// them with their events.
func (db *DB) ClaimDeliveries(ctx context.Context, c store.Claim) ([]store.ClaimedDelivery, error) {
	skip := c.Skip
	if skip == nil {
		skip = []string{}
	}
	// Lock a window of the earliest due deliveries no other node holds, and
	// from it take at most perSub of each subscription. (Rows locked but not
	// taken are free again when the statement commits.)
	rows, err := db.pool.Query(ctx, `UPDATE deliveries SET status = 'sending', lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE id IN (SELECT id FROM (
			SELECT id, next_attempt_at,
				row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at) AS nth
			FROM (SELECT id, subscription_id, next_attempt_at FROM deliveries
				WHERE status = 'pending' AND next_attempt_at <= $3 AND NOT (subscription_id = ANY($4))
				ORDER BY next_attempt_at LIMIT $6 FOR UPDATE SKIP LOCKED) AS window_
			) AS ranked WHERE nth <= $7 ORDER BY next_attempt_at LIMIT $5)
		RETURNING `+deliveryColumns, c.Owner, c.LeaseUntil, c.Now, skip, c.Limit, 4*c.Limit, c.PerSubscriptionCap())
	if err != nil {
		return nil, err
	}
	ds, err := collect(rows, scanDelivery)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	rows, err = db.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ANY($1)`, store.EventIDs(ds))
	if err != nil {
		return nil, err
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, err
	}
	return store.Attach(ds, events), nil
}

// CompleteDeliveries writes a batch of outcomes in one transaction.
func (db *DB) CompleteDeliveries(ctx context.Context, outcomes []store.Outcome) ([]string, error) {
	var disabled []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		disabled = disabled[:0]
		now := time.Now()
		// Lock the subscriptions this batch counts for, in id order: ingest
		// (FOR SHARE) and other nodes' completers lock them in the same
		// order, so they wait for each other instead of deadlocking.
		var subIDs []string
		for i := range outcomes {
			subIDs = append(subIDs, outcomes[i].SubscriptionID)
		}
		slices.Sort(subIDs)
		if _, err := tx.Exec(ctx, `SELECT id FROM subscriptions WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
			slices.Compact(subIDs)); err != nil {
			return err
		}
		// 1. Delivery rows; one that is gone (deleted meanwhile) records nothing.
		b := &pgx.Batch{}
		for i := range outcomes {
			o := &outcomes[i]
			n := 0
			if o.Attempt != nil {
				n = 1
			}
			var next *time.Time
			if o.Status == store.DeliveryPending {
				next = &o.NextAttemptAt
			}
			b.Queue(`UPDATE deliveries SET status = $1, attempts = attempts + $2, next_attempt_at = $3, last_error = coalesce($4, last_error),
				lease_owner = NULL, lease_until = NULL, updated_at = $5
				WHERE id = $6 AND ($7 = '' OR (status = 'sending' AND lease_owner = $7))`,
				o.Status, n, next, o.LastError(), now, o.DeliveryID, o.Owner)
		}
		live := make([]bool, len(outcomes))
		br := tx.SendBatch(ctx, b)
		for i := range outcomes {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			live[i] = tag.RowsAffected() > 0
		}
		if err := br.Close(); err != nil {
			return err
		}
		// 2. Attempts, with COPY.
		var attemptRows [][]any
		for i := range outcomes {
			if a := outcomes[i].Attempt; a != nil && live[i] {
				attemptRows = append(attemptRows, attemptRow(a))
			}
		}
		if len(attemptRows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"attempts"}, attemptColumns, pgx.CopyFromRows(attemptRows)); err != nil {
				return err
			}
		}
		// 3. Failure counts, in order, under each subscription's row lock.
		retried := map[string]bool{}
		clean := map[string]bool{} // subscriptions whose count is 0 as of now
		for i := range outcomes {
			o := &outcomes[i]
			if !live[i] {
				continue
			}
			if o.Status == store.DeliveryPending {
				retried[o.SubscriptionID] = true
			}
			switch {
			case o.Success:
				// After a success in this batch the count is 0 already.
				if clean[o.SubscriptionID] {
					continue
				}
				clean[o.SubscriptionID] = true
				if _, err := tx.Exec(ctx, `UPDATE subscriptions SET consecutive_failures = 0
					WHERE id = $1 AND consecutive_failures <> 0`, o.SubscriptionID); err != nil {
					return err
				}
			case o.CountFailure || o.Gone:
				delete(clean, o.SubscriptionID)
				var status string
				var reached bool
				err := tx.QueryRow(ctx, `UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1
					WHERE id = $1 RETURNING status, consecutive_failures >= failure_threshold`, o.SubscriptionID).Scan(&status, &reached)
				if err == pgx.ErrNoRows {
					continue
				}
				if err != nil {
					return err
				}
				if status == store.SubscriptionActive && (o.Gone || reached) {
					if _, err := tx.Exec(ctx, `UPDATE subscriptions SET status = 'disabled', updated_at = $2 WHERE id = $1`,
						o.SubscriptionID, now); err != nil {
						return err
					}
					status = store.SubscriptionDisabled
					disabled = append(disabled, o.SubscriptionID)
				}
				if status != store.SubscriptionActive {
					retried[o.SubscriptionID] = true
				}
			}
		}
		// 4. Deliveries put back to pending for a subscription that is not
		// active are held instead.
		for subID := range retried {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'held', updated_at = $1
				WHERE subscription_id = $2 AND status = 'pending'
				AND (SELECT status FROM subscriptions WHERE id = $2) <> 'active'`, now, subID); err != nil {
				return err
			}
		}
		for _, subID := range disabled {
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, 's ' || workspace_id || ' ' || id) FROM subscriptions WHERE id = $2`,
				notifyChannel, subID); err != nil {
				return err
			}
		}
		return nil
	})
	return disabled, err
}

var attemptColumns = []string{"id", "delivery_id", "event_id", "event_type", "subscription_id", "workspace_id",
	"created_at", "duration_ms", "request_url", "request_headers", "request_body", "response_status", "response_headers",
	"response_body", "error", "succeeded", "test"}

func attemptRow(a *store.Attempt) []any {
	var status *int
	var headers, body *string
	if a.Response != nil {
		h := jsonText(a.Response.Headers)
		status, headers, body = &a.Response.Status, &h, &a.Response.Body
	}
	return []any{a.ID, a.DeliveryID, a.EventID, a.EventType, a.SubscriptionID, a.WorkspaceID, a.CreatedAt,
		a.DurationMS, a.Request.URL, jsonText(a.Request.Headers), a.Request.Body, status, headers, body, a.Error,
		a.Succeeded, a.Test}
}

// NextDue returns when the earliest pending delivery is due.
func (db *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&t); err != nil {
		return time.Time{}, false, err
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return t.UTC(), true, nil
}

// ReleaseLeases returns expired (or owner's) leases to pending.
func (db *DB) ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL,
		updated_at = now() WHERE status = 'sending' AND (lease_until < $1 OR lease_owner = $2)`, now, owner)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() > 0 {
		db.pool.Exec(ctx, `SELECT pg_notify($1, 'd')`, notifyChannel)
	}
	return int(tag.RowsAffected()), nil
}

// ExtendLeases renews owner's leases on ids. Rows another transaction is
// writing (the completer) are skipped rather than waited for: they are
// about to leave sending anyway, and waiting could deadlock.
func (db *DB) ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id IN (
		SELECT id FROM deliveries WHERE id = ANY($3) AND status = 'sending' AND lease_owner = $2
		FOR UPDATE SKIP LOCKED)`, until, owner, ids)
	return int(tag.RowsAffected()), err
}

// Resend adds one more delivery of a delivery's event to its subscription.
func (db *DB) Resend(ctx context.Context, workspaceID, deliveryID, newID string, now time.Time) (*store.Delivery, error) {
	d, err := scanDelivery(db.pool.QueryRow(ctx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id,
			status, next_attempt_at, created_at, updated_at)
		SELECT $1, d.workspace_id, d.event_id, d.subscription_id,
			CASE WHEN s.status = 'active' THEN 'pending' ELSE 'held' END, $2, $2, $2
		FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
		WHERE d.id = $3 AND d.workspace_id = $4
		RETURNING `+deliveryColumns, newID, now, deliveryID, workspaceID))
	if err == nil {
		db.pool.Exec(ctx, `SELECT pg_notify($1, 'd')`, notifyChannel)
	}
	return d, err
}

// RecordTestAttempt stores a test send as an event, a finished delivery and its attempt.
func (db *DB) RecordTestAttempt(ctx context.Context, e *store.Event, d *store.Delivery, a *store.Attempt) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events (`+eventColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.ID, e.WorkspaceID, e.Type, e.Label, string(e.Data), e.UserID, e.Subject, e.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id, status, attempts,
			last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)`, d.ID, d.WorkspaceID, e.ID,
			d.SubscriptionID, d.Status, d.LastError, d.CreatedAt); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"attempts"}, attemptColumns, pgx.CopyFromRows([][]any{attemptRow(a)}))
		return err
	})
}

// ListAttempts returns a subscription's newest attempts first.
func (db *DB) ListAttempts(ctx context.Context, workspaceID, subscriptionID string, p store.Page) ([]store.Attempt, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+joinColumns(attemptColumns)+` FROM attempts
		WHERE subscription_id = $1 AND workspace_id = $2 AND ($3 = '' OR id < $3)
		ORDER BY id DESC LIMIT $4`, subscriptionID, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, scanAttempt)
	if out == nil {
		out = []store.Attempt{}
	}
	return out, err
}

func scanAttempt(row scanner) (*store.Attempt, error) {
	var a store.Attempt
	var reqHeaders string
	var status *int
	var respHeaders, respBody *string
	if err := row.Scan(&a.ID, &a.DeliveryID, &a.EventID, &a.EventType, &a.SubscriptionID, &a.WorkspaceID, &a.CreatedAt,
		&a.DurationMS, &a.Request.URL, &reqHeaders, &a.Request.Body, &status, &respHeaders, &respBody, &a.Error,
		&a.Succeeded, &a.Test); err != nil {
		return nil, err
	}
	a.CreatedAt = utc(a.CreatedAt)
	if err := json.Unmarshal([]byte(reqHeaders), &a.Request.Headers); err != nil {
		return nil, err
	}
	if status != nil {
		a.Response = &store.AttemptResponse{Status: *status}
		if respBody != nil {
			a.Response.Body = *respBody
		}
		if respHeaders != nil {
			if err := json.Unmarshal([]byte(*respHeaders), &a.Response.Headers); err != nil {
				return nil, err
			}
		}
	}
	return &a, nil
}

func joinColumns(cols []string) string {
	return strings.Join(cols, ", ")
}

// QueueDepth counts deliveries waiting to be sent.
func (db *DB) QueueDepth(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending')
		+ (SELECT count(*) FROM deliveries WHERE status = 'sending')`).Scan(&n)
	return n, err
}
