// Workspaces, membership, users, tokens and event types.
package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

// CreateWorkspace inserts w and makes ownerID (if set) a member.
func (db *DB) CreateWorkspace(ctx context.Context, w *store.Workspace, ownerID string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)`,
			w.ID, w.Name, w.CreatedAt); err != nil {
			return conflict(err)
		}
		if ownerID == "" {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id) VALUES ($1, $2)`, w.ID, ownerID)
		return err
	})
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
func (db *DB) GetWorkspace(ctx context.Context, id string) (*store.Workspace, error) {
	return scanWorkspace(db.pool.QueryRow(ctx, `SELECT id, name, created_at FROM workspaces WHERE id = $1`, id))
}

// ListWorkspaces lists workspaces by id, all of them or a member's.
func (db *DB) ListWorkspaces(ctx context.Context, userID string, p store.Page) ([]store.Workspace, error) {
	rows, err := db.pool.Query(ctx, `SELECT w.id, w.name, w.created_at FROM workspaces w
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
func (db *DB) IsMember(ctx context.Context, workspaceID, userID string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = $1 AND user_id = $2)`,
		workspaceID, userID).Scan(&ok)
	return ok, err
}

// CountUsers counts accounts.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CreateUser inserts u; a taken email is store.ErrConflict.
func (db *DB) CreateUser(ctx context.Context, u *store.User) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO users (id, email, name, role, password_hash, status, last_active_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, u.Name, u.Role, u.PasswordHash, u.Status, u.LastActiveAt, u.CreatedAt)
	return conflict(err)
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
func (db *DB) GetUser(ctx context.Context, id string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// CreateToken inserts t (its hash only).
func (db *DB) CreateToken(ctx context.Context, t *store.Token) error {
	var res *string
	if t.ResourceID != "" {
		res = &t.ResourceID
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO tokens (id, user_id, kind, name, hash, resource_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, t.UserID, t.Kind, t.Name, t.Hash, res, t.CreatedAt)
	return conflict(err)
}

// TokenByHash finds a token and its owner by the token's hash.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*store.Token, *store.User, error) {
	var t store.Token
	var res *string
	err := db.pool.QueryRow(ctx, `SELECT id, user_id, kind, name, hash, resource_id, created_at, last_used_at
		FROM tokens WHERE hash = $1`, hash).Scan(&t.ID, &t.UserID, &t.Kind, &t.Name, &t.Hash, &res, &t.CreatedAt, &t.LastUsedAt)
	if err != nil {
		return nil, nil, notFound(err)
	}
	if res != nil {
		t.ResourceID = *res
	}
	t.CreatedAt, t.LastUsedAt = utc(t.CreatedAt), utcPtr(t.LastUsedAt)
	u, err := db.GetUser(ctx, t.UserID)
	if err != nil {
		return nil, nil, err
	}
	return &t, u, nil
}

// CreateEventType inserts et; a taken name is store.ErrConflict.
func (db *DB) CreateEventType(ctx context.Context, et *store.EventType) error {
	var schema *string
	if len(et.Schema) > 0 {
		s := string(et.Schema)
		schema = &s
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO event_types (workspace_id, name, label, description, schema, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, et.WorkspaceID, et.Name, et.Label, et.Description, schema, et.CreatedAt)
	return conflict(err)
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
func (db *DB) GetEventType(ctx context.Context, workspaceID, name string) (*store.EventType, error) {
	return scanEventType(db.pool.QueryRow(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE workspace_id = $1 AND name = $2`, workspaceID, name))
}

// ListEventTypes lists a workspace's event types by name.
func (db *DB) ListEventTypes(ctx context.Context, workspaceID string, p store.Page) ([]store.EventType, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE workspace_id = $1 AND name > $2 ORDER BY name LIMIT $3`, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanEventType)
}
