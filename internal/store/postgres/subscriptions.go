// Subscriptions and the status changes that hold or release their deliveries.
package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

const subscriptionColumns = `id, workspace_id, name, mode, url, event_types, status, payload, format, headers,
	signature_scheme, signature_header, secret, previous_secret, previous_secret_expires_at, timeout_seconds,
	failure_threshold, retry_schedule, api_version, auth, coalesce_by_subject, consecutive_failures, created_at, updated_at`

func scanSubscription(row scanner) (*store.Subscription, error) {
	var s store.Subscription
	var eventTypes, headers string
	var schedule *string
	err := row.Scan(&s.ID, &s.WorkspaceID, &s.Name, &s.Mode, &s.URL, &eventTypes, &s.Status, &s.Payload, &s.Format,
		&headers, &s.SignatureScheme, &s.SignatureHeader, &s.Secret, &s.PreviousSecret, &s.PreviousSecretExpiresAt,
		&s.TimeoutSeconds, &s.FailureThreshold, &schedule, &s.APIVersion, &s.Auth, &s.CoalesceBySubject,
		&s.ConsecutiveFailures, &s.CreatedAt, &s.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(eventTypes), &s.EventTypes); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(headers), &s.Headers); err != nil {
		return nil, err
	}
	if schedule != nil {
		if err := json.Unmarshal([]byte(*schedule), &s.RetrySchedule); err != nil {
			return nil, err
		}
	}
	s.PreviousSecretExpiresAt = utcPtr(s.PreviousSecretExpiresAt)
	s.CreatedAt, s.UpdatedAt = utc(s.CreatedAt), utc(s.UpdatedAt)
	return &s, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types reach here; they always marshal
	}
	return string(b)
}

func scheduleText(s []store.Duration) *string {
	if s == nil {
		return nil
	}
	t := jsonText(s)
	return &t
}

// CreateSubscription inserts s.
func (db *DB) CreateSubscription(ctx context.Context, s *store.Subscription) (err error) {
	defer unavailable(&err)
	_, err = db.pool.Exec(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		s.ID, s.WorkspaceID, s.Name, s.Mode, s.URL, jsonText(s.EventTypes), s.Status, s.Payload, s.Format,
		jsonText(s.Headers), s.SignatureScheme, s.SignatureHeader, s.Secret, s.PreviousSecret,
		s.PreviousSecretExpiresAt, s.TimeoutSeconds, s.FailureThreshold, scheduleText(s.RetrySchedule),
		s.APIVersion, s.Auth, s.CoalesceBySubject, s.ConsecutiveFailures, s.CreatedAt, s.UpdatedAt)
	if err == nil {
		db.announce(ctx, s.WorkspaceID, s.ID)
	}
	return conflict(err)
}

// GetSubscription returns a subscription of a workspace.
func (db *DB) GetSubscription(ctx context.Context, workspaceID, id string) (_ *store.Subscription, err error) {
	defer unavailable(&err)
	return scanSubscription(db.pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE id = $1 AND workspace_id = $2`, id, workspaceID))
}

// SubscriptionByID returns a subscription by id alone.
func (db *DB) SubscriptionByID(ctx context.Context, id string) (_ *store.Subscription, err error) {
	defer unavailable(&err)
	return scanSubscription(db.pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1`, id))
}

// ListSubscriptions lists a workspace's subscriptions by id.
func (db *DB) ListSubscriptions(ctx context.Context, workspaceID string, p store.Page) (_ []store.Subscription, err error) {
	defer unavailable(&err)
	rows, err := db.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSubscription)
}

// RoutableSubscriptions returns a workspace's push subscriptions.
func (db *DB) RoutableSubscriptions(ctx context.Context, workspaceID string) (_ []store.Subscription, err error) {
	defer unavailable(&err)
	rows, err := db.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE workspace_id = $1 ORDER BY id`, workspaceID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSubscription)
}

// UpdateSubscription writes the fields a PATCH may change.
func (db *DB) UpdateSubscription(ctx context.Context, s *store.Subscription) (err error) {
	defer unavailable(&err)
	defer db.announce(ctx, s.WorkspaceID, s.ID)
	return affected(db.pool.Exec(ctx, `UPDATE subscriptions SET name = $1, url = $2, event_types = $3, payload = $4,
		format = $5, headers = $6, signature_scheme = $7, signature_header = $8, timeout_seconds = $9, failure_threshold = $10,
		retry_schedule = $11, api_version = $12, coalesce_by_subject = $13, updated_at = $14
		WHERE id = $15 AND workspace_id = $16`,
		s.Name, s.URL, jsonText(s.EventTypes), s.Payload, s.Format, jsonText(s.Headers), s.SignatureScheme,
		s.SignatureHeader, s.TimeoutSeconds, s.FailureThreshold, scheduleText(s.RetrySchedule), s.APIVersion,
		s.CoalesceBySubject, s.UpdatedAt, s.ID, s.WorkspaceID))
}

// DeleteSubscription removes a subscription with its deliveries and attempts.
func (db *DB) DeleteSubscription(ctx context.Context, workspaceID, id string) (err error) {
	defer unavailable(&err)
	defer db.announce(ctx, workspaceID, id)
	return affected(db.pool.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1 AND workspace_id = $2`, id, workspaceID))
}

// SetSubscriptionStatus changes status, holding or releasing deliveries.
func (db *DB) SetSubscriptionStatus(ctx context.Context, workspaceID, id, status string, now time.Time) (_ *store.Subscription, err error) {
	defer unavailable(&err)
	var out *store.Subscription
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanSubscription(tx.QueryRow(ctx, `UPDATE subscriptions SET status = $1, updated_at = $2,
			consecutive_failures = CASE WHEN $1 = 'active' THEN 0 ELSE consecutive_failures END
			WHERE id = $3 AND workspace_id = $4 RETURNING `+subscriptionColumns, status, now, id, workspaceID))
		if err != nil {
			return err
		}
		return setHeld(ctx, tx, id, status == store.SubscriptionActive, now)
	})
	if err == nil {
		db.announce(ctx, out.WorkspaceID, out.ID)
	}
	return out, err
}

// setHeld releases held deliveries (due now) when active, else holds pending ones.
func setHeld(ctx context.Context, tx pgx.Tx, subID string, active bool, now time.Time) error {
	var err error
	if active {
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1
			WHERE subscription_id = $2 AND status = 'held'`, now, subID)
		if err == nil {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'd')`, notifyChannel)
		}
	} else {
		err = holdPending(ctx, tx, now, []string{subID})
	}
	return err
}

// holdPending holds every pending delivery of the subscriptions.
func holdPending(ctx context.Context, tx pgx.Tx, now time.Time, subIDs []string) error {
	_, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'held', updated_at = $1
		WHERE subscription_id = ANY($2) AND status = 'pending'`, now, subIDs)
	return err
}

// RotateSecret installs a new secret and keeps the old one signing until previousUntil.
func (db *DB) RotateSecret(ctx context.Context, workspaceID, id, secret string, now, previousUntil time.Time) (_ *store.Subscription, err error) {
	defer unavailable(&err)
	out, err := scanSubscription(db.pool.QueryRow(ctx, `UPDATE subscriptions SET previous_secret = secret, secret = $1,
		previous_secret_expires_at = $2, updated_at = $5 WHERE id = $3 AND workspace_id = $4 RETURNING `+subscriptionColumns,
		secret, previousUntil, id, workspaceID, now))
	if err == nil {
		db.announce(ctx, workspaceID, id)
	}
	return out, err
}

// Recover re-queues failed and held deliveries created since, enabling a disabled subscription.
func (db *DB) Recover(ctx context.Context, workspaceID, id string, since, now time.Time) (_ int, err error) {
	defer unavailable(&err)
	var n int64
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM subscriptions WHERE id = $1 AND workspace_id = $2 FOR UPDATE`,
			id, workspaceID).Scan(&status); err != nil {
			return notFound(err)
		}
		enabling := status == store.SubscriptionDisabled
		if enabling {
			status = store.SubscriptionActive
			if _, err := tx.Exec(ctx, `UPDATE subscriptions SET status = 'active', consecutive_failures = 0,
				updated_at = $1 WHERE id = $2`, now, id); err != nil {
				return err
			}
		}
		next := store.DeliveryPending
		if status != store.SubscriptionActive {
			next = store.DeliveryHeld // paused by hand: re-queued, sent once enabled
		}
		// Enabling releases every held delivery, as enable does.
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = $1, attempts = 0, next_attempt_at = $2, updated_at = $2
			WHERE subscription_id = $3 AND ((status IN ('failed', 'held') AND created_at >= $4) OR ($5 AND status = 'held'))`,
			next, now, id, since, enabling)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'd')`, notifyChannel)
		return err
	})
	if err == nil {
		db.announce(ctx, workspaceID, id)
	}
	return int(n), err
}
