// Planner statistics and dead rows of the hot tables. The queue table
// churns (each delivery is inserted, updated and deleted within seconds),
// and a server whose autovacuum is off or slow plans from statistics of an
// empty table and scans dead rows: the same queries then cost more run
// after run. The elected node keeps them fresh itself.
package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// hotTables are the tables whose churn the hot path feels.
var hotTables = []string{"deliveries", "events", "attempts", "mailbox_messages", "idempotency_keys"}

// Thresholds: a table is analyzed when more than analyzeBase plus
// analyzeShare of its rows changed since it last was, and vacuumed when
// more than vacuumBase plus vacuumShare of its rows are dead; neither
// within quiet of the last time (by anyone, autovacuum included).
const (
	analyzeBase  = 500
	analyzeShare = 0.1
	vacuumBase   = 1000
	vacuumShare  = 0.2
	quiet        = time.Minute
)

// statisticsSQL lists what each hot table of this schema needs.
const statisticsSQL = `SELECT relname,
		n_mod_since_analyze > $2 + $3 * n_live_tup
			AND coalesce(greatest(last_analyze, last_autoanalyze), '-infinity') < now() - $6::interval,
		n_dead_tup > $4 + $5 * n_live_tup
			AND coalesce(greatest(last_vacuum, last_autovacuum), '-infinity') < now() - $6::interval
	FROM pg_stat_user_tables
	WHERE schemaname = current_schema() AND relname = ANY($1)
	ORDER BY relname`

// RefreshStatistics analyzes the hot tables much changed since their last
// analysis, and vacuums those with many dead rows.
func (db *DB) RefreshStatistics(ctx context.Context) (_ []string, err error) {
	defer unavailable(&err)
	rows, err := db.pool.Query(ctx, statisticsSQL, hotTables, analyzeBase, analyzeShare, vacuumBase, vacuumShare, quiet.String())
	if err != nil {
		return nil, err
	}
	type need struct {
		table           string
		analyze, vacuum bool
	}
	needs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (need, error) {
		var n need
		return n, r.Scan(&n.table, &n.analyze, &n.vacuum)
	})
	if err != nil {
		return nil, err
	}
	var done []string
	for _, n := range needs {
		stmt := ""
		switch {
		case n.vacuum: // VACUUM (ANALYZE) does both in one pass
			stmt = "VACUUM (ANALYZE) "
		case n.analyze:
			stmt = "ANALYZE "
		default:
			continue
		}
		// The name is one of hotTables: no user text reaches the statement.
		if _, err := db.pool.Exec(ctx, stmt+pgx.Identifier{n.table}.Sanitize()); err != nil {
			return done, err
		}
		done = append(done, stmt+n.table)
	}
	return done, nil
}
