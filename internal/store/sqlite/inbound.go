// Inbound webhooks, their app tokens and their request logs: small tables
// like the accounts, so through the pools or inside InTx.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/postbode/postbode/internal/store"
)

const inboundColumns = `id, workspace_id, name, auth, username, event_type, verify, dedupe_header, status,
	created_at, updated_at`

func scanInbound(row interface{ Scan(...any) error }) (*store.Inbound, error) {
	var in store.Inbound
	var verify sql.NullString
	var created, updated int64
	if err := row.Scan(&in.ID, &in.WorkspaceID, &in.Name, &in.Auth, &in.Username, &in.EventType, &verify,
		&in.DedupeHeader, &in.Status, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	if verify.Valid {
		in.Verify = []byte(verify.String)
	}
	in.CreatedAt, in.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &in, nil
}

func verifyText(v []byte) any {
	if v == nil {
		return nil
	}
	return string(v)
}

// CreateInbound inserts a webhook and its app token together.
func (t tables) CreateInbound(ctx context.Context, in *store.Inbound, tok *store.Token) error {
	tok.ResourceID = in.ID
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_webhooks (`+inboundColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.ID, in.WorkspaceID, in.Name, in.Auth, in.Username, in.EventType,
			verifyText(in.Verify), in.DedupeHeader, in.Status, micros(in.CreatedAt), micros(in.UpdatedAt)); err != nil {
			return missing(conflict(err))
		}
		return insertToken(ctx, tx, tok)
	})
}

// GetInbound returns a webhook of a workspace.
func (t tables) GetInbound(ctx context.Context, workspaceID, id string) (*store.Inbound, error) {
	return scanInbound(t.r.QueryRowContext(ctx, `SELECT `+inboundColumns+` FROM inbound_webhooks
		WHERE id = ? AND workspace_id = ?`, id, workspaceID))
}

// InboundByID returns a webhook by id alone.
func (t tables) InboundByID(ctx context.Context, id string) (*store.Inbound, error) {
	return scanInbound(t.r.QueryRowContext(ctx, `SELECT `+inboundColumns+` FROM inbound_webhooks WHERE id = ?`, id))
}

// ListInbound pages a workspace's webhooks by id.
func (t tables) ListInbound(ctx context.Context, workspaceID string, p store.Page) ([]store.Inbound, error) {
	return queryAll(ctx, t.r, scanInbound, `SELECT `+inboundColumns+` FROM inbound_webhooks
		WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?`, workspaceID, p.Cursor, p.Size())
}

// UpdateInbound writes the fields a PATCH may change.
func (t tables) UpdateInbound(ctx context.Context, in *store.Inbound) error {
	return affected(t.w.ExecContext(ctx, `UPDATE inbound_webhooks SET name = ?, event_type = ?, verify = ?,
		dedupe_header = ?, updated_at = ? WHERE id = ? AND workspace_id = ?`, in.Name, in.EventType, verifyText(in.Verify),
		in.DedupeHeader, micros(in.UpdatedAt), in.ID, in.WorkspaceID))
}

// SetInboundStatus moves a webhook to status.
func (t tables) SetInboundStatus(ctx context.Context, workspaceID, id, status string, now time.Time) (*store.Inbound, error) {
	return scanInbound(t.w.QueryRowContext(ctx, `UPDATE inbound_webhooks SET status = ?, updated_at = ?
		WHERE id = ? AND workspace_id = ? RETURNING `+inboundColumns, status, micros(now), id, workspaceID))
}

// DeleteInbound deletes a webhook, its log (ON DELETE CASCADE) and its app
// tokens, which it returns.
func (t tables) DeleteInbound(ctx context.Context, workspaceID, id string) ([]store.Token, error) {
	var removed []store.Token
	err := t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		var err error
		if removed, err = deleteAppTokens(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM inbound_webhooks WHERE id = ?`, id)
		return err
	})
	return removed, err
}

// ReplaceInboundToken puts tok in place of a webhook's app tokens.
func (t tables) ReplaceInboundToken(ctx context.Context, workspaceID, id string, tok *store.Token) ([]store.Token, error) {
	tok.ResourceID = id
	var removed []store.Token
	err := t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		var err error
		if removed, err = deleteAppTokens(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		return insertToken(ctx, tx, tok)
	})
	return removed, err
}

// deleteAppTokens deletes the app tokens of a webhook of the workspace and
// returns them by id; a webhook not in the workspace is store.ErrNotFound.
func deleteAppTokens(ctx context.Context, tx querier, workspaceID, id string) ([]store.Token, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM inbound_webhooks WHERE id = ? AND workspace_id = ?`,
		id, workspaceID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, store.ErrNotFound
	}
	removed, err := queryAll(ctx, tx, scanToken, `DELETE FROM tokens WHERE resource_id = ? RETURNING `+tokenColumns, id)
	slices.SortFunc(removed, func(a, b store.Token) int { return cmp.Compare(a.ID, b.ID) })
	return removed, err
}

const inboundRequestColumns = `id, inbound_id, workspace_id, received_at, status, error, event_id, remote_addr,
	method, headers, body, body_truncated`

func scanInboundRequest(row interface{ Scan(...any) error }) (*store.InboundRequest, error) {
	var r store.InboundRequest
	var received int64
	var eventID sql.NullString
	var headers string
	var truncated int
	if err := row.Scan(&r.ID, &r.InboundID, &r.WorkspaceID, &received, &r.Status, &r.Error, &eventID, &r.RemoteAddr,
		&r.Request.Method, &headers, &r.Request.Body, &truncated); err != nil {
		return nil, notFound(err)
	}
	if err := jsonDecode(headers, &r.Request.Headers); err != nil {
		return nil, err
	}
	r.ReceivedAt = fromMicros(received)
	r.EventID = stringPtr(eventID)
	r.Request.BodyTruncated = truncated != 0
	return &r, nil
}

// InsertInboundRequests writes a batch of logged requests, then trims the
// log of each webhook named to its newest keep.
func (t tables) InsertInboundRequests(ctx context.Context, reqs []store.InboundRequest, keep int) error {
	if len(reqs) == 0 {
		return nil
	}
	return t.w.atomic(ctx, func(ctx context.Context, tx querier) error {
		var touched []string
		for i := range reqs {
			r := &reqs[i]
			// Selected from the webhook: none when it is gone, and its
			// workspace whatever the request says.
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO inbound_requests (`+inboundRequestColumns+`)
				SELECT ?, id, workspace_id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM inbound_webhooks WHERE id = ?`,
				r.ID, micros(r.ReceivedAt), r.Status, r.Error, nullString(r.EventID), r.RemoteAddr, r.Request.Method,
				jsonText(r.Request.Headers), r.Request.Body, boolInt(r.Request.BodyTruncated), r.InboundID); err != nil {
				return err
			}
			touched = append(touched, r.InboundID)
		}
		slices.Sort(touched)
		for _, id := range slices.Compact(touched) {
			// Everything from the (keep+1)th newest down, along the index.
			if _, err := tx.ExecContext(ctx, `DELETE FROM inbound_requests WHERE inbound_id = ?1 AND id <= (
				SELECT id FROM inbound_requests WHERE inbound_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`,
				id, max(keep, 0)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListInboundRequests pages a webhook's log newest first.
func (t tables) ListInboundRequests(ctx context.Context, workspaceID, inboundID string, p store.Page) ([]store.InboundRequest, error) {
	out, err := queryAll(ctx, t.r, scanInboundRequest, `SELECT `+inboundRequestColumns+` FROM inbound_requests
		WHERE inbound_id = ?1 AND workspace_id = ?2 AND (?3 = '' OR id < ?3) ORDER BY id DESC LIMIT ?4`,
		inboundID, workspaceID, p.Cursor, p.Size())
	if err != nil || len(out) > 0 {
		return out, err
	}
	// No requests, or no such webhook: only the second is an error.
	if _, err := t.GetInbound(ctx, workspaceID, inboundID); err != nil {
		return nil, err
	}
	return []store.InboundRequest{}, nil
}
