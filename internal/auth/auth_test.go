package auth

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
	"github.com/postbode/postbode/internal/store/sqlite"
)

// TestBearerToken: the bearer token ParseAuthorization finds, as the
// management API takes it (basic auth is none).
func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"Bearer  abc ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", false},
		{"", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		c := ParseAuthorization(tt.header)
		got, ok := c.Token, c.Token != "" && !c.Basic
		if c.Basic {
			got = ""
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNewTokenIsRandomAndMarked(t *testing.T) {
	a, b := NewToken(store.TokenIntegration), NewToken(store.TokenIntegration)
	if a == b || !strings.HasPrefix(a, "pbi_") || len(a) < 40 {
		t.Errorf("integration tokens %q, %q", a, b)
	}
	if app := NewToken(store.TokenApp); !strings.HasPrefix(app, "pba_") {
		t.Errorf("app token %q", app)
	}
	if h := HashToken(a); len(h) != 64 || h == HashToken(b) || strings.Contains(h, a) {
		t.Errorf("hash %q", h)
	}
}

// countingStore counts token lookups.
type countingStore struct {
	store.Store
	lookups int
}

func (c *countingStore) TokenByHash(ctx context.Context, hash string) (*store.Token, *store.User, error) {
	c.lookups++
	return c.Store.TokenByHash(ctx, hash)
}

func openStore(t *testing.T) store.Store {
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestBootstrapAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	st := &countingStore{Store: db}
	token := strings.Repeat("x", 40)
	b, err := Bootstrap(ctx, db, token, time.Now())
	if err != nil || !b.Created || b.Token != "" || len(b.Password) < 20 {
		t.Fatalf("Bootstrap: %+v, %v", b, err)
	}
	// A second start finds users and creates nothing.
	if b, err := Bootstrap(ctx, db, strings.Repeat("y", 40), time.Now()); err != nil || b.Created {
		t.Fatalf("second Bootstrap: %+v, %v", b, err)
	}
	if n, _ := db.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users after two bootstraps, want 1", n)
	}
	a := NewAuthenticator(st, db, time.Now, 0)
	p, err := a.Integration(ctx, "Bearer "+token)
	if err != nil {
		t.Fatal(err)
	}
	if p.User.Email != BootstrapEmail || !p.IsAdmin() || p.Token.Kind != store.TokenIntegration {
		t.Errorf("principal %+v %+v", p.User, p.Token)
	}
	for _, bad := range []string{"", "Bearer " + strings.Repeat("y", 40), "Basic " + token, "Bearer " + token + "x"} {
		if _, err := a.Integration(ctx, bad); err != ErrUnauthenticated {
			t.Errorf("Integration(%q) = %v, want ErrUnauthenticated", bad, err)
		}
	}
	// A checked token is remembered: repeated use costs no lookups.
	before := st.lookups
	for range 5 {
		if _, err := a.Integration(ctx, "Bearer "+token); err != nil {
			t.Fatal(err)
		}
	}
	if st.lookups != before {
		t.Errorf("%d lookups for a remembered token", st.lookups-before)
	}
}

func TestBootstrapGeneratesCredentials(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	b, err := Bootstrap(ctx, db, "", time.Now())
	if err != nil || !b.Created || !strings.HasPrefix(b.Token, "pbi_") || len(b.Password) < 20 {
		t.Fatalf("Bootstrap: %+v, %v", b, err)
	}
	p, err := NewAuthenticator(db, db, time.Now, 0).Integration(ctx, "Bearer "+b.Token)
	if err != nil || !p.IsAdmin() {
		t.Fatalf("the generated token: %v", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(p.User.PasswordHash), []byte(b.Password)) != nil {
		t.Errorf("the generated password does not match the stored hash")
	}
}

// failingTokens fails the token insert of a bootstrap.
type failingTokens struct{ store.Store }

var errBoom = errors.New("boom")

func (f failingTokens) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.InTx(ctx, func(tx store.Tx) error { return fn(failingTx{tx}) })
}

type failingTx struct{ store.Tx }

func (failingTx) CreateToken(context.Context, *store.Token) error { return errBoom }

// TestBootstrapIsOneTransaction: an admin is never left without its token;
// the next start bootstraps again.
func TestBootstrapIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	if _, err := Bootstrap(ctx, failingTokens{db}, "", time.Now()); !errors.Is(err, errBoom) {
		t.Fatalf("Bootstrap with a failing token insert: %v", err)
	}
	if n, _ := db.CountUsers(ctx); n != 0 {
		t.Fatalf("%d users after a failed bootstrap, want 0", n)
	}
	if b, err := Bootstrap(ctx, db, "", time.Now()); err != nil || !b.Created {
		t.Fatalf("the next bootstrap: %+v, %v", b, err)
	}
}

func TestCheckBootstrapToken(t *testing.T) {
	for tok, ok := range map[string]bool{
		strings.Repeat("x", 32):          true,
		"pbi_" + strings.Repeat("A", 40): true,
		strings.Repeat("x", 31):          false,
		strings.Repeat(" ", 40):          false,
		strings.Repeat("x", 39) + " ":    false,
		strings.Repeat("x", 39) + "\t":   false,
		strings.Repeat("x", 39) + "\n":   false,
		strings.Repeat("x", 39) + "\x00": false,
		strings.Repeat("x", 39) + "é":    false,
	} {
		if err := CheckBootstrapToken(tok); (err == nil) != ok {
			t.Errorf("CheckBootstrapToken(%q) = %v, want ok %v", tok, err, ok)
		}
	}
}

// TestRevocationIsImmediate: after a change to a user's tokens, the node
// that made it stops trusting the cached token at once, and a node that
// only hears of it through the cluster within a second (on PostgreSQL,
// where nodes share a database).
func TestRevocationIsImmediate(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	open := func() store.Store {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := open(), open()
	token := strings.Repeat("r", 40)
	if _, err := Bootstrap(ctx, dbA, token, time.Now()); err != nil {
		t.Fatal(err)
	}
	nodeA, nodeB := NewAuthenticator(dbA, dbA, time.Now, 0), NewAuthenticator(dbB, dbB, time.Now, 0)
	listenCtx, stop := context.WithCancel(ctx)
	defer stop()
	for _, n := range []struct {
		db store.Store
		a  *Authenticator
	}{{dbA, nodeA}, {dbB, nodeB}} {
		go n.db.Listen(listenCtx, func(ev store.Notification) {
			if ev.UserID != "" {
				n.a.Forget(ev.UserID)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // both listening
	p, err := nodeA.Integration(ctx, "Bearer "+token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.Integration(ctx, "Bearer "+token); err != nil {
		t.Fatal(err)
	}
	if err := dbA.DeleteToken(ctx, p.Token.ID); err != nil {
		t.Fatal(err)
	}
	nodeA.Changed(ctx, p.User.ID)
	if _, err := nodeA.Integration(ctx, "Bearer "+token); err != ErrUnauthenticated {
		t.Errorf("the node that revoked still accepts the token: %v", err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, err := nodeB.Integration(ctx, "Bearer "+token)
		if err == ErrUnauthenticated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other node still accepts the revoked token after a second: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInactiveUsersTokensFail: an inactive user's tokens do not authenticate.
func TestInactiveUsersTokensFail(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := &store.User{ID: "usr_1", Email: "gone@example.com", Name: "gone", Role: store.RoleMember, Status: store.UserInactive}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	token := NewToken(store.TokenIntegration)
	if err := st.CreateToken(ctx, &store.Token{ID: "tok_1", UserID: u.ID, Kind: store.TokenIntegration, Name: "x",
		Hash: HashToken(token)}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewAuthenticator(st, st, time.Now, 0).Integration(ctx, "Bearer "+token); err != ErrUnauthenticated {
		t.Errorf("an inactive user's token: %v, want ErrUnauthenticated", err)
	}
}

func TestAppTokenIsNotForTheAPI(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := &store.User{ID: "usr_1", Email: "svc@example.com", Name: "svc", Role: "member", Status: "active"}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	token := NewToken(store.TokenApp)
	if err := st.CreateToken(ctx, &store.Token{ID: "tok_1", UserID: u.ID, Kind: store.TokenApp, Name: "app",
		Hash: HashToken(token), ResourceID: "inb_1"}); err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(st, st, time.Now, 0)
	if p, err := a.Token(ctx, token); err != nil || p.Token.Kind != store.TokenApp || p.IsAdmin() {
		t.Fatalf("Token: %v %+v", err, p)
	}
	if _, err := a.Integration(ctx, "Bearer "+token); err != ErrUnauthenticated {
		t.Errorf("an app token on the management API: %v, want ErrUnauthenticated", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":             "false||abc",
		"bearer   abc ":          "false||abc",
		"Basic dXNlcjpwYXNz":     "true|user|pass",
		"Basic dXNlcjpwYTpzcw==": "true|user|pa:ss",
		"Basic dXNlcg==":         "false||",
		"Basic dXNlcjo=":         "false||",
		"Basic !!!":              "false||",
		"Bearer":                 "false||",
		"Token abc":              "false||",
		"":                       "false||",
	} {
		c := ParseAuthorization(in)
		if got := strconv.FormatBool(c.Basic) + "|" + c.Username + "|" + c.Token; got != want {
			t.Errorf("ParseAuthorization(%q) = %s, want %s", in, got, want)
		}
	}
}

// activitySink records what FlushActivity writes.
type activitySink struct{ users, tokens map[string]time.Time }

func (s *activitySink) RecordActivity(_ context.Context, users, tokens map[string]time.Time) error {
	s.users, s.tokens = users, tokens
	return nil
}

// TestOnlyAcceptedUseIsActivity: a token refused for what it was presented
// for (an app token on the management API) keeps nobody active; an
// accepted one is recorded, user and token.
func TestOnlyAcceptedUseIsActivity(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := &store.User{ID: "usr_1", Email: "svc@example.com", Name: "svc", Role: store.RoleMember, Status: store.UserActive}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	app, integration := NewToken(store.TokenApp), NewToken(store.TokenIntegration)
	for id, tok := range map[string]string{"tok_app": app, "tok_int": integration} {
		kind := store.TokenIntegration
		if tok == app {
			kind = store.TokenApp
		}
		if err := st.CreateToken(ctx, &store.Token{ID: id, UserID: u.ID, Kind: kind, Name: id, Hash: HashToken(tok)}); err != nil {
			t.Fatal(err)
		}
	}
	a := NewAuthenticator(st, st, time.Now, 0)
	sink := &activitySink{}
	if _, err := a.Integration(ctx, "Bearer "+app); err != ErrUnauthenticated {
		t.Fatal(err)
	}
	a.FlushActivity(ctx, sink)
	if len(sink.users) != 0 || len(sink.tokens) != 0 {
		t.Errorf("a refused app token was recorded as activity: %v %v", sink.users, sink.tokens)
	}
	if _, err := a.Integration(ctx, "Bearer "+integration); err != nil {
		t.Fatal(err)
	}
	a.FlushActivity(ctx, sink)
	if _, ok := sink.users[u.ID]; !ok {
		t.Errorf("an accepted token's use was not recorded: %v", sink.users)
	}
	if _, ok := sink.tokens["tok_int"]; !ok {
		t.Errorf("the token's use was not recorded: %v", sink.tokens)
	}
}
