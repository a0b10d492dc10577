// Package auth owns credentials: tokens (stored only as SHA-256 hashes and
// compared in constant time), passwords (bcrypt), and the bootstrap admin
// that makes a fresh database usable.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
)

// ErrUnauthenticated means no valid credential was presented.
var ErrUnauthenticated = errors.New("missing or invalid token")

// Principal is who a request acts as.
type Principal struct {
	User  *store.User
	Token *store.Token
}

// IsAdmin reports whether the principal may see every workspace.
func (p *Principal) IsAdmin() bool { return p.User.Role == store.RoleAdmin }

// NewToken returns a fresh secret token: a kind marker and 32 random bytes.
func NewToken(kind string) string {
	b := make([]byte, 32)
	rand.Read(b)
	prefix := "pbi_"
	if kind == store.TokenApp {
		prefix = "pba_"
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is the only form in which a token is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(b), err
}

// principalTTL bounds how long a node trusts a token it has checked: a
// revoked token, or a change to its owner, takes effect within this time.
const principalTTL = 5 * time.Second

// maxCached bounds the cache; past it, it starts over.
const maxCached = 10000

// Authenticator resolves bearer tokens to principals. It remembers tokens it
// has checked for principalTTL, so that a busy publisher costs no database
// lookups per request.
type Authenticator struct {
	Store store.Store

	mu    sync.Mutex
	cache map[string]cachedPrincipal // by token hash
}

type cachedPrincipal struct {
	p       *Principal
	expires time.Time
}

// BearerToken extracts the token of an "Authorization: Bearer …" header.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Token looks a presented token up. The hash is found through the unique
// index and then compared in constant time, so a lookup never turns into a
// byte-by-byte comparison of secrets.
func (a *Authenticator) Token(ctx context.Context, token string) (*Principal, error) {
	h := HashToken(token)
	now := time.Now()
	a.mu.Lock()
	c, ok := a.cache[h]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.p, nil
	}
	t, u, err := a.Store.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return nil, ErrUnauthenticated
	}
	p := &Principal{User: u, Token: t}
	a.mu.Lock()
	if a.cache == nil || len(a.cache) >= maxCached {
		a.cache = make(map[string]cachedPrincipal)
	}
	a.cache[h] = cachedPrincipal{p: p, expires: now.Add(principalTTL)}
	a.mu.Unlock()
	return p, nil
}

// Integration authenticates a management API request: only integration tokens qualify.
func (a *Authenticator) Integration(ctx context.Context, authorization string) (*Principal, error) {
	tok, ok := BearerToken(authorization)
	if !ok {
		return nil, ErrUnauthenticated
	}
	p, err := a.Token(ctx, tok)
	if err != nil {
		return nil, err
	}
	if p.Token.Kind != store.TokenIntegration {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// BootstrapEmail is the address of the first admin.
const BootstrapEmail = "admin@localhost"

// Bootstrap creates the first admin on an empty database. With token set it
// becomes the admin's integration token; otherwise a random password and
// token are made and logged once.
func Bootstrap(ctx context.Context, s store.Store, token string, log *slog.Logger) error {
	n, err := s.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	password := ""
	if token == "" {
		token = NewToken(store.TokenIntegration)
		b := make([]byte, 18)
		rand.Read(b)
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	pwHash := ""
	if password != "" {
		if pwHash, err = HashPassword(password); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	u := &store.User{ID: id.New(id.User), Email: BootstrapEmail, Name: "Admin", Role: store.RoleAdmin,
		PasswordHash: pwHash, Status: store.UserActive, CreatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // another node bootstrapped first
		}
		return err
	}
	t := &store.Token{ID: id.New(id.Token), UserID: u.ID, Kind: store.TokenIntegration, Name: "bootstrap",
		Hash: HashToken(token), CreatedAt: now}
	if err := s.CreateToken(ctx, t); err != nil {
		return err
	}
	if password != "" {
		log.Warn("created the first admin; this is the only time its password and token are shown",
			"email", BootstrapEmail, "password", password, "token", token)
	} else {
		log.Info("created the first admin with POSTBODE_BOOTSTRAP_TOKEN as its integration token", "email", BootstrapEmail)
	}
	return nil
}
