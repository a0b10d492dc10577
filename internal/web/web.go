// Package web is the web UI's transport: pages rendered with html/template
// from embedded files, the login session kept in a cookie, and the customer
// portal, which shows one workspace's webhooks pages to whoever holds a
// portal link. Like the API, it decodes, calls the services and renders;
// the rules are theirs, and their errors are shown next to the field they
// name.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/mailbox"
	"github.com/postbode/postbode/internal/ratelimit"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
	"github.com/postbode/postbode/internal/workspace"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Cookie names: the login session, and a portal link's session, which
// travels only to the portal's pages.
const (
	CookieName       = "postbode_session"
	PortalCookieName = "postbode_portal"
	flashCookie      = "postbode_flash"
)

// maxForm bounds a form body: the largest form (an event type's schema) fits.
const maxForm = 256 << 10

// Options are the services the UI calls, and how it is served.
type Options struct {
	Accounts      *account.Service
	Workspaces    *workspace.Service
	Subscriptions *subscription.Service
	Events        *event.Service
	Inbound       *inbound.Service
	Mailboxes     *mailbox.Service
	// QueueDepth counts the deliveries waiting on the whole server, for an
	// admin's dashboard; nil leaves it out.
	QueueDepth func(ctx context.Context) (int64, error)
	// PublicURL is the address users reach Postbode at (--public-url):
	// forms posted from its host are this server's own.
	PublicURL string
	// FrameAncestors are the origins that may embed the portal.
	FrameAncestors []string
	Log            *slog.Logger
	Now            func() time.Time
}

// Server serves the UI's pages.
type Server struct {
	Options
	mux   *http.ServeMux
	limit *ratelimit.Limiter // failed logins per client address
	// portalCSP is the portal's Content-Security-Policy: the UI's, with the
	// configured frame ancestors.
	portalCSP  string
	publicHost string
}

// csp allows the page's own files only: no inline script or style, no
// framing, forms posted to this server only.
const csp = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// New builds the UI's routes.
func New(opt Options) *Server {
	s := &Server{Options: opt, mux: http.NewServeMux(), limit: ratelimit.New()}
	ancestors := "'none'"
	if len(opt.FrameAncestors) > 0 {
		ancestors = strings.Join(opt.FrameAncestors, " ")
	}
	if u, err := url.Parse(opt.PublicURL); err == nil {
		s.publicHost = u.Host
	}
	s.portalCSP = strings.Replace(csp, "frame-ancestors 'none'", "frame-ancestors "+ancestors, 1)

	static, _ := fs.Sub(staticFiles, "static")
	s.mux.Handle("GET /static/{file}", http.StripPrefix("/static/", cached(http.FileServerFS(static))))
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)

	user := func(pattern string, h pageFunc) { s.mux.Handle(pattern, s.page(h)) }
	user("GET /{$}", s.home)
	user("GET /switch", s.switchWorkspace)
	user("GET /workspaces", s.workspaces)
	user("POST /workspaces", s.createWorkspace)
	user("GET /ws/{ws}/{$}", s.dashboard)
	user("GET /ws/{ws}/event-types/new", s.eventTypeForm)
	user("POST /ws/{ws}/event-types", s.createEventType)
	user("GET /ws/{ws}/events", s.events)
	user("GET /ws/{ws}/events/{id}", s.event)
	user("POST /ws/{ws}/events/{id}/resend", s.resendEvent)
	user("POST /ws/{ws}/deliveries/{id}/resend", s.resendDelivery)
	user("GET /ws/{ws}/inbound", s.inboundList)
	user("GET /ws/{ws}/inbound/new", s.inboundWizard)
	user("POST /ws/{ws}/inbound", s.createInbound)
	user("GET /ws/{ws}/inbound/{id}", s.inboundDetail)
	user("GET /ws/{ws}/inbound/{id}/ready", s.inboundReady)
	user("POST /ws/{ws}/inbound/{id}/enable", s.inboundAction)
	user("POST /ws/{ws}/inbound/{id}/disable", s.inboundAction)
	user("POST /ws/{ws}/inbound/{id}/token", s.inboundToken)
	user("GET /ws/{ws}/inbound/{id}/delete", s.inboundConfirmDelete)
	user("POST /ws/{ws}/inbound/{id}/delete", s.inboundDelete)
	user("GET /ws/{ws}/mailboxes", s.mailboxes)
	user("GET /ws/{ws}/mailboxes/new", s.mailboxForm)
	user("POST /ws/{ws}/mailboxes", s.createMailbox)
	user("GET /ws/{ws}/mailboxes/{id}", s.mailboxDetail)
	user("GET /users", s.users)
	user("POST /users", s.createUser)
	user("GET /users/{id}", s.userDetail)
	user("POST /users/{id}/reactivate", s.reactivateUser)
	user("POST /users/{id}/password", s.setPassword)
	user("POST /users/{id}/tokens", s.createToken)
	user("POST /users/{id}/move-tokens", s.moveTokens)
	user("GET /users/{id}/delete", s.userConfirmDelete)
	user("POST /users/{id}/delete", s.deleteUser)
	user("POST /tokens/{id}/transfer", s.transferToken)
	user("POST /tokens/{id}/revoke", s.revokeToken)

	// The webhooks pages, for a signed-in user under /ws/{ws} and for a
	// portal link under /portal: the same handlers, told apart by the view.
	portal := func(pattern string, h pageFunc) { s.mux.Handle(pattern, s.portalPage(h)) }
	for _, r := range []struct {
		method, path string
		h            pageFunc
	}{
		{"GET", "/webhooks", s.webhooks},
		{"GET", "/webhooks/new", s.webhookNew},
		{"POST", "/webhooks", s.webhookCreate},
		{"GET", "/webhooks/{id}", s.webhook},
		{"GET", "/webhooks/{id}/edit", s.webhookEdit},
		{"POST", "/webhooks/{id}", s.webhookUpdate},
		{"POST", "/webhooks/{id}/test", s.webhookTest},
		{"POST", "/webhooks/{id}/enable", s.webhookAction},
		{"POST", "/webhooks/{id}/disable", s.webhookAction},
		{"POST", "/webhooks/{id}/rotate-secret", s.webhookRotate},
		{"POST", "/webhooks/{id}/recover", s.webhookRecover},
		{"GET", "/webhooks/{id}/attempts/{attempt}", s.attempt},
		{"GET", "/webhooks/{id}/delete", s.webhookConfirmDelete},
		{"POST", "/webhooks/{id}/delete", s.webhookDelete},
		{"GET", "/event-types", s.eventTypes},
	} {
		user(r.method+" /ws/{ws}"+r.path, r.h)
		portal(r.method+" /portal"+r.path, r.h)
	}
	s.mux.HandleFunc("GET /portal/{secret}", s.openPortal)
	s.mux.HandleFunc("GET /portal/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/portal/webhooks", http.StatusSeeOther)
	})
	return s
}

// cached lets browsers keep the embedded assets for an hour.
func cached(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP answers the UI's requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages are never sniffed and send no referrer with their ids elsewhere;
	// only the portal may be framed, by the origins configured.
	if strings.HasPrefix(r.URL.Path, account.PortalPath) {
		h.Set("Content-Security-Policy", s.portalCSP)
		if len(s.FrameAncestors) == 0 {
			h.Set("X-Frame-Options", "DENY")
		}
		// The link's secret is in the first URL: it is never sent on.
		h.Set("Referrer-Policy", "no-referrer")
	} else {
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// view is what every page renders with: who is looking, from where, and
// the page's own data.
type view struct {
	Title      string
	User       *store.User
	Admin      bool
	Portal     bool
	Base       string // where the workspace's pages are: /ws/{ws} or /portal
	WS         string
	WSName     string
	Section    string // the kind of page of the workspace (webhooks, events…)
	Workspaces []store.Workspace
	CSRF       string
	Flash      string
	Error      string            // a refusal not about one field
	Errors     map[string]string // field → message
	Form       url.Values        // what was posted, shown again after a refusal
	Data       any
	principal  *auth.Principal
	secret     string // the session's, which the CSRF token and sealed secrets derive from
	once       *once  // what a form before left to show once
	status     int
}

// pageFunc handles one page; an error it returns is rendered as a page.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) error

// page wraps h for a signed-in user: no session sends the browser to the
// login page, and a state-changing request must carry the session's CSRF
// token.
func (s *Server) page(h pageFunc) http.Handler {
	return s.guard(func(r *http.Request) (*view, string, error) {
		c, err := r.Cookie(CookieName)
		if err != nil {
			return nil, "", errs.Unauthenticatedf("log in first")
		}
		p, err := s.Accounts.Session(r.Context(), c.Value)
		if err != nil {
			return nil, "", err
		}
		if p.Workspace != "" { // a portal link's secret in the login cookie
			return nil, "", errs.Unauthenticatedf("log in first")
		}
		v := &view{User: p.User, Admin: p.IsAdmin(), principal: p}
		list, err := s.Workspaces.List(r.Context(), p, listQuery("", "1000"))
		if err != nil {
			return nil, "", err
		}
		v.Workspaces = list.Data
		if ws := r.PathValue("ws"); ws != "" {
			if err := s.Workspaces.Access(r.Context(), p, ws); err != nil {
				return v, "", err
			}
			v.WS, v.Base = ws, "/ws/"+ws
			// The switcher opens the same page of another workspace.
			v.Section, _, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, v.Base+"/"), "/")
		}
		for _, w := range list.Data {
			if w.ID == v.WS {
				v.WSName = w.Name
			}
		}
		return v, c.Value, nil
	}, "/login", h)
}

// portalPage wraps h for a portal link's holder: the session is confined
// to one workspace, which every page is about.
func (s *Server) portalPage(h pageFunc) http.Handler {
	return s.guard(func(r *http.Request) (*view, string, error) {
		c, err := r.Cookie(PortalCookieName)
		if err != nil {
			return nil, "", errs.Unauthenticatedf("this portal link has expired or was never opened; ask for a new one")
		}
		p, err := s.Accounts.Session(r.Context(), c.Value)
		if err != nil {
			return nil, "", errs.Unauthenticatedf("this portal link has expired; ask for a new one")
		}
		if p.Workspace == "" { // a login session's secret in the portal cookie
			return nil, "", errs.Unauthenticatedf("this is not a portal link")
		}
		if err := s.Workspaces.Access(r.Context(), p, p.Workspace); err != nil {
			return nil, "", err
		}
		v := &view{User: p.User, Portal: true, principal: p, WS: p.Workspace, Base: "/portal"}
		if list, err := s.Workspaces.List(r.Context(), p, listQuery("", "")); err == nil && len(list.Data) == 1 {
			v.WSName = list.Data[0].Name
		}
		return v, c.Value, nil
	}, "", h)
}

// guard authenticates with load, checks the CSRF token of a POST, runs h
// and renders its error. login is where an unauthenticated visitor goes;
// empty shows the refusal instead (the portal has no login).
func (s *Server) guard(load func(r *http.Request) (*view, string, error), login string, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &view{}
		defer func() {
			if p := recover(); p != nil {
				s.Log.Error("panic in a page", "method", r.Method, "path", r.URL.Path, "panic", p)
				s.fail(w, r, v, errs.New(errs.Internal, "internal_error", "panic"))
			}
		}()
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		loaded, secret, err := load(r)
		if loaded != nil {
			v = loaded // a refusal of the workspace still shows who is looking
		}
		if err != nil {
			var e *errs.Error
			if errors.As(err, &e) && e.Kind == errs.Unauthenticated {
				if r.Header.Get("X-Postbode-Fetch") == "1" { // a script's request: no login page to show in place
					http.Error(w, "Your session has ended; reload the page to log in again.", http.StatusUnauthorized)
					return
				}
				if login != "" {
					http.Redirect(w, r, login, http.StatusSeeOther)
					return
				}
			}
			s.fail(w, r, v, err)
			return
		}
		v.CSRF, v.secret = csrfToken(secret), secret
		if r.Method == http.MethodGet {
			takeOnce(w, r, v)
		}
		if c, err := r.Cookie(flashCookie); err == nil {
			if text, err := url.QueryUnescape(c.Value); err == nil {
				v.Flash = text
			}
			http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					s.fail(w, r, v, err)
					return
				}
				s.fail(w, r, v, errs.New(errs.Malformed, "malformed_form", "the form could not be read"))
				return
			}
			if !s.sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.CSRF)) != 1 {
				s.fail(w, r, v, errs.Forbiddenf("this form is out of date or was posted from another site; reload the page and try again"))
				return
			}
		}
		if err := h(w, r, v); err != nil {
			s.fail(w, r, v, err)
		}
	})
}

// csrfToken is the session's CSRF token: derived from the session's secret,
// which only the browser holding the cookie knows, so a page on another
// site can neither read nor guess it.
func csrfToken(secret string) string {
	sum := sha256.Sum256([]byte("postbode csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// listQuery is a page of a list.
func listQuery(cursor, limit string) listing.Query {
	return listing.Query{Cursor: cursor, Limit: limit}
}

// redirect answers a POST with a redirect to a page, and a message for it.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, flash string) error {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(flash), Path: "/", MaxAge: 60,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// sameOrigin refuses a form posted from another site: SameSite=Lax keeps
// the cookie from cross-site POSTs already, and this keeps a login form on
// another site from logging a victim into the attacker's account.
func (s *Server) sameOrigin(r *http.Request) bool {
	publicHost := s.publicHost
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
	if err != nil {
		return false
	}
	// Behind a reverse proxy the Host may be rewritten: the address the
	// browser used is then the proxy's X-Forwarded-Host, or --public-url's.
	// A page on another site cannot set either header on a form post.
	return u.Host == r.Host || u.Host == r.Header.Get("X-Forwarded-Host") || publicHost != "" && u.Host == publicHost
}

// secure reports whether the cookie may only travel over TLS: when the
// request came over TLS, or through a proxy that says it did.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
