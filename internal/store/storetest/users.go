// Conformance tests of account upkeep: listing and changing users, their
// activity and inactivity, deleting them, memberships and token management.
package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// newTokenOf creates a token of userID with the given hash, for resource
// (an app token) when it is set.
func (f *fixture) newTokenOf(userID, hash, resource string) *store.Token {
	f.t.Helper()
	kind := store.TokenIntegration
	if resource != "" {
		kind = store.TokenApp
	}
	tok := &store.Token{ID: newID("tok_"), UserID: userID, Kind: kind, Name: kind + " token", Hash: hash,
		ResourceID: resource, CreatedAt: t0}
	f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
	return tok
}

// getUser reads a user back.
func (f *fixture) getUser(id string) *store.User {
	f.t.Helper()
	u, err := f.s.GetUser(f.ctx, id)
	f.must(err, "GetUser")
	return u
}

// memberships returns the user's workspaces.
func (f *fixture) memberships(userID string) []string {
	f.t.Helper()
	ids, err := f.s.Memberships(f.ctx, userID)
	f.must(err, "Memberships")
	return ids
}

func upkeepTests() []test {
	return []test{
		{"ListUsersPagesByID", func(t *testing.T, f *fixture) {
			ids := []string{f.user.ID}
			for range 4 {
				ids = append(ids, newID("usr_"))
			}
			users := map[string]*store.User{f.user.ID: f.user}
			for _, i := range []int{3, 1, 4, 2} {
				u := &store.User{ID: ids[i], Email: ids[i] + "@example.com", Name: "U", Role: store.RoleAdmin,
					PasswordHash: "h", Status: store.UserInactive, LastActiveAt: ptr(at(time.Duration(i) * time.Hour)),
					CreatedAt: at(-time.Duration(i) * time.Hour)}
				f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
				users[u.ID] = u
			}
			var got []string
			cursor := ""
			for range 10 {
				page, err := f.s.ListUsers(f.ctx, store.Page{Cursor: cursor, Limit: 2})
				f.must(err, "ListUsers")
				for i := range page {
					got = append(got, page[i].ID)
					if want, ok := users[page[i].ID]; ok {
						wantSame(t, "listed user "+page[i].ID, &page[i], want)
					}
				}
				if len(page) < 2 {
					break
				}
				cursor = page[len(page)-1].ID
			}
			wantIDs(t, "users", got, ids)
		}},
		{"UserByEmail", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			got, err := f.s.UserByEmail(f.ctx, "other@example.com")
			f.must(err, "UserByEmail")
			wantSame(t, "user by email", got, other)
			// The match is exact: the service lower-cases emails first.
			_, err = f.s.UserByEmail(f.ctx, "Other@example.com")
			wantErr(t, "UserByEmail in other case", err, store.ErrNotFound)
			_, err = f.s.UserByEmail(f.ctx, "nobody@example.com")
			wantErr(t, "UserByEmail of an unknown email", err, store.ErrNotFound)
		}},
		{"UpdateUser", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			f.must(f.s.RecordActivity(f.ctx, map[string]time.Time{other.ID: at(time.Minute)}, nil), "RecordActivity")
			other = f.getUser(other.ID)
			changed := *other
			changed.Email, changed.Name, changed.Role = "renamed@example.com", "Renamed", store.RoleAdmin
			// Only email, name and role are written.
			edit := changed
			edit.PasswordHash, edit.Status, edit.LastActiveAt, edit.CreatedAt = "x", store.UserInactive, nil, at(time.Hour)
			f.must(f.s.UpdateUser(f.ctx, &edit), "UpdateUser")
			wantSame(t, "updated user", f.getUser(other.ID), &changed)
			if _, err := f.s.UserByEmail(f.ctx, "other@example.com"); err == nil {
				t.Error("the old email still finds the user")
			}

			taken := changed
			taken.Email, taken.Name = f.user.Email, "Twin"
			wantErr(t, "UpdateUser to a taken email", f.s.UpdateUser(f.ctx, &taken), store.ErrConflict)
			wantSame(t, "user after a refused update", f.getUser(other.ID), &changed)
			// Its own email is not taken.
			same := changed
			same.Name = "Same email"
			f.must(f.s.UpdateUser(f.ctx, &same), "UpdateUser keeping the email")
			if got := f.getUser(other.ID).Name; got != "Same email" {
				t.Errorf("name %q after an update keeping the email", got)
			}
			missing := changed
			missing.ID, missing.Email = "usr_unknown", "unknown@example.com"
			wantErr(t, "UpdateUser of an unknown user", f.s.UpdateUser(f.ctx, &missing), store.ErrNotFound)
		}},
		{"SetPassword", func(t *testing.T, f *fixture) {
			tok := f.newToken("hash-1")
			other := f.newUser("other@example.com")
			f.must(f.s.SetPassword(f.ctx, f.user.ID, "$2a$new"), "SetPassword")
			want := *f.user
			want.PasswordHash = "$2a$new"
			wantSame(t, "user after SetPassword", f.getUser(f.user.ID), &want)
			wantSame(t, "other user", f.getUser(other.ID), other)
			// The user's tokens keep working.
			got, owner, err := f.s.TokenByHash(f.ctx, tok.Hash)
			f.must(err, "TokenByHash after SetPassword")
			wantSame(t, "token after SetPassword", got, tok)
			wantSame(t, "owner after SetPassword", owner, &want)
			wantErr(t, "SetPassword of an unknown user", f.s.SetPassword(f.ctx, "usr_unknown", "x"), store.ErrNotFound)
		}},
		{"ReactivateUser", func(t *testing.T, f *fixture) {
			u := &store.User{ID: newID("usr_"), Email: "idle@example.com", Name: "Idle", Role: store.RoleMember,
				Status: store.UserInactive, LastActiveAt: ptr(at(-90 * 24 * time.Hour)), CreatedAt: at(-100 * 24 * time.Hour)}
			f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
			now := at(time.Hour)
			got, err := f.s.ReactivateUser(f.ctx, u.ID, now)
			f.must(err, "ReactivateUser")
			want := *u
			want.Status, want.LastActiveAt = store.UserActive, &now
			wantSame(t, "reactivated user", got, &want)
			wantSame(t, "reactivated user read back", f.getUser(u.ID), &want)
			// It does not fall inactive again at once.
			ids, err := f.s.MarkUsersInactive(f.ctx, now, now)
			f.must(err, "MarkUsersInactive")
			if contains(ids, u.ID) {
				t.Errorf("a user reactivated at %s made inactive again by a run with before = now", now)
			}
			_, err = f.s.ReactivateUser(f.ctx, "usr_unknown", now)
			wantErr(t, "ReactivateUser of an unknown user", err, store.ErrNotFound)
		}},
		{"MarkUsersInactiveBoundary", func(t *testing.T, f *fixture) {
			before := t0 // the fixture's owner was created at t0 and never active: it stays
			mk := func(email, status string, last *time.Time, created time.Time) *store.User {
				u := &store.User{ID: newID("usr_"), Email: email, Name: email, Role: store.RoleMember, Status: status,
					LastActiveAt: last, CreatedAt: created}
				f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
				return u
			}
			old := at(-time.Hour)
			justBefore := at(-time.Microsecond)
			stale := mk("stale@example.com", store.UserActive, &justBefore, old)
			exact := mk("exact@example.com", store.UserActive, ptr(before), old)
			neverOld := mk("never-old@example.com", store.UserActive, nil, justBefore)
			recent := mk("recent@example.com", store.UserActive, ptr(at(time.Hour)), old)
			already := mk("already@example.com", store.UserInactive, &old, old)
			ids, err := f.s.MarkUsersInactive(f.ctx, before, at(time.Hour))
			f.must(err, "MarkUsersInactive")
			wantIDs(t, "made inactive", sorted(ids...), sorted(stale.ID, neverOld.ID))
			for _, u := range []*store.User{stale, neverOld, already} {
				if got := f.getUser(u.ID); got.Status != store.UserInactive {
					t.Errorf("%s: status %s, want %s", u.Email, got.Status, store.UserInactive)
				}
			}
			for _, u := range []*store.User{f.user, exact, recent} {
				wantSame(t, u.Email+" (left active)", f.getUser(u.ID), u)
			}
			wantSame(t, stale.Email+" apart from its status", f.getUser(stale.ID), stale, "Status")
			again, err := f.s.MarkUsersInactive(f.ctx, before, at(time.Hour))
			f.must(err, "MarkUsersInactive again")
			wantIDs(t, "made inactive by a second run", again, nil)
		}},
		{"RecordActivity", func(t *testing.T, f *fixture) {
			idle := &store.User{ID: newID("usr_"), Email: "idle@example.com", Name: "Idle", Role: store.RoleMember,
				Status: store.UserInactive, LastActiveAt: ptr(at(-time.Hour)), CreatedAt: at(-2 * time.Hour)}
			f.must(f.s.CreateUser(f.ctx, idle), "CreateUser")
			tok := f.newToken("hash-1")
			idleTok := f.newTokenOf(idle.ID, "hash-2", "")

			// First activity: set.
			f.must(f.s.RecordActivity(f.ctx,
				map[string]time.Time{f.user.ID: at(time.Minute), idle.ID: at(time.Minute), "usr_unknown": at(time.Minute)},
				map[string]time.Time{tok.ID: at(time.Minute), idleTok.ID: at(time.Minute), "tok_unknown": at(time.Minute)}),
				"RecordActivity")
			wantActivity(t, f, "first activity", f.user.ID, at(time.Minute), tok.ID, at(time.Minute))
			// An inactive user stays inactive and keeps its time; its token
			// was used all the same.
			wantSame(t, "inactive user after RecordActivity", f.getUser(idle.ID), idle)
			wantActivity(t, f, "inactive user's token", "", time.Time{}, idleTok.ID, at(time.Minute))

			// Earlier times never move them back.
			f.must(f.s.RecordActivity(f.ctx, map[string]time.Time{f.user.ID: at(time.Second)},
				map[string]time.Time{tok.ID: at(time.Second)}), "RecordActivity of earlier times")
			wantActivity(t, f, "earlier times", f.user.ID, at(time.Minute), tok.ID, at(time.Minute))

			// Later ones move them forward, one without the other too.
			f.must(f.s.RecordActivity(f.ctx, map[string]time.Time{f.user.ID: at(time.Hour)}, nil),
				"RecordActivity of a user only")
			wantActivity(t, f, "a later user time", f.user.ID, at(time.Hour), tok.ID, at(time.Minute))
			f.must(f.s.RecordActivity(f.ctx, nil, map[string]time.Time{tok.ID: at(2 * time.Hour)}),
				"RecordActivity of a token only")
			wantActivity(t, f, "a later token time", f.user.ID, at(time.Hour), tok.ID, at(2*time.Hour))
			f.must(f.s.RecordActivity(f.ctx, nil, nil), "RecordActivity of nothing")
		}},
		{"DeleteUser", func(t *testing.T, f *fixture) {
			u := f.newUser("doomed@example.com")
			other := f.newWorkspace("other", u.ID)
			f.must(f.s.SetMemberships(f.ctx, u.ID, []string{f.ws, other}), "SetMemberships")
			f.must(f.s.CreateSession(f.ctx, &store.Session{Hash: "session-1", UserID: u.ID, CreatedAt: t0,
				ExpiresAt: at(time.Hour)}), "CreateSession")
			tok := f.newTokenOf(u.ID, "hash-1", "")

			wantErr(t, "DeleteUser of a user with a token", f.s.DeleteUser(f.ctx, u.ID), store.ErrHasTokens)
			wantSame(t, "user kept", f.getUser(u.ID), u)
			wantIDs(t, "memberships kept", f.memberships(u.ID), sorted(f.ws, other))
			if _, _, err := f.s.SessionByHash(f.ctx, "session-1", t0); err != nil {
				t.Errorf("SessionByHash after a refused delete: %v", err)
			}

			f.must(f.s.DeleteToken(f.ctx, tok.ID), "DeleteToken")
			f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
			_, err := f.s.GetUser(f.ctx, u.ID)
			wantErr(t, "GetUser of the deleted user", err, store.ErrNotFound)
			wantIDs(t, "memberships of the deleted user", f.memberships(u.ID), nil)
			if ok, _ := f.s.IsMember(f.ctx, f.ws, u.ID); ok {
				t.Error("the deleted user is still a member")
			}
			_, _, err = f.s.SessionByHash(f.ctx, "session-1", t0)
			wantErr(t, "SessionByHash of the deleted user's session", err, store.ErrNotFound)
			// Its workspaces stay, with their other members.
			if _, err := f.s.GetWorkspace(f.ctx, other); err != nil {
				t.Errorf("GetWorkspace of the deleted user's workspace: %v", err)
			}
			if ok, _ := f.s.IsMember(f.ctx, f.ws, f.user.ID); !ok {
				t.Error("the other member lost its membership")
			}
			wantErr(t, "DeleteUser again", f.s.DeleteUser(f.ctx, u.ID), store.ErrNotFound)
			wantErr(t, "DeleteUser of an unknown user", f.s.DeleteUser(f.ctx, "usr_unknown"), store.ErrNotFound)
		}},
		{"DeleteUserWithAppTokenOnly", func(t *testing.T, f *fixture) {
			u := f.newUser("app@example.com")
			f.newTokenOf(u.ID, "hash-1", "inb_1")
			wantErr(t, "DeleteUser of a user with an app token", f.s.DeleteUser(f.ctx, u.ID), store.ErrHasTokens)
		}},
		{"SetMemberships", func(t *testing.T, f *fixture) {
			u := f.newUser("member@example.com")
			ws := []string{f.newWorkspace("a", ""), f.newWorkspace("b", ""), f.newWorkspace("c", "")}
			f.must(f.s.SetMemberships(f.ctx, u.ID, []string{ws[2], ws[0], ws[2]}), "SetMemberships")
			wantIDs(t, "memberships", f.memberships(u.ID), sorted(ws[0], ws[2]))
			f.must(f.s.SetMemberships(f.ctx, u.ID, []string{ws[1], ws[2]}), "SetMemberships again")
			wantIDs(t, "replaced memberships", f.memberships(u.ID), sorted(ws[1], ws[2]))
			for _, w := range ws {
				ok, err := f.s.IsMember(f.ctx, w, u.ID)
				f.must(err, "IsMember")
				if ok != (w != ws[0]) {
					t.Errorf("IsMember(%s) = %v after the replacement", w, ok)
				}
			}
			// Any missing workspace refuses the whole change.
			err := f.s.SetMemberships(f.ctx, u.ID, []string{ws[0], "ws_unknown"})
			wantErr(t, "SetMemberships with an unknown workspace", err, store.ErrNotFound)
			wantIDs(t, "memberships after a refused change", f.memberships(u.ID), sorted(ws[1], ws[2]))
			err = f.s.SetMemberships(f.ctx, "usr_unknown", []string{ws[0]})
			wantErr(t, "SetMemberships of an unknown user", err, store.ErrNotFound)
			if ok, _ := f.s.IsMember(f.ctx, ws[0], "usr_unknown"); ok {
				t.Error("an unknown user became a member")
			}
			// Other users' memberships are untouched.
			wantIDs(t, "the owner's memberships", f.memberships(f.user.ID), []string{f.ws})
			f.must(f.s.SetMemberships(f.ctx, u.ID, nil), "SetMemberships to none")
			wantIDs(t, "memberships after none", f.memberships(u.ID), nil)
		}},
		{"MembershipsSorted", func(t *testing.T, f *fixture) {
			var ids []string
			for range 4 {
				ids = append(ids, newID("ws_"))
			}
			for _, i := range []int{2, 0, 3, 1} {
				f.must(f.s.CreateWorkspace(f.ctx, &store.Workspace{ID: ids[i], Name: "w", CreatedAt: t0}, f.user.ID),
					"CreateWorkspace")
			}
			wantIDs(t, "memberships", f.memberships(f.user.ID), sorted(append(ids, f.ws)...))
			wantIDs(t, "memberships of an unknown user", f.memberships("usr_unknown"), nil)
		}},
		{"ListTokensPagesByID", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			var want []*store.Token
			for i := range 5 {
				owner := f.user.ID
				if i == 2 {
					owner = other.ID
				}
				resource := ""
				if i%2 == 1 {
					resource = "inb_x"
				}
				tok := f.newTokenOf(owner, newID("hash-"), resource)
				if owner == f.user.ID {
					want = append(want, tok)
				}
			}
			f.must(f.s.RecordActivity(f.ctx, nil, map[string]time.Time{want[0].ID: at(time.Minute)}), "RecordActivity")
			want[0].LastUsedAt = ptr(at(time.Minute))
			var got []store.Token
			cursor := ""
			for range 10 {
				page, err := f.s.ListTokens(f.ctx, f.user.ID, store.Page{Cursor: cursor, Limit: 2})
				f.must(err, "ListTokens")
				got = append(got, page...)
				if len(page) < 2 {
					break
				}
				cursor = page[len(page)-1].ID
			}
			if len(got) != len(want) {
				t.Fatalf("ListTokens listed %d tokens, want %d", len(got), len(want))
			}
			for i := range got {
				wantSame(t, "listed token", &got[i], want[i])
				// The hash never leaves in JSON.
				b, err := json.Marshal(got[i])
				f.must(err, "json.Marshal")
				if strings.Contains(string(b), got[i].Hash) {
					t.Errorf("token JSON %s holds its hash", b)
				}
			}
			if page, _ := f.s.ListTokens(f.ctx, "usr_unknown", store.Page{}); len(page) != 0 {
				t.Errorf("tokens of an unknown user: %d", len(page))
			}
		}},
		{"GetToken", func(t *testing.T, f *fixture) {
			tok := f.newTokenOf(f.user.ID, "hash-1", "inb_1")
			f.newToken("hash-2")
			got, err := f.s.GetToken(f.ctx, tok.ID)
			f.must(err, "GetToken")
			wantSame(t, "token", got, tok)
			_, err = f.s.GetToken(f.ctx, "tok_unknown")
			wantErr(t, "GetToken of an unknown id", err, store.ErrNotFound)
		}},
		{"TransferToken", func(t *testing.T, f *fixture) {
			to := f.newUser("heir@example.com")
			tok := f.newToken("hash-1")
			kept := f.newToken("hash-2")
			got, err := f.s.TransferToken(f.ctx, tok.ID, to.ID)
			f.must(err, "TransferToken")
			want := *tok
			want.UserID = to.ID
			wantSame(t, "transferred token", got, &want)
			// It keeps working, as the new owner's.
			_, owner, err := f.s.TokenByHash(f.ctx, tok.Hash)
			f.must(err, "TokenByHash of the transferred token")
			wantSame(t, "new owner", owner, to)
			wantCount(t, f, to.ID, 1)
			wantCount(t, f, f.user.ID, 1)

			_, err = f.s.TransferToken(f.ctx, kept.ID, "usr_unknown")
			wantErr(t, "TransferToken to an unknown user", err, store.ErrNotFound)
			stayed, err := f.s.GetToken(f.ctx, kept.ID)
			f.must(err, "GetToken")
			wantSame(t, "token after a refused transfer", stayed, kept)
			_, err = f.s.TransferToken(f.ctx, "tok_unknown", to.ID)
			wantErr(t, "TransferToken of an unknown token", err, store.ErrNotFound)
		}},
		{"CountTokens", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			wantCount(t, f, f.user.ID, 0)
			f.newToken("hash-1")
			f.newTokenOf(f.user.ID, "hash-2", "inb_1")
			f.newTokenOf(other.ID, "hash-3", "")
			wantCount(t, f, f.user.ID, 2)
			wantCount(t, f, other.ID, 1)
			wantCount(t, f, "usr_unknown", 0)
		}},
		{"CreateTokenOfMissingUser", func(t *testing.T, f *fixture) {
			tok := &store.Token{ID: newID("tok_"), UserID: "usr_unknown", Kind: store.TokenIntegration, Name: "CI",
				Hash: "hash-1", CreatedAt: t0}
			wantErr(t, "CreateToken of an unknown user", f.s.CreateToken(f.ctx, tok), store.ErrNotFound)
			_, _, err := f.s.TokenByHash(f.ctx, tok.Hash)
			wantErr(t, "TokenByHash of the refused token", err, store.ErrNotFound)
		}},
	}
}

// wantActivity checks a user's last activity and a token's last use (each
// when its id is set).
func wantActivity(t *testing.T, f *fixture, what, userID string, active time.Time, tokenID string, used time.Time) {
	t.Helper()
	if userID != "" {
		if got := f.getUser(userID).LastActiveAt; got == nil || !got.Equal(active) {
			t.Errorf("%s: user last active at %s, want %s", what, show(got), show(active))
		}
	}
	if tokenID != "" {
		tok, err := f.s.GetToken(f.ctx, tokenID)
		f.must(err, "GetToken")
		if tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(used) {
			t.Errorf("%s: token last used at %s, want %s", what, show(tok.LastUsedAt), show(used))
		}
	}
}

func wantCount(t *testing.T, f *fixture, userID string, want int) {
	t.Helper()
	n, err := f.s.CountTokens(f.ctx, userID)
	f.must(err, "CountTokens")
	if n != want {
		t.Errorf("CountTokens(%s) = %d, want %d", userID, n, want)
	}
}
