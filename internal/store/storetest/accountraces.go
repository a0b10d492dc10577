// Conformance tests of account and inbound changes racing each other:
// whatever the interleaving, each call either does its work or fails with
// the error that says why (never another error), and what is stored is
// what one of the orders would leave.
package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func accountRaceTests() []test {
	return []test{
		{"CreateTokenAndDeleteUser", func(t *testing.T, f *fixture) {
			for round := range raceRounds {
				u := f.newUser(newID("racer-") + "@example.com")
				tok := &store.Token{ID: newID("tok_"), UserID: u.ID, Kind: store.TokenIntegration, Name: "CI",
					Hash: newID("hash-"), CreatedAt: t0}
				errs := race(f,
					func() error { return f.s.CreateToken(f.ctx, tok) },
					func() error { return f.s.DeleteUser(f.ctx, u.ID) })
				_, owner, lookup := f.s.TokenByHash(f.ctx, tok.Hash)
				_, user := f.s.GetUser(f.ctx, u.ID)
				switch {
				case errs[0] == nil && errors.Is(errs[1], store.ErrHasTokens):
					// The token first: the user stays, owning it.
					if lookup != nil || owner.ID != u.ID || user != nil {
						t.Errorf("round %d: token created, delete refused, but TokenByHash: %v, GetUser: %v", round, lookup, user)
					}
				case errors.Is(errs[0], store.ErrNotFound) && errs[1] == nil:
					// The delete first: no token for a user that is gone.
					if !errors.Is(lookup, store.ErrNotFound) || !errors.Is(user, store.ErrNotFound) {
						t.Errorf("round %d: user deleted, token refused, but TokenByHash: %v, GetUser: %v", round, lookup, user)
					}
				default:
					t.Errorf("round %d: CreateToken: %v, DeleteUser: %v; want nil and %v, or %v and nil", round,
						errs[0], errs[1], store.ErrHasTokens, store.ErrNotFound)
				}
			}
		}},
		{"TransferTokenAndDeleteUser", func(t *testing.T, f *fixture) {
			for round := range raceRounds {
				heir := f.newUser(newID("heir-") + "@example.com")
				tok := f.newToken(newID("hash-"))
				errs := race(f,
					func() error { _, err := f.s.TransferToken(f.ctx, tok.ID, heir.ID); return err },
					func() error { return f.s.DeleteUser(f.ctx, heir.ID) })
				got, owner, lookup := f.s.TokenByHash(f.ctx, tok.Hash)
				switch {
				case lookup != nil:
					t.Errorf("round %d: TokenByHash of the transferred token: %v", round, lookup)
				case errs[0] == nil && errors.Is(errs[1], store.ErrHasTokens):
					if owner.ID != heir.ID {
						t.Errorf("round %d: transferred, but owned by %s", round, owner.ID)
					}
				case errors.Is(errs[0], store.ErrNotFound) && errs[1] == nil:
					if got.UserID != f.user.ID {
						t.Errorf("round %d: transfer refused, but owned by %s", round, got.UserID)
					}
				default:
					t.Errorf("round %d: TransferToken: %v, DeleteUser: %v; want nil and %v, or %v and nil", round,
						errs[0], errs[1], store.ErrHasTokens, store.ErrNotFound)
				}
			}
		}},
		{"CreateSessionAndDeleteUser", func(t *testing.T, f *fixture) {
			for round := range raceRounds {
				u := f.newUser(newID("racer-") + "@example.com")
				s := &store.Session{Hash: newID("session-"), UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
				errs := race(f,
					func() error { return f.s.CreateSession(f.ctx, s) },
					func() error { return f.s.DeleteUser(f.ctx, u.ID) })
				if errs[0] != nil && !errors.Is(errs[0], store.ErrNotFound) {
					t.Errorf("round %d: CreateSession racing DeleteUser: %v; want success or %v", round, errs[0], store.ErrNotFound)
				}
				if errs[1] != nil {
					t.Errorf("round %d: DeleteUser: %v", round, errs[1])
				}
				wantSession(t, f, "session of the deleted user", s.Hash, t0, false)
			}
		}},
		{"RecordActivityAndMarkUsersInactive", func(t *testing.T, f *fixture) {
			last, now := at(-time.Hour), at(time.Hour)
			for round := range raceRounds {
				u := &store.User{ID: newID("usr_"), Email: newID("idle-") + "@example.com", Name: "Idle",
					Role: store.RoleMember, Status: store.UserActive, LastActiveAt: &last, CreatedAt: at(-2 * time.Hour)}
				f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
				errs := race(f,
					func() error { return f.s.RecordActivity(f.ctx, map[string]time.Time{u.ID: now}, nil) },
					func() error { _, err := f.s.MarkUsersInactive(f.ctx, t0, now); return err })
				if errs[0] != nil || errs[1] != nil {
					t.Errorf("round %d: RecordActivity: %v, MarkUsersInactive: %v", round, errs[0], errs[1])
					continue
				}
				// The activity first keeps the user active; the run first
				// makes it inactive, and the activity then leaves it so.
				got := f.getUser(u.ID)
				active := got.LastActiveAt != nil && got.LastActiveAt.Equal(now)
				if (got.Status == store.UserActive) != active {
					t.Errorf("round %d: user %s with last activity %s", round, got.Status, show(got.LastActiveAt))
				}
			}
		}},
		{"SetMembershipsTwice", func(t *testing.T, f *fixture) {
			ws := []string{f.newWorkspace("a", ""), f.newWorkspace("b", ""), f.newWorkspace("c", ""), f.newWorkspace("d", "")}
			sets := [][]string{{ws[0], ws[1]}, {ws[2], ws[3]}}
			for round := range raceRounds {
				u := f.newUser(newID("member-") + "@example.com")
				f.must(f.s.SetMemberships(f.ctx, u.ID, []string{ws[1], ws[2]}), "SetMemberships")
				errs := race(f,
					func() error { return f.s.SetMemberships(f.ctx, u.ID, sets[0]) },
					func() error { return f.s.SetMemberships(f.ctx, u.ID, sets[1]) })
				if errs[0] != nil || errs[1] != nil {
					t.Errorf("round %d: SetMemberships: %v and %v", round, errs[0], errs[1])
					continue
				}
				if got := f.memberships(u.ID); !slices.Equal(got, sets[0]) && !slices.Equal(got, sets[1]) {
					t.Errorf("round %d: memberships %v, want %v or %v", round, got, sets[0], sets[1])
				}
			}
		}},
		{"ReplaceInboundTokenAndDeleteInbound", func(t *testing.T, f *fixture) {
			for round := range raceRounds {
				in, old := f.newInbound("")
				tok := f.appToken(f.user.ID)
				var removed []store.Token
				errs := race(f,
					func() error { _, err := f.s.ReplaceInboundToken(f.ctx, f.ws, in.ID, tok); return err },
					func() error { var err error; removed, err = f.s.DeleteInbound(f.ctx, f.ws, in.ID); return err })
				if errs[0] != nil && !errors.Is(errs[0], store.ErrNotFound) {
					t.Errorf("round %d: ReplaceInboundToken racing a delete: %v; want success or %v", round, errs[0],
						store.ErrNotFound)
				}
				if errs[1] != nil {
					t.Errorf("round %d: DeleteInbound: %v", round, errs[1])
					continue
				}
				// Neither token outlives the webhook, and the delete reports
				// whichever it removed.
				wantToken(t, f, "old token", old, false)
				wantToken(t, f, "new token", tok, false)
				want := old
				if errs[0] == nil {
					want = tok
				}
				if len(removed) != 1 || removed[0].ID != want.ID {
					t.Errorf("round %d: DeleteInbound removed %v, want %s", round, removed, want.ID)
				}
			}
		}},
		{"InsertInboundRequestsAndDeleteInbound", func(t *testing.T, f *fixture) {
			kept, _ := f.newInbound("")
			for round := range raceRounds {
				in, _ := f.newInbound("")
				batch := []store.InboundRequest{f.inboundRequest(in, t0), f.inboundRequest(kept, t0), f.inboundRequest(in, t0)}
				errs := race(f,
					func() error { return f.s.InsertInboundRequests(f.ctx, batch, 1000) },
					func() error { _, err := f.s.DeleteInbound(f.ctx, f.ws, in.ID); return err })
				if errs[0] != nil || errs[1] != nil {
					t.Errorf("round %d: InsertInboundRequests: %v, DeleteInbound: %v", round, errs[0], errs[1])
				}
			}
			if n := len(f.inboundRequests(kept)); n != raceRounds {
				t.Errorf("the live webhook's log: %d requests, want %d", n, raceRounds)
			}
		}},
	}
}
