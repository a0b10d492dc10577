// Package pgtest gives tests a fresh, empty PostgreSQL schema of the database
// that POSTBODE_TEST_DATABASE names. Without one the test is skipped with a
// clear message, unless POSTBODE_REQUIRE_POSTGRES is set (CI sets it), in
// which case it fails: CI must never skip these tests silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL returns a connection URL whose search_path is a new schema, dropped
// when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("POSTBODE_TEST_DATABASE")
	if base == "" {
		unavailable(t, "POSTBODE_TEST_DATABASE is not set; set it to a postgres:// URL to run the PostgreSQL tests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL at POSTBODE_TEST_DATABASE is not reachable: "+err.Error())
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("creating schema: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("POSTBODE_TEST_DATABASE: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("POSTBODE_REQUIRE_POSTGRES") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
