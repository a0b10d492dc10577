// The customer portal's entrance: a portal link's secret becomes a cookie
// that only the portal's pages receive, and the browser moves on to a URL
// without the secret, so that it stays out of history and logs.
package web

import (
	"net/http"
	"time"
)

func (s *Server) openPortal(w http.ResponseWriter, r *http.Request) {
	secret := r.PathValue("secret")
	p, err := s.Accounts.Session(r.Context(), secret)
	if err != nil || p.Workspace == "" {
		v := &view{Title: "Portal link expired", Portal: true,
			Error: "This portal link has expired or is not valid. Ask the service that gave it to you for a new one."}
		s.render(w, http.StatusNotFound, "error.html", v)
		return
	}
	c := &http.Cookie{Name: PortalCookieName, Value: secret, Path: "/portal/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r), MaxAge: int((12 * time.Hour).Seconds())}
	if secure(r) && len(s.FrameAncestors) > 0 {
		// Inside another site's iframe a Lax cookie is never sent; a
		// partitioned one is kept for that embedding site only.
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, "/portal/webhooks", http.StatusSeeOther)
}
