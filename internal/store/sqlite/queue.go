// The delivery queue: claiming due deliveries under leases, writing results
// back in batches, counting failures toward auto-disable, and the attempt log.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// ClaimDeliveries leases up to c.Limit due deliveries to c.Owner and returns
// them with their events.
func (db *DB) ClaimDeliveries(ctx context.Context, c store.Claim) ([]store.ClaimedDelivery, error) {
	skip := ""
	args := []any{c.Owner, micros(c.LeaseUntil), micros(c.Now), micros(c.Now)}
	if len(c.Skip) > 0 {
		skip = ` AND subscription_id NOT IN (` + placeholders(len(c.Skip)) + `)`
		for _, s := range c.Skip {
			args = append(args, s)
		}
	}
	// The earliest due deliveries, read from deliveries_due alone (it
	// carries subscription_id) by rowid. When the cap can bind, look at a
	// window of them and take at most PerSubscription of each subscription;
	// the window costs a sort, so a claim the cap cannot bind skips it.
	due := `SELECT rowid AS rid, subscription_id, next_attempt_at FROM deliveries INDEXED BY deliveries_due
		WHERE status = 'pending' AND next_attempt_at <= ?` + skip + ` ORDER BY next_attempt_at LIMIT ?`
	pick := `SELECT rid FROM (` + due + `)`
	if c.PerSubscriptionCap() < c.Limit {
		pick = `SELECT rid FROM (SELECT rid, next_attempt_at,
			row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at) AS nth FROM (` + due + `))
			WHERE nth <= ? ORDER BY next_attempt_at LIMIT ?`
		args = append(args, 4*c.Limit, c.PerSubscriptionCap(), c.Limit)
	} else {
		args = append(args, c.Limit)
	}
	var claimed []store.Delivery
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET status = 'sending', lease_owner = ?, lease_until = ?, updated_at = ?
			WHERE rowid IN (`+pick+`)
			RETURNING `+deliveryColumns, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			claimed = append(claimed, *d)
		}
		return rows.Err()
	})
	if err != nil || len(claimed) == 0 {
		return nil, err
	}
	// Events never change, so they are read after the commit, off the writer.
	var ids []any
	for _, id := range store.EventIDs(claimed) {
		ids = append(ids, id)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return store.Attach(claimed, events), nil
}

// CompleteDeliveries writes a batch of outcomes.
func (db *DB) CompleteDeliveries(ctx context.Context, now time.Time, outcomes []store.Outcome) ([]string, error) {
	var disabled []string
	err := db.relaxedTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		disabled = disabled[:0]
		insAttempt := prepare(tx, insertAttemptSQL)
		updDelivery := prepare(tx, `UPDATE deliveries SET status = ?, attempts = attempts + ?,
			next_attempt_at = ?, last_error = coalesce(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
			WHERE id = ? AND (? = '' OR (status = 'sending' AND lease_owner = ?))`)
		resetFailures := prepare(tx, `UPDATE subscriptions SET consecutive_failures = 0
			WHERE id = ? AND consecutive_failures <> 0`)
		countFailure := prepare(tx, `UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1
			WHERE id = ? RETURNING status, consecutive_failures >= failure_threshold`)
		disable := prepare(tx, `UPDATE subscriptions SET status = 'disabled', updated_at = ? WHERE id = ?`)

		now := micros(now)
		retried := map[string][]string{} // deliveries put back to pending, by subscription
		disabledNow := map[string]bool{}
		clean := map[string]bool{} // subscriptions whose count is 0 as of now
		for i := range outcomes {
			o := &outcomes[i]
			n := 0
			if o.Attempt != nil {
				n = 1
			}
			var next any
			if o.Status == store.DeliveryPending {
				next = micros(o.NextAttemptAt)
			}
			res, err := updDelivery.ExecContext(ctx, o.Status, n, next, o.LastError(), now, o.DeliveryID, o.Owner, o.Owner)
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k == 0 {
				continue // deleted meanwhile, with its subscription or event: nothing to record
			}
			if o.Status == store.DeliveryPending {
				retried[o.SubscriptionID] = append(retried[o.SubscriptionID], o.DeliveryID)
			}
			if o.Attempt != nil {
				if err := execAttempt(ctx, insAttempt, o.Attempt); err != nil {
					return err
				}
			}
			switch {
			case o.Success:
				// After a success in this batch the count is 0 already.
				if clean[o.SubscriptionID] {
					continue
				}
				clean[o.SubscriptionID] = true
				if _, err := resetFailures.ExecContext(ctx, o.SubscriptionID); err != nil {
					return err
				}
			case o.CountFailure || o.Gone:
				delete(clean, o.SubscriptionID)
				var status string
				var reached bool
				err := countFailure.QueryRowContext(ctx, o.SubscriptionID).Scan(&status, &reached)
				if err == sql.ErrNoRows {
					continue // deleted meanwhile
				}
				if err != nil {
					return err
				}
				// Only an active subscription is disabled (and reported): a
				// paused one stays paused, a disabled one was reported before.
				if status == store.SubscriptionActive && (o.Gone || reached) {
					if _, err := disable.ExecContext(ctx, now, o.SubscriptionID); err != nil {
						return err
					}
					disabled = append(disabled, o.SubscriptionID)
					disabledNow[o.SubscriptionID] = true
				}
			}
		}
		// A subscription this batch disabled has every pending delivery
		// held. One that was not active already had them held when it
		// stopped (and ingest holds new ones), so of its deliveries only
		// those this batch put back to pending are held: by id, not by a
		// scan of the subscription.
		for subID := range disabledNow {
			if err := holdPending(ctx, tx, now, subID); err != nil {
				return err
			}
		}
		for subID, ids := range retried {
			if disabledNow[subID] {
				continue
			}
			args := []any{now, subID}
			for _, id := range ids {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'held', updated_at = ?
				WHERE (SELECT status FROM subscriptions WHERE id = ?) <> 'active'
				AND status = 'pending' AND id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	return disabled, err
}

// holdPending holds every pending delivery of a subscription. It reads
// deliveries_due, the pending ones only, rather than the subscription's
// whole history.
func holdPending(ctx context.Context, tx *sql.Tx, now int64, subID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries INDEXED BY deliveries_due SET status = 'held', updated_at = ?
		WHERE status = 'pending' AND subscription_id = ?`, now, subID)
	return err
}

const insertAttemptSQL = `INSERT INTO attempts (id, delivery_id, event_id, event_type, subscription_id, workspace_id,
	created_at, duration_ms, request_url, request_headers, request_body, response_status, response_headers,
	response_body, error, succeeded, test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

type execer interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
}

func execAttempt(ctx context.Context, stmt execer, a *store.Attempt) error {
	var status, headers, body any
	if a.Response != nil {
		status, headers, body = a.Response.Status, jsonText(a.Response.Headers), a.Response.Body
	}
	_, err := stmt.ExecContext(ctx, a.ID, a.DeliveryID, a.EventID, a.EventType, a.SubscriptionID, a.WorkspaceID,
		micros(a.CreatedAt), a.DurationMS, a.Request.URL, jsonText(a.Request.Headers), a.Request.Body,
		status, headers, body, a.Error, boolInt(a.Succeeded), boolInt(a.Test))
	return err
}

// NextDue returns when the earliest pending delivery is due.
func (db *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&v); err != nil {
		return time.Time{}, false, err
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(v.Int64), true, nil
}

// ReleaseLeases returns expired (or owner's) leases to pending. A released
// delivery keeps its next_attempt_at: it was due when claimed, so it is due
// now by the caller's clock too.
func (db *DB) ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error) {
	return db.releaseLeases(ctx, owner, now, now)
}

// releaseLeases releases the leases of owner and those that ended before
// before, as of now.
func (db *DB) releaseLeases(ctx context.Context, owner string, before, now time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL,
		updated_at = ? WHERE status = 'sending' AND (lease_until < ? OR lease_owner = ?)`,
		micros(now), micros(before), owner)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ExtendLeases renews owner's leases on ids.
func (db *DB) ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	var total int64
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := []any{micros(until), owner}
		for _, id := range chunk {
			args = append(args, id)
		}
		res, err := db.w.ExecContext(ctx, `UPDATE deliveries SET lease_until = ? WHERE status = 'sending' AND lease_owner = ?
			AND id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return int(total), err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return int(total), err
		}
		total += n
	}
	return int(total), nil
}

// Resend adds one more delivery of a delivery's event to its subscription.
func (db *DB) Resend(ctx context.Context, workspaceID, deliveryID, newID string, now time.Time) (*store.Delivery, error) {
	var out *store.Delivery
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var eventID, subID, subStatus string
		err := tx.QueryRowContext(ctx, `SELECT d.event_id, d.subscription_id, s.status FROM deliveries d
			JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = ? AND d.workspace_id = ?`,
			deliveryID, workspaceID).Scan(&eventID, &subID, &subStatus)
		if err != nil {
			return notFound(err)
		}
		status := store.DeliveryPending
		if subStatus != store.SubscriptionActive {
			status = store.DeliveryHeld
		}
		out, err = scanDelivery(tx.QueryRowContext(ctx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id,
			status, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+deliveryColumns,
			newID, workspaceID, eventID, subID, status, micros(now), micros(now), micros(now)))
		return err
	})
	return out, err
}

// RecordTestAttempt stores a test send as an event, a finished delivery and its attempt.
func (db *DB) RecordTestAttempt(ctx context.Context, e *store.Event, d *store.Delivery, a *store.Attempt) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (`+eventColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.WorkspaceID, e.Type, e.Label, string(e.Data),
			nullString(e.UserID), nullString(e.Subject), micros(e.CreatedAt), emptyNull(e.TraceParent)); err != nil {
			return err
		}
		// Inserted only while the subscription exists.
		if err := affected(tx.ExecContext(ctx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id,
			status, attempts, last_error, created_at, updated_at)
			SELECT ?1, ?2, ?3, id, ?5, 1, ?6, ?7, ?7 FROM subscriptions WHERE id = ?4 AND workspace_id = ?2`,
			d.ID, d.WorkspaceID, e.ID, d.SubscriptionID, d.Status, d.LastError, micros(d.CreatedAt))); err != nil {
			return err
		}
		stmt := prepare(tx, insertAttemptSQL)
		return execAttempt(ctx, stmt, a)
	})
}

// Attempts are read with their bodies whole (GetAttempt) or, for a list,
// cut to store.ListBodyLimit bytes: substr counts bytes in a blob,
// characters in text. Each body comes with whether it was cut.
var (
	wholeBodies = `request_body, 0, response_body, 0`
	cutBodies   = fmt.Sprintf(`substr(CAST(request_body AS BLOB), 1, %[1]d), octet_length(request_body) > %[1]d,
		substr(CAST(response_body AS BLOB), 1, %[1]d), coalesce(octet_length(response_body) > %[1]d, 0)`, store.ListBodyLimit)
)

func selectAttempts(bodies string) string {
	return `SELECT id, delivery_id, event_id, event_type, subscription_id, workspace_id, created_at, duration_ms,
		request_url, request_headers, response_status, response_headers, error, succeeded, test, ` + bodies + ` FROM attempts`
}

func scanAttempt(row interface{ Scan(...any) error }) (*store.Attempt, error) {
	var a store.Attempt
	var created int64
	var reqHeaders string
	var status sql.NullInt64
	var respHeaders, respBody sql.NullString
	var ok, test, reqCut, respCut bool
	if err := row.Scan(&a.ID, &a.DeliveryID, &a.EventID, &a.EventType, &a.SubscriptionID, &a.WorkspaceID, &created,
		&a.DurationMS, &a.Request.URL, &reqHeaders, &status, &respHeaders, &a.Error, &ok, &test,
		&a.Request.Body, &reqCut, &respBody, &respCut); err != nil {
		return nil, notFound(err)
	}
	a.CreatedAt = fromMicros(created)
	if err := jsonDecode(reqHeaders, &a.Request.Headers); err != nil {
		return nil, err
	}
	if reqCut {
		a.Request.Body, a.Request.BodyTruncated = store.TrimPartialRune(a.Request.Body), true
	}
	if status.Valid {
		a.Response = &store.AttemptResponse{Status: int(status.Int64), Body: respBody.String}
		if err := jsonDecode(respHeaders.String, &a.Response.Headers); err != nil {
			return nil, err
		}
		if respCut {
			a.Response.Body, a.Response.BodyTruncated = store.TrimPartialRune(a.Response.Body), true
		}
	}
	a.Succeeded, a.Test = ok, test
	return &a, nil
}

// ListAttempts returns a subscription's newest attempts first, their bodies cut.
func (db *DB) ListAttempts(ctx context.Context, workspaceID, subscriptionID string, p store.Page) ([]store.Attempt, error) {
	rows, err := db.r.QueryContext(ctx, selectAttempts(cutBodies)+`
		WHERE subscription_id = ?1 AND workspace_id = ?2 AND (?3 = '' OR id < ?3) ORDER BY id DESC LIMIT ?4`,
		subscriptionID, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Attempt{}
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil || len(out) > 0 {
		return out, err
	}
	// No attempts, or no such subscription: only the second is an error.
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM subscriptions WHERE id = ? AND workspace_id = ?`,
		subscriptionID, workspaceID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, store.ErrNotFound
	}
	return out, nil
}

// GetAttempt returns one attempt of a subscription, whole.
func (db *DB) GetAttempt(ctx context.Context, workspaceID, subscriptionID, attemptID string) (*store.Attempt, error) {
	return scanAttempt(db.r.QueryRowContext(ctx, selectAttempts(wholeBodies)+`
		WHERE id = ? AND subscription_id = ? AND workspace_id = ?`, attemptID, subscriptionID, workspaceID))
}

// AttemptStats counts a workspace's attempts per minute since since. Times
// are microseconds since the epoch, so a minute is created_at divided by
// 60e6; attempts_workspace bounds the rows read.
func (db *DB) AttemptStats(ctx context.Context, workspaceID string, since time.Time) ([]store.AttemptMinute, error) {
	const minute = int64(time.Minute / time.Microsecond)
	rows, err := db.r.QueryContext(ctx, `SELECT created_at / ?1 AS m, count(*), sum(succeeded) FROM attempts
		WHERE workspace_id = ?2 AND created_at >= ?3 AND test = 0 GROUP BY m ORDER BY m`,
		minute, workspaceID, micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.AttemptMinute{}
	for rows.Next() {
		var m store.AttemptMinute
		var n int64
		if err := rows.Scan(&n, &m.Attempts, &m.Succeeded); err != nil {
			return nil, err
		}
		m.Minute = fromMicros(n * minute)
		out = append(out, m)
	}
	return out, rows.Err()
}

// QueueDepth counts deliveries waiting to be sent.
func (db *DB) QueueDepth(ctx context.Context) (int64, error) {
	var pending, sending int64
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending); err != nil {
		return 0, err
	}
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE status = 'sending'`).Scan(&sending)
	return pending + sending, err
}
