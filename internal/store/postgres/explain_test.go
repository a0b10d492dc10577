package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store/postgres/pgtest"
)

// churned opens a store whose deliveries table holds many finished rows and
// a few waiting ones, as a queue does after a while.
func churned(t *testing.T) *DB {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, created_at) VALUES ('ws_x', 'x', now())`,
		`INSERT INTO subscriptions (id, workspace_id, name, mode, url, event_types, status, payload, format, headers,
			signature_scheme, signature_header, secret, timeout_seconds, failure_threshold, created_at, updated_at)
			VALUES ('sub_x', 'ws_x', 'x', 'push', 'https://example.com', '["*"]', 'active', 'full', 'envelope', '{}',
			'standard', 'X', 'whsec_x', 10, 5, now(), now())`,
		`INSERT INTO events (id, workspace_id, type, label, data, created_at)
			SELECT 'evt_' || i, 'ws_x', 'a.b', 'A', '{}', now() FROM generate_series(1, 20000) i`,
		// Every delivery waiting, and the statistics gathered then, as a
		// server's autovacuum would have at the start of a burst…
		`INSERT INTO deliveries (id, workspace_id, event_id, subscription_id, status, attempts, next_attempt_at, created_at, updated_at)
			SELECT 'dlv_' || i, 'ws_x', 'evt_' || i, 'sub_x', 'pending', 0, now(), now(), now()
			FROM generate_series(1, 20000) i`,
		`ANALYZE deliveries`,
		// …and then nearly all of them delivered, with no analysis since.
		`UPDATE deliveries SET status = CASE WHEN id LIKE '%000' THEN 'pending' WHEN id LIKE '%001' THEN 'sending' ELSE 'delivered' END,
			attempts = 1, next_attempt_at = CASE WHEN id LIKE '%000' THEN now() END`,
		`UPDATE deliveries SET lease_owner = 'node', lease_until = now() + interval '1 minute' WHERE status = 'sending'`,
	} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// TestHotStatementsUseIndexes: with statistics as RefreshStatistics keeps
// them, no statement of the delivery path scans the deliveries table.
func TestHotStatementsUseIndexes(t *testing.T) {
	db := churned(t)
	ctx := context.Background()
	if seq := seqScans(t, db); len(seq) == 0 {
		t.Log("with statistics of the queue when every delivery waited, no statement scanned the table either")
	} else {
		t.Logf("with statistics of the queue when every delivery waited, these scan the table: %v", seq)
	}
	if _, err := db.pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Log("pg_stat_force_next_flush:", err)
	}
	if done, err := db.RefreshStatistics(ctx); err != nil || len(done) == 0 {
		t.Fatalf("RefreshStatistics did %v (%v), want the churned tables refreshed", done, err)
	}
	if seq := seqScans(t, db); len(seq) > 0 {
		t.Errorf("after RefreshStatistics, these still scan the deliveries table: %v", seq)
	}
}

// seqScans EXPLAINs the hot statements and returns those whose plan scans
// the deliveries table, with their plans.
func seqScans(t *testing.T, db *DB) []string {
	ctx := context.Background()
	now := time.Now()
	var out []string
	for name, c := range map[string]struct {
		sql  string
		args []any
	}{
		"claim":          {claimSQL, []any{"node", now.Add(time.Minute), now, []string{}, 100, 400, 32}},
		"complete":       {completeSQL, []any{[]string{"dlv_1000", "dlv_2000"}, []string{"node", "node"}, []string{"delivered", "delivered"}, []int32{1, 1}, []*time.Time{nil, nil}, []*string{nil, nil}, now}},
		"next due":       {nextDueSQL, nil},
		"release leases": {releaseLeasesSQL, []any{now, "node"}},
		"queue depth":    {queueDepthSQL, nil},
	} {
		rows, err := db.pool.Query(ctx, "EXPLAIN "+c.sql, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if slices.ContainsFunc(plan, func(l string) bool { return strings.Contains(l, "Seq Scan on deliveries") }) {
			out = append(out, name+":\n"+strings.Join(plan, "\n"))
		}
	}
	return out
}

// TestRefreshStatistics: a churned table is analyzed (and vacuumed when
// dead rows pile up), then left alone until it changes again.
func TestRefreshStatistics(t *testing.T) {
	db := churned(t)
	ctx := context.Background()
	// Dead rows, as completions leave them.
	if _, err := db.pool.Exec(ctx, `UPDATE deliveries SET updated_at = now() WHERE status = 'delivered'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Log("pg_stat_force_next_flush:", err) // before PostgreSQL 15 the counters flush on their own
	}
	var done []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if done, err = db.RefreshStatistics(ctx); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(done, "VACUUM (ANALYZE) deliveries") {
			break
		}
	}
	if !slices.Contains(done, "VACUUM (ANALYZE) deliveries") {
		t.Fatalf("RefreshStatistics did %v, want deliveries vacuumed and analyzed", done)
	}
	var analyzed bool
	if err := db.pool.QueryRow(ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = 'deliveries'`).Scan(&analyzed); err != nil || !analyzed {
		t.Errorf("deliveries not analyzed: %v %v", analyzed, err)
	}
	if again, err := db.RefreshStatistics(ctx); err != nil || slices.ContainsFunc(again, func(s string) bool { return strings.HasSuffix(s, " deliveries") }) {
		t.Errorf("right after: %v %v, want deliveries left alone", again, err)
	}
}
