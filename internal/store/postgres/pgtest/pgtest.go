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
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Require skips (or, in CI, fails) t when no PostgreSQL is configured, so
// that a test with many subtests skips once at its top.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("POSTBODE_TEST_DATABASE") == "" {
		unavailable(t, "POSTBODE_TEST_DATABASE is not set; set it to a postgres:// URL to run the PostgreSQL tests")
	}
}

// URL returns a connection URL whose search_path is a new schema, dropped
// when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	Require(t)
	base := os.Getenv("POSTBODE_TEST_DATABASE")
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

// explained is set once a test has said why PostgreSQL tests skip: the
// reason is given once per test binary, the other skips say only "skipped".
var explained atomic.Bool

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("POSTBODE_REQUIRE_POSTGRES") != "" {
		t.Fatal(why)
	}
	if explained.Swap(true) {
		t.Skip("PostgreSQL: skipped (the first skip of this package says why)")
	}
	t.Skip(why)
}
