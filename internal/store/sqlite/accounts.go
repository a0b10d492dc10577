// Workspaces, membership, users, tokens and event types: the small,
// rarely-written tables, which InTx can change in one transaction.
package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/postbode/postbode/internal/store"
)

// tables implements store.Tx once for both ways of reaching the small
// tables: through the pools, or inside one write transaction (InTx), where
// reads go through the transaction too so that they see its writes.
type tables struct {
	r querier // reads
	w writer  // writes
}

// querier runs statements: a pool or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writer is a querier that can run several statements all or none.
type writer interface {
	querier
	atomic(ctx context.Context, fn func(context.Context, querier) error) error
}

// poolWriter writes through the writer pool, taking a transaction for
// statements that go together.
type poolWriter struct{ *sql.DB }

func (p poolWriter) atomic(ctx context.Context, fn func(context.Context, querier) error) error {
	return writeTx(ctx, p.DB, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, tx) })
}

// txWriter writes inside InTx's transaction.
type txWriter struct{ *sql.Tx }

// atomic runs fn under a savepoint: a method that fails with ErrNotFound or
// ErrConflict after some of its writes leaves the transaction usable, so it
// must also leave it as it found it.
func (t txWriter) atomic(ctx context.Context, fn func(context.Context, querier) error) error {
	if _, err := t.ExecContext(ctx, `SAVEPOINT atomic`); err != nil {
		return err
	}
	if err := fn(ctx, t.Tx); err != nil {
		if _, undo := t.ExecContext(ctx, `ROLLBACK TO atomic`); undo != nil {
			return errors.Join(err, undo)
		}
		if _, undo := t.ExecContext(ctx, `RELEASE atomic`); undo != nil {
			return errors.Join(err, undo)
		}
		return err
	}
	_, err := t.ExecContext(ctx, `RELEASE atomic`)
	return err
}

// CreateWorkspace inserts w and makes ownerID (if set) a member.
func (t tables) CreateWorkspace(ctx context.Context, w *store.Workspace, ownerID string) error {
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)`,
			w.ID, w.Name, micros(w.CreatedAt)); err != nil {
			return conflict(err)
		}
		if ownerID == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO workspace_members (workspace_id, user_id) VALUES (?, ?)`, w.ID, ownerID)
		return err
	})
}

// GetWorkspace returns one workspace.
func (t tables) GetWorkspace(ctx context.Context, id string) (*store.Workspace, error) {
	var w store.Workspace
	var created int64
	err := t.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM workspaces WHERE id = ?`, id).Scan(&w.ID, &w.Name, &created)
	if err != nil {
		return nil, notFound(err)
	}
	w.CreatedAt = fromMicros(created)
	return &w, nil
}

// ListWorkspaces lists workspaces by id, all of them or a member's.
func (t tables) ListWorkspaces(ctx context.Context, userID string, p store.Page) ([]store.Workspace, error) {
	q := `SELECT id, name, created_at FROM workspaces WHERE id > ? ORDER BY id LIMIT ?`
	args := []any{p.Cursor, p.Size()}
	if userID != "" {
		q = `SELECT w.id, w.name, w.created_at FROM workspaces w
			JOIN workspace_members m ON m.workspace_id = w.id AND m.user_id = ?
			WHERE w.id > ? ORDER BY w.id LIMIT ?`
		args = append([]any{userID}, args...)
	}
	rows, err := t.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Workspace
	for rows.Next() {
		var w store.Workspace
		var created int64
		if err := rows.Scan(&w.ID, &w.Name, &created); err != nil {
			return nil, err
		}
		w.CreatedAt = fromMicros(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

// IsMember reports whether userID belongs to workspaceID.
func (t tables) IsMember(ctx context.Context, workspaceID, userID string) (bool, error) {
	var n int
	err := t.r.QueryRowContext(ctx, `SELECT count(*) FROM workspace_members WHERE workspace_id = ? AND user_id = ?`,
		workspaceID, userID).Scan(&n)
	return n > 0, err
}

// CountUsers counts accounts.
func (t tables) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := t.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CreateUser inserts u; a taken email is store.ErrConflict.
func (t tables) CreateUser(ctx context.Context, u *store.User) error {
	_, err := t.w.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, status, last_active_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.Role, u.PasswordHash, u.Status, nullMicros(u.LastActiveAt), micros(u.CreatedAt))
	return conflict(err)
}

const userColumns = `id, email, name, role, password_hash, status, last_active_at, created_at`

func scanUser(row interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	var last sql.NullInt64
	var created int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Status, &last, &created); err != nil {
		return nil, notFound(err)
	}
	u.LastActiveAt = timePtr(last)
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// GetUser returns one user.
func (t tables) GetUser(ctx context.Context, id string) (*store.User, error) {
	return scanUser(t.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// CreateToken inserts tok (its hash only).
func (t tables) CreateToken(ctx context.Context, tok *store.Token) error {
	return insertToken(ctx, t.w, tok)
}

func insertToken(ctx context.Context, q querier, tok *store.Token) error {
	_, err := q.ExecContext(ctx, `INSERT INTO tokens (id, user_id, kind, name, hash, resource_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tok.ID, tok.UserID, tok.Kind, tok.Name, tok.Hash,
		sql.NullString{String: tok.ResourceID, Valid: tok.ResourceID != ""}, micros(tok.CreatedAt))
	return missing(conflict(err))
}

const tokenColumns = `id, user_id, kind, name, hash, resource_id, created_at, last_used_at`

func scanToken(row interface{ Scan(...any) error }) (*store.Token, error) {
	var tok store.Token
	var res sql.NullString
	var created int64
	var used sql.NullInt64
	if err := row.Scan(&tok.ID, &tok.UserID, &tok.Kind, &tok.Name, &tok.Hash, &res, &created, &used); err != nil {
		return nil, notFound(err)
	}
	tok.ResourceID = res.String
	tok.CreatedAt = fromMicros(created)
	tok.LastUsedAt = timePtr(used)
	return &tok, nil
}

// DeleteToken deletes a token.
func (t tables) DeleteToken(ctx context.Context, id string) error {
	return affected(t.w.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id))
}

// TokenByHash finds a token and its owner by the token's hash.
func (t tables) TokenByHash(ctx context.Context, hash string) (*store.Token, *store.User, error) {
	tok, err := scanToken(t.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if err != nil {
		return nil, nil, err
	}
	u, err := t.GetUser(ctx, tok.UserID)
	if err != nil {
		return nil, nil, err
	}
	return tok, u, nil
}

// CreateEventType inserts et; a taken name is store.ErrConflict.
func (t tables) CreateEventType(ctx context.Context, et *store.EventType) error {
	var schema any
	if len(et.Schema) > 0 {
		schema = string(et.Schema)
	}
	_, err := t.w.ExecContext(ctx, `INSERT INTO event_types (workspace_id, name, label, description, schema, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, et.WorkspaceID, et.Name, et.Label, et.Description, schema, micros(et.CreatedAt))
	return conflict(err)
}

const eventTypeColumns = `workspace_id, name, label, description, schema, created_at`

func scanEventType(row interface{ Scan(...any) error }) (*store.EventType, error) {
	var et store.EventType
	var schema sql.NullString
	var created int64
	if err := row.Scan(&et.WorkspaceID, &et.Name, &et.Label, &et.Description, &schema, &created); err != nil {
		return nil, notFound(err)
	}
	if schema.Valid {
		et.Schema = []byte(schema.String)
	}
	et.CreatedAt = fromMicros(created)
	return &et, nil
}

// GetEventType returns one event type.
func (t tables) GetEventType(ctx context.Context, workspaceID, name string) (*store.EventType, error) {
	return scanEventType(t.r.QueryRowContext(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE workspace_id = ? AND name = ?`, workspaceID, name))
}

// ListEventTypes lists a workspace's event types by name.
func (t tables) ListEventTypes(ctx context.Context, workspaceID string, p store.Page) ([]store.EventType, error) {
	rows, err := t.r.QueryContext(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE workspace_id = ? AND name > ? ORDER BY name LIMIT ?`, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.EventType
	for rows.Next() {
		et, err := scanEventType(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *et)
	}
	return out, rows.Err()
}
