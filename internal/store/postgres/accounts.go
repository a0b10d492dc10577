// Workspaces, membership, users, tokens and event types: the small,
// rarely-written tables, which InTx can change in one transaction.
//
// A write of one statement finds a taken key with ON CONFLICT DO NOTHING,
// and a missing row it refers to by locking that row (FOR KEY SHARE) in the
// statement, rather than by the error of a violated constraint: an error
// aborts a PostgreSQL transaction, and a conflict must leave InTx's
// transaction usable, as it does on SQLite. A write of several statements
// runs in atomic, which may map errors: under a savepoint inside InTx, an
// error undoes only its own writes.
package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/postbode/postbode/internal/store"
)

// tables implements store.Tx once for the pool and for a transaction
// (InTx).
type tables struct{ q querier }

// querier runs statements: the pool or a transaction.
type querier interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// atomic runs fn in a transaction of its own, or under a savepoint inside
// InTx's: either way all or none of fn's writes are kept, and an error
// leaves InTx's transaction as fn found it.
func (t tables) atomic(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, t.q, fn)
}

// inserted maps an insert that did nothing (ON CONFLICT DO NOTHING) to
// store.ErrConflict.
func inserted(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		return store.ErrConflict
	}
	return err
}

// CreateWorkspace inserts w and makes ownerID (if set) a member, in one
// statement so that both or neither are written without a transaction.
func (t tables) CreateWorkspace(ctx context.Context, w *store.Workspace, ownerID string) (err error) {
	defer unavailable(&err)
	var n int
	err = t.q.QueryRow(ctx, `WITH w AS (
			INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id
		), m AS (
			INSERT INTO workspace_members (workspace_id, user_id) SELECT id, $4 FROM w WHERE $4 <> ''
		)
		SELECT count(*) FROM w`, w.ID, w.Name, w.CreatedAt, ownerID).Scan(&n)
	if err == nil && n == 0 {
		return store.ErrConflict
	}
	return err
}

func scanWorkspace(row scanner) (*store.Workspace, error) {
	var w store.Workspace
	if err := row.Scan(&w.ID, &w.Name, &w.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	w.CreatedAt = utc(w.CreatedAt)
	return &w, nil
}

// GetWorkspace returns one workspace.
func (t tables) GetWorkspace(ctx context.Context, id string) (_ *store.Workspace, err error) {
	defer unavailable(&err)
	return scanWorkspace(t.q.QueryRow(ctx, `SELECT id, name, created_at FROM workspaces WHERE id = $1`, id))
}

// ListWorkspaces lists workspaces by id, all of them or a member's.
func (t tables) ListWorkspaces(ctx context.Context, userID string, p store.Page) (_ []store.Workspace, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT w.id, w.name, w.created_at FROM workspaces w
		WHERE w.id > $1 AND ($2 = '' OR EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = w.id AND m.user_id = $2))
		ORDER BY w.id LIMIT $3`, p.Cursor, userID, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanWorkspace)
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, scan func(scanner) (*T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// IsMember reports whether userID belongs to workspaceID.
func (t tables) IsMember(ctx context.Context, workspaceID, userID string) (_ bool, err error) {
	defer unavailable(&err)
	var ok bool
	err = t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = $1 AND user_id = $2)`,
		workspaceID, userID).Scan(&ok)
	return ok, err
}

// CountUsers counts accounts.
func (t tables) CountUsers(ctx context.Context) (_ int, err error) {
	defer unavailable(&err)
	var n int
	err = t.q.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CreateUser inserts u; a taken email is store.ErrConflict.
func (t tables) CreateUser(ctx context.Context, u *store.User) (err error) {
	defer unavailable(&err)
	return inserted(t.q.Exec(ctx, `INSERT INTO users (id, email, name, role, password_hash, status, last_active_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		u.ID, u.Email, u.Name, u.Role, u.PasswordHash, u.Status, u.LastActiveAt, u.CreatedAt))
}

const userColumns = `id, email, name, role, password_hash, status, last_active_at, created_at`

func scanUser(row scanner) (*store.User, error) {
	var u store.User
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Status, &u.LastActiveAt, &u.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	u.LastActiveAt, u.CreatedAt = utcPtr(u.LastActiveAt), utc(u.CreatedAt)
	return &u, nil
}

// GetUser returns one user.
func (t tables) GetUser(ctx context.Context, id string) (_ *store.User, err error) {
	defer unavailable(&err)
	return scanUser(t.q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// CreateToken inserts tok (its hash only).
func (t tables) CreateToken(ctx context.Context, tok *store.Token) (err error) {
	defer unavailable(&err)
	return insertToken(ctx, t.q, tok)
}

// insertToken inserts tok while holding its owner's row, which a delete of
// the owner must wait for: the owner is either there until commit, or gone
// and the token not written (store.ErrNotFound).
func insertToken(ctx context.Context, q querier, tok *store.Token) error {
	var res *string
	if tok.ResourceID != "" {
		res = &tok.ResourceID
	}
	return ownedInsert(q.QueryRow(ctx, `WITH u AS (SELECT id AS owner FROM users WHERE id = $2 FOR KEY SHARE),
		ins AS (INSERT INTO tokens (id, user_id, kind, name, hash, resource_id, created_at)
			SELECT $1::text, owner, $3::text, $4::text, $5::text, $6::text, $7::timestamptz FROM u
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM ins)`,
		tok.ID, tok.UserID, tok.Kind, tok.Name, tok.Hash, res, tok.CreatedAt))
}

// ownedInsert reads the answer of an insert made while holding its
// owner's row (WITH u … FOR KEY SHARE, ins … ON CONFLICT DO NOTHING):
// whether the owner was there, and whether the row went in.
func ownedInsert(row pgx.Row) error {
	var owner, ok bool
	switch err := row.Scan(&owner, &ok); {
	case err != nil:
		return err
	case !owner:
		return store.ErrNotFound
	case !ok:
		return store.ErrConflict
	}
	return nil
}

const tokenColumns = `id, user_id, kind, name, hash, resource_id, created_at, last_used_at`

func scanToken(row scanner) (*store.Token, error) {
	var tok store.Token
	var res *string
	if err := row.Scan(&tok.ID, &tok.UserID, &tok.Kind, &tok.Name, &tok.Hash, &res, &tok.CreatedAt,
		&tok.LastUsedAt); err != nil {
		return nil, notFound(err)
	}
	if res != nil {
		tok.ResourceID = *res
	}
	tok.CreatedAt, tok.LastUsedAt = utc(tok.CreatedAt), utcPtr(tok.LastUsedAt)
	return &tok, nil
}

// DeleteToken deletes a token.
func (t tables) DeleteToken(ctx context.Context, id string) (err error) {
	defer unavailable(&err)
	return affected(t.q.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id))
}

// TokenByHash finds a token and its owner by the token's hash.
func (t tables) TokenByHash(ctx context.Context, hash string) (_ *store.Token, _ *store.User, err error) {
	defer unavailable(&err)
	tok, err := scanToken(t.q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
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
func (t tables) CreateEventType(ctx context.Context, et *store.EventType) (err error) {
	defer unavailable(&err)
	var schema *string
	if len(et.Schema) > 0 {
		s := string(et.Schema)
		schema = &s
	}
	return inserted(t.q.Exec(ctx, `INSERT INTO event_types (workspace_id, name, label, description, schema, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		et.WorkspaceID, et.Name, et.Label, et.Description, schema, et.CreatedAt))
}

const eventTypeColumns = `workspace_id, name, label, description, schema, created_at`

func scanEventType(row scanner) (*store.EventType, error) {
	var et store.EventType
	var schema *string
	if err := row.Scan(&et.WorkspaceID, &et.Name, &et.Label, &et.Description, &schema, &et.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	if schema != nil {
		et.Schema = []byte(*schema)
	}
	et.CreatedAt = utc(et.CreatedAt)
	return &et, nil
}

// GetEventType returns one event type.
func (t tables) GetEventType(ctx context.Context, workspaceID, name string) (_ *store.EventType, err error) {
	defer unavailable(&err)
	return scanEventType(t.q.QueryRow(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE workspace_id = $1 AND name = $2`, workspaceID, name))
}

// ListEventTypes lists a workspace's event types by name, in byte order
// whatever the database's collation, as SQLite orders them: a database
// made with an ICU or glibc locale would otherwise put "_a" before "-a".
func (t tables) ListEventTypes(ctx context.Context, workspaceID string, p store.Page) (_ []store.EventType, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE workspace_id = $1 AND name > $2 COLLATE "C" ORDER BY name COLLATE "C" LIMIT $3`, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanEventType)
}
