// Package web is the web UI's transport: pages rendered with html/template
// from embedded files, and the login session kept in a cookie. Like the
// API, it decodes, calls the services and renders; the rules are theirs.
// For now it holds the login: the pages of the UI build on it.
package web

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/ratelimit"
)

//go:embed templates/*.html
var files embed.FS

var pages = template.Must(template.ParseFS(files, "templates/*.html"))

// CookieName is the session cookie's name.
const CookieName = "postbode_session"

// maxForm bounds a form body.
const maxForm = 64 << 10

// Server serves the UI's pages.
type Server struct {
	Accounts *account.Service
	Log      *slog.Logger
	mux      *http.ServeMux
	limit    *ratelimit.Limiter // failed logins per client address
	now      func() time.Time
}

// New builds the UI's routes; now is its clock.
func New(accounts *account.Service, log *slog.Logger, now func() time.Time) *Server {
	s := &Server{Accounts: accounts, Log: log, mux: http.NewServeMux(), limit: ratelimit.New(), now: now}
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /{$}", s.home)
	return s
}

// ServeHTTP answers the UI's requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages are never framed (the customer portal, which may be, sets its
	// own), never sniffed, and send no referrer with their ids elsewhere.
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// principal is the signed-in user of r, or an error to log in.
func (s *Server) principal(r *http.Request) (*auth.Principal, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil, errs.Unauthenticatedf("log in first")
	}
	return s.Accounts.Session(r.Context(), c.Value)
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.Log.Error("rendering a page", "page", name, "err", err)
	}
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	p, err := s.principal(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "home.html", map[string]any{"User": p.User})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "login.html", map[string]any{})
}

// sameOrigin refuses a form posted from another site: SameSite=Lax keeps
// the cookie from cross-site POSTs already, and this keeps a login form on
// another site from logging a victim into the attacker's account.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return true // not a browser, or one that sends neither
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if !sameOrigin(r) {
		s.render(w, http.StatusForbidden, "login.html", map[string]any{"Error": "This form was posted from another site."})
		return
	}
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, "login.html", map[string]any{"Error": "The form could not be read."})
		return
	}
	email := r.PostFormValue("email")
	// An address over the bound is not even checked until the minute is
	// over: a password's hash is expensive, and each check is a guess. A
	// person behind the same address waits with it.
	client := ratelimit.ClientKey(r.RemoteAddr)
	if retry := s.limit.Blocked(client, s.now()); retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
		s.render(w, http.StatusTooManyRequests, "login.html", map[string]any{
			"Error": "Too many failed logins from this address; try again in a minute.", "Email": email})
		return
	}
	secret, expires, err := s.Accounts.Login(r.Context(), email, r.PostFormValue("password"))
	if err != nil {
		status, msg := http.StatusUnauthorized, "The email address or password is wrong, or the account is inactive."
		var e *errs.Error
		switch {
		case !errors.As(err, &e) || e.Kind != errs.Unauthenticated:
			s.Log.Error("login failed", "err", err)
			status, msg = http.StatusServiceUnavailable, "Logging in is not possible right now; try again shortly."
		default:
			// Guessing passwords is slowed down, then refused for a while.
			if retry := s.limit.Refuse(r.Context(), client, s.now()); retry > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
				status, msg = http.StatusTooManyRequests, "Too many failed logins from this address; try again in a minute."
			}
		}
		s.render(w, status, "login.html", map[string]any{"Error": msg, "Email": email})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: secret, Path: "/", Expires: expires,
		MaxAge: int(time.Until(expires).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "This form was posted from another site.", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if err := s.Accounts.Logout(r.Context(), c.Value); err != nil {
			s.Log.Error("logout", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// secure reports whether the cookie may only travel over TLS: when the
// request came over TLS, or through a proxy that says it did.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
