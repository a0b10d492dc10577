// Package inbound is the service for inbound webhooks: URLs (POST /in/{id})
// that external systems post events to. It owns their rules (fields,
// defaults, the app token that goes with each, who may use one), decides
// whether a received request is accepted (Authenticate, Receive), and keeps
// the log of the requests received (Record, written in batches by Run).
// The receiver transport only decodes requests and renders answers; the
// management API only decodes bodies; both call this service.
package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/redact"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
	"github.com/postbode/postbode/internal/verify"
	"github.com/postbode/postbode/internal/workspace"
)

// KeepRequests is how many logged requests each webhook keeps.
const KeepRequests = 100

// Store is what the service needs of the store.
type Store interface {
	store.Inbounds
	GetUser(ctx context.Context, id string) (*store.User, error)
}

// Authenticator is what the service needs of auth: checking a presented
// token, and forgetting a user's cached tokens on every node after one of
// them changed.
type Authenticator interface {
	ForResource(ctx context.Context, token, resourceID string) (*auth.Principal, error)
	Used(p *auth.Principal)
	Changed(ctx context.Context, userID string)
}

// Publisher publishes an accepted request's event (event.Service).
type Publisher interface {
	Publish(ctx context.Context, p *auth.Principal, ws string, in event.Input, key string) (event.Published, error)
}

// Announcer tells the other nodes that a webhook changed.
type Announcer interface {
	Announce(ctx context.Context, n store.Notification) error
}

// Options configure the service.
type Options struct {
	Store      Store
	Workspaces *workspace.Service
	Auth       Authenticator
	Events     Publisher
	// Cluster, when set, is told of every change to a webhook, so that the
	// other nodes forget it at once (else within hookTTL).
	Cluster Announcer
	// PublicURL is the external base URL (--public-url); empty shows
	// relative URLs (/in/{id}).
	PublicURL string
	// InactiveAfter is --inactive-after: a user inactive for longer may
	// not be given a webhook's token.
	InactiveAfter time.Duration
	Now           func() time.Time
}

// Service decides about inbound webhooks.
type Service struct {
	opt   Options
	hooks hookCache
	log   *requestLog
}

// New returns the service. Its request log is written by Run.
func New(opt Options) *Service {
	return &Service{opt: opt, hooks: hookCache{m: map[string]cachedHook{}}, log: newRequestLog()}
}

func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Microsecond) }

// View is a webhook as the API shows it: its URL, and its verify config
// with the secret masked.
type View struct {
	*store.Inbound
	URL    string         `json:"url"`
	Verify *verify.Config `json:"verify"`
}

// Created is a webhook with its app token, shown this once.
type Created struct {
	View
	Token string `json:"token"`
}

// Input is the body of a create or a change; absent fields are nil.
type Input struct {
	Name         *string         `json:"name"`
	Auth         *string         `json:"auth"`
	EventType    *string         `json:"event_type"`
	Verify       json.RawMessage `json:"verify"` // null: no verification
	DedupeHeader *string         `json:"dedupe_header"`
}

// view renders in for output.
func (s *Service) view(in *store.Inbound) View {
	v := View{Inbound: in, URL: strings.TrimSuffix(s.opt.PublicURL, "/") + "/in/" + in.ID}
	if c, err := parseStored(in.Verify); err == nil {
		v.Verify = c.Masked()
	}
	return v
}

func parseStored(raw []byte) (*verify.Config, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	return verify.Parse(raw)
}

// Create adds an inbound webhook to ws with an app token owned by p.
func (s *Service) Create(ctx context.Context, p *auth.Principal, ws string, in *Input) (*Created, error) {
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, errs.Invalidf("name", "is required")
	}
	if in.EventType == nil {
		return nil, errs.Invalidf("event_type", "is required: the type of the events this webhook publishes")
	}
	t := s.now()
	hook := &store.Inbound{ID: id.New(id.Inbound), WorkspaceID: ws, Auth: store.AuthBearer, Status: store.InboundActive,
		CreatedAt: t, UpdatedAt: t}
	if in.Auth != nil {
		switch *in.Auth {
		case store.AuthBearer:
		case store.AuthBasic:
			hook.Auth = store.AuthBasic
			// The username is no secret (the token is the password); the
			// webhook's id is unique and already in its URL.
			hook.Username = hook.ID
		default:
			return nil, errs.Invalidf("auth", "must be bearer or basic")
		}
	}
	if err := s.apply(ctx, hook, in); err != nil {
		return nil, err
	}
	secret, tok := newAppToken(p.User.ID, hook.Name, t)
	if err := s.opt.Store.CreateInbound(ctx, hook, tok); err != nil {
		return nil, notFound(err, "workspace")
	}
	return &Created{View: s.view(hook), Token: secret}, nil
}

// newAppToken makes an app token owned by userID.
func newAppToken(userID, name string, now time.Time) (string, *store.Token) {
	if name == "" {
		name = "inbound webhook"
	}
	return auth.Mint(store.Token{UserID: userID, Kind: store.TokenApp, Name: name, CreatedAt: now})
}

// apply checks the fields in gives and sets them on hook.
func (s *Service) apply(ctx context.Context, hook *store.Inbound, in *Input) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if err := validate.Name("name", name); err != nil {
			return err
		}
		hook.Name = name
	}
	if in.EventType != nil {
		if err := validate.EventTypeName("event_type", *in.EventType); err != nil {
			return err
		}
		if err := s.opt.Workspaces.CheckEventTypes(ctx, hook.WorkspaceID, []string{*in.EventType}); err != nil {
			if e, ok := errs.As(err); ok && e.Field != "" {
				c := *e
				c.Field = "event_type"
				return &c
			}
			return err
		}
		hook.EventType = *in.EventType
	}
	if in.Verify != nil {
		c, err := verify.Parse(in.Verify)
		if err != nil {
			return err
		}
		old, _ := parseStored(hook.Verify)
		if err := c.KeepSecret(old); err != nil {
			return err
		}
		hook.Verify = nil
		if c != nil {
			if hook.Verify, err = json.Marshal(c); err != nil {
				return err
			}
		}
	}
	if in.DedupeHeader != nil {
		h := *in.DedupeHeader
		if h != "" && !validate.HeaderName(h) {
			return errs.Invalidf("dedupe_header", "must be a header name such as webhook-id or X-GitHub-Delivery, or empty for none")
		}
		if redact.Sensitive(h) {
			return errs.Invalidf("dedupe_header", "must not be a header that holds a secret: its values are kept as idempotency keys")
		}
		hook.DedupeHeader = h
	}
	return nil
}

// notFound turns the store's not-found into the service's.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf(what)
	}
	return err
}

// load returns webhook hookID of ws after checking access.
func (s *Service) load(ctx context.Context, p *auth.Principal, ws, hookID string) (*store.Inbound, error) {
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if err := validate.ID("id", hookID); err != nil {
		return nil, err
	}
	hook, err := s.opt.Store.GetInbound(ctx, ws, hookID)
	return hook, notFound(err, "inbound webhook")
}

// Get returns one webhook.
func (s *Service) Get(ctx context.Context, p *auth.Principal, ws, hookID string) (*View, error) {
	hook, err := s.load(ctx, p, ws, hookID)
	if err != nil {
		return nil, err
	}
	v := s.view(hook)
	return &v, nil
}

// List pages ws's webhooks by id.
func (s *Service) List(ctx context.Context, p *auth.Principal, ws string, q listing.Query) (listing.List[View], error) {
	var out listing.List[View]
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return out, err
	}
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return out, err
	}
	hooks, err := s.opt.Store.ListInbound(ctx, ws, pg)
	if err != nil {
		return out, err
	}
	views := make([]View, len(hooks))
	for i := range hooks {
		views[i] = s.view(&hooks[i])
	}
	return listing.Cut(views, pg, func(v *View) string { return v.ID }), nil
}

// Update changes the name, event type, verify config or dedupe header.
// A verify secret sent back masked keeps the stored one.
func (s *Service) Update(ctx context.Context, p *auth.Principal, ws, hookID string, in *Input) (*View, error) {
	hook, err := s.load(ctx, p, ws, hookID)
	if err != nil {
		return nil, err
	}
	if in.Auth != nil {
		return nil, errs.Invalidf("auth", "cannot be changed; create a new inbound webhook instead")
	}
	if err := s.apply(ctx, hook, in); err != nil {
		return nil, err
	}
	hook.UpdatedAt = s.now()
	if err := s.opt.Store.UpdateInbound(ctx, hook); err != nil {
		return nil, notFound(err, "inbound webhook")
	}
	s.changed(ctx, hook.ID)
	v := s.view(hook)
	return &v, nil
}

// Delete removes a webhook with its log and its app token, which stops
// working at once on every node.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, ws, hookID string) error {
	hook, err := s.load(ctx, p, ws, hookID)
	if err != nil {
		return err
	}
	removed, err := s.opt.Store.DeleteInbound(ctx, ws, hook.ID)
	if err != nil {
		return notFound(err, "inbound webhook")
	}
	s.changed(ctx, hook.ID)
	s.forget(ctx, removed)
	return nil
}

// forget tells the authenticator that the owners of tokens changed.
func (s *Service) forget(ctx context.Context, toks []store.Token, also ...string) {
	users := also
	for _, t := range toks {
		users = append(users, t.UserID)
	}
	done := map[string]bool{}
	for _, u := range users {
		if !done[u] {
			done[u] = true
			s.opt.Auth.Changed(ctx, u)
		}
	}
}

// Enable makes a webhook accept requests again.
func (s *Service) Enable(ctx context.Context, p *auth.Principal, ws, hookID string) (*View, error) {
	return s.setStatus(ctx, p, ws, hookID, store.InboundActive)
}

// Disable makes a webhook refuse every request with 403 inbound_disabled.
func (s *Service) Disable(ctx context.Context, p *auth.Principal, ws, hookID string) (*View, error) {
	return s.setStatus(ctx, p, ws, hookID, store.InboundDisabled)
}

func (s *Service) setStatus(ctx context.Context, p *auth.Principal, ws, hookID, status string) (*View, error) {
	hook, err := s.load(ctx, p, ws, hookID)
	if err != nil {
		return nil, err
	}
	hook, err = s.opt.Store.SetInboundStatus(ctx, ws, hook.ID, status, s.now())
	if err != nil {
		return nil, notFound(err, "inbound webhook")
	}
	s.changed(ctx, hook.ID)
	v := s.view(hook)
	return &v, nil
}

// NewToken replaces a webhook's app token with a new one owned by userID
// (empty: the caller). The old token stops working at once, on every node.
// The owner must exist, be active and have access to the workspace; only an
// admin may name another user than themselves.
func (s *Service) NewToken(ctx context.Context, p *auth.Principal, ws, hookID, userID string) (*Created, error) {
	hook, err := s.load(ctx, p, ws, hookID)
	if err != nil {
		return nil, err
	}
	owner := p.User
	if userID != "" && userID != p.User.ID {
		if err := validate.ID("user_id", userID); err != nil {
			return nil, err
		}
		if !p.IsAdmin() {
			return nil, errs.Invalidf("user_id", "only an admin may give a webhook's token to another user")
		}
		if owner, err = s.opt.Store.GetUser(ctx, userID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, errs.Invalidf("user_id", "there is no user %q", userID)
			}
			return nil, err
		}
	}
	if auth.Inactive(owner, s.opt.InactiveAfter, s.now()) {
		return nil, errs.InvalidCode("user_inactive", "user_id", "the user %s is inactive: its tokens do not work until an admin reactivates it", owner.ID)
	}
	if err := s.opt.Workspaces.Access(ctx, &auth.Principal{User: owner}, ws); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Invalidf("user_id", "the user %s has no access to this workspace", owner.ID)
		}
		return nil, err
	}
	secret, tok := newAppToken(owner.ID, hook.Name, s.now())
	removed, err := s.opt.Store.ReplaceInboundToken(ctx, ws, hook.ID, tok)
	if errors.Is(err, store.ErrNotFound) {
		if _, uerr := s.opt.Store.GetUser(ctx, owner.ID); errors.Is(uerr, store.ErrNotFound) {
			return nil, errs.Invalidf("user_id", "there is no user %q", owner.ID)
		}
		return nil, errs.NotFoundf("inbound webhook")
	}
	if err != nil {
		return nil, err
	}
	s.forget(ctx, removed, owner.ID)
	return &Created{View: s.view(hook), Token: secret}, nil
}

// Requests pages a webhook's request log, newest first.
func (s *Service) Requests(ctx context.Context, p *auth.Principal, ws, hookID string, q listing.Query) (listing.List[store.InboundRequest], error) {
	var out listing.List[store.InboundRequest]
	hook, err := s.load(ctx, p, ws, hookID)
	if err != nil {
		return out, err
	}
	pg, err := listing.Page(q, KeepRequests, KeepRequests)
	if err != nil {
		return out, err
	}
	rs, err := s.opt.Store.ListInboundRequests(ctx, ws, hook.ID, pg)
	if err != nil {
		return out, notFound(err, "inbound webhook")
	}
	return listing.Cut(rs, pg, func(r *store.InboundRequest) string { return r.ID }), nil
}

// hookTTL bounds how long a node trusts a webhook it looked up for the
// receiver. A change made on this node drops it at once; one made on
// another node is seen within hookTTL (a deleted webhook's token is
// revoked on every node at once by the authenticator anyway).
const hookTTL = time.Second

// changed drops a webhook from the cache on this node and, best effort, on
// the others.
func (s *Service) changed(ctx context.Context, hookID string) {
	s.hooks.drop(hookID)
	if s.opt.Cluster != nil {
		s.opt.Cluster.Announce(context.WithoutCancel(ctx), store.Notification{InboundID: hookID})
	}
}

// Forget drops a webhook from the cache: after a cluster notification that
// another node changed it.
func (s *Service) Forget(hookID string) { s.hooks.drop(hookID) }

// maxHooks bounds the cache; past it, it starts over.
const maxHooks = 10000

type cachedHook struct {
	hook    *Hook // nil: no such webhook
	expires time.Time
}

type hookCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedHook
}

func (c *hookCache) drop(id string) {
	c.mu.Lock()
	c.gen++
	delete(c.m, id)
	c.mu.Unlock()
}
