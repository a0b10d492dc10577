// Package api serves the management API under /api/v1: JSON handlers on a
// Go 1.22 http.ServeMux. A handler decodes the request, calls one service
// and encodes the answer; the rules are the services'. Errors, whatever
// their source, are rendered once here as the spec's JSON error body.
// Unknown routes and wrong methods get the same body as everything else.
package api

import (
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/mailbox"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
	"github.com/postbode/postbode/internal/workspace"
)

// Options are the services the API calls.
type Options struct {
	Auth          *auth.Authenticator
	Workspaces    *workspace.Service
	Subscriptions *subscription.Service
	Events        *event.Service
	Accounts      *account.Service
	Mailboxes     *mailbox.Service
	Inbound       *inbound.Service
	Log           *slog.Logger
}

// Server is the management API.
type Server struct {
	Options
	mux *http.ServeMux
	// Patterns are the routes registered, for the OpenAPI document's test.
	Patterns []string
}

// handler is one route: it returns the status and body to answer, or an error.
type handler func(r *http.Request, p *auth.Principal) (int, any, error)

// New builds the API's routes.
func New(opt Options) *Server {
	s := &Server{Options: opt, mux: http.NewServeMux()}
	routes := []struct {
		pattern string
		h       handler
	}{
		{"POST /api/v1/workspaces", s.createWorkspace},
		{"GET /api/v1/workspaces", s.listWorkspaces},
		{"POST /api/v1/workspaces/{ws}/event-types", s.createEventType},
		{"GET /api/v1/workspaces/{ws}/event-types", s.listEventTypes},
		{"POST /api/v1/workspaces/{ws}/events", s.publish},
		{"POST /api/v1/workspaces/{ws}/events/batch", s.publishBatch},
		{"GET /api/v1/workspaces/{ws}/events", s.listEvents},
		{"GET /api/v1/workspaces/{ws}/events/{id}", s.getEvent},
		{"POST /api/v1/workspaces/{ws}/subscriptions", s.createSubscription},
		{"GET /api/v1/workspaces/{ws}/subscriptions", s.listSubscriptions},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}", s.getSubscription},
		{"PATCH /api/v1/workspaces/{ws}/subscriptions/{id}", s.updateSubscription},
		{"DELETE /api/v1/workspaces/{ws}/subscriptions/{id}", s.deleteSubscription},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/test", s.testSubscription},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts", s.listAttempts},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts/{attempt}", s.getAttempt},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/enable", s.enable},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/disable", s.disable},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/rotate-secret", s.rotateSecret},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/recover", s.recoverDeliveries},
		{"POST /api/v1/workspaces/{ws}/deliveries/{id}/resend", s.resend},
		{"POST /api/v1/workspaces/{ws}/inbound", s.createInbound},
		{"GET /api/v1/workspaces/{ws}/inbound", s.listInbound},
		{"GET /api/v1/workspaces/{ws}/inbound/{id}", s.getInbound},
		{"PATCH /api/v1/workspaces/{ws}/inbound/{id}", s.updateInbound},
		{"DELETE /api/v1/workspaces/{ws}/inbound/{id}", s.deleteInbound},
		{"POST /api/v1/workspaces/{ws}/inbound/{id}/enable", s.enableInbound},
		{"POST /api/v1/workspaces/{ws}/inbound/{id}/disable", s.disableInbound},
		{"POST /api/v1/workspaces/{ws}/inbound/{id}/token", s.inboundToken},
		{"GET /api/v1/workspaces/{ws}/inbound/{id}/requests", s.inboundRequests},
		{"POST /api/v1/workspaces/{ws}/portal-links", s.createPortalLink},
		{"GET /api/v1/me", s.me},
		{"POST /api/v1/users", s.createUser},
		{"GET /api/v1/users", s.listUsers},
		{"GET /api/v1/users/{id}", s.getUser},
		{"PATCH /api/v1/users/{id}", s.updateUser},
		{"DELETE /api/v1/users/{id}", s.deleteUser},
		{"POST /api/v1/users/{id}/reactivate", s.reactivateUser},
		{"POST /api/v1/users/{id}/password", s.setPassword},
		{"POST /api/v1/users/{id}/tokens", s.createToken},
		{"GET /api/v1/users/{id}/tokens", s.listTokens},
		{"DELETE /api/v1/tokens/{id}", s.revokeToken},
		{"POST /api/v1/tokens/{id}/transfer", s.transferToken},
	}
	for _, rt := range routes {
		s.handle(rt.pattern, s.endpoint(integration, rt.h))
	}
	// Mailboxes take their own app token too.
	for _, rt := range []struct {
		pattern string
		h       handler
	}{
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/claim", s.claim},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/ack", s.ackBatch},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/success", s.ack(store.AckSuccess)},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/failed", s.ack(store.AckFailed)},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/release", s.ack(store.AckRelease)},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/extend", s.ack(store.AckExtend)},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox", s.searchMailbox},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/stats", s.mailboxStats},
	} {
		s.handle(rt.pattern, s.endpoint(mailboxAuth, rt.h))
	}
	s.handle("GET /api/v1/openapi.json", http.HandlerFunc(s.openAPI))
	// Everything else lands here (the mux prefers any match to its own
	// plain-text 404 and 405), so a request is routed once.
	s.mux.HandleFunc("/", s.unrouted)
	return s
}

func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.Patterns = append(s.Patterns, pattern)
}

// ServeHTTP answers /api/v1 requests. A path that is not clean (//, /./,
// /../) names no route: ServeMux would answer it with a redirect and an
// HTML body, where an API client expects the JSON 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != cleanPath(p) {
		s.fail(w, r, errs.New(errs.NotFound, "not_found", "no such route: %s %s (the path is not clean)", r.Method, p))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath is path.Clean keeping a trailing slash, as ServeMux cleans.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// unrouted answers requests no route takes with a JSON 405, naming the
// methods the path does take, or a JSON 404.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" && p != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			r.Method+" is not allowed here; use "+strings.Join(allowed, " or "))
		return
	}
	s.fail(w, r, errs.New(errs.NotFound, "not_found", "no such route: %s %s", r.Method, r.URL.Path))
}

// authn is how a route authenticates, and the challenges its 401 names.
type authn struct {
	authenticate func(s *Server, r *http.Request) (*auth.Principal, error)
	challenges   []string
}

var (
	// integration: the management API takes integration tokens only.
	integration = authn{
		authenticate: func(s *Server, r *http.Request) (*auth.Principal, error) {
			return s.Auth.Integration(r.Context(), r.Header.Get("Authorization"))
		},
		challenges: []string{`Bearer realm="postbode"`},
	}
	// mailboxAuth: a mailbox takes the pull subscription's app token,
	// bearer or basic, or an integration token.
	mailboxAuth = authn{
		authenticate: func(s *Server, r *http.Request) (*auth.Principal, error) {
			return s.Mailboxes.Authenticate(r.Context(), auth.ParseAuthorization(r.Header.Get("Authorization")), r.PathValue("id"))
		},
		challenges: []string{`Bearer realm="postbode"`, `Basic realm="postbode"`},
	}
)

// endpoint authenticates with a, runs h, and writes its result or error as
// JSON. A panic becomes a logged 500, never a dropped connection.
func (s *Server) endpoint(a authn, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) { WriteError(w, r, s.Log, err, a.challenges...) }
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
				fail(errs.New(errs.Internal, "internal_error", "panic"))
			}
		}()
		p, err := a.authenticate(s, r)
		if err != nil {
			fail(err)
			return
		}
		status, body, err := h(r, p)
		if err != nil {
			fail(err)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

// query is the page a list request asks for.
func query(r *http.Request) listing.Query {
	q := r.URL.Query()
	return listingQuery(q.Get("cursor"), q.Get("limit"))
}

func listingQuery(cursor, limit string) listing.Query {
	return listing.Query{Cursor: cursor, Limit: limit}
}

// ok, created and accepted turn a service's answer into a handler's.
func ok[T any](v T, err error) (int, any, error)       { return answer(http.StatusOK, v, err) }
func created[T any](v T, err error) (int, any, error)  { return answer(http.StatusCreated, v, err) }
func accepted[T any](v T, err error) (int, any, error) { return answer(http.StatusAccepted, v, err) }

func answer(status int, v any, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return status, v, nil
}
