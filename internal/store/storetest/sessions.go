// Conformance tests of login sessions: found by hash until they expire,
// ended one at a time, per user, or pruned once expired; and of portal
// sessions, which keep the one workspace they are scoped to.
package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// newSession stores a session of userID created at t0 that expires at expires.
func (f *fixture) newSession(hash, userID string, expires time.Time) *store.Session {
	f.t.Helper()
	s := &store.Session{Hash: hash, UserID: userID, CreatedAt: t0, ExpiresAt: expires}
	f.must(f.s.CreateSession(f.ctx, s), "CreateSession")
	return s
}

// wantSession checks whether the session with hash is found at now.
func wantSession(t *testing.T, f *fixture, what, hash string, now time.Time, found bool) {
	t.Helper()
	_, _, err := f.s.SessionByHash(f.ctx, hash, now)
	switch {
	case found && err != nil:
		t.Errorf("%s: SessionByHash: %v, want the session", what, err)
	case !found:
		wantErr(t, what+": SessionByHash", err, store.ErrNotFound)
	}
}

func sessionTests() []test {
	return []test{
		{"CreateAndFind", func(t *testing.T, f *fixture) {
			s := f.newSession("session-1", f.user.ID, at(time.Hour))
			f.newSession("session-2", f.newUser("other@example.com").ID, at(time.Hour))
			got, u, err := f.s.SessionByHash(f.ctx, s.Hash, t0)
			f.must(err, "SessionByHash")
			wantSame(t, "session", got, s)
			wantSame(t, "session's user", u, f.user)
			b, err := json.Marshal(got)
			f.must(err, "json.Marshal")
			if strings.Contains(string(b), s.Hash) {
				t.Errorf("session JSON %s holds its hash", b)
			}
			wantSession(t, f, "unknown hash", "session-unknown", t0, false)
		}},
		{"PortalSession", func(t *testing.T, f *fixture) {
			portal := &store.Session{Hash: "session-1", UserID: f.user.ID, WorkspaceID: f.ws, CreatedAt: t0,
				ExpiresAt: at(time.Hour)}
			f.must(f.s.CreateSession(f.ctx, portal), "CreateSession of a portal session")
			login := f.newSession("session-2", f.user.ID, at(time.Hour))
			got, _, err := f.s.SessionByHash(f.ctx, portal.Hash, t0)
			f.must(err, "SessionByHash of the portal session")
			wantSame(t, "portal session", got, portal)
			got, _, err = f.s.SessionByHash(f.ctx, login.Hash, t0)
			f.must(err, "SessionByHash of the login session")
			if got.WorkspaceID != "" {
				t.Errorf("login session scoped to %q, want none", got.WorkspaceID)
			}
			if b, _ := json.Marshal(got); strings.Contains(string(b), "workspace_id") {
				t.Errorf("login session JSON %s names a workspace", b)
			}

			orphan := &store.Session{Hash: "session-3", UserID: f.user.ID, WorkspaceID: "ws_unknown", CreatedAt: t0,
				ExpiresAt: at(time.Hour)}
			wantErr(t, "CreateSession in an unknown workspace", f.s.CreateSession(f.ctx, orphan), store.ErrNotFound)
			wantSession(t, f, "the refused portal session", orphan.Hash, t0, false)
			// Refused in a transaction, it leaves the transaction usable.
			later := &store.Session{Hash: "session-4", UserID: f.user.ID, WorkspaceID: f.ws, CreatedAt: t0,
				ExpiresAt: at(time.Hour)}
			f.must(f.s.InTx(f.ctx, func(tx store.Tx) error {
				wantErr(t, "CreateSession in an unknown workspace, in a transaction", tx.CreateSession(f.ctx, orphan),
					store.ErrNotFound)
				return tx.CreateSession(f.ctx, later)
			}), "InTx")
			wantSession(t, f, "the refused portal session, in a transaction", orphan.Hash, t0, false)
			got, _, err = f.s.SessionByHash(f.ctx, later.Hash, t0)
			f.must(err, "SessionByHash of the session created in a transaction")
			wantSame(t, "portal session created in a transaction", got, later)
		}},
		{"ExpiryBoundary", func(t *testing.T, f *fixture) {
			expires := at(time.Hour)
			s := f.newSession("session-1", f.user.ID, expires)
			wantSession(t, f, "a microsecond before it expires", s.Hash, expires.Add(-time.Microsecond), true)
			wantSession(t, f, "when it expires", s.Hash, expires, false)
			wantSession(t, f, "after it expired", s.Hash, expires.Add(time.Hour), false)
			// Expired is not deleted: an earlier now still finds it.
			wantSession(t, f, "asked about an earlier now", s.Hash, t0, true)
		}},
		{"CreateRefused", func(t *testing.T, f *fixture) {
			s := f.newSession("session-1", f.user.ID, at(time.Hour))
			dup := &store.Session{Hash: s.Hash, UserID: f.newUser("other@example.com").ID, CreatedAt: t0,
				ExpiresAt: at(2 * time.Hour)}
			wantErr(t, "CreateSession with a taken hash", f.s.CreateSession(f.ctx, dup), store.ErrConflict)
			got, _, err := f.s.SessionByHash(f.ctx, s.Hash, t0)
			f.must(err, "SessionByHash")
			wantSame(t, "the first session", got, s)
			orphan := &store.Session{Hash: "session-2", UserID: "usr_unknown", CreatedAt: t0, ExpiresAt: at(time.Hour)}
			wantErr(t, "CreateSession of an unknown user", f.s.CreateSession(f.ctx, orphan), store.ErrNotFound)
			wantSession(t, f, "the refused session", orphan.Hash, t0, false)
		}},
		{"DeleteSession", func(t *testing.T, f *fixture) {
			doomed := f.newSession("session-1", f.user.ID, at(time.Hour))
			kept := f.newSession("session-2", f.user.ID, at(time.Hour))
			f.must(f.s.DeleteSession(f.ctx, doomed.Hash), "DeleteSession")
			wantSession(t, f, "deleted session", doomed.Hash, t0, false)
			wantSession(t, f, "other session", kept.Hash, t0, true)
			wantErr(t, "DeleteSession again", f.s.DeleteSession(f.ctx, doomed.Hash), store.ErrNotFound)
		}},
		{"DeleteUserSessions", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			a := f.newSession("session-1", f.user.ID, at(time.Hour))
			b := f.newSession("session-2", f.user.ID, at(2*time.Hour))
			c := f.newSession("session-3", other.ID, at(time.Hour))
			f.must(f.s.DeleteUserSessions(f.ctx, f.user.ID), "DeleteUserSessions")
			wantSession(t, f, "first session of the user", a.Hash, t0, false)
			wantSession(t, f, "second session of the user", b.Hash, t0, false)
			wantSession(t, f, "other user's session", c.Hash, t0, true)
			f.must(f.s.DeleteUserSessions(f.ctx, f.user.ID), "DeleteUserSessions of a user with none")
		}},
		{"PruneSessions", func(t *testing.T, f *fixture) {
			now := at(time.Hour)
			gone := []*store.Session{
				f.newSession("session-1", f.user.ID, at(-time.Hour)),
				f.newSession("session-2", f.user.ID, now), // expired exactly at now
			}
			kept := f.newSession("session-3", f.user.ID, now.Add(time.Microsecond))
			n, err := f.s.PruneSessions(f.ctx, now)
			f.must(err, "PruneSessions")
			if n != len(gone) {
				t.Errorf("PruneSessions = %d, want %d", n, len(gone))
			}
			for _, s := range gone {
				wantSession(t, f, "pruned session, at an earlier now", s.Hash, at(-2*time.Hour), false)
			}
			wantSession(t, f, "unexpired session", kept.Hash, now, true)
			if n, err := f.s.PruneSessions(f.ctx, now); err != nil || n != 0 {
				t.Errorf("PruneSessions again = %d, %v; want 0", n, err)
			}
		}},
	}
}
