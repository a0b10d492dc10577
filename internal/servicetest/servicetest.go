// Package servicetest gives the services' tests real stores, one of each
// engine, and principals to act as, so that every service rule is tested
// without HTTP and on both engines.
package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
	"github.com/postbode/postbode/internal/store/sqlite"
)

// Engines runs fn once per store engine, each with a fresh store: SQLite
// always, PostgreSQL where pgtest finds one (and fails where CI requires it).
func Engines(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// Clock is a settable clock for services.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

// NewClock starts a clock at a fixed time with a microsecond part.
func NewClock() *Clock { return &Clock{T: time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)} }

// User makes a user of role, created at NewClock's time, and returns it as
// a principal with an integration token.
func User(t testing.TB, st store.Store, role, email string) *auth.Principal {
	t.Helper()
	ctx := context.Background()
	now := NewClock().T.Truncate(time.Microsecond)
	u := &store.User{ID: id.New(id.User), Email: email, Name: "User " + email, Role: role, Status: store.UserActive, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok := &store.Token{ID: id.New(id.Token), UserID: u.ID, Kind: store.TokenIntegration, Name: "test",
		Hash: auth.HashToken(auth.NewToken(store.TokenIntegration)), CreatedAt: now}
	if err := st.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	return &auth.Principal{User: u, Token: tok}
}
