// Package postgres is the Store engine for PostgreSQL, for running any number
// of `postbode serve` nodes against one database.
//
// It speaks pgx v5 natively (a pool, batches, COPY); goose runs the embedded
// migrations through pgx's database/sql adapter. Work is shared between nodes
// with FOR UPDATE SKIP LOCKED under leases, nodes wake each other with
// LISTEN/NOTIFY, and singleton jobs run under a named leader lease. While the
// server cannot be reached, every method's error is store.ErrUnavailable.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/postbode/postbode/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// notifyChannel carries wake-ups between nodes.
const notifyChannel = "postbode"

// DB is the PostgreSQL Store.
type DB struct {
	tables // through the pool
	pool   *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to url (postgres://…) and migrates the schema. Concurrent
// nodes migrating at once are serialised by goose's advisory lock.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{tables: tables{pool}, pool: pool}, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks the connection.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer unavailable(&err)
	return db.pool.Ping(ctx)
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// InTx runs fn in one transaction.
func (db *DB) InTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer unavailable(&err)
	return db.tx(ctx, func(tx pgx.Tx) error { return fn(tables{tx}) })
}

// tx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise, also when fn panics.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

type scanner interface{ Scan(...any) error }

// unavailable adds store.ErrUnavailable to *err when it says that the
// database cannot be reached. Every exported method defers it, since a
// connection can fail at any step of any method: acquiring it, running a
// statement, reading rows, committing.
func unavailable(err *error) {
	if *err != nil && !errors.Is(*err, store.ErrUnavailable) && unreachable(*err) {
		*err = fmt.Errorf("%w: %w", store.ErrUnavailable, *err)
	}
}

// unreachable reports whether err comes of the database being out of reach,
// rather than of a statement failing in it or of the caller giving up.
func unreachable(err error) bool {
	var connect *pgconn.ConnectError
	var pg *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &connect):
		// No connection could be made: refused, timed out, or the server
		// would not have it (starting up, shutting down, out of slots).
		return true
	case errors.As(err, &pg):
		// The server ended the session: a connection exception, or a
		// shutdown, crash or restart.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	// The connection broke under a statement, or was found broken.
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed)
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func conflict(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return store.ErrConflict
	}
	return err
}

// missing maps a foreign key violation, a row referring to one that does
// not exist, to store.ErrNotFound.
func missing(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return store.ErrNotFound
	}
	return err
}

func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
