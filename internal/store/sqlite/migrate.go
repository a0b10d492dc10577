// Migrate and Backup: the data directory's upgrade and its online copy,
// for `postbode migrate` and `postbode backup`.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pressly/goose/v3"
)

// fileName is the database's file in the data directory.
const fileName = "postbode.db"

// Migrate applies the pending migrations to the database in dir (creating
// it when there is none) and returns the schema version before and after,
// and the latest version this binary knows. Like Open it takes the data
// directory's lock, so a server using dir must be stopped first (a server
// migrates when it starts anyway).
func Migrate(ctx context.Context, dir string) (before, after, latest int64, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, 0, 0, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "postbode.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open lock file: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, 0, 0, fmt.Errorf("data dir %s is in use by another postbode process (stop it first; serve migrates when it starts): %w", dir, err)
	}
	db, err := sql.Open("sqlite3", dsn(filepath.Join(dir, fileName), false))
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return runMigrations(ctx, db)
}

func runMigrations(ctx context.Context, db *sql.DB) (before, after, latest int64, err error) {
	provider, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
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

// ErrBackupExists: Backup does not overwrite a file.
var ErrBackupExists = errors.New("the backup file exists already")

// Backup copies the database in dir to the new file to with SQLite's
// VACUUM INTO: one read transaction, so the copy is consistent while a
// server goes on writing (WAL lets it), and compact. It does not take the
// data directory's lock and writes nothing to the database. It returns the
// copy's size.
func Backup(ctx context.Context, dir, to string) (int64, error) {
	src := filepath.Join(dir, fileName)
	if _, err := os.Stat(src); err != nil {
		return 0, fmt.Errorf("no database in %s: %w", dir, err)
	}
	if _, err := os.Lstat(to); err == nil {
		return 0, fmt.Errorf("%s: %w", to, ErrBackupExists)
	}
	// mode=rw: never create a database where there is none. No journal
	// mode is set: the file's own (WAL) holds.
	db, err := sql.Open("sqlite3", "file:"+src+"?mode=rw&_busy_timeout=10000")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", to); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	st, err := os.Stat(to)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
