// Package workspace is the service for workspaces, who may use them, and
// their event type catalogue. Every way in (the management API, the inbound
// receiver, the mailbox API, the web UI and the portal) asks it whether a
// principal may act in a workspace, so that rule is written once.
package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/schema"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
)

// Store is what the service needs of the store.
type Store interface {
	store.Workspaces
	store.EventTypes
}

// Service decides about workspaces and event types.
type Service struct {
	store Store
	now   func() time.Time

	mu      sync.Mutex
	known   map[string]time.Time    // workspaces seen to exist, until when to trust it
	members map[[2]string]time.Time // (workspace, user) seen a member, until when to trust it
}

// knownTTL bounds how long a workspace's existence is remembered, so a busy
// publisher costs no lookup per request. Workspaces are never deleted, so
// the only staleness is a cache miss.
const knownTTL = 5 * time.Second

// maxKnown bounds the existence cache; past it, it starts over.
const maxKnown = 10000

// New returns the service; now is its clock.
func New(st Store, now func() time.Time) *Service {
	return &Service{store: st, now: now, known: map[string]time.Time{}, members: map[[2]string]time.Time{}}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create makes a workspace with p as its first member.
func (s *Service) Create(ctx context.Context, p *auth.Principal, name string) (*store.Workspace, error) {
	if p.Workspace != "" {
		return nil, errs.Forbiddenf("a portal link may not create workspaces")
	}
	name = strings.TrimSpace(name)
	if err := validate.Name("name", name); err != nil {
		return nil, err
	}
	w := &store.Workspace{ID: id.New(id.Workspace), Name: name, CreatedAt: s.clock()}
	if err := s.store.CreateWorkspace(ctx, w, p.User.ID); err != nil {
		return nil, err
	}
	return w, nil
}

// List pages the workspaces p may see: all of them for an admin, else
// those p is a member of.
func (s *Service) List(ctx context.Context, p *auth.Principal, q listing.Query) (listing.List[store.Workspace], error) {
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return listing.List[store.Workspace]{}, err
	}
	if p.Workspace != "" {
		w, err := s.store.GetWorkspace(ctx, p.Workspace)
		if err != nil {
			return listing.List[store.Workspace]{}, err
		}
		return listing.List[store.Workspace]{Data: []store.Workspace{*w}}, nil
	}
	member := p.User.ID
	if p.IsAdmin() {
		member = ""
	}
	ws, err := s.store.ListWorkspaces(ctx, member, pg)
	if err != nil {
		return listing.List[store.Workspace]{}, err
	}
	return listing.Cut(ws, pg, func(w *store.Workspace) string { return w.ID }), nil
}

// Access checks that workspace ws exists and that p may act in it: admins
// everywhere, members in their own workspaces. A workspace p may not see
// is not found, the same answer as one that does not exist, so ids of
// other tenants' workspaces cannot be probed. A principal confined to one
// workspace (a portal link) reaches that one only, and only while the user
// who made the link still may.
func (s *Service) Access(ctx context.Context, p *auth.Principal, ws string) error {
	if p.Workspace != "" && ws != p.Workspace {
		return errs.NotFoundf("workspace")
	}
	if !strings.HasPrefix(ws, id.Workspace) {
		if err := validate.ID("workspace", ws); err != nil {
			return err
		}
		return errs.NotFoundf("workspace")
	}
	if err := validate.ID("workspace", ws); err != nil {
		return err
	}
	if err := s.exists(ctx, ws); err != nil {
		return err
	}
	if p.User.Role == store.RoleAdmin {
		return nil
	}
	ok, err := s.member(ctx, ws, p.User.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.NotFoundf("workspace")
	}
	return nil
}

// member reports whether userID is a member of ws. A yes is remembered for
// knownTTL, so that a member's busy integration costs no lookup per
// request; ForgetMember drops it when the user's memberships change. A no
// is never remembered: being added takes effect at once.
func (s *Service) member(ctx context.Context, ws, userID string) (bool, error) {
	key := [2]string{ws, userID}
	now := s.now()
	s.mu.Lock()
	until, ok := s.members[key]
	s.mu.Unlock()
	if ok && now.Before(until) {
		return true, nil
	}
	yes, err := s.store.IsMember(ctx, ws, userID)
	if err != nil || !yes {
		return false, err
	}
	s.mu.Lock()
	if len(s.members) >= maxKnown {
		s.members = map[[2]string]time.Time{}
	}
	s.members[key] = now.Add(knownTTL)
	s.mu.Unlock()
	return true, nil
}

// ForgetMember drops what is remembered of a user's memberships: the
// authenticator calls it whenever it forgets the user (a change on this
// node, or a cluster notification of one elsewhere).
func (s *Service) ForgetMember(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.members {
		if k[1] == userID {
			delete(s.members, k)
		}
	}
}

func (s *Service) exists(ctx context.Context, ws string) error {
	now := s.now()
	s.mu.Lock()
	until, ok := s.known[ws]
	s.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	if _, err := s.store.GetWorkspace(ctx, ws); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFoundf("workspace")
		}
		return err
	}
	s.mu.Lock()
	if len(s.known) >= maxKnown {
		s.known = map[string]time.Time{}
	}
	s.known[ws] = now.Add(knownTTL)
	s.mu.Unlock()
	return nil
}

// EventTypeInput is a new event type.
type EventTypeInput struct {
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// MaxDescription bounds an event type's description.
const MaxDescription = 2000

// CreateEventType adds an event type to ws's catalogue. Its schema, when
// given, must compile: a schema that cannot check anything is refused now
// rather than at every publish.
func (s *Service) CreateEventType(ctx context.Context, p *auth.Principal, ws string, in EventTypeInput) (*store.EventType, error) {
	if err := s.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if err := validate.EventTypeName("name", in.Name); err != nil {
		return nil, err
	}
	if in.Name == store.TestEventType {
		return nil, errs.Invalidf("name", "%s is reserved for test sends", store.TestEventType)
	}
	label := strings.TrimSpace(in.Label)
	if err := validate.Name("label", label); err != nil {
		return nil, err
	}
	if err := validate.Text("description", in.Description, MaxDescription); err != nil {
		return nil, err
	}
	raw := in.Schema
	if string(raw) == "null" {
		raw = nil
	}
	if raw != nil {
		if err := validate.JSON("schema", raw); err != nil {
			return nil, err
		}
		if _, err := schema.Compile(raw); err != nil {
			return nil, schemaError(err)
		}
	}
	et := &store.EventType{WorkspaceID: ws, Name: in.Name, Label: label, Description: in.Description,
		Schema: raw, CreatedAt: s.clock()}
	if err := s.store.CreateEventType(ctx, et); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errs.Conflictf("event_type_exists", "an event type named %q already exists in this workspace", in.Name)
		}
		return nil, err
	}
	return et, nil
}

// ListEventTypes pages ws's catalogue by name.
func (s *Service) ListEventTypes(ctx context.Context, p *auth.Principal, ws string, q listing.Query) (listing.List[store.EventType], error) {
	if err := s.Access(ctx, p, ws); err != nil {
		return listing.List[store.EventType]{}, err
	}
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return listing.List[store.EventType]{}, err
	}
	ets, err := s.store.ListEventTypes(ctx, ws, pg)
	if err != nil {
		return listing.List[store.EventType]{}, err
	}
	return listing.Cut(ets, pg, func(et *store.EventType) string { return et.Name }), nil
}

// CheckEventTypes checks a subscription's selection of ws's event types:
// names that exist, or ["*"] alone.
func (s *Service) CheckEventTypes(ctx context.Context, ws string, types []string) error {
	if len(types) == 0 {
		return errs.Invalidf("event_types", `must list at least one event type, or be ["*"]`)
	}
	if len(types) > 100 {
		return errs.Invalidf("event_types", "may list at most 100 event types")
	}
	for i, t := range types {
		field := "event_types[" + strconv.Itoa(i) + "]"
		if t == "*" {
			if len(types) > 1 {
				return errs.Invalidf(field, `"*" already selects every event type; list it alone`)
			}
			continue
		}
		if err := validate.EventTypeName(field, t); err != nil {
			return err
		}
		if _, err := s.store.GetEventType(ctx, ws, t); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errs.InvalidCode("unknown_event_type", field, "this workspace has no event type %q", t)
			}
			return err
		}
	}
	return nil
}

// schemaError names the place in the schema that does not compile.
func schemaError(err error) error {
	var ce *schema.CompileError
	if !errors.As(err, &ce) {
		return errs.Invalidf("schema", "%v", err)
	}
	if ce.Path != "" {
		return errs.Invalidf("schema", "at %s: %s", ce.Path, ce.Message)
	}
	return errs.Invalidf("schema", "%s", ce.Message)
}
