// Package account is the service for users, their tokens and their login
// sessions, with Deployteq's rules: a token belongs to a user and works only
// while that user is active; a user without activity for --inactive-after
// becomes inactive until an admin reactivates it; a user who still owns
// tokens cannot be deleted; a password change never touches tokens. Every
// change that affects what a credential may do is told to the
// authenticator, so it takes effect at once on every node.
package account

import (
	"context"
	"errors"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
	"github.com/postbode/postbode/internal/workspace"
)

// The rules' numbers.
const (
	MinPassword = 12
	MaxPassword = 72 // bcrypt reads no further
	MaxEmail    = 254
	// SessionTTL is how long a login lasts.
	SessionTTL = 12 * time.Hour
)

// UserHasTokens is the refusal to delete a user who owns tokens, in the
// words of the specification.
const UserHasTokens = "The selected user still has tokens registered and cannot be deleted. Remove these tokens first or move them to another user."

// Store is what the service needs of the store.
type Store interface {
	store.Accounts
	GetWorkspace(ctx context.Context, id string) (*store.Workspace, error)
	IsMember(ctx context.Context, workspaceID, userID string) (bool, error)
	// The workspace of an app token's resource, to check who may hold it.
	InboundByID(ctx context.Context, id string) (*store.Inbound, error)
	SubscriptionByID(ctx context.Context, id string) (*store.Subscription, error)
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Options configure the service.
type Options struct {
	Store Store
	Auth  *auth.Authenticator
	// InactiveAfter is how long a user may go without activity before it
	// becomes inactive.
	InactiveAfter time.Duration
	// Workspaces decides who may make a portal link for a workspace.
	Workspaces *workspace.Service
	// PublicURL is the external base URL (--public-url) portal links start
	// with; empty gives links relative to the server.
	PublicURL string
	Now       func() time.Time
}

// Service decides about users, tokens and sessions.
type Service struct{ opt Options }

// New returns the service.
func New(opt Options) *Service { return &Service{opt: opt} }

func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Microsecond) }

// User is a user as shown: its effective status (inactive as soon as the
// period without activity has passed, even before the periodic sweep marks
// it), its workspaces and how many tokens it owns.
type User struct {
	*store.User
	Workspaces []string `json:"workspaces"`
	TokenCount int      `json:"token_count"`
}

// view completes u for showing.
func (s *Service) view(ctx context.Context, u *store.User) (*User, error) {
	ws, err := s.opt.Store.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	n, err := s.opt.Store.CountTokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if ws == nil {
		ws = []string{}
	}
	c := *u
	if auth.Inactive(&c, s.opt.InactiveAfter, s.opt.Now()) {
		c.Status = store.UserInactive
	}
	return &User{User: &c, Workspaces: ws, TokenCount: n}, nil
}

func requireAdmin(p *auth.Principal) error {
	if !p.IsAdmin() {
		return errs.Forbiddenf("only an admin may do this")
	}
	return nil
}

// user loads a user p may see: an admin sees every user, a member only
// itself (any other is not found).
func (s *Service) user(ctx context.Context, p *auth.Principal, userID string) (*store.User, error) {
	if err := validate.ID("id", userID); err != nil {
		return nil, err
	}
	if !p.IsAdmin() && userID != p.User.ID {
		return nil, errs.NotFoundf("user")
	}
	u, err := s.opt.Store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("user")
	}
	return u, err
}

// Me is the calling user with its workspaces.
func (s *Service) Me(ctx context.Context, p *auth.Principal) (*User, error) {
	return s.view(ctx, p.User)
}

// UserInput is a new user, or the fields of a change (nil: unchanged).
type UserInput struct {
	Email      *string  `json:"email"`
	Name       *string  `json:"name"`
	Role       *string  `json:"role"`
	Password   *string  `json:"password"`
	Workspaces []string `json:"workspaces"`
}

// NewUser is a user just made; Password is set when one was generated, and
// shown this once.
type NewUser struct {
	*User
	Password string `json:"password,omitempty"`
}

// normalEmail is an email address as users are found by: trimmed, lower case.
func normalEmail(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

func checkEmail(v string) (string, error) {
	v = normalEmail(v)
	if err := validate.Line("email", v, MaxEmail); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") && !strings.HasSuffix(v, "@localhost") {
		return "", errs.Invalidf("email", "must be an email address such as ada@example.com")
	}
	return v, nil
}

func checkPassword(v string) error {
	if err := validate.Text("password", v, 0); err != nil {
		return err
	}
	if len(v) < MinPassword || len(v) > MaxPassword {
		return errs.Invalidf("password", "must be %d to %d bytes long", MinPassword, MaxPassword)
	}
	return nil
}

func checkRole(v string) error {
	if v != store.RoleAdmin && v != store.RoleMember {
		return errs.Invalidf("role", "must be admin or member")
	}
	return nil
}

// memberships checks a list of workspaces for a user.
func (s *Service) memberships(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) > 1000 {
		return nil, errs.Invalidf("workspaces", "may list at most 1000 workspaces")
	}
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	for i, ws := range out {
		field := "workspaces[" + strconv.Itoa(i) + "]"
		if err := validate.ID(field, ws); err != nil {
			return nil, err
		}
		if _, err := s.opt.Store.GetWorkspace(ctx, ws); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, errs.Invalidf(field, "there is no workspace %q", ws)
			}
			return nil, err
		}
	}
	return out, nil
}

// CreateUser makes a user (admins only). Without a password one is
// generated and shown once; a user may then log in only after an admin
// gives it a password it knows, or uses it as a service account with tokens.
func (s *Service) CreateUser(ctx context.Context, p *auth.Principal, in UserInput) (*NewUser, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if in.Email == nil {
		return nil, errs.Invalidf("email", "is required")
	}
	email, err := checkEmail(*in.Email)
	if err != nil {
		return nil, err
	}
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if err := validate.Name("name", name); err != nil {
		return nil, err
	}
	role := store.RoleMember
	if in.Role != nil {
		role = *in.Role
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	generated := ""
	password := ""
	if in.Password != nil {
		password = *in.Password
		if err := checkPassword(password); err != nil {
			return nil, err
		}
	} else {
		generated = auth.NewPassword()
		password = generated
	}
	ws, err := s.memberships(ctx, in.Workspaces)
	if err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &store.User{ID: id.New(id.User), Email: email, Name: name, Role: role, PasswordHash: hash,
		Status: store.UserActive, CreatedAt: s.now()}
	err = s.opt.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return tx.SetMemberships(ctx, u.ID, ws)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errs.Conflictf("email_taken", "email: another user has %s", email)
	}
	if err != nil {
		return nil, err
	}
	v, err := s.view(ctx, u)
	if err != nil {
		return nil, err
	}
	return &NewUser{User: v, Password: generated}, nil
}

// ListUsers pages the users p may see: every user for an admin, itself for
// a member.
func (s *Service) ListUsers(ctx context.Context, p *auth.Principal, q listing.Query) (listing.List[User], error) {
	var out listing.List[User]
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return out, err
	}
	var us []store.User
	if p.IsAdmin() {
		if us, err = s.opt.Store.ListUsers(ctx, pg); err != nil {
			return out, err
		}
	} else if p.User.ID > pg.Cursor {
		us = []store.User{*p.User}
	}
	views := make([]User, 0, len(us))
	for i := range us {
		v, err := s.view(ctx, &us[i])
		if err != nil {
			return out, err
		}
		views = append(views, *v)
	}
	return listing.Cut(views, pg, func(u *User) string { return u.ID }), nil
}

// GetUser returns one user p may see.
func (s *Service) GetUser(ctx context.Context, p *auth.Principal, userID string) (*User, error) {
	u, err := s.user(ctx, p, userID)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, u)
}

// UpdateUser changes a user's name, role or workspaces (admins only). An
// admin cannot take its own admin role away, so that an installation
// never loses its last way in by accident.
func (s *Service) UpdateUser(ctx context.Context, p *auth.Principal, userID string, in UserInput) (*User, error) {
	u, err := s.user(ctx, p, userID) // another user is not found for a member
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if in.Password != nil {
		return nil, errs.Invalidf("password", "is changed with POST /api/v1/users/{id}/password")
	}
	if in.Email != nil {
		if u.Email, err = checkEmail(*in.Email); err != nil {
			return nil, err
		}
	}
	if in.Name != nil {
		u.Name = strings.TrimSpace(*in.Name)
		if err := validate.Name("name", u.Name); err != nil {
			return nil, err
		}
	}
	if in.Role != nil {
		if err := checkRole(*in.Role); err != nil {
			return nil, err
		}
		if u.ID == p.User.ID && *in.Role != store.RoleAdmin {
			return nil, errs.Conflictf("own_role", "an admin cannot take its own admin role away; another admin can")
		}
		u.Role = *in.Role
	}
	var ws []string
	if in.Workspaces != nil {
		if ws, err = s.memberships(ctx, in.Workspaces); err != nil {
			return nil, err
		}
	}
	err = s.opt.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if in.Workspaces != nil {
			return tx.SetMemberships(ctx, u.ID, ws)
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		return nil, errs.Conflictf("last_admin", "this is the last admin: make another user an admin first")
	case errors.Is(err, store.ErrConflict):
		return nil, errs.Conflictf("email_taken", "email: another user has %s", u.Email)
	case errors.Is(err, store.ErrNotFound):
		return nil, errs.NotFoundf("user")
	case err != nil:
		return nil, err
	}
	s.opt.Auth.Changed(ctx, u.ID)
	return s.view(ctx, u)
}

// SetPassword changes a user's password: an admin for another user
// (Deployteq's way to deny a person access while the integrations running
// on its tokens keep working), or a user its own, given its current one, so
// that a leaked integration token cannot become a login. Tokens are
// untouched; the user's login sessions end.
func (s *Service) SetPassword(ctx context.Context, p *auth.Principal, userID, password, current string) error {
	u, err := s.user(ctx, p, userID)
	if err != nil {
		return err
	}
	// One's own password only with the current one, admins included: a
	// token must not become a login.
	if u.ID == p.User.ID && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		return errs.Invalidf("current_password", "is required, and must be the user's current password")
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	err = s.opt.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		return tx.DeleteUserSessions(ctx, u.ID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("user")
	}
	return err
}

// Reactivate makes an inactive user active again (admins only): its tokens
// work again at once.
func (s *Service) Reactivate(ctx context.Context, p *auth.Principal, userID string) (*User, error) {
	if _, err := s.user(ctx, p, userID); err != nil {
		return nil, err
	}
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	u, err := s.opt.Store.ReactivateUser(ctx, userID, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("user")
	}
	if err != nil {
		return nil, err
	}
	s.opt.Auth.Changed(ctx, u.ID)
	return s.view(ctx, u)
}

// DeleteUser deletes a user who owns no tokens (admins only); one who does
// is refused with UserHasTokens, and its tokens keep working.
func (s *Service) DeleteUser(ctx context.Context, p *auth.Principal, userID string) error {
	if _, err := s.user(ctx, p, userID); err != nil {
		return err
	}
	if err := requireAdmin(p); err != nil {
		return err
	}
	if userID == p.User.ID {
		return errs.Conflictf("own_account", "an admin cannot delete its own account; another admin can")
	}
	switch err := s.opt.Store.DeleteUser(ctx, userID); {
	case errors.Is(err, store.ErrLastAdmin):
		return errs.Conflictf("last_admin", "this is the last admin: make another user an admin first")
	case errors.Is(err, store.ErrHasTokens):
		return errs.Conflictf("user_has_tokens", UserHasTokens)
	case errors.Is(err, store.ErrNotFound):
		return errs.NotFoundf("user")
	case err != nil:
		return err
	}
	s.opt.Auth.Changed(ctx, userID)
	return nil
}
