// Migrate: the schema's upgrade, for `postbode migrate`.
package postgres

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrate applies the pending migrations to the database at url and
// returns the schema version before and after, and the latest version this
// binary knows. Nodes that are running keep running: goose's advisory lock
// serialises this with a node starting at the same time.
func Migrate(ctx context.Context, url string) (before, after, latest int64, err error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("--database: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return 0, 0, 0, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, 0, 0, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return 0, 0, 0, err
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("migrations: %w", err)
	}
	if src := provider.ListSources(); len(src) > 0 {
		latest = src[len(src)-1].Version
	}
	if before, err = provider.GetDBVersion(ctx); err != nil {
		return 0, 0, 0, fmt.Errorf("schema version: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return before, 0, latest, fmt.Errorf("migrate: %w", err)
	}
	after, err = provider.GetDBVersion(ctx)
	return before, after, latest, err
}
