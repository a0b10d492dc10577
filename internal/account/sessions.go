// Login sessions for the web UI: stored, so that they survive a restart and
// work on every node; only their hashes are kept.
package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
)

// dummyHash is compared against when no user has the email given, so that
// a login takes as long whether the account exists or not.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user, no such password"), bcrypt.DefaultCost)

// Login checks an email and password and starts a session. It returns the
// session's secret (for the cookie) and when it ends. A wrong email, a
// wrong password and an inactive account get the same answer. A login is
// activity: it keeps the account active.
func (s *Service) Login(ctx context.Context, email, password string) (string, time.Time, error) {
	refused := errs.Unauthenticatedf("the email address or password is wrong, or the account is inactive")
	email = normalEmail(email)
	// Text no account can hold is refused like a wrong password, before the
	// store, which on PostgreSQL would fail on it.
	if validate.Line("email", email, MaxEmail) != nil || validate.Text("password", password, MaxPassword) != nil {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password)) // as long as any refusal
		return "", time.Time{}, refused
	}
	u, err := s.opt.Store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, err
	}
	hash := dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if u == nil || !match || auth.Inactive(u, s.opt.InactiveAfter, s.opt.Now()) {
		return "", time.Time{}, refused
	}
	now := s.now()
	secret := auth.NewSessionToken()
	sess := &store.Session{Hash: auth.HashToken(secret), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.opt.Store.CreateSession(ctx, sess); err != nil {
		return "", time.Time{}, err
	}
	s.opt.Auth.Seen(u.ID, "", now)
	return secret, sess.ExpiresAt, nil
}

// Session returns the principal of a session's secret; an unknown, expired
// or ended session, or one of an inactive user, is unauthenticated.
func (s *Service) Session(ctx context.Context, secret string) (*auth.Principal, error) {
	if secret == "" {
		return nil, errs.Unauthenticatedf("log in first")
	}
	h := auth.HashToken(secret)
	sess, u, err := s.opt.Store.SessionByHash(ctx, h, s.now())
	if errors.Is(err, store.ErrNotFound) || err == nil && (subtle.ConstantTimeCompare([]byte(sess.Hash), []byte(h)) != 1 ||
		auth.Inactive(u, s.opt.InactiveAfter, s.opt.Now())) {
		return nil, errs.Unauthenticatedf("the session has ended; log in again")
	}
	if err != nil {
		return nil, err
	}
	s.opt.Auth.Seen(u.ID, "", s.now())
	return &auth.Principal{User: u, Workspace: sess.WorkspaceID}, nil
}

// PortalPath is where a portal link's secret follows.
const PortalPath = "/portal/"

// Portal links last an hour unless asked otherwise, a week at most.
const (
	DefaultPortalTTL = time.Hour
	MaxPortalTTL     = 7 * 24 * time.Hour
)

// PortalLink is a link to the customer portal of one workspace.
type PortalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatePortalLink makes a link that opens the webhooks pages of workspace
// ws, acting as p in that workspace only, for ttlSeconds (0: the default).
// It is a session confined to the workspace: the secret is in the link, and
// only its hash is stored.
func (s *Service) CreatePortalLink(ctx context.Context, p *auth.Principal, ws string, ttlSeconds int64) (*PortalLink, error) {
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	ttl := DefaultPortalTTL
	if ttlSeconds != 0 {
		if ttlSeconds < 1 || ttlSeconds > int64(MaxPortalTTL/time.Second) {
			return nil, errs.Invalidf("ttl_seconds", "must be between 1 and %d (7 days)", int64(MaxPortalTTL/time.Second))
		}
		ttl = time.Duration(ttlSeconds) * time.Second
	}
	now := s.now()
	secret := auth.NewSessionToken()
	sess := &store.Session{Hash: auth.HashToken(secret), UserID: p.User.ID, WorkspaceID: ws, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.opt.Store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	return &PortalLink{URL: strings.TrimSuffix(s.opt.PublicURL, "/") + PortalPath + secret, ExpiresAt: sess.ExpiresAt}, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, secret string) error {
	err := s.opt.Store.DeleteSession(ctx, auth.HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
