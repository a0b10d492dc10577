// The delivery queue: claiming due deliveries with FOR UPDATE SKIP LOCKED
// under leases, so nodes never wait on each other's rows; writing results
// back a batch at a time, in set-based statements rather than one per result;
// counting failures toward auto-disable under the subscription's row lock,
// so the count is right across nodes.
package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

// The hot statements of the queue, named so that a test can EXPLAIN them:
// none may scan the deliveries table, however large it grows.
var (
	claimSQL = `UPDATE deliveries SET status = 'sending', lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE id IN (SELECT id FROM (
			SELECT id, next_attempt_at,
				row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at) AS nth
			FROM (SELECT id, subscription_id, next_attempt_at FROM deliveries
				WHERE status = 'pending' AND next_attempt_at <= $3 AND NOT (subscription_id = ANY($4))
				ORDER BY next_attempt_at LIMIT $6 FOR UPDATE SKIP LOCKED) AS window_
			) AS ranked WHERE nth <= $7 ORDER BY next_attempt_at LIMIT $5)
		RETURNING ` + deliveryColumns
	completeSQL = `UPDATE deliveries d SET status = o.status, attempts = d.attempts + o.added,
				next_attempt_at = o.next, last_error = coalesce(o.last_error, d.last_error),
				lease_owner = NULL, lease_until = NULL, updated_at = $7
			FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[])
				WITH ORDINALITY AS o(id, owner, status, added, next, last_error, nth)
			WHERE d.id = o.id AND (o.owner = '' OR (d.status = 'sending' AND d.lease_owner = o.owner))
			RETURNING o.nth`
	nextDueSQL       = `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`
	releaseLeasesSQL = `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL,
		updated_at = $1 WHERE status = 'sending' AND (lease_until < $1 OR lease_owner = $2)`
	queueDepthSQL = `SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending')
		+ (SELECT count(*) FROM deliveries WHERE status = 'sending')`
)

// ClaimDeliveries leases up to c.Limit due deliveries to c.Owner and returns
// them with their events.
func (db *DB) ClaimDeliveries(ctx context.Context, c store.Claim) (_ []store.ClaimedDelivery, err error) {
	defer unavailable(&err)
	skip := c.Skip
	if skip == nil {
		skip = []string{}
	}
	// Lock a window of the earliest due deliveries no other node holds, and
	// from it take at most perSub of each subscription. (Rows locked but not
	// taken are free again when the statement commits.)
	rows, err := db.pool.Query(ctx, claimSQL, c.Owner, c.LeaseUntil, c.Now, skip, c.Limit, 4*c.Limit, c.PerSubscriptionCap())
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
func (db *DB) CompleteDeliveries(ctx context.Context, now time.Time, outcomes []store.Outcome) (_ []string, err error) {
	defer unavailable(&err)
	var disabled []string
	err = db.tx(ctx, func(tx pgx.Tx) error {
		disabled = disabled[:0]
		// Lock the subscriptions this batch counts for, in id order: ingest
		// (FOR SHARE) and other nodes' completers lock them in the same
		// order, so they wait for each other instead of deadlocking. Until
		// commit only this batch changes what is read here, so step 3 works
		// out the new counts and statuses itself.
		var subIDs []string
		for i := range outcomes {
			subIDs = append(subIDs, outcomes[i].SubscriptionID)
		}
		slices.Sort(subIDs)
		// The same statement makes this transaction's commit not wait for
		// the WAL to reach the disk (set_config(…, true) is SET LOCAL, in
		// the round trip the lock needs anyway): a server crash may lose
		// the last moment's results, and those deliveries are sent again,
		// as at least once allows. Events are never written so.
		rows, err := tx.Query(ctx, `SELECT id, status, consecutive_failures, failure_threshold
			FROM subscriptions, (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
			WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE OF subscriptions`, slices.Compact(subIDs))
		if err != nil {
			return err
		}
		subs := map[string]*subscriptionCount{} // absent: deleted
		var id string
		var c subscriptionCount
		if _, err := pgx.ForEachRow(rows, []any{&id, &c.status, &c.failures, &c.threshold}, func() error {
			subs[id] = new(c)
			return nil
		}); err != nil {
			return err
		}
		// 1. Delivery rows; one that is gone (deleted meanwhile) records nothing.
		live, err := completeRows(ctx, tx, outcomes, now)
		if err != nil {
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
			if err := insertRows(ctx, tx, "attempts", attemptColumns, attemptRows); err != nil {
				return err
			}
		}
		// 3. Failure counts, in order: a success resets the count; a failure
		// adds one and disables an active subscription at its threshold, or
		// at once when gone. Each subscription changed is written once.
		var retried []int // outcomes that put their delivery back to pending
		for i := range outcomes {
			o := &outcomes[i]
			s := subs[o.SubscriptionID]
			if !live[i] || s == nil {
				continue
			}
			if o.Status == store.DeliveryPending {
				retried = append(retried, i)
			}
			switch {
			case o.Success:
				s.changed = s.changed || s.failures != 0
				s.failures = 0
			case o.CountFailure || o.Gone:
				s.failures++
				s.changed = true
				if s.status == store.SubscriptionActive && (o.Gone || s.failures >= s.threshold) {
					s.status, s.disabled = store.SubscriptionDisabled, true
					disabled = append(disabled, o.SubscriptionID)
				}
			}
		}
		var changedIDs []string
		var failures []int32
		var disable []bool
		for id, s := range subs {
			if s.changed {
				changedIDs, failures, disable = append(changedIDs, id), append(failures, s.failures), append(disable, s.disabled)
			}
		}
		if len(changedIDs) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE subscriptions s SET consecutive_failures = c.failures,
					status = CASE WHEN c.disable THEN 'disabled' ELSE s.status END,
					updated_at = CASE WHEN c.disable THEN $4 ELSE s.updated_at END
				FROM unnest($1::text[], $2::int[], $3::bool[]) AS c(id, failures, disable)
				WHERE s.id = c.id`, changedIDs, failures, disable, now); err != nil {
				return err
			}
		}
		// 4. A subscription this batch disabled has every pending delivery
		// held. One that was not active already had them held when it
		// stopped (and ingest holds new ones), so of its deliveries only
		// those this batch put back to pending are held: by id, not by a
		// scan of the subscription.
		if len(disabled) > 0 {
			if err := holdPending(ctx, tx, now, disabled); err != nil {
				return err
			}
		}
		var hold []string
		for _, i := range retried {
			if s := subs[outcomes[i].SubscriptionID]; s.status != store.SubscriptionActive && !s.disabled {
				hold = append(hold, outcomes[i].DeliveryID)
			}
		}
		if len(hold) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'held', updated_at = $1
				WHERE id = ANY($2) AND status = 'pending'`, now, hold); err != nil {
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

// subscriptionCount is a subscription's failure count and status as a
// batch of outcomes leaves them.
type subscriptionCount struct {
	status              string
	failures, threshold int32
	changed, disabled   bool
}

// completeRows writes outcomes to their deliveries and reports which
// applied: those whose delivery exists and, for an outcome with an Owner, is
// still sending under that owner's lease. Each round is one set-based
// UPDATE, and a statement updates a row at most once, so an outcome naming a
// delivery that an earlier one in the batch named too (a node whose lease
// ran out can claim a delivery again while still holding it) goes in a later
// round: outcomes apply in batch order, as one UPDATE each would.
func completeRows(ctx context.Context, tx pgx.Tx, outcomes []store.Outcome, now time.Time) ([]bool, error) {
	live := make([]bool, len(outcomes))
	round := make([]int, len(outcomes))
	seen := make(map[string]int, len(outcomes))
	rounds := 0
	for i := range outcomes {
		round[i] = seen[outcomes[i].DeliveryID]
		seen[outcomes[i].DeliveryID]++
		rounds = max(rounds, round[i]+1)
	}
	for r := range rounds {
		var at []int // the round's outcomes, by index into outcomes
		var ids, owners, statuses []string
		var added []int32
		var next []*time.Time
		var lastErr []*string
		for i := range outcomes {
			if round[i] != r {
				continue
			}
			o := &outcomes[i]
			n := int32(0)
			if o.Attempt != nil {
				n = 1
			}
			var t *time.Time
			if o.Status == store.DeliveryPending {
				t = &o.NextAttemptAt
			}
			at = append(at, i)
			ids, owners, statuses = append(ids, o.DeliveryID), append(owners, o.Owner), append(statuses, o.Status)
			added, next, lastErr = append(added, n), append(next, t), append(lastErr, o.LastError())
		}
		rows, err := tx.Query(ctx, completeSQL, ids, owners, statuses, added, next, lastErr, now)
		if err != nil {
			return nil, err
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, err
		}
		for _, nth := range applied {
			live[at[nth-1]] = true
		}
	}
	return live, nil
}

// attemptColumns are the attempts table's columns, with their types for
// insertRows.
var attemptColumns = [][2]string{{"id", "text"}, {"delivery_id", "text"}, {"event_id", "text"}, {"event_type", "text"},
	{"subscription_id", "text"}, {"workspace_id", "text"}, {"created_at", "timestamptz"}, {"duration_ms", "bigint"},
	{"request_url", "text"}, {"request_headers", "text"}, {"request_body", "text"}, {"response_status", "integer"},
	{"response_headers", "text"}, {"response_body", "text"}, {"error", "text"}, {"succeeded", "boolean"}, {"test", "boolean"}}

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
func (db *DB) NextDue(ctx context.Context) (_ time.Time, _ bool, err error) {
	defer unavailable(&err)
	var t *time.Time
	if err := db.pool.QueryRow(ctx, nextDueSQL).Scan(&t); err != nil {
		return time.Time{}, false, err
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return t.UTC(), true, nil
}

// ReleaseLeases returns expired (or owner's) leases to pending.
func (db *DB) ReleaseLeases(ctx context.Context, owner string, now time.Time) (_ int, err error) {
	defer unavailable(&err)
	tag, err := db.pool.Exec(ctx, releaseLeasesSQL, now, owner)
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
func (db *DB) ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (_ int, err error) {
	defer unavailable(&err)
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id IN (
		SELECT id FROM deliveries WHERE id = ANY($3) AND status = 'sending' AND lease_owner = $2
		FOR UPDATE SKIP LOCKED)`, until, owner, ids)
	return int(tag.RowsAffected()), err
}

// Resend adds one more delivery of a delivery's event to its subscription.
// The subscription and the event are locked as they are read: one being
// deleted meanwhile (DeleteSubscription, Prune) is waited for and then not
// found, where the new row's foreign key check would fail instead.
func (db *DB) Resend(ctx context.Context, workspaceID, deliveryID, newID string, now time.Time) (_ *store.Delivery, err error) {
	defer unavailable(&err)
	d, err := scanDelivery(db.pool.QueryRow(ctx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id,
			status, next_attempt_at, created_at, updated_at)
		SELECT $1, d.workspace_id, d.event_id, d.subscription_id,
			CASE WHEN s.status = 'active' THEN 'pending' ELSE 'held' END, $2, $2, $2
		FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id JOIN events e ON e.id = d.event_id
		WHERE d.id = $3 AND d.workspace_id = $4
		FOR KEY SHARE OF s, e
		RETURNING `+deliveryColumns, newID, now, deliveryID, workspaceID))
	if err == nil {
		db.pool.Exec(ctx, `SELECT pg_notify($1, 'd')`, notifyChannel)
	}
	return d, err
}

// RecordTestAttempt stores a test send as an event, a finished delivery and its attempt.
func (db *DB) RecordTestAttempt(ctx context.Context, e *store.Event, d *store.Delivery, a *store.Attempt) (err error) {
	defer unavailable(&err)
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events (`+eventColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			e.ID, e.WorkspaceID, e.Type, e.Label, string(e.Data), e.UserID, e.Subject, e.CreatedAt,
			emptyNull(e.TraceParent)); err != nil {
			return err
		}
		// Inserted only while the subscription exists, locked so that a
		// delete waits for this transaction.
		if err := affected(tx.Exec(ctx, `INSERT INTO deliveries (id, workspace_id, event_id, subscription_id, status, attempts,
			last_error, created_at, updated_at)
			SELECT $1, $2, $3, s.id, $5, 1, $6, $7, $7 FROM subscriptions s WHERE s.id = $4 AND s.workspace_id = $2
			FOR KEY SHARE`, d.ID, d.WorkspaceID, e.ID, d.SubscriptionID, d.Status, d.LastError, d.CreatedAt)); err != nil {
			return err
		}
		return insertRows(ctx, tx, "attempts", attemptColumns, [][]any{attemptRow(a)})
	})
}

// Attempts are read with their bodies whole (GetAttempt) or, for a list,
// cut to store.ListBodyLimit bytes: the first ListBodyLimit characters (the
// most that can hold that many bytes, read without the rest of the value),
// as bytes, cut again at the byte count. Each body comes with whether it
// was cut; octet_length reads a stored value's size, not the value.
var (
	wholeBodies = `request_body, false, response_body, false`
	cutBodies   = fmt.Sprintf(`substring(convert_to(left(request_body, %[1]d), 'UTF8') for %[1]d),
		octet_length(request_body) > %[1]d,
		substring(convert_to(left(response_body, %[1]d), 'UTF8') for %[1]d),
		coalesce(octet_length(response_body) > %[1]d, false)`, store.ListBodyLimit)
)

func selectAttempts(bodies string) string {
	return `SELECT id, delivery_id, event_id, event_type, subscription_id, workspace_id, created_at, duration_ms,
		request_url, request_headers, response_status, response_headers, error, succeeded, test, ` + bodies + ` FROM attempts`
}

func scanAttempt(row scanner) (*store.Attempt, error) {
	var a store.Attempt
	var reqHeaders string
	var status *int
	var respHeaders *string
	var reqBody, respBody []byte
	var reqCut, respCut bool
	if err := row.Scan(&a.ID, &a.DeliveryID, &a.EventID, &a.EventType, &a.SubscriptionID, &a.WorkspaceID, &a.CreatedAt,
		&a.DurationMS, &a.Request.URL, &reqHeaders, &status, &respHeaders, &a.Error, &a.Succeeded, &a.Test,
		&reqBody, &reqCut, &respBody, &respCut); err != nil {
		return nil, notFound(err)
	}
	a.CreatedAt = utc(a.CreatedAt)
	if err := json.Unmarshal([]byte(reqHeaders), &a.Request.Headers); err != nil {
		return nil, err
	}
	a.Request.Body, a.Request.BodyTruncated = body(reqBody, reqCut), reqCut
	if status != nil {
		a.Response = &store.AttemptResponse{Status: *status, Body: body(respBody, respCut), BodyTruncated: respCut}
		if respHeaders != nil {
			if err := json.Unmarshal([]byte(*respHeaders), &a.Response.Headers); err != nil {
				return nil, err
			}
		}
	}
	return &a, nil
}

// body is a body read as bytes, which a cut may have ended inside a character.
func body(b []byte, cut bool) string {
	if cut {
		return store.TrimPartialRune(string(b))
	}
	return string(b)
}

// ListAttempts returns a subscription's newest attempts first, their bodies cut.
func (db *DB) ListAttempts(ctx context.Context, workspaceID, subscriptionID string, p store.Page) (_ []store.Attempt, err error) {
	defer unavailable(&err)
	rows, err := db.pool.Query(ctx, selectAttempts(cutBodies)+`
		WHERE subscription_id = $1 AND workspace_id = $2 AND ($3 = '' OR id < $3)
		ORDER BY id DESC LIMIT $4`, subscriptionID, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, scanAttempt)
	if err != nil || len(out) > 0 {
		return out, err
	}
	// No attempts, or no such subscription: only the second is an error.
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE id = $1 AND workspace_id = $2)`,
		subscriptionID, workspaceID).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, store.ErrNotFound
	}
	return []store.Attempt{}, nil
}

// GetAttempt returns one attempt of a subscription, whole.
func (db *DB) GetAttempt(ctx context.Context, workspaceID, subscriptionID, attemptID string) (_ *store.Attempt, err error) {
	defer unavailable(&err)
	return scanAttempt(db.pool.QueryRow(ctx, selectAttempts(wholeBodies)+`
		WHERE id = $1 AND subscription_id = $2 AND workspace_id = $3`, attemptID, subscriptionID, workspaceID))
}

// AttemptStats counts a workspace's attempts per minute since since. The
// minute is truncated in UTC, whatever the session's time zone;
// attempts_workspace bounds the rows read.
func (db *DB) AttemptStats(ctx context.Context, workspaceID string, since time.Time) (_ []store.AttemptMinute, err error) {
	defer unavailable(&err)
	rows, err := db.pool.Query(ctx, `SELECT date_trunc('minute', created_at AT TIME ZONE 'UTC') AS m, count(*),
			count(*) FILTER (WHERE succeeded)
		FROM attempts WHERE workspace_id = $1 AND created_at >= $2 AND NOT test GROUP BY m ORDER BY m`,
		workspaceID, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.AttemptMinute{}
	for rows.Next() {
		var m store.AttemptMinute
		if err := rows.Scan(&m.Minute, &m.Attempts, &m.Succeeded); err != nil {
			return nil, err
		}
		m.Minute = utc(m.Minute) // pgx reads a timestamp without time zone as UTC
		out = append(out, m)
	}
	return out, rows.Err()
}

// QueueDepth counts deliveries waiting to be sent.
func (db *DB) QueueDepth(ctx context.Context) (_ int64, err error) {
	defer unavailable(&err)
	var n int64
	err = db.pool.QueryRow(ctx, queueDepthSQL).Scan(&n)
	return n, err
}
