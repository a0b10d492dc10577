// Package api serves the management API under /api/v1: JSON handlers on a
// Go 1.22 http.ServeMux. Handlers decode and validate; the ingester, the
// dispatcher and the store do the rest. Unknown routes and wrong methods get
// the same JSON error body as everything else.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/store"
)

// Deliverer is the part of the delivery engine the API drives.
type Deliverer interface {
	Notify()
	Invalidate(subscriptionID string)
	Test(ctx context.Context, sub *store.Subscription, data []byte) (*store.Attempt, error)
}

// Options configure the API.
type Options struct {
	Store               store.Store
	Auth                *auth.Authenticator
	Ingest              *ingest.Ingester
	Delivery            Deliverer
	AllowPrivateTargets bool
	// CheckTarget is the creation-time SSRF check of a push URL.
	CheckTarget func(ctx context.Context, url string) error
	Log         *slog.Logger
}

// Server is the management API.
type Server struct {
	Options
	mux *http.ServeMux

	mu    sync.Mutex
	known map[string]time.Time // workspaces seen to exist, until when to trust it
}

// workspaceTTL bounds how long a workspace's existence is remembered, so a
// busy publisher costs no lookup per request.
const workspaceTTL = 5 * time.Second

type principalKey struct{}

// New builds the API's routes.
func New(opt Options) *Server {
	s := &Server{Options: opt, mux: http.NewServeMux()}
	routes := []struct {
		pattern string
		h       func(*http.Request, *auth.Principal) (int, any, error)
	}{
		{"POST /api/v1/workspaces", s.createWorkspace},
		{"GET /api/v1/workspaces", s.listWorkspaces},
		{"POST /api/v1/workspaces/{ws}/event-types", s.createEventType},
		{"GET /api/v1/workspaces/{ws}/event-types", s.listEventTypes},
		{"POST /api/v1/workspaces/{ws}/events", s.publish},
		{"POST /api/v1/workspaces/{ws}/events/batch", s.publishBatch},
		{"GET /api/v1/workspaces/{ws}/events/{id}", s.getEvent},
		{"POST /api/v1/workspaces/{ws}/subscriptions", s.createSubscription},
		{"GET /api/v1/workspaces/{ws}/subscriptions", s.listSubscriptions},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}", s.getSubscription},
		{"PATCH /api/v1/workspaces/{ws}/subscriptions/{id}", s.updateSubscription},
		{"DELETE /api/v1/workspaces/{ws}/subscriptions/{id}", s.deleteSubscription},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/test", s.testSubscription},
		{"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts", s.listAttempts},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/enable", s.enable},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/disable", s.disable},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/rotate-secret", s.rotateSecret},
		{"POST /api/v1/workspaces/{ws}/subscriptions/{id}/recover", s.recoverDeliveries},
		{"POST /api/v1/workspaces/{ws}/deliveries/{id}/resend", s.resend},
	}
	for _, rt := range routes {
		s.mux.Handle(rt.pattern, s.endpoint(rt.h))
	}
	// Everything else lands here (the mux prefers any match to its own
	// plain-text 404 and 405), so a request is routed once.
	s.mux.HandleFunc("/", s.unrouted)
	return s
}

// ServeHTTP answers /api/v1 requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
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
		writeError(w, r, s.Log, errorf(http.StatusMethodNotAllowed, "method_not_allowed",
			"%s is not allowed here; use %s", r.Method, strings.Join(allowed, " or ")))
		return
	}
	writeError(w, r, s.Log, errorf(http.StatusNotFound, "not_found", "no such route: %s %s", r.Method, r.URL.Path))
}

// endpoint authenticates, runs h, and writes its result or error as JSON.
// A panic becomes a logged 500, never a dropped connection.
func (s *Server) endpoint(h func(*http.Request, *auth.Principal) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, r, s.Log, errorf(http.StatusInternalServerError, "internal_error",
					"something went wrong on our side; it has been logged"))
			}
		}()
		p, err := s.Auth.Integration(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			if err == auth.ErrUnauthenticated {
				err = errorf(http.StatusUnauthorized, "unauthenticated",
					"send an integration token as Authorization: Bearer <token>")
			}
			writeError(w, r, s.Log, err)
			return
		}
		status, body, err := h(r, p)
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

// workspace checks that the path's workspace exists and p may use it.
func (s *Server) workspace(r *http.Request, p *auth.Principal) (string, error) {
	ws := r.PathValue("ws")
	if !strings.HasPrefix(ws, "ws_") {
		return "", notFound("workspace")
	}
	if err := s.workspaceExists(r.Context(), ws); err != nil {
		return "", err
	}
	if p.IsAdmin() {
		return ws, nil
	}
	ok, err := s.Store.IsMember(r.Context(), ws, p.User.ID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errorf(http.StatusForbidden, "forbidden", "you are not a member of this workspace")
	}
	return ws, nil
}

func (s *Server) workspaceExists(ctx context.Context, ws string) error {
	now := time.Now()
	s.mu.Lock()
	until, ok := s.known[ws]
	s.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	if _, err := s.Store.GetWorkspace(ctx, ws); err != nil {
		if err == store.ErrNotFound {
			return notFound("workspace")
		}
		return err
	}
	s.mu.Lock()
	if s.known == nil || len(s.known) >= 10000 {
		s.known = map[string]time.Time{}
	}
	s.known[ws] = now.Add(workspaceTTL)
	s.mu.Unlock()
	return nil
}

// list is the body of every list response.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// page reads ?cursor= and ?limit= (1..max, default def).
func page(r *http.Request, def, maxLimit int) (store.Page, error) {
	p := store.Page{Cursor: r.URL.Query().Get("cursor"), Limit: def}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, invalid("limit", "must be a whole number from 1 to %d", maxLimit)
		}
		p.Limit = n
	}
	// Ask for one more than the page, to know whether another page follows.
	p.Limit++
	return p, nil
}

// listInWorkspace answers a page of one of the path workspace's collections,
// read with list and paged by key.
func listInWorkspace[T any](s *Server, r *http.Request, p *auth.Principal,
	list func(context.Context, string, store.Page) ([]T, error), key func(*T) string) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	pg, err := page(r, 100, 1000)
	if err != nil {
		return 0, nil, err
	}
	items, err := list(r.Context(), ws, pg)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paged(items, pg, key), nil
}

// paged cuts the extra item off and sets the cursor from key.
func paged[T any](items []T, p store.Page, key func(*T) string) list[T] {
	out := list[T]{Data: items}
	if out.Data == nil {
		out.Data = []T{}
	}
	if len(items) == p.Limit {
		out.Data = items[:p.Limit-1]
		c := key(&out.Data[len(out.Data)-1])
		out.NextCursor = &c
	}
	return out
}

// now is the API's clock, at the microsecond precision the store keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
