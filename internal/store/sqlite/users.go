// The upkeep of accounts: users' lifecycle and activity, memberships, token
// management and login sessions. Like the rest of the small tables, through
// the pools or inside InTx.
package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// ListUsers pages every user by id.
func (t tables) ListUsers(ctx context.Context, p store.Page) ([]store.User, error) {
	return queryAll(ctx, t.r, scanUser, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`,
		p.Cursor, p.Size())
}

// UserByEmail finds a user by exact email.
func (t tables) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	return scanUser(t.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

// UpdateUser writes u's email, name and role.
func (t tables) UpdateUser(ctx context.Context, u *store.User) error {
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		if u.Role != store.RoleAdmin {
			if err := keepAnAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, name = ?, role = ? WHERE id = ?`,
			u.Email, u.Name, u.Role, u.ID)
		return conflict(affected(res, err))
	})
}

// keepAnAdmin refuses, with ErrLastAdmin, to take userID's admin role when
// no other admin remains; the one writer runs such transactions one after
// the other.
func keepAnAdmin(ctx context.Context, tx querier, userID string) error {
	var isAdmin bool
	var others int
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND role = 'admin'),
		(SELECT count(*) FROM users WHERE role = 'admin' AND id != ?1)`, userID).Scan(&isAdmin, &others); err != nil {
		return err
	}
	if isAdmin && others == 0 {
		return store.ErrLastAdmin
	}
	return nil
}

// SetPassword replaces a user's password hash.
func (t tables) SetPassword(ctx context.Context, userID, hash string) error {
	return affected(t.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID))
}

// ReactivateUser makes a user active as of now.
func (t tables) ReactivateUser(ctx context.Context, userID string, now time.Time) (*store.User, error) {
	return scanUser(t.w.QueryRowContext(ctx, `UPDATE users SET status = 'active', last_active_at = ? WHERE id = ?
		RETURNING `+userColumns, micros(now), userID))
}

// MarkUsersInactive makes inactive the active users last active before
// before. The condition is users_activity's, so only the rows it changes
// are read.
func (t tables) MarkUsersInactive(ctx context.Context, before, _ time.Time) ([]string, error) {
	return queryStrings(ctx, t.w, `UPDATE users SET status = 'inactive'
		WHERE status = 'active' AND role = 'member' AND coalesce(last_active_at, created_at) < ? RETURNING id`, micros(before))
}

// RecordActivity moves last activity and last use forward, never back.
func (t tables) RecordActivity(ctx context.Context, users, tokens map[string]time.Time) error {
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		for id, at := range users {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET last_active_at = ?1
				WHERE id = ?2 AND status = 'active' AND (last_active_at IS NULL OR last_active_at < ?1)`,
				micros(at), id); err != nil {
				return err
			}
		}
		for id, at := range tokens {
			if _, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?1
				WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`, micros(at), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteUser deletes a user that owns no token; its memberships and
// sessions go with it (ON DELETE CASCADE). The one writer makes the check
// and the delete one step: no token can be created between them.
func (t tables) DeleteUser(ctx context.Context, id string) error {
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		var exists, owns bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1),
			EXISTS (SELECT 1 FROM tokens WHERE user_id = ?1)`, id).Scan(&exists, &owns); err != nil {
			return err
		}
		switch {
		case !exists:
			return store.ErrNotFound
		case owns:
			return store.ErrHasTokens
		}
		if err := keepAnAdmin(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
}

// SetMemberships makes the user a member of exactly workspaceIDs.
func (t tables) SetMemberships(ctx context.Context, userID string, workspaceIDs []string) error {
	ids := slices.Compact(slices.Sorted(slices.Values(workspaceIDs)))
	if ids == nil {
		ids = []string{} // a JSON array, not null
	}
	list := jsonText(ids)
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		var user bool
		var found int
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?),
			(SELECT count(*) FROM workspaces WHERE id IN (SELECT value FROM json_each(?)))`,
			userID, list).Scan(&user, &found); err != nil {
			return err
		}
		if !user || found != len(ids) {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM workspace_members
			WHERE user_id = ? AND workspace_id NOT IN (SELECT value FROM json_each(?))`, userID, list); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO workspace_members (workspace_id, user_id)
			SELECT value, ? FROM json_each(?)`, userID, list)
		return err
	})
}

// Memberships returns the ids of the user's workspaces, sorted.
func (t tables) Memberships(ctx context.Context, userID string) ([]string, error) {
	return queryStrings(ctx, t.r, `SELECT workspace_id FROM workspace_members WHERE user_id = ? ORDER BY workspace_id`,
		userID)
}

// ListTokens pages a user's tokens by id.
func (t tables) ListTokens(ctx context.Context, userID string, p store.Page) ([]store.Token, error) {
	return queryAll(ctx, t.r, scanToken, `SELECT `+tokenColumns+` FROM tokens WHERE user_id = ? AND id > ?
		ORDER BY id LIMIT ?`, userID, p.Cursor, p.Size())
}

// GetToken returns one token.
func (t tables) GetToken(ctx context.Context, id string) (*store.Token, error) {
	return scanToken(t.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
}

// TransferToken gives a token to another user; the foreign key finds a
// missing one.
func (t tables) TransferToken(ctx context.Context, id, toUserID string) (*store.Token, error) {
	tok, err := scanToken(t.w.QueryRowContext(ctx, `UPDATE tokens SET user_id = ? WHERE id = ? RETURNING `+tokenColumns,
		toUserID, id))
	return tok, missing(err)
}

// CountTokens counts a user's tokens.
func (t tables) CountTokens(ctx context.Context, userID string) (int, error) {
	var n int
	err := t.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// CreateSession stores a login or portal session.
func (t tables) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := t.w.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, workspace_id, created_at, expires_at)
		VALUES (?, ?, NULLIF(?, ''), ?, ?)`,
		s.Hash, s.UserID, s.WorkspaceID, micros(s.CreatedAt), micros(s.ExpiresAt))
	return missing(conflict(err))
}

// SessionByHash returns a session unexpired at now, with its user.
func (t tables) SessionByHash(ctx context.Context, hash string, now time.Time) (*store.Session, *store.User, error) {
	var s store.Session
	var created, expires int64
	var u store.User
	var last sql.NullInt64
	var userCreated int64
	err := t.r.QueryRowContext(ctx, `SELECT s.hash, coalesce(s.workspace_id, ''), s.created_at, s.expires_at,
			u.id, u.email, u.name, u.role, u.password_hash, u.status, u.last_active_at, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ? AND s.expires_at > ?`, hash, micros(now)).
		Scan(&s.Hash, &s.WorkspaceID, &created, &expires, &u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Status,
			&last, &userCreated)
	if err != nil {
		return nil, nil, notFound(err)
	}
	s.UserID = u.ID
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	u.LastActiveAt, u.CreatedAt = timePtr(last), fromMicros(userCreated)
	return &s, &u, nil
}

// DeleteSession ends one session.
func (t tables) DeleteSession(ctx context.Context, hash string) error {
	return affected(t.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash))
}

// DeleteUserSessions ends every session of a user.
func (t tables) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := t.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

// PruneSessions deletes the sessions expired at now.
func (t tables) PruneSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := t.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
