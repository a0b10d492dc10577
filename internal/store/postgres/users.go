// The upkeep of accounts: users' lifecycle and activity, memberships, token
// management and login sessions. Like the rest of the small tables, through
// the pool or inside InTx.
//
// Statements that lock several users or tokens lock them in id order, so
// that two nodes doing so at once wait for each other instead of
// deadlocking.
package postgres

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

// ListUsers pages every user by id.
func (t tables) ListUsers(ctx context.Context, p store.Page) (_ []store.User, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`,
		p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanUser)
}

// UserByEmail finds a user by exact email.
func (t tables) UserByEmail(ctx context.Context, email string) (_ *store.User, err error) {
	defer unavailable(&err)
	return scanUser(t.q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
}

// UpdateUser writes u's email, name and role. A taken email is found by the
// unique constraint, which also sees a concurrent writer's.
func (t tables) UpdateUser(ctx context.Context, u *store.User) (err error) {
	defer unavailable(&err)
	return t.atomic(ctx, func(tx pgx.Tx) error {
		if u.Role != store.RoleAdmin {
			if err := keepAnAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		return conflict(affected(tx.Exec(ctx, `UPDATE users SET email = $1, name = $2, role = $3 WHERE id = $4`,
			u.Email, u.Name, u.Role, u.ID)))
	})
}

// keepAnAdmin refuses, with ErrLastAdmin, to take userID's admin role when
// no other admin remains. The admins' rows are locked in id order, so that
// concurrent demotions run one after the other and the later one sees the
// earlier one's change.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, userID string) error {
	rows, err := tx.Query(ctx, `SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if slices.Contains(ids, userID) && len(ids) == 1 {
		return store.ErrLastAdmin
	}
	return nil
}

// SetPassword replaces a user's password hash.
func (t tables) SetPassword(ctx context.Context, userID, hash string) (err error) {
	defer unavailable(&err)
	return affected(t.q.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID))
}

// ReactivateUser makes a user active as of now.
func (t tables) ReactivateUser(ctx context.Context, userID string, now time.Time) (_ *store.User, err error) {
	defer unavailable(&err)
	return scanUser(t.q.QueryRow(ctx, `UPDATE users SET status = 'active', last_active_at = $1 WHERE id = $2
		RETURNING `+userColumns, now, userID))
}

// MarkUsersInactive makes inactive the active users last active before
// before, found through users_activity. Locked before they change, the
// rows are read again as they are then: a user whose activity was recorded
// meanwhile stays active.
func (t tables) MarkUsersInactive(ctx context.Context, before, _ time.Time) (_ []string, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `UPDATE users SET status = 'inactive' WHERE id IN (
			SELECT id FROM users WHERE status = 'active' AND role = 'member' AND coalesce(last_active_at, created_at) < $1
			ORDER BY id FOR NO KEY UPDATE)
		RETURNING id`, before)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// RecordActivity moves last activity and last use forward, never back.
func (t tables) RecordActivity(ctx context.Context, users, tokens map[string]time.Time) (err error) {
	defer unavailable(&err)
	if len(users) == 0 && len(tokens) == 0 {
		return nil
	}
	userIDs, userTimes := byID(users)
	tokenIDs, tokenTimes := byID(tokens)
	return t.atomic(ctx, func(tx pgx.Tx) error {
		// Locked first, in a statement of its own: the update that follows
		// reads each row as it is once locked, so a user made inactive
		// meanwhile is left alone.
		if len(userIDs) > 0 {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
				userIDs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE users u SET last_active_at = a.at
				FROM unnest($1::text[], $2::timestamptz[]) AS a(id, at)
				WHERE u.id = a.id AND u.status = 'active' AND (u.last_active_at IS NULL OR u.last_active_at < a.at)`,
				userIDs, userTimes); err != nil {
				return err
			}
		}
		if len(tokenIDs) > 0 {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM tokens WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
				tokenIDs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE tokens k SET last_used_at = a.at
				FROM unnest($1::text[], $2::timestamptz[]) AS a(id, at)
				WHERE k.id = a.id AND (k.last_used_at IS NULL OR k.last_used_at < a.at)`,
				tokenIDs, tokenTimes); err != nil {
				return err
			}
		}
		return nil
	})
}

// byID returns the keys of m, sorted, and their values in the same order.
func byID(m map[string]time.Time) ([]string, []time.Time) {
	ids := slices.Sorted(maps.Keys(m))
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = m[id]
	}
	return ids, times
}

// DeleteUser deletes a user that owns no token; its memberships and
// sessions go with it (ON DELETE CASCADE). The user's row is locked first:
// a token being created for it holds the row (insertToken) until it
// commits, so the check that follows, a statement of its own, sees it; and
// a token created after the lock waits, and finds the user gone.
func (t tables) DeleteUser(ctx context.Context, id string) (err error) {
	defer unavailable(&err)
	return t.atomic(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if err := keepAnAdmin(ctx, tx, id); err != nil {
			return err
		}
		var owns bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens WHERE user_id = $1)`, id).Scan(&owns); err != nil {
			return err
		}
		if owns {
			return store.ErrHasTokens
		}
		_, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return err
	})
}

// SetMemberships makes the user a member of exactly workspaceIDs. The user
// is locked so that two calls for one user run one after the other, and
// the workspaces so that none is deleted before commit.
func (t tables) SetMemberships(ctx context.Context, userID string, workspaceIDs []string) (err error) {
	defer unavailable(&err)
	ids := slices.Compact(slices.Sorted(slices.Values(workspaceIDs)))
	if ids == nil {
		ids = []string{} // an empty array, not NULL
	}
	return t.atomic(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		var found int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (
				SELECT id FROM workspaces WHERE id = ANY($1) ORDER BY id FOR KEY SHARE) w`, ids).Scan(&found); err != nil {
			return err
		}
		if found != len(ids) {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM workspace_members WHERE user_id = $1 AND NOT (workspace_id = ANY($2))`,
			userID, ids); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id) SELECT unnest($2::text[]), $1
			ON CONFLICT DO NOTHING`, userID, ids)
		return err
	})
}

// Memberships returns the ids of the user's workspaces, sorted.
func (t tables) Memberships(ctx context.Context, userID string) (_ []string, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT workspace_id FROM workspace_members WHERE user_id = $1 ORDER BY workspace_id`,
		userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ListTokens pages a user's tokens by id.
func (t tables) ListTokens(ctx context.Context, userID string, p store.Page) (_ []store.Token, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE user_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, userID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanToken)
}

// GetToken returns one token.
func (t tables) GetToken(ctx context.Context, id string) (_ *store.Token, err error) {
	defer unavailable(&err)
	return scanToken(t.q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
}

// TransferToken gives a token to another user, holding that user's row as
// insertToken does.
func (t tables) TransferToken(ctx context.Context, id, toUserID string) (_ *store.Token, err error) {
	defer unavailable(&err)
	return scanToken(t.q.QueryRow(ctx, `WITH u AS (SELECT id AS owner FROM users WHERE id = $2 FOR KEY SHARE)
		UPDATE tokens SET user_id = owner FROM u WHERE id = $1 RETURNING `+tokenColumns, id, toUserID))
}

// CountTokens counts a user's tokens.
func (t tables) CountTokens(ctx context.Context, userID string) (_ int, err error) {
	defer unavailable(&err)
	var n int
	err = t.q.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE user_id = $1`, userID).Scan(&n)
	return n, err
}

// CreateSession stores a login or portal session, holding its user's row
// (and its workspace's) as insertToken does: a missing one is found without
// a foreign key error, which would abort InTx's transaction.
func (t tables) CreateSession(ctx context.Context, s *store.Session) (err error) {
	defer unavailable(&err)
	return ownedInsert(t.q.QueryRow(ctx, `WITH u AS (SELECT id AS owner FROM users WHERE id = $2 FOR KEY SHARE),
		w AS (SELECT id FROM workspaces WHERE id = $5 FOR KEY SHARE),
		ok AS (SELECT owner FROM u WHERE $5 = '' OR EXISTS (SELECT 1 FROM w)),
		ins AS (INSERT INTO sessions (hash, user_id, workspace_id, created_at, expires_at)
			SELECT $1::text, owner, NULLIF($5::text, ''), $3::timestamptz, $4::timestamptz FROM ok
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM ok), EXISTS (SELECT 1 FROM ins)`,
		s.Hash, s.UserID, s.CreatedAt, s.ExpiresAt, s.WorkspaceID))
}

// SessionByHash returns a session unexpired at now, with its user.
func (t tables) SessionByHash(ctx context.Context, hash string, now time.Time) (_ *store.Session, _ *store.User, err error) {
	defer unavailable(&err)
	var s store.Session
	var u store.User
	err = t.q.QueryRow(ctx, `SELECT s.hash, coalesce(s.workspace_id, ''), s.created_at, s.expires_at,
			u.id, u.email, u.name, u.role, u.password_hash, u.status, u.last_active_at, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1 AND s.expires_at > $2`, hash, now).
		Scan(&s.Hash, &s.WorkspaceID, &s.CreatedAt, &s.ExpiresAt, &u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash,
			&u.Status, &u.LastActiveAt, &u.CreatedAt)
	if err != nil {
		return nil, nil, notFound(err)
	}
	s.UserID = u.ID
	s.CreatedAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.ExpiresAt)
	u.LastActiveAt, u.CreatedAt = utcPtr(u.LastActiveAt), utc(u.CreatedAt)
	return &s, &u, nil
}

// DeleteSession ends one session.
func (t tables) DeleteSession(ctx context.Context, hash string) (err error) {
	defer unavailable(&err)
	return affected(t.q.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash))
}

// DeleteUserSessions ends every session of a user.
func (t tables) DeleteUserSessions(ctx context.Context, userID string) (err error) {
	defer unavailable(&err)
	_, err = t.q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// PruneSessions deletes the sessions expired at now.
func (t tables) PruneSessions(ctx context.Context, now time.Time) (_ int, err error) {
	defer unavailable(&err)
	tag, err := t.q.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	return int(tag.RowsAffected()), err
}
