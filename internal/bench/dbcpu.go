// The CPU of PostgreSQL's processes during a run on --database: the
// backends of the bench's database and the server's own workers (WAL
// writer, checkpointer, autovacuum launcher), read from /proc, so that CPU
// per event counts everything the system needs, not only the node.
package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbCPU samples PostgreSQL's processes through a connection of its own,
// whose backend it leaves out.
type dbCPU struct{ conn *pgx.Conn }

func newDBCPU(ctx context.Context, url string) (*dbCPU, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connecting to sample the database's CPU: %w", err)
	}
	return &dbCPU{conn: conn}, nil
}

func (d *dbCPU) close() { d.conn.Close(context.Background()) }

// snapshot is the CPU time so far of each process, by pid.
func (d *dbCPU) snapshot(ctx context.Context) (map[int]time.Duration, error) {
	rows, err := d.conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE (datname = current_database() OR datname IS NULL) AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat"); err == nil {
			if t, ok := procCPU(string(b)); ok {
				out[int(pid)] = t
			}
		}
	}
	return out, nil
}

// seqScans is how many sequential scans the deliveries table has had, and
// the rows they read: a hot path that scans the queue shows here.
func (d *dbCPU) seqScans(ctx context.Context) (scans, rows int64, err error) {
	err = d.conn.QueryRow(ctx, `SELECT coalesce(sum(seq_scan), 0), coalesce(sum(seq_tup_read), 0)
		FROM pg_stat_user_tables WHERE relname = 'deliveries' AND schemaname = current_schema()`).Scan(&scans, &rows)
	return scans, rows, err
}

// procCPU reads utime+stime from a /proc/<pid>/stat text. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from
// its closing parenthesis: utime and stime are fields 14 and 15.
func procCPU(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / userHZ, true
}

// dbDelta is the CPU spent between two snapshots: a process that began
// meanwhile counts whole; one that ended meanwhile is lost (the pool keeps
// its connections, so that is rare).
func dbDelta(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}
