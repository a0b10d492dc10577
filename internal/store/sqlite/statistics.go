// Planner statistics: SQLite's PRAGMA optimize analyzes the tables whose
// statistics would change a plan, and does nothing otherwise.
package sqlite

import "context"

// RefreshStatistics runs PRAGMA optimize on the writer. SQLite has no dead
// rows to vacuum for the planner's sake: a deleted row's page is reused.
func (db *DB) RefreshStatistics(ctx context.Context) ([]string, error) {
	if _, err := db.w.ExecContext(ctx, "PRAGMA optimize"); err != nil {
		return nil, err
	}
	return nil, nil
}
