// backup and migrate: the data's copy and upgrade.
package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/sqlite"
)

// storeFlags say where the data is, as serve's --data-dir and --database do.
type storeFlags struct{ dataDir, database string }

func (a *runner) addStoreFlags(c *cobra.Command, sf *storeFlags) {
	c.Flags().StringVar(&sf.dataDir, "data-dir", "./data", "the SQLite data directory (env POSTBODE_DATA_DIR)")
	c.Flags().StringVar(&sf.database, "database", "", "a postgres:// URL instead of SQLite (env POSTBODE_DATABASE)")
}

func (a *runner) storeFromEnv(c *cobra.Command, sf *storeFlags) {
	if v := a.env.Getenv("POSTBODE_DATA_DIR"); v != "" && !c.Flags().Changed("data-dir") {
		sf.dataDir = v
	}
	if v := a.env.Getenv("POSTBODE_DATABASE"); v != "" && !c.Flags().Changed("database") {
		sf.database = v
	}
}

func (a *runner) backupCommand() *cobra.Command {
	var sf storeFlags
	var to string
	c := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Copy the SQLite database to a new file, consistently, while a server may be running on it",
		Long: `Copy the SQLite database of a data directory to a new file with SQLite's
VACUUM INTO: one read transaction, so the copy is consistent even while a
server goes on writing, and compact. It refuses to overwrite a file. To
restore, stop the server and put the copy in an empty data directory as
postbode.db. For PostgreSQL (--database), use pg_dump.`,
		Example: `  postbode backup --data-dir /var/lib/postbode --to /backup/postbode-$(date +%F).db`,
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.storeFromEnv(cmd, &sf)
			if sf.database != "" {
				return usagef("--database is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc \"$POSTBODE_DATABASE\" > postbode.dump); backup copies SQLite only")
			}
			if to == "" {
				return usagef("give --to FILE: where to write the copy")
			}
			start := time.Now()
			n, err := sqlite.Backup(cmd.Context(), sf.dataDir, to)
			if errors.Is(err, sqlite.ErrBackupExists) {
				return fmt.Errorf("%s exists already: give a new file (backup never overwrites)", to)
			}
			if err != nil {
				return err
			}
			return a.done(map[string]any{"file": to, "bytes": n, "duration_ms": time.Since(start).Milliseconds()},
				fmt.Sprintf("backed up %s to %s (%d bytes) in %s", sf.dataDir, to, n, time.Since(start).Round(time.Millisecond)))
		},
	}
	a.addStoreFlags(c, &sf)
	c.Flags().StringVar(&to, "to", "", "the new file to write (required)")
	return c
}

func (a *runner) migrateCommand() *cobra.Command {
	var sf storeFlags
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations and exit (serve also does at start)",
		Long: `Apply the database migrations this binary has that the database has not,
and print the schema version before and after. serve does the same when it
starts; migrate lets an upgrade do it as a step of its own. On SQLite the
server must be stopped (the data directory is one process's at a time). On
PostgreSQL nodes may run: see docs/cluster.md for upgrading a cluster.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.storeFromEnv(cmd, &sf)
			var before, after, latest int64
			var err error
			where := sf.dataDir
			if sf.database != "" {
				if !strings.HasPrefix(sf.database, "postgres://") && !strings.HasPrefix(sf.database, "postgresql://") {
					return usagef("--database: give a postgres:// URL")
				}
				where = "PostgreSQL"
				before, after, latest, err = postgres.Migrate(cmd.Context(), sf.database)
			} else {
				before, after, latest, err = sqlite.Migrate(cmd.Context(), sf.dataDir)
			}
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s: schema version %d → %d", where, before, after)
			if before == after {
				line = fmt.Sprintf("%s: schema version %d, up to date", where, after)
			}
			if after < latest {
				line += fmt.Sprintf(" (this binary knows %d)", latest)
			}
			return a.done(map[string]any{"before": before, "after": after, "latest": latest}, line)
		},
	}
	a.addStoreFlags(c, &sf)
	return c
}
