// Inbound webhooks, their app tokens and their request logs: small tables
// like the accounts, so through the pool or inside InTx.
//
// A webhook's row is what its changes serialise on: deleting it or
// replacing its token locks it first, and a batch of logged requests holds
// it (FOR KEY SHARE) while it inserts, so a request is either in the log
// before the webhook is deleted, and deleted with it, or dropped.
package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
)

const inboundColumns = `id, workspace_id, name, auth, username, event_type, verify, dedupe_header, status,
	created_at, updated_at`

func scanInbound(row scanner) (*store.Inbound, error) {
	var in store.Inbound
	var verify *string
	if err := row.Scan(&in.ID, &in.WorkspaceID, &in.Name, &in.Auth, &in.Username, &in.EventType, &verify,
		&in.DedupeHeader, &in.Status, &in.CreatedAt, &in.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	if verify != nil {
		in.Verify = json.RawMessage(*verify)
	}
	in.CreatedAt, in.UpdatedAt = utc(in.CreatedAt), utc(in.UpdatedAt)
	return &in, nil
}

// verifyText is how Verify is stored: text, so that it comes back byte for
// byte, and NULL for none.
func verifyText(v json.RawMessage) *string {
	if v == nil {
		return nil
	}
	s := string(v)
	return &s
}

// CreateInbound inserts a webhook and its app token together.
func (t tables) CreateInbound(ctx context.Context, in *store.Inbound, tok *store.Token) (err error) {
	defer unavailable(&err)
	tok.ResourceID = in.ID
	return t.atomic(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO inbound_webhooks (`+inboundColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, in.ID, in.WorkspaceID, in.Name, in.Auth, in.Username,
			in.EventType, verifyText(in.Verify), in.DedupeHeader, in.Status, in.CreatedAt, in.UpdatedAt); err != nil {
			return missing(conflict(err))
		}
		return insertToken(ctx, tx, tok)
	})
}

// GetInbound returns a webhook of a workspace.
func (t tables) GetInbound(ctx context.Context, workspaceID, id string) (_ *store.Inbound, err error) {
	defer unavailable(&err)
	return scanInbound(t.q.QueryRow(ctx, `SELECT `+inboundColumns+` FROM inbound_webhooks
		WHERE id = $1 AND workspace_id = $2`, id, workspaceID))
}

// InboundByID returns a webhook by id alone.
func (t tables) InboundByID(ctx context.Context, id string) (_ *store.Inbound, err error) {
	defer unavailable(&err)
	return scanInbound(t.q.QueryRow(ctx, `SELECT `+inboundColumns+` FROM inbound_webhooks WHERE id = $1`, id))
}

// ListInbound pages a workspace's webhooks by id.
func (t tables) ListInbound(ctx context.Context, workspaceID string, p store.Page) (_ []store.Inbound, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT `+inboundColumns+` FROM inbound_webhooks
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanInbound)
}

// UpdateInbound writes the fields a PATCH may change.
func (t tables) UpdateInbound(ctx context.Context, in *store.Inbound) (err error) {
	defer unavailable(&err)
	return affected(t.q.Exec(ctx, `UPDATE inbound_webhooks SET name = $1, event_type = $2, verify = $3,
		dedupe_header = $4, updated_at = $5 WHERE id = $6 AND workspace_id = $7`, in.Name, in.EventType,
		verifyText(in.Verify), in.DedupeHeader, in.UpdatedAt, in.ID, in.WorkspaceID))
}

// SetInboundStatus moves a webhook to status.
func (t tables) SetInboundStatus(ctx context.Context, workspaceID, id, status string, now time.Time) (_ *store.Inbound, err error) {
	defer unavailable(&err)
	return scanInbound(t.q.QueryRow(ctx, `UPDATE inbound_webhooks SET status = $1, updated_at = $2
		WHERE id = $3 AND workspace_id = $4 RETURNING `+inboundColumns, status, now, id, workspaceID))
}

// DeleteInbound deletes a webhook, its log (ON DELETE CASCADE) and its app
// tokens, which it returns.
func (t tables) DeleteInbound(ctx context.Context, workspaceID, id string) (_ []store.Token, err error) {
	defer unavailable(&err)
	var removed []store.Token
	err = t.atomic(ctx, func(tx pgx.Tx) error {
		var err error
		if removed, err = deleteAppTokens(ctx, tx, workspaceID, id, "FOR UPDATE"); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM inbound_webhooks WHERE id = $1`, id)
		return err
	})
	return removed, err
}

// ReplaceInboundToken puts tok in place of a webhook's app tokens.
func (t tables) ReplaceInboundToken(ctx context.Context, workspaceID, id string, tok *store.Token) (_ []store.Token, err error) {
	defer unavailable(&err)
	tok.ResourceID = id
	var removed []store.Token
	err = t.atomic(ctx, func(tx pgx.Tx) error {
		var err error
		// The webhook stays; its log keeps being written meanwhile.
		if removed, err = deleteAppTokens(ctx, tx, workspaceID, id, "FOR NO KEY UPDATE"); err != nil {
			return err
		}
		return insertToken(ctx, tx, tok)
	})
	return removed, err
}

// deleteAppTokens locks a webhook of the workspace (lock: the strength),
// then deletes its app tokens and returns them by id; a webhook not in the
// workspace is store.ErrNotFound.
func deleteAppTokens(ctx context.Context, tx pgx.Tx, workspaceID, id, lock string) ([]store.Token, error) {
	tag, err := tx.Exec(ctx, `SELECT 1 FROM inbound_webhooks WHERE id = $1 AND workspace_id = $2 `+lock, id, workspaceID)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return nil, store.ErrNotFound
	}
	rows, err := tx.Query(ctx, `DELETE FROM tokens WHERE resource_id = $1 RETURNING `+tokenColumns, id)
	if err != nil {
		return nil, err
	}
	removed, err := collect(rows, scanToken)
	slices.SortFunc(removed, func(a, b store.Token) int { return cmp.Compare(a.ID, b.ID) })
	return removed, err
}

const inboundRequestColumns = `id, inbound_id, workspace_id, received_at, status, error, event_id, remote_addr,
	method, headers, body, body_truncated`

func scanInboundRequest(row scanner) (*store.InboundRequest, error) {
	var r store.InboundRequest
	var headers string
	if err := row.Scan(&r.ID, &r.InboundID, &r.WorkspaceID, &r.ReceivedAt, &r.Status, &r.Error, &r.EventID,
		&r.RemoteAddr, &r.Request.Method, &headers, &r.Request.Body, &r.Request.BodyTruncated); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(headers), &r.Request.Headers); err != nil {
		return nil, err
	}
	r.ReceivedAt = utc(r.ReceivedAt)
	return &r, nil
}

// InsertInboundRequests writes a batch of logged requests in one statement,
// then trims the log of each webhook named to its newest keep.
func (t tables) InsertInboundRequests(ctx context.Context, reqs []store.InboundRequest, keep int) (err error) {
	defer unavailable(&err)
	if len(reqs) == 0 {
		return nil
	}
	n := len(reqs)
	var (
		ids, inboundIDs, errs, remotes = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		methods, headers, bodies       = make([]string, n), make([]string, n), make([]string, n)
		received                       = make([]time.Time, n)
		statuses                       = make([]int32, n)
		eventIDs                       = make([]*string, n)
		truncated                      = make([]bool, n)
	)
	for i := range reqs {
		r := &reqs[i]
		ids[i], inboundIDs[i], errs[i], remotes[i] = r.ID, r.InboundID, r.Error, r.RemoteAddr
		methods[i], headers[i], bodies[i] = r.Request.Method, jsonText(r.Request.Headers), r.Request.Body
		received[i], statuses[i], eventIDs[i], truncated[i] = r.ReceivedAt, int32(r.Status), r.EventID, r.Request.BodyTruncated
	}
	touched := slices.Compact(slices.Sorted(slices.Values(inboundIDs)))
	return t.atomic(ctx, func(tx pgx.Tx) error {
		// Joined to their webhooks, held in id order: none when one is gone,
		// and its workspace whatever the request says.
		if _, err := tx.Exec(ctx, `WITH w AS (
				SELECT id, workspace_id FROM inbound_webhooks WHERE id = ANY($12) ORDER BY id FOR KEY SHARE)
			INSERT INTO inbound_requests (`+inboundRequestColumns+`)
			SELECT r.id, r.inbound_id, w.workspace_id, r.received_at, r.status, r.error, r.event_id, r.remote_addr,
				r.method, r.headers, r.body, r.body_truncated
			FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::text[], $10::text[], $11::bool[])
				AS r(id, inbound_id, received_at, status, error, event_id, remote_addr, method, headers, body, body_truncated)
			JOIN w ON w.id = r.inbound_id
			ON CONFLICT DO NOTHING`,
			ids, inboundIDs, received, statuses, errs, eventIDs, remotes, methods, headers, bodies, truncated,
			touched); err != nil {
			return err
		}
		// Everything from the (keep+1)th newest down, along the index.
		_, err := tx.Exec(ctx, `DELETE FROM inbound_requests r USING (
				SELECT w.id, (SELECT id FROM inbound_requests WHERE inbound_id = w.id ORDER BY id DESC OFFSET $2 LIMIT 1) AS cut
				FROM unnest($1::text[]) AS w(id)) c
			WHERE r.inbound_id = c.id AND r.id <= c.cut`, touched, max(keep, 0))
		return err
	})
}

// ListInboundRequests pages a webhook's log newest first.
func (t tables) ListInboundRequests(ctx context.Context, workspaceID, inboundID string, p store.Page) (_ []store.InboundRequest, err error) {
	defer unavailable(&err)
	rows, err := t.q.Query(ctx, `SELECT `+inboundRequestColumns+` FROM inbound_requests
		WHERE inbound_id = $1 AND workspace_id = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`,
		inboundID, workspaceID, p.Cursor, p.Size())
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, scanInboundRequest)
	if err != nil || len(out) > 0 {
		return out, err
	}
	// No requests, or no such webhook: only the second is an error.
	if _, err := t.GetInbound(ctx, workspaceID, inboundID); err != nil {
		return nil, err
	}
	return []store.InboundRequest{}, nil
}
