package account_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/workspace"
)

const day = 24 * time.Hour

// env is the service over one store, with a clock the test moves.
type env struct {
	ctx   context.Context
	st    store.Store
	clock *servicetest.Clock
	auth  *auth.Authenticator
	svc   *account.Service
	admin *auth.Principal
	ws    string
}

const inactiveAfter = 60 * day

func newEnv(t *testing.T, st store.Store) *env {
	clock := servicetest.NewClock()
	a := auth.NewAuthenticator(st, st, clock.Now, inactiveAfter)
	e := &env{ctx: context.Background(), st: st, clock: clock, auth: a,
		svc: account.New(account.Options{Store: st, Auth: a, InactiveAfter: inactiveAfter, Now: clock.Now})}
	e.admin = servicetest.User(t, st, store.RoleAdmin, "admin@example.com")
	w, err := workspace.New(st, clock.Now).Create(e.ctx, e.admin, "Main")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	return e
}

func ptr[T any](v T) *T { return &v }

// member makes a member of the workspace with an integration token.
func (e *env) member(t *testing.T, email string) (*account.NewUser, *account.NewToken) {
	t.Helper()
	u, err := e.svc.CreateUser(e.ctx, e.admin, account.UserInput{Email: ptr(email), Name: ptr("Member"), Workspaces: []string{e.ws}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.svc.CreateToken(e.ctx, e.admin, u.ID, "integration")
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// use authenticates with token now, and writes the activity it made.
func (e *env) use(t *testing.T, token string) error {
	t.Helper()
	_, err := e.auth.Integration(e.ctx, "Bearer "+token)
	if ferr := e.auth.FlushActivity(e.ctx, e.st); ferr != nil {
		t.Fatal(ferr)
	}
	return err
}

// TestInactiveAfterThePeriod: Deployteq's rule. A user without activity for
// the period is inactive and its tokens fail with 401, on every node
// (fresh authenticators); an admin reactivates it and they work again.
func TestInactiveAfterThePeriod(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		u, tok := e.member(t, "quiet@example.com")
		e.clock.T = e.clock.T.Add(inactiveAfter + time.Minute)
		if err := e.use(t, tok.Secret); err != auth.ErrUnauthenticated {
			t.Fatalf("the token of a user without activity for the period: %v, want unauthenticated", err)
		}
		got, err := e.svc.GetUser(e.ctx, e.admin, u.ID)
		if err != nil || got.Status != store.UserInactive {
			t.Errorf("user shown as %+v, %v; want inactive", got, err)
		}
		// The sweep marks it; a fresh node agrees.
		if ids, err := st.MarkUsersInactive(e.ctx, e.clock.T.Add(-inactiveAfter), e.clock.T); err != nil || !slices.Contains(ids, u.ID) {
			t.Fatalf("MarkUsersInactive: %v, %v", ids, err)
		}
		other := auth.NewAuthenticator(st, st, e.clock.Now, inactiveAfter)
		if _, err := other.Integration(e.ctx, "Bearer "+tok.Secret); err != auth.ErrUnauthenticated {
			t.Errorf("another node: %v", err)
		}
		if _, err := e.svc.Reactivate(e.ctx, e.admin, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.use(t, tok.Secret); err != nil {
			t.Errorf("after reactivation: %v", err)
		}
		other.Forget(u.ID) // the cluster notification of the reactivation
		if _, err := other.Integration(e.ctx, "Bearer "+tok.Secret); err != nil {
			t.Errorf("after reactivation, another node: %v", err)
		}
	})
}

// TestRegularUseKeepsTheOwnerActive: Deployteq's note. Using a token is
// activity; a webhook in regular use keeps its owner active.
func TestRegularUseKeepsTheOwnerActive(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		u, tok := e.member(t, "busy@example.com")
		for range 4 { // every 30 days, for 120 days
			e.clock.T = e.clock.T.Add(30 * day)
			if err := e.use(t, tok.Secret); err != nil {
				t.Fatalf("day %v: %v", e.clock.T, err)
			}
		}
		// Neither the busy member nor the idle admin (admins do not go
		// inactive) is marked.
		if ids, err := st.MarkUsersInactive(e.ctx, e.clock.T.Add(-inactiveAfter), e.clock.T); err != nil || len(ids) != 0 {
			t.Errorf("MarkUsersInactive marked %v, %v; want none", ids, err)
		}
		got, err := e.svc.GetUser(e.ctx, e.admin, u.ID)
		if err != nil || got.Status != store.UserActive || got.LastActiveAt == nil || !got.LastActiveAt.Equal(e.clock.T.Truncate(time.Microsecond)) {
			t.Errorf("user %+v, %v; want active, last active now", got.User, err)
		}
		ts, err := e.svc.ListTokens(e.ctx, e.admin, u.ID, listing.Query{})
		if err != nil || len(ts.Data) != 1 || ts.Data[0].LastUsedAt == nil {
			t.Errorf("tokens %+v, %v; want last_used_at set", ts.Data, err)
		}
	})
}

// TestDeleteRefusedWhileTokensRemain: the seed's warning, word for word;
// moving or removing the tokens lets the delete through.
func TestDeleteRefusedWhileTokensRemain(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		u, tok := e.member(t, "leaver@example.com")
		err := e.svc.DeleteUser(e.ctx, e.admin, u.ID)
		servicetest.Check(t, "delete with a token", err, servicetest.Want{Kind: errs.Conflict, Code: "user_has_tokens"})
		if err == nil || err.Error() != account.UserHasTokens {
			t.Errorf("message %q", err)
		}
		if err := e.use(t, tok.Secret); err != nil {
			t.Errorf("the token after a refused delete: %v", err)
		}
		if _, err := e.svc.TransferToken(e.ctx, e.admin, tok.ID, e.admin.User.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteUser(e.ctx, e.admin, u.ID); err != nil {
			t.Fatalf("delete after moving the token: %v", err)
		}
		_, err = e.svc.GetUser(e.ctx, e.admin, u.ID)
		servicetest.Check(t, "deleted user", err, servicetest.Want{Kind: errs.NotFound})
	})
}

// TestTransferKeepsTheTokenWorking: a moved token authenticates as its new
// owner, at once.
func TestTransferKeepsTheTokenWorking(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		_, tok := e.member(t, "from@example.com")
		to, _ := e.member(t, "to@example.com")
		if err := e.use(t, tok.Secret); err != nil { // cached now
			t.Fatal(err)
		}
		if _, err := e.svc.TransferToken(e.ctx, e.admin, tok.ID, to.ID); err != nil {
			t.Fatal(err)
		}
		p, err := e.auth.Integration(e.ctx, "Bearer "+tok.Secret)
		if err != nil || p.User.ID != to.ID {
			t.Errorf("after the transfer: %v, %+v; want the new owner", err, p)
		}
		_, err = e.svc.TransferToken(e.ctx, e.admin, tok.ID, "usr_nope")
		servicetest.Check(t, "to nobody", err, servicetest.Want{Kind: errs.Invalid, Field: "user_id"})
	})
}

// TestPasswordChangeKeepsTokens: Deployteq's way to deny a person access:
// its sessions end, its tokens keep working.
func TestPasswordChangeKeepsTokens(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		u, tok := e.member(t, "person@example.com")
		if err := e.svc.SetPassword(e.ctx, e.admin, u.ID, "first password!", ""); err != nil {
			t.Fatal(err)
		}
		session, _, err := e.svc.Login(e.ctx, "Person@Example.com", "first password!")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := e.svc.Session(e.ctx, session); err != nil || p.User.ID != u.ID {
			t.Fatalf("session: %v", err)
		}
		if err := e.svc.SetPassword(e.ctx, e.admin, u.ID, "second password!", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Session(e.ctx, session); errs.KindOf(err) != errs.Unauthenticated {
			t.Errorf("the session after a password change: %v", err)
		}
		if _, _, err := e.svc.Login(e.ctx, "person@example.com", "first password!"); errs.KindOf(err) != errs.Unauthenticated {
			t.Errorf("the old password: %v", err)
		}
		if err := e.use(t, tok.Secret); err != nil {
			t.Errorf("the token after a password change: %v", err)
		}
	})
}

func TestLoginAndSessions(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		u, err := e.svc.CreateUser(e.ctx, e.admin, account.UserInput{Email: ptr("Ada@Example.com"), Name: ptr("Ada"),
			Password: ptr("a long enough one")})
		if err != nil || u.Email != "ada@example.com" || u.Password != "" {
			t.Fatalf("create: %+v, %v", u, err)
		}
		for _, c := range []struct{ email, pw string }{{"ada@example.com", "wrong password!"}, {"nobody@example.com", "a long enough one"}, {"", ""}} {
			if _, _, err := e.svc.Login(e.ctx, c.email, c.pw); errs.KindOf(err) != errs.Unauthenticated {
				t.Errorf("login %q: %v", c.email, err)
			}
		}
		secret, expires, err := e.svc.Login(e.ctx, "ada@example.com", "a long enough one")
		if err != nil || !strings.HasPrefix(secret, "pbs_") || !expires.Equal(e.clock.T.Truncate(time.Microsecond).Add(account.SessionTTL)) {
			t.Fatalf("login: %q %v %v", secret, expires, err)
		}
		// Another node (another service over the same store) knows it.
		other := account.New(account.Options{Store: st, Auth: auth.NewAuthenticator(st, st, e.clock.Now, inactiveAfter),
			InactiveAfter: inactiveAfter, Now: e.clock.Now})
		if p, err := other.Session(e.ctx, secret); err != nil || p.User.ID != u.ID {
			t.Errorf("session on another node: %v", err)
		}
		e.clock.T = e.clock.T.Add(account.SessionTTL)
		if _, err := e.svc.Session(e.ctx, secret); errs.KindOf(err) != errs.Unauthenticated {
			t.Errorf("an expired session: %v", err)
		}
		secret, _, _ = e.svc.Login(e.ctx, "ada@example.com", "a long enough one")
		if err := e.svc.Logout(e.ctx, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Session(e.ctx, secret); errs.KindOf(err) != errs.Unauthenticated {
			t.Errorf("after logout: %v", err)
		}
	})
}

// TestMembersSeeOnlyThemselves: a member sees and changes only its own
// account and tokens; admin-only actions are forbidden to it.
func TestMembersSeeOnlyThemselves(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		alice, aliceTok := e.member(t, "alice@example.com")
		bob, bobTok := e.member(t, "bob@example.com")
		pa, err := e.auth.Integration(e.ctx, "Bearer "+aliceTok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.svc.ListUsers(e.ctx, pa, listing.Query{})
		if err != nil || len(l.Data) != 1 || l.Data[0].ID != alice.ID {
			t.Errorf("alice lists %+v, %v", l.Data, err)
		}
		notFound := servicetest.Want{Kind: errs.NotFound}
		_, err = e.svc.GetUser(e.ctx, pa, bob.ID)
		servicetest.Check(t, "get bob", err, notFound)
		_, err = e.svc.ListTokens(e.ctx, pa, bob.ID, listing.Query{})
		servicetest.Check(t, "bob's tokens", err, notFound)
		servicetest.Check(t, "revoke bob's token", e.svc.RevokeToken(e.ctx, pa, bobTok.ID), notFound)
		servicetest.Check(t, "bob's password", e.svc.SetPassword(e.ctx, pa, bob.ID, "a long enough one", ""), notFound)
		// Its own password: only with the current one, so that a leaked
		// token cannot become a login; 403 before 404 never shows.
		servicetest.Check(t, "own password without the current one", e.svc.SetPassword(e.ctx, pa, alice.ID, "a long enough one", ""),
			servicetest.Want{Kind: errs.Invalid, Field: "current_password"})
		if err := e.svc.SetPassword(e.ctx, e.admin, alice.ID, "the first password", ""); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetPassword(e.ctx, pa, alice.ID, "a long enough one", "the first password"); err != nil {
			t.Errorf("own password with the current one: %v", err)
		}
		_, err = e.svc.UpdateUser(e.ctx, pa, bob.ID, account.UserInput{Name: ptr("x")})
		servicetest.Check(t, "change bob", err, notFound)
		forbidden := servicetest.Want{Kind: errs.Forbidden}
		_, err = e.svc.CreateUser(e.ctx, pa, account.UserInput{Email: ptr("x@example.com"), Name: ptr("x")})
		servicetest.Check(t, "create", err, forbidden)
		_, err = e.svc.UpdateUser(e.ctx, pa, alice.ID, account.UserInput{Role: ptr(store.RoleAdmin)})
		servicetest.Check(t, "promote itself", err, forbidden)
		servicetest.Check(t, "delete bob", e.svc.DeleteUser(e.ctx, pa, bob.ID), notFound)
		servicetest.Check(t, "delete itself", e.svc.DeleteUser(e.ctx, pa, alice.ID), forbidden)
		_, err = e.svc.Reactivate(e.ctx, pa, alice.ID)
		servicetest.Check(t, "reactivate", err, forbidden)
		// Its own: allowed.
		if _, err := e.svc.CreateToken(e.ctx, pa, alice.ID, "mine"); err != nil {
			t.Errorf("its own token: %v", err)
		}
		if err := e.svc.RevokeToken(e.ctx, pa, aliceTok.ID); err != nil {
			t.Errorf("revoke its own token: %v", err)
		}
		if _, err := e.auth.Integration(e.ctx, "Bearer "+aliceTok.Secret); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("a revoked token, cached before: %v", err)
		}
	})
}

func TestUserInputIsChecked(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		cases := []struct {
			name  string
			in    account.UserInput
			field string
		}{
			{"no email", account.UserInput{Name: ptr("x")}, "email"},
			{"bad email", account.UserInput{Email: ptr("not an email"), Name: ptr("x")}, "email"},
			{"NUL email", account.UserInput{Email: ptr("a\x00@example.com"), Name: ptr("x")}, "email"},
			{"no name", account.UserInput{Email: ptr("a@example.com")}, "name"},
			{"bad role", account.UserInput{Email: ptr("a@example.com"), Name: ptr("x"), Role: ptr("root")}, "role"},
			{"short password", account.UserInput{Email: ptr("a@example.com"), Name: ptr("x"), Password: ptr("short")}, "password"},
			{"long password", account.UserInput{Email: ptr("a@example.com"), Name: ptr("x"), Password: ptr(strings.Repeat("p", 73))}, "password"},
			{"unknown workspace", account.UserInput{Email: ptr("a@example.com"), Name: ptr("x"), Workspaces: []string{"ws_nope"}}, "workspaces[0]"},
		}
		for _, c := range cases {
			_, err := e.svc.CreateUser(e.ctx, e.admin, c.in)
			servicetest.Check(t, c.name, err, servicetest.Want{Kind: errs.Invalid, Field: c.field})
		}
		_, err := e.svc.CreateUser(e.ctx, e.admin, account.UserInput{Email: ptr("ADMIN@example.com"), Name: ptr("dup")})
		servicetest.Check(t, "taken email", err, servicetest.Want{Kind: errs.Conflict})
		_, err = e.svc.UpdateUser(e.ctx, e.admin, e.admin.User.ID, account.UserInput{Role: ptr(store.RoleMember)})
		servicetest.Check(t, "demote itself", err, servicetest.Want{Kind: errs.Conflict})
		servicetest.Check(t, "delete itself", e.svc.DeleteUser(e.ctx, e.admin, e.admin.User.ID), servicetest.Want{Kind: errs.Conflict})
	})
}

// TestRemovedMemberLosesAccessAtOnce: a member's access is remembered for
// speed, and forgotten the moment its memberships change.
func TestRemovedMemberLosesAccessAtOnce(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		wss := workspace.New(st, e.clock.Now)
		e.auth.Forgotten = wss.ForgetMember
		u, tok := e.member(t, "leaving@example.com")
		p, err := e.auth.Integration(e.ctx, "Bearer "+tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wss.Access(e.ctx, p, e.ws); err != nil {
			t.Fatalf("a member: %v", err)
		}
		if _, err := e.svc.UpdateUser(e.ctx, e.admin, u.ID, account.UserInput{Workspaces: []string{}}); err != nil {
			t.Fatal(err)
		}
		servicetest.Check(t, "right after leaving", wss.Access(e.ctx, p, e.ws), servicetest.Want{Kind: errs.NotFound})
	})
}
