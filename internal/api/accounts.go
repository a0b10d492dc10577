// Users, their tokens, and the caller itself.
package api

import (
	"net/http"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/auth"
)

func (s *Server) me(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Accounts.Me(r.Context(), p))
}

func (s *Server) createUser(r *http.Request, p *auth.Principal) (int, any, error) {
	var in account.UserInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return created(s.Accounts.CreateUser(r.Context(), p, in))
}

func (s *Server) listUsers(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Accounts.ListUsers(r.Context(), p, query(r)))
}

func (s *Server) getUser(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Accounts.GetUser(r.Context(), p, r.PathValue("id")))
}

func (s *Server) updateUser(r *http.Request, p *auth.Principal) (int, any, error) {
	var in account.UserInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return ok(s.Accounts.UpdateUser(r.Context(), p, r.PathValue("id"), in))
}

func (s *Server) deleteUser(r *http.Request, p *auth.Principal) (int, any, error) {
	return answer(http.StatusNoContent, nil, s.Accounts.DeleteUser(r.Context(), p, r.PathValue("id")))
}

func (s *Server) reactivateUser(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return ok(s.Accounts.Reactivate(r.Context(), p, r.PathValue("id")))
}

func (s *Server) setPassword(r *http.Request, p *auth.Principal) (int, any, error) {
	var in passwordInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return answer(http.StatusNoContent, nil, s.Accounts.SetPassword(r.Context(), p, r.PathValue("id"), in.Password, in.CurrentPassword))
}

func (s *Server) createToken(r *http.Request, p *auth.Principal) (int, any, error) {
	var in nameInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return created(s.Accounts.CreateToken(r.Context(), p, r.PathValue("id"), in.Name))
}

func (s *Server) listTokens(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Accounts.ListTokens(r.Context(), p, r.PathValue("id"), query(r)))
}

func (s *Server) revokeToken(r *http.Request, p *auth.Principal) (int, any, error) {
	return answer(http.StatusNoContent, nil, s.Accounts.RevokeToken(r.Context(), p, r.PathValue("id")))
}

func (s *Server) transferToken(r *http.Request, p *auth.Principal) (int, any, error) {
	var in userInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return ok(s.Accounts.TransferToken(r.Context(), p, r.PathValue("id"), in.UserID))
}
