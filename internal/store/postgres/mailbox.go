// Mailboxes: the messages of pull subscriptions, claimed under leases with
// FOR UPDATE SKIP LOCKED over the partial index of the rows that may be
// claimable, so concurrent claimers on any node never wait on, nor take,
// each other's messages.
package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/postbode/postbode/internal/store"
)

const messageColumns = `id, workspace_id, subscription_id, event_id, type, subject, status, claims, claimed_until,
	lease_id, available_at, reason, created_at, updated_at`

func scanMessage(row scanner) (*store.MailboxMessage, error) {
	var m store.MailboxMessage
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.SubscriptionID, &m.EventID, &m.Type, &m.Subject, &m.Status, &m.Claims,
		&m.ClaimedUntil, &m.LeaseID, &m.AvailableAt, &m.Reason, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	m.ClaimedUntil = utcPtr(m.ClaimedUntil)
	m.AvailableAt, m.CreatedAt, m.UpdatedAt = utc(m.AvailableAt), utc(m.CreatedAt), utc(m.UpdatedAt)
	return &m, nil
}

var maxClaims = strconv.Itoa(store.MaxClaims)

// effectiveStatus is the status a row has at the time bound to placeholder
// $n (store.EffectiveStatus).
func effectiveStatus(n int) string {
	return fmt.Sprintf(`CASE WHEN status = 'claimed' AND claimed_until <= $%d THEN
		CASE WHEN claims >= %s THEN 'max_retries_exceeded' ELSE 'new' END ELSE status END`, n, maxClaims)
}

// writeMessages stores the messages of InsertEvents' batch (out says which
// events were written) to the subscriptions that still exist, with COPY.
// Coalescing first replaces the unfinished messages about the same subject:
// stored ones with one statement, and earlier ones of the batch as they are
// copied in. Transactions coalescing the same subject of a subscription take
// a transaction lock on it, in one order, so that of two concurrent
// inserts the later sees the earlier's message and replaces it.
func writeMessages(ctx context.Context, tx pgx.Tx, events []store.NewEvent, out []store.InsertResult, subs map[string]bool) error {
	type key struct{ sub, subject string }
	var rows [][]any
	pendingOf := map[key][]int{} // rows of the batch a later coalescing message replaces
	latest := map[key]time.Time{}
	for i := range events {
		if out[i].Duplicate {
			continue
		}
		e := &events[i].Event
		for _, m := range events[i].Messages {
			if _, exists := subs[m.SubscriptionID]; !exists {
				continue
			}
			created := m.CreatedAt
			if created.IsZero() {
				created = e.CreatedAt
			}
			if e.Subject != nil {
				k := key{m.SubscriptionID, *e.Subject}
				if m.Coalesce {
					for _, r := range pendingOf[k] {
						rows[r][6], rows[r][13] = store.MessageReplaced, created
					}
					pendingOf[k] = pendingOf[k][:0]
					latest[k] = created
				}
				pendingOf[k] = append(pendingOf[k], len(rows))
			}
			status, claims, until := store.MessageNew, 0, (*time.Time)(nil)
			if m.LeaseID != "" && m.ClaimedUntil != nil { // handed to a waiting claimer: claimed already
				status, claims, until = store.MessageClaimed, 1, m.ClaimedUntil
			}
			rows = append(rows, []any{m.ID, e.WorkspaceID, m.SubscriptionID, e.ID, e.Type, e.Subject, status,
				claims, until, m.LeaseID, created, "", created, created})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if len(latest) > 0 {
		keys := make([]key, 0, len(latest))
		for k := range latest {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int {
			if c := strings.Compare(a.sub, b.sub); c != 0 {
				return c
			}
			return strings.Compare(a.subject, b.subject)
		})
		subIDs, subjects, ats := make([]string, len(keys)), make([]string, len(keys)), make([]time.Time, len(keys))
		for i, k := range keys {
			subIDs[i], subjects[i], ats[i] = k.sub, k.subject, latest[k]
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM (
			SELECT DISTINCT hashtextextended(s || ' ' || j, 0) AS k FROM unnest($1::text[], $2::text[]) AS c(s, j) ORDER BY k) AS l`,
			subIDs, subjects); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mailbox_messages m SET status = 'replaced', updated_at = c.at
			FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS c(s, j, at)
			WHERE m.subscription_id = c.s AND m.subject = c.j AND m.status IN ('new', 'claimed') AND m.subject IS NOT NULL
			AND (m.status = 'new' OR m.claimed_until <= c.at)`, subIDs, subjects, ats); err != nil {
			return err
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"mailbox_messages"}, []string{"id", "workspace_id", "subscription_id",
		"event_id", "type", "subject", "status", "claims", "claimed_until", "lease_id", "available_at", "reason",
		"created_at", "updated_at"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	// Wake the long polls of these mailboxes on every node, at commit.
	var mailboxes []string
	for _, r := range rows {
		mailboxes = append(mailboxes, r[2].(string))
	}
	slices.Sort(mailboxes)
	return notifyMailboxes(ctx, tx, slices.Compact(mailboxes))
}

// maxMailboxNotifications is how many mailboxes one transaction names in
// its notifications; beyond that it wakes them all (store.MailboxAny).
const maxMailboxNotifications = 64

// notifyMailboxes tells every node that messages became claimable in the
// mailboxes of subIDs, one notification each (sent at commit).
func notifyMailboxes(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, subIDs []string) error {
	if len(subIDs) > maxMailboxNotifications {
		subIDs = []string{store.MailboxAny}
	}
	_, err := q.Exec(ctx, `SELECT pg_notify($1, 'm ' || s) FROM unnest($2::text[]) AS s`, notifyChannel, subIDs)
	return err
}

// ClaimMessages claims the oldest claimable messages of a mailbox.
func (db *DB) ClaimMessages(ctx context.Context, c store.MailboxClaim) (_ []store.ClaimedMessage, err error) {
	defer unavailable(&err)
	args := []any{c.LeaseUntil, c.LeaseID, c.Now, c.SubscriptionID, c.WorkspaceID}
	filter := ""
	if c.Type != "" {
		args = append(args, c.Type)
		filter += fmt.Sprintf(` AND type = $%d`, len(args))
	}
	if c.Subject != "" {
		args = append(args, c.Subject)
		filter += fmt.Sprintf(` AND subject = $%d`, len(args))
	}
	limit := len(args) + 1
	// Every SET expression reads the row as it was: a row past its last
	// claim becomes max_retries_exceeded and keeps its lease fields.
	q := `UPDATE mailbox_messages SET
		status = CASE WHEN claims >= ` + maxClaims + ` THEN 'max_retries_exceeded' ELSE 'claimed' END,
		claims = CASE WHEN claims >= ` + maxClaims + ` THEN claims ELSE claims + 1 END,
		claimed_until = CASE WHEN claims >= ` + maxClaims + ` THEN claimed_until ELSE $1 END,
		lease_id = CASE WHEN claims >= ` + maxClaims + ` THEN lease_id ELSE $2 END,
		updated_at = $3
		WHERE id IN (SELECT id FROM mailbox_messages
			WHERE subscription_id = $4 AND status IN ('new', 'claimed') AND workspace_id = $5
			AND CASE status WHEN 'new' THEN available_at ELSE claimed_until END <= $3` + filter + `
			ORDER BY id LIMIT $` + strconv.Itoa(limit) + ` FOR UPDATE SKIP LOCKED)
		RETURNING ` + messageColumns
	var claimed []store.MailboxMessage
	// Rows that run out of claims leave the window without filling it:
	// claim again until the count is reached or nothing more is left. Each
	// round commits on its own: what it claimed is claimed either way.
	for len(claimed) < c.Count {
		rows, err := db.pool.Query(ctx, q, append(args, c.Count-len(claimed))...)
		if err != nil {
			return nil, err
		}
		ms, err := collect(rows, scanMessage)
		if err != nil {
			return nil, err
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
	if len(claimed) == 0 {
		return nil, nil
	}
	slices.SortFunc(claimed, func(a, b store.MailboxMessage) int { return strings.Compare(a.ID, b.ID) })
	var ids []string
	seen := map[string]bool{}
	for _, m := range claimed {
		if !seen[m.EventID] {
			seen[m.EventID] = true
			ids = append(ids, m.EventID)
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Event, len(events))
	for i := range events {
		byID[events[i].ID] = &events[i]
	}
	out := make([]store.ClaimedMessage, 0, len(claimed))
	for _, m := range claimed {
		if e, ok := byID[m.EventID]; ok {
			out = append(out, store.ClaimedMessage{Message: m, Event: *e})
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

// ackStatement is the statement of an acknowledgement and its arguments:
// the message and its lease are $1 to $5 ($4 now), the action's own after.
func ackStatement(a *store.MailboxAck) (string, []any) {
	args := []any{a.MessageID, a.SubscriptionID, a.WorkspaceID, a.Now, a.LeaseID}
	var set string
	switch a.Action {
	case store.AckSuccess:
		set = `status = 'success'`
	case store.AckFailed:
		set = `status = 'failed', reason = $6`
		args = append(args, a.Reason)
	case store.AckRelease:
		available := a.AvailableAt
		if available.IsZero() {
			available = a.Now
		}
		set = `status = CASE WHEN claims >= ` + maxClaims + ` THEN 'max_retries_exceeded' ELSE 'new' END,
			available_at = $6, claimed_until = $4, reason = $7`
		args = append(args, available, a.Reason)
	case store.AckExtend:
		set = `claimed_until = $6`
		args = append(args, a.LeaseUntil)
	}
	return `UPDATE mailbox_messages SET ` + set + `, updated_at = $4
		WHERE id = $1 AND subscription_id = $2 AND workspace_id = $3
		AND status = 'claimed' AND claimed_until > $4 AND ($5 = '' OR lease_id = $5)
		RETURNING ` + messageColumns, args
}

// AckMessages writes a batch of acknowledgements in one transaction, sent
// in one round trip. The messages are locked in id order (a stable sort, so
// two acknowledgements of one message keep theirs), so two batches never
// wait on each other in a circle.
func (db *DB) AckMessages(ctx context.Context, acks []store.MailboxAck) (_ []store.MailboxAckResult, err error) {
	defer unavailable(&err)
	for i := range acks {
		if err := acks[i].Validate(); err != nil {
			return nil, err
		}
	}
	order := make([]int, len(acks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(acks[a].MessageID, acks[b].MessageID) })
	out := make([]store.MailboxAckResult, len(acks))
	err = db.tx(ctx, func(tx pgx.Tx) error {
		clear(out)
		batch := &pgx.Batch{}
		for _, i := range order {
			q, args := ackStatement(&acks[i])
			batch.Queue(q, args...)
		}
		br := tx.SendBatch(ctx, batch)
		var missed []int
		for _, i := range order {
			m, err := scanMessage(br.QueryRow())
			switch {
			case err == nil:
				out[i].Message = m
			case err == store.ErrNotFound:
				missed = append(missed, i)
			default:
				br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		var released []string // mailboxes with a message claimable at once
		for i, r := range out {
			if m := r.Message; m != nil && acks[i].Action == store.AckRelease && m.Status == store.MessageNew &&
				!m.AvailableAt.After(acks[i].Now) {
				released = append(released, m.SubscriptionID)
			}
		}
		if len(released) > 0 {
			slices.Sort(released)
			if err := notifyMailboxes(ctx, tx, slices.Compact(released)); err != nil {
				return err
			}
		}
		for _, i := range missed {
			a := &acks[i]
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailbox_messages
				WHERE id = $1 AND subscription_id = $2 AND workspace_id = $3)`,
				a.MessageID, a.SubscriptionID, a.WorkspaceID).Scan(&exists); err != nil {
				return err
			}
			out[i].Err = store.ErrNotFound
			if exists {
				out[i].Err = store.ErrLeaseLost
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListMessages pages a mailbox oldest first.
func (db *DB) ListMessages(ctx context.Context, workspaceID, subscriptionID string, f store.MessageFilter,
	p store.Page) (_ []store.MailboxMessage, err error) {
	defer unavailable(&err)
	q := `SELECT ` + messageColumns + ` FROM mailbox_messages WHERE subscription_id = $1 AND workspace_id = $2`
	args := []any{subscriptionID, workspaceID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(cond, len(args))
	}
	if p.Cursor != "" {
		add(` AND id > $%d`, p.Cursor)
	}
	if f.Type != "" {
		add(` AND type = $%d`, f.Type)
	}
	if f.Subject != "" {
		add(` AND subject = $%d`, f.Subject)
	}
	if f.Status != "" {
		if f.Now.IsZero() {
			add(` AND status = $%d`, f.Status)
		} else {
			args = append(args, f.Now, f.Status)
			q += ` AND ` + effectiveStatus(len(args)-1) + fmt.Sprintf(` = $%d`, len(args))
		}
	}
	add(` ORDER BY id LIMIT $%d`, p.Size())
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	ms, err := collect(rows, scanMessage)
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
func (db *DB) MessageStats(ctx context.Context, workspaceID, subscriptionID string, now time.Time) (_ map[string]int, err error) {
	defer unavailable(&err)
	rows, err := db.pool.Query(ctx, `SELECT `+effectiveStatus(3)+`, count(*) FROM mailbox_messages
		WHERE subscription_id = $1 AND workspace_id = $2 GROUP BY 1`, subscriptionID, workspaceID, now)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(store.MessageStatuses))
	for _, s := range store.MessageStatuses {
		out[s] = 0
	}
	var status string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		out[status] += n
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// NextMessage is when the earliest message of the subscription that is not
// claimable at now becomes so.
func (db *DB) NextMessage(ctx context.Context, subscriptionID string, now time.Time) (_ time.Time, _ bool, err error) {
	defer unavailable(&err)
	var next *time.Time
	err = db.pool.QueryRow(ctx, `SELECT min(CASE status WHEN 'new' THEN available_at ELSE claimed_until END)
		FROM mailbox_messages
		WHERE subscription_id = $1 AND status IN ('new', 'claimed') AND (status = 'new' OR claims < `+maxClaims+`)
		AND CASE status WHEN 'new' THEN available_at ELSE claimed_until END > $2`, subscriptionID, now).Scan(&next)
	if err != nil || next == nil {
		return time.Time{}, false, err
	}
	return next.UTC(), true, nil
}

// PruneMessages deletes finished messages and old unfinished ones. Rows
// another transaction holds (a claim, an acknowledgement) are skipped.
func (db *DB) PruneMessages(ctx context.Context, finishedBefore, newBefore time.Time, limit int) (_ int, err error) {
	defer unavailable(&err)
	tag, err := db.pool.Exec(ctx, `DELETE FROM mailbox_messages WHERE id IN (
		SELECT id FROM mailbox_messages
		WHERE status IN ('success', 'failed', 'replaced', 'max_retries_exceeded') AND updated_at < $1
		ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, finishedBefore, limit)
	if err != nil {
		return 0, err
	}
	n := int(tag.RowsAffected())
	if n >= limit {
		return n, nil
	}
	// Unfinished rows: new ones by age; claimed ones once their lease ran
	// out, by what they became then (new, or out of claims: finished).
	oldest := finishedBefore
	if newBefore.After(oldest) {
		oldest = newBefore
	}
	tag, err = db.pool.Exec(ctx, `DELETE FROM mailbox_messages WHERE id IN (
		SELECT id FROM mailbox_messages
		WHERE status IN ('new', 'claimed') AND created_at < $1
		AND ((created_at < $2 AND (status = 'new' OR claimed_until < $2))
			OR (status = 'claimed' AND claims >= `+maxClaims+` AND claimed_until < $3))
		ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED)`, oldest, newBefore, finishedBefore, limit-n)
	if err != nil {
		return n, err
	}
	return n + int(tag.RowsAffected()), nil
}
