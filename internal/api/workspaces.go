// Workspaces and the event type catalogue.
package api

import (
	"net/http"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/workspace"
)

func (s *Server) createWorkspace(r *http.Request, p *auth.Principal) (int, any, error) {
	var in nameInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return created(s.Workspaces.Create(r.Context(), p, in.Name))
}

func (s *Server) listWorkspaces(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Workspaces.List(r.Context(), p, query(r)))
}

func (s *Server) createEventType(r *http.Request, p *auth.Principal) (int, any, error) {
	var in workspace.EventTypeInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return created(s.Workspaces.CreateEventType(r.Context(), p, r.PathValue("ws"), in))
}

func (s *Server) listEventTypes(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Workspaces.ListEventTypes(r.Context(), p, r.PathValue("ws"), query(r)))
}

func (s *Server) createPortalLink(r *http.Request, p *auth.Principal) (int, any, error) {
	var in portalLinkInput
	if err := decode(r, &in, true); err != nil {
		return 0, nil, err
	}
	return created(s.Accounts.CreatePortalLink(r.Context(), p, r.PathValue("ws"), in.TTLSeconds))
}
