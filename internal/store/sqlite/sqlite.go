// Package sqlite is the embedded Store engine, the default.
//
// Like PocketBase, it keeps two pools on one database file in WAL mode: a
// writer pool of exactly one connection, so writers queue in Go rather than
// spinning on SQLITE_BUSY, and a pool of read-only connections that run beside
// it. Ingest batches many events into one write transaction (group commit),
// so throughput is not bounded by the disk's flush rate.
//
// A data directory belongs to one process at a time (an advisory lock), which
// lets Open hand every lease of a previous, crashed run straight back to the
// queue.
//
// It never returns store.ErrUnavailable: the database is a file this process
// holds open, with no server or connection to lose. A disk that fails or
// fills up is an I/O error, which waiting does not mend.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver; see docs/sqlite-driver.md
	"github.com/pressly/goose/v3"

	"github.com/postbode/postbode/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite Store.
type DB struct {
	tables         // through the pools below
	w      *sql.DB // exactly one connection: every write
	r      *sql.DB // read-only connections
	lock   *os.File
	leads  leaderLeases
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database in dir, migrates it and
// returns leases left by a previous run of this data directory to the queue.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "postbode.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("data dir %s is in use by another postbode process: %w", dir, err)
	}
	path := filepath.Join(dir, "postbode.db")
	db := &DB{lock: lock}
	if db.w, err = sql.Open("sqlite3", dsn(path, false)); err != nil {
		db.Close()
		return nil, err
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	if err := migrate(ctx, db.w); err != nil {
		db.Close()
		return nil, err
	}
	if db.r, err = sql.Open("sqlite3", dsn(path, true)); err != nil {
		db.Close()
		return nil, err
	}
	db.r.SetMaxOpenConns(8)
	db.r.SetMaxIdleConns(8)
	db.tables = tables{r: db.r, w: poolWriter{db.w}}
	// No other process can hold a lease on this file: whatever a previous
	// run was sending goes back to pending now, not after the lease expires.
	// (Open is given no clock, so the wall clock dates the change.)
	if _, err := db.releaseLeases(ctx, "", time.Unix(1<<40, 0), time.Now()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	// FULL: a commit is on disk before a publish is answered 202, so an
	// accepted event survives power loss, not only a killed process. Group
	// commit is what makes that affordable.
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	// Reuse compiled statements: compiling the claim alone cost more than
	// running it.
	q.Set("_stmt_cache_size", "64")
	if readOnly {
		q.Set("mode", "ro")
		q.Set("_query_only", "true")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func migrate(ctx context.Context, db *sql.DB) error {
	provider, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks both pools.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return err
	}
	return db.r.PingContext(ctx)
}

// Close closes the pools and releases the data directory.
func (db *DB) Close() error {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close())
	}
	return errors.Join(errs...)
}

// InTx runs fn in one write transaction, through which the small tables
// are read as well as written, so that fn sees its own writes.
func (db *DB) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return writeTx(ctx, db.w, func(_ context.Context, tx *sql.Tx) error {
		return fn(tables{r: tx, w: txWriter{tx}})
	})
}

// relaxedTx runs fn in a write transaction whose commit does not wait for
// the disk (synchronous=NORMAL): for delivery results only, which a power
// loss may lose (the deliveries are then sent again; at least once allows
// it), never for events. A process that dies loses nothing either way: the
// commit is in the WAL, which the next commit that waits (a publish's)
// makes durable too. The writer connection is held throughout, so that no
// other transaction runs while the setting is relaxed.
func (db *DB) relaxedTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	bg := context.WithoutCancel(ctx)
	if _, err := conn.ExecContext(bg, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.ExecContext(bg, "PRAGMA synchronous = FULL"); err != nil {
			// A connection left relaxed must not commit an event: drop it.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(bg, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// tx runs fn in a write transaction (see writeTx).
func (db *DB) tx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	return writeTx(ctx, db.w, fn)
}

// writeTx runs fn in a transaction of the writer w, committed when fn
// returns nil and rolled back otherwise, also when fn panics: the writer is
// the only one, and a transaction left open would stop every write. fn's
// statements get a context that cannot be cancelled: the driver runs each
// statement whose context can be cancelled on a goroutine of its own, so
// that it can interrupt it, which on the hot path cost as much as the
// statement. Cancelling ctx still ends the transaction (database/sql rolls
// it back) once the running statement returns; every statement here is
// bounded.
func writeTx(ctx context.Context, w *sql.DB, fn func(context.Context, *sql.Tx) error) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(context.WithoutCancel(ctx), tx); err != nil {
		return err
	}
	return tx.Commit()
}

// cachedStmt is a statement of a transaction run through the driver's
// statement cache: compiled once per connection and reused, where
// tx.PrepareContext compiles it again in every transaction (at 100 events/s
// that was an eighth of the process's CPU).
type cachedStmt struct {
	tx    *sql.Tx
	query string
}

// prepare returns query as a cachedStmt of tx.
func prepare(tx *sql.Tx, query string) cachedStmt {
	return cachedStmt{tx: tx, query: query}
}

func (s cachedStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.tx.ExecContext(ctx, s.query, args...)
}

func (s cachedStmt) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return s.tx.QueryRowContext(ctx, s.query, args...)
}

func (s cachedStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.tx.QueryContext(ctx, s.query, args...)
}
