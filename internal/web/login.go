// Logging in and out, the landing page, the workspace switcher and the
// list of workspaces.
package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/ratelimit"
)

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "login.html", &view{Title: "Log in"})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	v := &view{Title: "Log in"}
	if !s.sameOrigin(r) {
		v.Error = "This form was posted from another site."
		s.render(w, http.StatusForbidden, "login.html", v)
		return
	}
	if err := r.ParseForm(); err != nil {
		v.Error = "The form could not be read."
		s.render(w, http.StatusBadRequest, "login.html", v)
		return
	}
	v.Form = r.PostForm
	// An address over the bound is not even checked until the minute is
	// over: a password's hash is expensive, and each check is a guess. A
	// person behind the same address waits with it.
	client := ratelimit.ClientKey(r.RemoteAddr)
	tooMany := func(retry time.Duration) {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
		v.Error = "Too many failed logins from this address; try again in a minute."
		s.render(w, http.StatusTooManyRequests, "login.html", v)
	}
	if retry := s.limit.Blocked(client, s.Now()); retry > 0 {
		tooMany(retry)
		return
	}
	secret, expires, err := s.Accounts.Login(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"))
	if err != nil {
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.Unauthenticated {
			s.Log.Error("login failed", "err", err)
			v.Error = "Logging in is not possible right now; try again shortly."
			s.render(w, http.StatusServiceUnavailable, "login.html", v)
			return
		}
		// Guessing passwords is slowed down, then refused for a while.
		if retry := s.limit.Refuse(r.Context(), client, s.Now()); retry > 0 {
			tooMany(retry)
			return
		}
		v.Error = "The email address or password is wrong, or the account is inactive."
		s.render(w, http.StatusUnauthorized, "login.html", v)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: secret, Path: "/", Expires: expires,
		MaxAge: int(expires.Sub(s.Now()).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	c, err := r.Cookie(CookieName)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	// Logging someone out from another site's page is a nuisance attack:
	// the form carries the session's token.
	if !s.sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(csrfToken(c.Value))) != 1 {
		http.Error(w, "This form is out of date or was posted from another site; reload the page and try again.", http.StatusForbidden)
		return
	}
	if err := s.Accounts.Logout(r.Context(), c.Value); err != nil {
		s.Log.Error("logout", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// home opens the first workspace, or the list when there is none.
func (s *Server) home(w http.ResponseWriter, r *http.Request, v *view) error {
	if len(v.Workspaces) == 0 {
		http.Redirect(w, r, "/workspaces", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/ws/"+v.Workspaces[0].ID+"/", http.StatusSeeOther)
	return nil
}

// switchWorkspace is the switcher's target: it opens the chosen workspace's
// page of the same kind.
func (s *Server) switchWorkspace(w http.ResponseWriter, r *http.Request, v *view) error {
	ws := r.URL.Query().Get("ws")
	if err := s.Workspaces.Access(r.Context(), v.principal, ws); err != nil {
		return err
	}
	section := r.URL.Query().Get("section")
	switch section {
	case "webhooks", "inbound", "event-types", "events", "mailboxes":
	default:
		section = ""
	}
	http.Redirect(w, r, "/ws/"+ws+"/"+section, http.StatusSeeOther)
	return nil
}

func (s *Server) workspaces(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Workspaces"
	s.render(w, http.StatusOK, "workspaces.html", v)
	return nil
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Workspaces"
	ws, err := s.Workspaces.Create(r.Context(), v.principal, r.PostFormValue("name"))
	if err != nil {
		return s.refused(w, r, v, "workspaces.html", err)
	}
	return s.redirect(w, r, "/ws/"+ws.ID+"/", "Workspace "+ws.Name+" created.")
}
