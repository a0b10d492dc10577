// Subscriptions: create, read, change, delete, and the actions on one
// (test, attempts, enable, disable, rotate-secret, recover).
package api

import (
	"net/http"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/subscription"
)

func (s *Server) createSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	var in subscription.Input
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return created(s.Subscriptions.Create(r.Context(), p, r.PathValue("ws"), &in))
}

func (s *Server) getSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Subscriptions.Get(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) listSubscriptions(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Subscriptions.List(r.Context(), p, r.PathValue("ws"), query(r)))
}

func (s *Server) updateSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	var in subscription.Input
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return ok(s.Subscriptions.Update(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), &in))
}

func (s *Server) deleteSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	return answer(http.StatusNoContent, nil, s.Subscriptions.Delete(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

// noBody checks that an action without fields got none: an empty body, or
// a valid JSON object without fields.
func noBody(r *http.Request) error {
	return decode(r, &struct{}{}, true)
}

func (s *Server) testSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	a, err := s.Subscriptions.Test(r.Context(), p, r.PathValue("ws"), r.PathValue("id"))
	return answer(http.StatusOK, testOutput{Attempt: a}, err)
}

func (s *Server) listAttempts(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Subscriptions.ListAttempts(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), query(r)))
}

func (s *Server) getAttempt(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Subscriptions.Attempt(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), r.PathValue("attempt")))
}

func (s *Server) enable(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return ok(s.Subscriptions.Enable(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) disable(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return ok(s.Subscriptions.Disable(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) rotateSecret(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return ok(s.Subscriptions.RotateSecret(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) recoverDeliveries(r *http.Request, p *auth.Principal) (int, any, error) {
	var in recoverInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	n, err := s.Subscriptions.Recover(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), in.Since)
	return answer(http.StatusOK, recoverOutput{Queued: n}, err)
}
