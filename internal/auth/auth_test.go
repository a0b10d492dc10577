package auth

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/sqlite"
)

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
		got, ok := BearerToken(tt.header)
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
	st := &countingStore{Store: openStore(t)}
	token := strings.Repeat("x", 40)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := Bootstrap(ctx, st, token, log); err != nil {
		t.Fatal(err)
	}
	// A second start finds users and creates nothing.
	if err := Bootstrap(ctx, st, strings.Repeat("y", 40), log); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users after two bootstraps, want 1", n)
	}
	a := &Authenticator{Store: st}
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
	a := &Authenticator{Store: st}
	if p, err := a.Token(ctx, token); err != nil || p.Token.Kind != store.TokenApp || p.IsAdmin() {
		t.Fatalf("Token: %v %+v", err, p)
	}
	if _, err := a.Integration(ctx, "Bearer "+token); err != ErrUnauthenticated {
		t.Errorf("an app token on the management API: %v, want ErrUnauthenticated", err)
	}
}
