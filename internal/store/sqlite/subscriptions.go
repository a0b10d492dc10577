// Subscriptions and the status changes that hold or release their deliveries.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/postbode/postbode/internal/store"
)

const subscriptionColumns = `id, workspace_id, name, mode, url, event_types, status, payload, format, headers,
	signature_scheme, signature_header, secret, previous_secret, previous_secret_expires_at, timeout_seconds,
	failure_threshold, retry_schedule, api_version, auth, coalesce_by_subject, consecutive_failures, created_at, updated_at`

func scanSubscription(row interface{ Scan(...any) error }) (*store.Subscription, error) {
	var s store.Subscription
	var eventTypes, headers string
	var prevExp sql.NullInt64
	var schedule, apiVersion sql.NullString
	var coalesce int
	var created, updated int64
	err := row.Scan(&s.ID, &s.WorkspaceID, &s.Name, &s.Mode, &s.URL, &eventTypes, &s.Status, &s.Payload, &s.Format,
		&headers, &s.SignatureScheme, &s.SignatureHeader, &s.Secret, &s.PreviousSecret, &prevExp, &s.TimeoutSeconds,
		&s.FailureThreshold, &schedule, &apiVersion, &s.Auth, &coalesce, &s.ConsecutiveFailures, &created, &updated)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(eventTypes), &s.EventTypes); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(headers), &s.Headers); err != nil {
		return nil, err
	}
	if schedule.Valid {
		if err := json.Unmarshal([]byte(schedule.String), &s.RetrySchedule); err != nil {
			return nil, err
		}
	}
	s.PreviousSecretExpiresAt = timePtr(prevExp)
	s.APIVersion = stringPtr(apiVersion)
	s.CoalesceBySubject = coalesce != 0
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &s, nil
}

func scheduleText(s []store.Duration) any {
	if s == nil {
		return nil
	}
	return jsonText(s)
}

// CreateSubscription inserts s.
func (db *DB) CreateSubscription(ctx context.Context, s *store.Subscription) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.WorkspaceID, s.Name, s.Mode, s.URL, jsonText(s.EventTypes), s.Status, s.Payload, s.Format,
		jsonText(s.Headers), s.SignatureScheme, s.SignatureHeader, s.Secret, s.PreviousSecret,
		nullMicros(s.PreviousSecretExpiresAt), s.TimeoutSeconds, s.FailureThreshold, scheduleText(s.RetrySchedule),
		nullString(s.APIVersion), s.Auth, boolInt(s.CoalesceBySubject), s.ConsecutiveFailures,
		micros(s.CreatedAt), micros(s.UpdatedAt))
	return conflict(err)
}

// GetSubscription returns a subscription of a workspace.
func (db *DB) GetSubscription(ctx context.Context, workspaceID, id string) (*store.Subscription, error) {
	return scanSubscription(db.r.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE id = ? AND workspace_id = ?`, id, workspaceID))
}

// SubscriptionByID returns a subscription by id alone.
func (db *DB) SubscriptionByID(ctx context.Context, id string) (*store.Subscription, error) {
	return scanSubscription(db.r.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id))
}

func (db *DB) querySubscriptions(ctx context.Context, q string, args ...any) ([]store.Subscription, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Subscription
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// ListSubscriptions lists a workspace's subscriptions by id.
func (db *DB) ListSubscriptions(ctx context.Context, workspaceID string, p store.Page) ([]store.Subscription, error) {
	return db.querySubscriptions(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?`, workspaceID, p.Cursor, p.Size())
}

// RoutableSubscriptions returns a workspace's push subscriptions.
func (db *DB) RoutableSubscriptions(ctx context.Context, workspaceID string) ([]store.Subscription, error) {
	return db.querySubscriptions(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE workspace_id = ? ORDER BY id`, workspaceID)
}

// UpdateSubscription writes the fields a PATCH may change.
func (db *DB) UpdateSubscription(ctx context.Context, s *store.Subscription) error {
	res, err := db.w.ExecContext(ctx, `UPDATE subscriptions SET name = ?, url = ?, event_types = ?, payload = ?,
		format = ?, headers = ?, signature_scheme = ?, signature_header = ?, timeout_seconds = ?, failure_threshold = ?,
		retry_schedule = ?, api_version = ?, coalesce_by_subject = ?, updated_at = ?
		WHERE id = ? AND workspace_id = ?`,
		s.Name, s.URL, jsonText(s.EventTypes), s.Payload, s.Format, jsonText(s.Headers), s.SignatureScheme,
		s.SignatureHeader, s.TimeoutSeconds, s.FailureThreshold, scheduleText(s.RetrySchedule), nullString(s.APIVersion),
		boolInt(s.CoalesceBySubject), micros(s.UpdatedAt), s.ID, s.WorkspaceID)
	return affected(res, err)
}

// DeleteSubscription removes a subscription with its deliveries and attempts.
func (db *DB) DeleteSubscription(ctx context.Context, workspaceID, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = ? AND workspace_id = ?`, id, workspaceID)
	return affected(res, err)
}

func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SetSubscriptionStatus changes status, holding or releasing deliveries.
func (db *DB) SetSubscriptionStatus(ctx context.Context, workspaceID, id, status string, now time.Time) (*store.Subscription, error) {
	var out *store.Subscription
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		q := `UPDATE subscriptions SET status = ?, updated_at = ? WHERE id = ? AND workspace_id = ?`
		if status == store.SubscriptionActive {
			q = `UPDATE subscriptions SET status = ?, updated_at = ?, consecutive_failures = 0 WHERE id = ? AND workspace_id = ?`
		}
		if err := affected(tx.ExecContext(ctx, q, status, micros(now), id, workspaceID)); err != nil {
			return err
		}
		if err := setHeld(ctx, tx, id, status == store.SubscriptionActive, now); err != nil {
			return err
		}
		var err error
		out, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id))
		return err
	})
	return out, err
}

// setHeld releases held deliveries (due now) when active, else holds pending ones.
func setHeld(ctx context.Context, tx *sql.Tx, subID string, active bool, now time.Time) error {
	var err error
	if active {
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?
			WHERE subscription_id = ? AND status = 'held'`, micros(now), micros(now), subID)
	} else {
		err = holdPending(ctx, tx, micros(now), subID)
	}
	return err
}

// RotateSecret installs a new secret and keeps the old one signing until previousUntil.
func (db *DB) RotateSecret(ctx context.Context, workspaceID, id, secret string, now, previousUntil time.Time) (*store.Subscription, error) {
	var out *store.Subscription
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `UPDATE subscriptions SET previous_secret = secret, secret = ?,
			previous_secret_expires_at = ?, updated_at = ? WHERE id = ? AND workspace_id = ?`,
			secret, micros(previousUntil), micros(now), id, workspaceID)); err != nil {
			return err
		}
		var err error
		out, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id))
		return err
	})
	return out, err
}

// Recover re-queues failed and held deliveries created since, enabling a disabled subscription.
func (db *DB) Recover(ctx context.Context, workspaceID, id string, since, now time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM subscriptions WHERE id = ? AND workspace_id = ?`,
			id, workspaceID).Scan(&status); err != nil {
			return notFound(err)
		}
		enabling := status == store.SubscriptionDisabled
		if enabling {
			status = store.SubscriptionActive
			if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET status = 'active', consecutive_failures = 0,
				updated_at = ? WHERE id = ?`, micros(now), id); err != nil {
				return err
			}
		}
		next := store.DeliveryPending
		if status != store.SubscriptionActive {
			next = store.DeliveryHeld // paused by hand: re-queued, sent once enabled
		}
		// Enabling also releases every older held delivery, as enable does:
		// a second statement, so each one reads its own index.
		requeue := []string{`subscription_id = ? AND created_at >= ? AND status IN ('failed', 'held')`}
		args := [][]any{{id, micros(since)}}
		if enabling {
			requeue = append(requeue, `subscription_id = ? AND status = 'held'`)
			args = append(args, []any{id})
		}
		for i, where := range requeue {
			res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, attempts = 0, next_attempt_at = ?, updated_at = ?
				WHERE `+where, append([]any{next, micros(now), micros(now)}, args[i]...)...)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return int(n), err
}
