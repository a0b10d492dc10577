// Mailboxes: the messages of pull subscriptions, claimed under leases. The
// single writer makes a claim atomic: two claims never run at once.
package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/store"
)

const messageColumns = `id, workspace_id, subscription_id, event_id, type, subject, status, claims, claimed_until,
	lease_id, available_at, reason, created_at, updated_at`

func scanMessage(row interface{ Scan(...any) error }) (*store.MailboxMessage, error) {
	var m store.MailboxMessage
	var subject sql.NullString
	var claimedUntil sql.NullInt64
	var available, created, updated int64
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.SubscriptionID, &m.EventID, &m.Type, &subject, &m.Status, &m.Claims,
		&claimedUntil, &m.LeaseID, &available, &m.Reason, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	m.Subject, m.ClaimedUntil = stringPtr(subject), timePtr(claimedUntil)
	m.AvailableAt, m.CreatedAt, m.UpdatedAt = fromMicros(available), fromMicros(created), fromMicros(updated)
	return &m, nil
}

var maxClaims = strconv.Itoa(store.MaxClaims)

// effectiveStatusSQL is the status a row has at the time bound to its one
// placeholder (store.EffectiveStatus).
var effectiveStatusSQL = `CASE WHEN status = 'claimed' AND claimed_until <= ? THEN
	CASE WHEN claims >= ` + maxClaims + ` THEN 'max_retries_exceeded' ELSE 'new' END ELSE status END`

// messageWriter writes the messages of InsertEvents' batch in its
// transaction; its statements are prepared on first use, so that a batch
// without messages costs nothing more.
type messageWriter struct {
	tx *sql.Tx
}

// The statements of messageWriter, compiled once by the driver's cache.
const (
	insertMessageSQL = `INSERT INTO mailbox_messages (id, workspace_id, subscription_id,
		event_id, type, subject, status, claims, claimed_until, lease_id, available_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	replaceMessagesSQL = `UPDATE mailbox_messages INDEXED BY mailbox_messages_subject
		SET status = 'replaced', updated_at = ?
		WHERE subscription_id = ? AND subject = ? AND status IN ('new', 'claimed') AND subject IS NOT NULL
		AND (status = 'new' OR claimed_until <= ?)`
)

// write stores e's messages to the subscriptions that still exist.
func (w *messageWriter) write(ctx context.Context, e *store.Event, msgs []store.MailboxMessage, subs map[string]bool) error {
	for i := range msgs {
		m := &msgs[i]
		if _, exists := subs[m.SubscriptionID]; !exists {
			continue // the subscription is gone
		}
		created := m.CreatedAt
		if created.IsZero() {
			created = e.CreatedAt
		}
		if m.Coalesce && e.Subject != nil {
			if _, err := w.tx.ExecContext(ctx, replaceMessagesSQL, micros(created), m.SubscriptionID, *e.Subject, micros(created)); err != nil {
				return err
			}
		}
		status, claims, until := store.MessageNew, 0, any(nil)
		if m.LeaseID != "" && m.ClaimedUntil != nil { // handed to a waiting claimer: claimed already
			status, claims, until = store.MessageClaimed, 1, micros(*m.ClaimedUntil)
		}
		if _, err := w.tx.ExecContext(ctx, insertMessageSQL, m.ID, e.WorkspaceID, m.SubscriptionID, e.ID, e.Type, nullString(e.Subject),
			status, claims, until, m.LeaseID, micros(created), micros(created), micros(created)); err != nil {
			return err
		}
	}
	return nil
}

// ClaimMessages claims the oldest claimable messages of a mailbox.
func (db *DB) ClaimMessages(ctx context.Context, c store.MailboxClaim) ([]store.ClaimedMessage, error) {
	filter := ""
	var extra []any
	if c.Type != "" {
		filter += ` AND type = ?`
		extra = append(extra, c.Type)
	}
	if c.Subject != "" {
		filter += ` AND subject = ?`
		extra = append(extra, c.Subject)
	}
	// Every SET expression reads the row as it was: a row past its last
	// claim becomes max_retries_exceeded and keeps its lease fields.
	q := `UPDATE mailbox_messages SET
		status = CASE WHEN claims >= ` + maxClaims + ` THEN 'max_retries_exceeded' ELSE 'claimed' END,
		claims = CASE WHEN claims >= ` + maxClaims + ` THEN claims ELSE claims + 1 END,
		claimed_until = CASE WHEN claims >= ` + maxClaims + ` THEN claimed_until ELSE ? END,
		lease_id = CASE WHEN claims >= ` + maxClaims + ` THEN lease_id ELSE ? END,
		updated_at = ?
		WHERE rowid IN (SELECT rowid FROM mailbox_messages INDEXED BY mailbox_messages_claimable
			WHERE subscription_id = ? AND status IN ('new', 'claimed') AND workspace_id = ?
			AND CASE status WHEN 'new' THEN available_at ELSE claimed_until END <= ?` + filter + `
			ORDER BY id LIMIT ?)
		RETURNING ` + messageColumns
	now := micros(c.Now)
	var claimed []store.MailboxMessage
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		claimed = claimed[:0]
		// Rows that run out of claims leave the window without filling it:
		// claim again until the count is reached or nothing more is left.
		for len(claimed) < c.Count {
			args := append([]any{micros(c.LeaseUntil), c.LeaseID, now, c.SubscriptionID, c.WorkspaceID, now}, extra...)
			ms, err := queryAll(ctx, tx, scanMessage, q, append(args, c.Count-len(claimed))...)
			if err != nil {
				return err
			}
			exhausted := false
			for _, m := range ms {
				if m.Status == store.MessageClaimed {
					claimed = append(claimed, m)
				} else {
					exhausted = true
				}
			}
			if !exhausted {
				break
			}
		}
		return nil
	})
	if err != nil || len(claimed) == 0 {
		return nil, err
	}
	slices.SortFunc(claimed, func(a, b store.MailboxMessage) int { return strings.Compare(a.ID, b.ID) })
	// Events never change, so they are read after the commit, off the writer.
	ids := make([]any, 0, len(claimed))
	seen := map[string]bool{}
	for _, m := range claimed {
		if !seen[m.EventID] {
			seen[m.EventID] = true
			ids = append(ids, m.EventID)
		}
	}
	events := map[string]store.Event{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		es, err := queryAll(ctx, db.r, scanEvent, `SELECT `+eventColumns+` FROM events WHERE id IN (`+
			placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			events[e.ID] = e
		}
	}
	out := make([]store.ClaimedMessage, 0, len(claimed))
	for _, m := range claimed {
		if e, ok := events[m.EventID]; ok {
			out = append(out, store.ClaimedMessage{Message: m, Event: e})
		}
	}
	return out, nil
}

// AckMessage acknowledges a claimed message.
func (db *DB) AckMessage(ctx context.Context, a store.MailboxAck) (*store.MailboxMessage, error) {
	res, err := db.AckMessages(ctx, []store.MailboxAck{a})
	if err != nil {
		return nil, err
	}
	return res[0].Message, res[0].Err
}

// ackSet is the SET clause of each acknowledgement, and ackArgs its
// arguments, before those of ackWhere.
var ackSet = map[string]string{
	store.AckSuccess: `status = 'success'`,
	store.AckFailed:  `status = 'failed', reason = ?`,
	store.AckRelease: `status = CASE WHEN claims >= ` + maxClaims + ` THEN 'max_retries_exceeded' ELSE 'new' END,
		available_at = ?, claimed_until = ?, reason = ?`,
	store.AckExtend: `claimed_until = ?`,
}

func ackArgs(a *store.MailboxAck) []any {
	switch a.Action {
	case store.AckFailed:
		return []any{a.Reason}
	case store.AckRelease:
		available := a.AvailableAt
		if available.IsZero() {
			available = a.Now
		}
		return []any{micros(available), micros(a.Now), a.Reason}
	case store.AckExtend:
		return []any{micros(a.LeaseUntil)}
	}
	return nil
}

// AckMessages writes a batch of acknowledgements in one transaction. A run
// of acknowledgements alike but for their (distinct) messages, such as a
// claim's worth of successes, is written with one statement.
func (db *DB) AckMessages(ctx context.Context, acks []store.MailboxAck) ([]store.MailboxAckResult, error) {
	for i := range acks {
		if err := acks[i].Validate(); err != nil {
			return nil, err
		}
	}
	out := make([]store.MailboxAckResult, len(acks))
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for start := 0; start < len(acks); {
			end := start + 1
			seen := map[string]bool{acks[start].MessageID: true}
			for end < len(acks) && end-start < 500 && alike(&acks[start], &acks[end]) && !seen[acks[end].MessageID] {
				seen[acks[end].MessageID] = true
				end++
			}
			if err := ackRun(ctx, tx, acks[start:end], out[start:end]); err != nil {
				return err
			}
			start = end
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// alike reports whether two acknowledgements differ in their message only.
func alike(a, b *store.MailboxAck) bool {
	return a.Action == b.Action && a.WorkspaceID == b.WorkspaceID && a.SubscriptionID == b.SubscriptionID &&
		a.LeaseID == b.LeaseID && a.Reason == b.Reason && a.Now.Equal(b.Now) && a.AvailableAt.Equal(b.AvailableAt) &&
		a.LeaseUntil.Equal(b.LeaseUntil)
}

// ackRun writes acknowledgements alike but for their distinct messages.
func ackRun(ctx context.Context, tx *sql.Tx, run []store.MailboxAck, out []store.MailboxAckResult) error {
	a := &run[0]
	now := micros(a.Now)
	args := append(ackArgs(a), now, a.SubscriptionID, a.WorkspaceID, now, a.LeaseID, a.LeaseID)
	ids := make([]any, len(run))
	for i := range run {
		ids[i] = run[i].MessageID
	}
	ms, err := queryAll(ctx, tx, scanMessage, `UPDATE mailbox_messages SET `+ackSet[a.Action]+`, updated_at = ?
		WHERE subscription_id = ? AND workspace_id = ? AND status = 'claimed' AND claimed_until > ?
		AND (? = '' OR lease_id = ?) AND id IN (`+placeholders(len(ids))+`)
		RETURNING `+messageColumns, append(args, ids...)...)
	if err != nil {
		return err
	}
	if len(ms) == len(run) && len(run) == 1 {
		out[0].Message = &ms[0]
		return nil
	}
	byID := make(map[string]*store.MailboxMessage, len(ms))
	for i := range ms {
		byID[ms[i].ID] = &ms[i]
	}
	var missed []any
	for i := range run {
		if m := byID[run[i].MessageID]; m != nil {
			out[i].Message = m
		} else {
			missed = append(missed, run[i].MessageID)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	// Not acknowledged: the message is elsewhere (not found), or here but
	// not under this lease.
	here, err := queryStrings(ctx, tx, `SELECT id FROM mailbox_messages WHERE subscription_id = ? AND workspace_id = ?
		AND id IN (`+placeholders(len(missed))+`)`, append([]any{a.SubscriptionID, a.WorkspaceID}, missed...)...)
	if err != nil {
		return err
	}
	for i := range run {
		if out[i].Message == nil {
			out[i].Err = store.ErrNotFound
			if slices.Contains(here, run[i].MessageID) {
				out[i].Err = store.ErrLeaseLost
			}
		}
	}
	return nil
}

// ListMessages pages a mailbox oldest first.
func (db *DB) ListMessages(ctx context.Context, workspaceID, subscriptionID string, f store.MessageFilter,
	p store.Page) ([]store.MailboxMessage, error) {
	q := `SELECT ` + messageColumns + ` FROM mailbox_messages INDEXED BY mailbox_messages_subscription
		WHERE subscription_id = ? AND workspace_id = ?`
	args := []any{subscriptionID, workspaceID}
	if p.Cursor != "" {
		q += ` AND id > ?`
		args = append(args, p.Cursor)
	}
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.Subject != "" {
		q += ` AND subject = ?`
		args = append(args, f.Subject)
	}
	if f.Status != "" {
		if f.Now.IsZero() {
			q += ` AND status = ?`
		} else {
			q += ` AND ` + effectiveStatusSQL + ` = ?`
			args = append(args, micros(f.Now))
		}
		args = append(args, f.Status)
	}
	ms, err := queryAll(ctx, db.r, scanMessage, q+` ORDER BY id LIMIT ?`, append(args, p.Size())...)
	if err != nil {
		return nil, err
	}
	if !f.Now.IsZero() {
		for i := range ms {
			ms[i].Status = store.EffectiveStatus(ms[i].Status, ms[i].Claims, ms[i].ClaimedUntil, f.Now)
		}
	}
	return ms, nil
}

// MessageStats counts a mailbox's messages by status as of now.
func (db *DB) MessageStats(ctx context.Context, workspaceID, subscriptionID string, now time.Time) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+effectiveStatusSQL+`, count(*)
		FROM mailbox_messages INDEXED BY mailbox_messages_subscription
		WHERE subscription_id = ? AND workspace_id = ? GROUP BY 1`, micros(now), subscriptionID, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int, len(store.MessageStatuses))
	for _, s := range store.MessageStatuses {
		out[s] = 0
	}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		out[status] += n
	}
	return out, rows.Err()
}

// NextMessage is when the earliest message of the subscription that is not
// claimable at now becomes so.
func (db *DB) NextMessage(ctx context.Context, subscriptionID string, now time.Time) (time.Time, bool, error) {
	var next sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT min(CASE status WHEN 'new' THEN available_at ELSE claimed_until END)
		FROM mailbox_messages INDEXED BY mailbox_messages_claimable
		WHERE subscription_id = ? AND status IN ('new', 'claimed') AND (status = 'new' OR claims < `+maxClaims+`)
		AND CASE status WHEN 'new' THEN available_at ELSE claimed_until END > ?`,
		subscriptionID, micros(now)).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return fromMicros(next.Int64), true, nil
}

// PruneMessages deletes finished messages and old unfinished ones.
func (db *DB) PruneMessages(ctx context.Context, finishedBefore, newBefore time.Time, limit int) (int, error) {
	fin, old := micros(finishedBefore), micros(newBefore)
	res, err := db.w.ExecContext(ctx, `DELETE FROM mailbox_messages WHERE rowid IN (
		SELECT rowid FROM mailbox_messages INDEXED BY mailbox_messages_finished
		WHERE status IN ('success', 'failed', 'replaced', 'max_retries_exceeded') AND updated_at < ?
		ORDER BY updated_at LIMIT ?)`, fin, limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || int(n) >= limit {
		return int(n), err
	}
	// Unfinished rows: new ones by age; claimed ones once their lease ran
	// out, by what they became then (new, or out of claims: finished).
	res, err = db.w.ExecContext(ctx, `DELETE FROM mailbox_messages WHERE rowid IN (
		SELECT rowid FROM mailbox_messages INDEXED BY mailbox_messages_open
		WHERE status IN ('new', 'claimed') AND created_at < ?
		AND ((created_at < ? AND (status = 'new' OR claimed_until < ?))
			OR (status = 'claimed' AND claims >= `+maxClaims+` AND claimed_until < ?))
		ORDER BY created_at LIMIT ?)`, max(fin, old), old, old, fin, limit-int(n))
	if err != nil {
		return int(n), err
	}
	m, err := res.RowsAffected()
	return int(n + m), err
}
