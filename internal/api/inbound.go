// Inbound webhooks: create, read, change, delete, enable, disable, a new
// app token, and the log of the requests received. Requests to the
// webhooks themselves (POST /in/{id}) are the receiver's.
package api

import (
	"net/http"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/inbound"
)

func (s *Server) createInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	var in inbound.Input
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return created(s.Inbound.Create(r.Context(), p, r.PathValue("ws"), &in))
}

func (s *Server) listInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Inbound.List(r.Context(), p, r.PathValue("ws"), query(r)))
}

func (s *Server) getInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Inbound.Get(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) updateInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	var in inbound.Input
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return ok(s.Inbound.Update(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), &in))
}

func (s *Server) deleteInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	return answer(http.StatusNoContent, nil, s.Inbound.Delete(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) enableInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return ok(s.Inbound.Enable(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) disableInbound(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return ok(s.Inbound.Disable(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) inboundToken(r *http.Request, p *auth.Principal) (int, any, error) {
	var in userInput
	if err := decode(r, &in, true); err != nil {
		return 0, nil, err
	}
	return ok(s.Inbound.NewToken(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), in.UserID))
}

func (s *Server) inboundRequests(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Inbound.Requests(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), query(r)))
}
