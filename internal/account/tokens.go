// Tokens: made, listed, revoked and moved between users.
package account

import (
	"context"
	"errors"
	"strings"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
)

// NewToken is a token just made, with its secret, shown this once.
type NewToken struct {
	*store.Token
	Secret string `json:"token"`
}

// CreateToken makes an integration token for a user: the user itself, or
// an admin for anyone (a service account's token, say).
func (s *Service) CreateToken(ctx context.Context, p *auth.Principal, userID, name string) (*NewToken, error) {
	u, err := s.user(ctx, p, userID)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if err := validate.Name("name", name); err != nil {
		return nil, err
	}
	secret, t := auth.Mint(store.Token{UserID: u.ID, Kind: store.TokenIntegration, Name: name, CreatedAt: s.now()})
	if err := s.opt.Store.CreateToken(ctx, t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errs.NotFoundf("user")
		}
		return nil, err
	}
	return &NewToken{Token: t, Secret: secret}, nil
}

// ListTokens pages a user's tokens, integration and app alike, never with
// their secrets.
func (s *Service) ListTokens(ctx context.Context, p *auth.Principal, userID string, q listing.Query) (listing.List[store.Token], error) {
	var out listing.List[store.Token]
	u, err := s.user(ctx, p, userID)
	if err != nil {
		return out, err
	}
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return out, err
	}
	ts, err := s.opt.Store.ListTokens(ctx, u.ID, pg)
	if err != nil {
		return out, err
	}
	return listing.Cut(ts, pg, func(t *store.Token) string { return t.ID }), nil
}

// token loads a token p may act on: its owner's, or any for an admin.
func (s *Service) token(ctx context.Context, p *auth.Principal, tokenID string) (*store.Token, error) {
	if err := validate.ID("id", tokenID); err != nil {
		return nil, err
	}
	t, err := s.opt.Store.GetToken(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.IsAdmin() && t.UserID != p.User.ID {
		return nil, errs.NotFoundf("token")
	}
	return t, err
}

// RevokeToken deletes a token; it stops working at once, on every node.
func (s *Service) RevokeToken(ctx context.Context, p *auth.Principal, tokenID string) error {
	t, err := s.token(ctx, p, tokenID)
	if err != nil {
		return err
	}
	if err := s.opt.Store.DeleteToken(ctx, t.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFoundf("token")
		}
		return err
	}
	s.opt.Auth.Changed(ctx, t.UserID)
	return nil
}

// TransferToken gives a token to another user (admins only): it keeps
// working, now on the new owner's account (and so its activity).
func (s *Service) TransferToken(ctx context.Context, p *auth.Principal, tokenID, toUserID string) (*store.Token, error) {
	t, err := s.token(ctx, p, tokenID) // another's token is not found for a member
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if toUserID == "" {
		return nil, errs.Invalidf("user_id", "is required: the user to give the token to")
	}
	if err := validate.ID("user_id", toUserID); err != nil {
		return nil, err
	}
	if err := s.canHold(ctx, t, toUserID); err != nil {
		return nil, err
	}
	moved, err := s.opt.Store.TransferToken(ctx, t.ID, toUserID)
	if errors.Is(err, store.ErrNotFound) {
		if _, uerr := s.opt.Store.GetUser(ctx, toUserID); errors.Is(uerr, store.ErrNotFound) {
			return nil, errs.Invalidf("user_id", "there is no user %q", toUserID)
		}
		return nil, errs.NotFoundf("token")
	}
	if err != nil {
		return nil, err
	}
	s.opt.Auth.Changed(ctx, t.UserID)
	s.opt.Auth.Changed(ctx, toUserID)
	return moved, nil
}

// TransferTokens gives every token of a user to another (admins only), so
// that the user can be deleted: each is checked first, so that one the
// new owner could not hold leaves all of them where they were. It returns
// how many moved.
func (s *Service) TransferTokens(ctx context.Context, p *auth.Principal, fromUserID, toUserID string) (int, error) {
	if err := requireAdmin(p); err != nil {
		return 0, err
	}
	if _, err := s.user(ctx, p, fromUserID); err != nil {
		return 0, err
	}
	if toUserID == "" {
		return 0, errs.Invalidf("user_id", "is required: the user to give the tokens to")
	}
	if err := validate.ID("user_id", toUserID); err != nil {
		return 0, err
	}
	if toUserID == fromUserID {
		return 0, errs.Invalidf("user_id", "is the user the tokens belong to; choose another")
	}
	var toks []store.Token
	for pg := (store.Page{Limit: 1000}); ; {
		page, err := s.opt.Store.ListTokens(ctx, fromUserID, pg)
		if err != nil {
			return 0, err
		}
		toks = append(toks, page...)
		if len(page) < pg.Limit {
			break
		}
		pg.Cursor = page[len(page)-1].ID
	}
	for i := range toks {
		if err := s.canHold(ctx, &toks[i], toUserID); err != nil {
			var e *errs.Error
			if errors.As(err, &e) {
				e.Message = "token " + toks[i].Name + ": " + e.Message + "; no token was moved"
			}
			return 0, err
		}
	}
	for _, t := range toks {
		if _, err := s.opt.Store.TransferToken(ctx, t.ID, toUserID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err // a token revoked meanwhile is no longer there to move
		}
	}
	s.opt.Auth.Changed(ctx, fromUserID)
	s.opt.Auth.Changed(ctx, toUserID)
	return len(toks), nil
}

// canHold refuses to give a token to a user it would not work for: an
// inactive one, or, for an app token, one without access to the workspace
// of its inbound webhook or mailbox. The integration behind the token would
// otherwise break without a word.
func (s *Service) canHold(ctx context.Context, t *store.Token, userID string) error {
	u, err := s.opt.Store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errs.Invalidf("user_id", "there is no user %q", userID)
	}
	if err != nil {
		return err
	}
	if auth.Inactive(u, s.opt.InactiveAfter, s.opt.Now()) {
		return errs.InvalidCode("user_inactive", "user_id", "the user is inactive: reactivate it first, or choose another")
	}
	if t.Kind != store.TokenApp || u.Role == store.RoleAdmin {
		return nil
	}
	ws, err := s.resourceWorkspace(ctx, t.ResourceID)
	if err != nil || ws == "" {
		return err
	}
	member, err := s.opt.Store.IsMember(ctx, ws, u.ID)
	if err != nil {
		return err
	}
	if !member {
		return errs.Invalidf("user_id", "the user has no access to the workspace of this token's %s", resourceKind(t.ResourceID))
	}
	return nil
}

// resourceWorkspace is the workspace of an app token's inbound webhook or
// pull subscription; "" when it is gone.
func (s *Service) resourceWorkspace(ctx context.Context, resourceID string) (string, error) {
	var ws string
	var err error
	if strings.HasPrefix(resourceID, id.Inbound) {
		var in *store.Inbound
		if in, err = s.opt.Store.InboundByID(ctx, resourceID); err == nil {
			ws = in.WorkspaceID
		}
	} else {
		var sub *store.Subscription
		if sub, err = s.opt.Store.SubscriptionByID(ctx, resourceID); err == nil {
			ws = sub.WorkspaceID
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return ws, err
}

func resourceKind(resourceID string) string {
	if strings.HasPrefix(resourceID, id.Inbound) {
		return "inbound webhook"
	}
	return "mailbox"
}
