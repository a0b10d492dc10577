// Package auth owns credentials: tokens (stored only as SHA-256 hashes and
// compared in constant time), passwords (bcrypt), the cache of checked
// tokens and its invalidation, and the bootstrap admin that makes a fresh
// database usable.
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
	// Workspace, when set, confines the principal to that one workspace:
	// a customer-portal link acts for the user who made it, in nothing else.
	Workspace string
}

// IsAdmin reports whether the principal may see every workspace and manage
// users: an admin's portal link may not.
func (p *Principal) IsAdmin() bool { return p.User.Role == store.RoleAdmin && p.Workspace == "" }

// NewSessionToken returns a fresh login session secret: a marker and 32
// random bytes.
func NewSessionToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "pbs_" + base64.RawURLEncoding.EncodeToString(b)
}

// Inactive reports whether u may not authenticate: marked inactive, or a
// member without activity for longer than after (0: no limit) at now,
// which the periodic sweep would mark next. Admins do not go inactive by
// themselves: they are who reactivates the others, and an installation
// whose admins all went quiet would be locked for good.
func Inactive(u *store.User, after time.Duration, now time.Time) bool {
	if u.Status == store.UserInactive {
		return true
	}
	if after <= 0 || u.Role == store.RoleAdmin {
		return false
	}
	last := u.CreatedAt
	if u.LastActiveAt != nil && u.LastActiveAt.After(last) {
		last = *u.LastActiveAt
	}
	return last.Before(now.Add(-after))
}

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

// Mint makes a fresh token of t's kind: it returns the secret, to be shown
// once, and t with its id and hash set, ready to store.
func Mint(t store.Token) (string, *store.Token) {
	secret := NewToken(t.Kind)
	t.ID, t.Hash = id.New(id.Token), HashToken(secret)
	return secret, &t
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

// principalTTL bounds how long a node trusts a token it has checked
// without hearing otherwise. A change to a token or its owner reaches the
// cache sooner: at once on the node that made it (Changed), and within a
// cluster notification's delay on the others (Forget).
const principalTTL = 5 * time.Second

// maxCached bounds the cache; past it, it starts over.
const maxCached = 10000

// Store is what the authenticator needs of the store.
type Store interface {
	// TokenByHash returns the token whose SHA-256 hash is hash, with its owner.
	TokenByHash(ctx context.Context, hash string) (*store.Token, *store.User, error)
}

// Announcer tells the other nodes of a change.
type Announcer interface {
	Announce(ctx context.Context, n store.Notification) error
}

// Authenticator resolves bearer tokens to principals. It remembers tokens it
// has checked, so that a busy publisher costs no database lookup per
// request, and forgets a user's as soon as they change.
type Authenticator struct {
	Log *slog.Logger // for failures nobody waits on; slog.Default() when nil
	// Forgotten, when set, is told of every user Forget forgets, so that
	// what else is cached about the user (its memberships) goes too.
	Forgotten     func(userID string)
	store         Store
	cluster       Announcer
	now           func() time.Time
	inactiveAfter time.Duration
	activity      activity

	mu    sync.Mutex
	gen   uint64                     // bumped by Forget: a lookup begun before is not cached
	cache map[string]cachedPrincipal // by token hash
}

// NewAuthenticator returns an authenticator over st that announces
// changes through cluster; now is its clock. A user without activity for
// inactiveAfter (0: no limit) no longer authenticates.
func NewAuthenticator(st Store, cluster Announcer, now func() time.Time, inactiveAfter time.Duration) *Authenticator {
	return &Authenticator{store: st, cluster: cluster, now: now, inactiveAfter: inactiveAfter,
		cache: map[string]cachedPrincipal{}, activity: newActivity()}
}

type cachedPrincipal struct {
	p       *Principal
	expires time.Time
}

// Credential is what a request presented in its Authorization header: a
// bearer token, or basic auth's username and password (the token). Token is
// empty when none was presented or it could not be read.
type Credential struct {
	Basic    bool
	Username string
	Token    string
}

// ParseAuthorization decodes an Authorization header: Bearer <token>, or
// Basic base64(username:token). Anything else is an empty Credential.
func ParseAuthorization(h string) Credential {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return Credential{}
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return Credential{Token: rest}
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credential{}
		}
		user, pw, ok := strings.Cut(string(raw), ":")
		if !ok || pw == "" {
			return Credential{}
		}
		return Credential{Basic: true, Username: user, Token: pw}
	}
	return Credential{}
}

// Token looks a presented token up; the caller decides whether the token
// may do what it was presented for, and then calls Used. The hash is found through the unique
// index and then compared in constant time, so a lookup never turns into a
// byte-by-byte comparison of secrets. The tokens of an inactive user do
// not authenticate.
func (a *Authenticator) Token(ctx context.Context, token string) (*Principal, error) {
	h := HashToken(token)
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[h]
	gen := a.gen
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return a.use(c.p, now)
	}
	t, u, err := a.store.TokenByHash(ctx, h)
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
	if a.gen == gen { // else a change came in while looking up: this may be older
		if len(a.cache) >= maxCached {
			a.cache = make(map[string]cachedPrincipal)
		}
		a.cache[h] = cachedPrincipal{p: p, expires: now.Add(principalTTL)}
	}
	a.mu.Unlock()
	return a.use(p, now)
}

// ForResource looks up a token presented to one resource (an inbound
// webhook, a mailbox): it authenticates when it is an app token minted for
// resourceID or an integration token, whose owner's access to the
// resource the caller still checks before calling Used. Any other token,
// and none, is ErrUnauthenticated.
func (a *Authenticator) ForResource(ctx context.Context, token, resourceID string) (*Principal, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	p, err := a.Token(ctx, token)
	if err != nil {
		return nil, err
	}
	switch p.Token.Kind {
	case store.TokenIntegration:
		return p, nil
	case store.TokenApp:
		if p.Token.ResourceID == resourceID {
			return p, nil
		}
	}
	return nil, ErrUnauthenticated
}

// use is the last step of a token's check: an inactive owner's tokens fail
// (activity this node saw but has not written yet counts).
func (a *Authenticator) use(p *Principal, now time.Time) (*Principal, error) {
	if Inactive(p.User, a.inactiveAfter, now) && (p.User.Status == store.UserInactive ||
		!a.activity.since(p.User.ID, now.Add(-a.inactiveAfter))) {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// Used records a successful use of p's token: activity of its owner and of
// the token, which keeps the owner active. A caller calls it once the
// token is accepted for what it was presented for, so that a token refused
// there (an app token on the management API, another webhook's) keeps
// nobody active.
func (a *Authenticator) Used(p *Principal) {
	if p.Token != nil {
		a.activity.seen(p.User.ID, p.Token.ID, a.now())
	}
}

// Seen records activity of a user (a login) or of one of its tokens
// (tokenID set), written to the store by FlushActivity.
func (a *Authenticator) Seen(userID, tokenID string, now time.Time) {
	a.activity.seen(userID, tokenID, now)
}

// Forget drops every cached credential of the user: on this node, after a
// cluster notification that the user or one of its tokens changed.
func (a *Authenticator) Forget(userID string) {
	a.mu.Lock()
	a.gen++
	for h, c := range a.cache {
		if c.p.User.ID == userID {
			delete(a.cache, h)
		}
	}
	a.mu.Unlock()
	if a.Forgotten != nil {
		a.Forgotten(userID)
	}
}

// Changed is what a service calls after changing a user or one of its
// tokens (revoked, moved, deactivated): the change takes effect at once on
// this node and, through the cluster notification, on every other. The
// change is made by then, so a notification that fails is logged, not
// returned: the other nodes' caches run out within principalTTL anyway.
func (a *Authenticator) Changed(ctx context.Context, userID string) {
	a.Forget(userID)
	if err := a.cluster.Announce(ctx, store.Notification{UserID: userID}); err != nil {
		a.log().Warn("telling the other nodes that a user's credentials changed", "user_id", userID, "err", err)
	}
}

func (a *Authenticator) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// NewPassword returns a random password for an account made without one.
func NewPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Integration authenticates a management API request: only integration tokens qualify.
func (a *Authenticator) Integration(ctx context.Context, authorization string) (*Principal, error) {
	c := ParseAuthorization(authorization)
	if c.Basic || c.Token == "" {
		return nil, ErrUnauthenticated
	}
	p, err := a.Token(ctx, c.Token)
	if err != nil {
		return nil, err
	}
	if p.Token.Kind != store.TokenIntegration {
		return nil, ErrUnauthenticated
	}
	a.Used(p)
	return p, nil
}
