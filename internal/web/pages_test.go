package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/web"
)

// browser is a cookie-keeping client that does not follow redirects, so a
// test sees each answer.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post sends a form with the CSRF token of the page at from.
func (b *browser) post(from, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	_, page := b.get(from)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("csrf", m[1])
	return b.do("POST", path, form)
}

// uiFixture is a node with an admin who can log in, a workspace with two
// event types, and a logged-in browser.
type uiFixture struct {
	srv *apptest.Server
	ws  string
	b   *browser
}

func newUI(t *testing.T, engine ...func(*config.Config)) *uiFixture {
	srv := apptest.Start(t, engine...)
	srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada Lovelace", "role": "admin",
		"password": "correct horse battery"}, http.StatusCreated, nil)
	ws := srv.Workspace(t, "invoice.paid", "user.new")
	b := newBrowser(t, srv.URL)
	if resp, _ := b.do("POST", "/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return &uiFixture{srv: srv, ws: ws, b: b}
}

// adminID is the id of the UI's admin, Ada.
func (f *uiFixture) adminID(t *testing.T) string {
	var list struct{ Data []struct{ ID, Email string } }
	f.srv.JSON(t, "GET", "/api/v1/users", nil, http.StatusOK, &list)
	for _, u := range list.Data {
		if u.Email == "ada@example.com" {
			return u.ID
		}
	}
	t.Fatal("no Ada")
	return ""
}

// TestPagesRender: every page answers 200 with its title, on both engines.
func TestPagesRender(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		f := newUI(t, engine)
		rc := apptest.NewReceiver(t, nil)
		var sub, box, hook struct{ ID string }
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{"name": "CRM", "url": rc.URL,
			"event_types": []string{"invoice.paid"}}, http.StatusCreated, &sub)
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{"name": "Box", "mode": "pull",
			"event_types": []string{"*"}}, http.StatusCreated, &box)
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/inbound", map[string]any{"name": "Shop", "auth": "basic",
			"event_type": "invoice.paid"}, http.StatusCreated, &hook)
		evt := f.srv.Publish(t, f.ws, "invoice.paid", map[string]any{"n": 1})
		rc.Wait(t, 1, timeout)
		// The attempt's record is written in a batch after the request.
		for deadline := time.Now().Add(timeout); ; {
			var attempts struct{ Data []any }
			f.srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/subscriptions/"+sub.ID+"/attempts", nil, http.StatusOK, &attempts)
			if len(attempts.Data) == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		p := "/ws/" + f.ws
		for path, want := range map[string]string{
			p + "/":                               "Deliveries per minute",
			p + "/webhooks":                       "CRM",
			p + "/webhooks/new":                   "Custom headers",
			p + "/webhooks/" + sub.ID:             `<details class="attempt">`,
			p + "/webhooks/" + sub.ID + "/edit":   "Save",
			p + "/webhooks/" + sub.ID + "/delete": "cannot be undone",
			p + "/inbound":                        "Shop",
			p + "/inbound/new":                    "Name and event type",
			p + "/inbound/new?step=2&name=x&event_type=invoice.paid": "Basic authentication",
			p + "/inbound/" + hook.ID:                                "Replace the token",
			p + "/mailboxes":                                         "Box",
			p + "/mailboxes/" + box.ID:                               "max_retries_exceeded",
			p + "/mailboxes/new":                                     "coalesce_by_subject",
			p + "/event-types":                                       "invoice.paid",
			p + "/event-types/new":                                   "JSON Schema",
			p + "/events":                                            evt,
			p + "/events/" + evt:                                     "Resend to every webhook",
			"/workspaces":                                            "New workspace",
			"/users":                                                 "ada@example.com",
		} {
			resp, body := f.b.get(path)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) || !strings.Contains(body, "<title>") {
				t.Errorf("GET %s: %d, want 200 with %q", path, resp.StatusCode, want)
			}
		}
		if resp, _ := f.b.get(p + "/webhooks/sub_doesnotexist"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("an unknown webhook: %d, want 404", resp.StatusCode)
		}
	})
}

// timeout bounds how long a delivery may take to arrive in these tests.
const timeout = 10 * time.Second

// TestFormsNeedCSRF: a state-changing form without the session's CSRF
// token, or with another session's, is refused and changes nothing.
func TestFormsNeedCSRF(t *testing.T) {
	f := newUI(t)
	form := url.Values{"name": {"Sneaky"}}
	if resp, _ := f.b.do("POST", "/workspaces", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("no CSRF token: %d, want 403", resp.StatusCode)
	}
	form.Set("csrf", "forged")
	if resp, _ := f.b.do("POST", "/workspaces", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a forged CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := f.b.post("/workspaces", "/workspaces", url.Values{"name": {"Honest"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("with the token: %d, want 303", resp.StatusCode)
	}
	var list struct{ Data []struct{ Name string } }
	f.srv.JSON(t, "GET", "/api/v1/workspaces", nil, http.StatusOK, &list)
	for _, w := range list.Data {
		if w.Name == "Sneaky" {
			t.Error("a form without a CSRF token made a workspace")
		}
	}
	// Another site's page posting with a valid token is refused too.
	_, page := f.b.get("/workspaces")
	token := csrfField.FindStringSubmatch(page)[1]
	req, _ := http.NewRequest("POST", f.srv.URL+"/workspaces", strings.NewReader(url.Values{"name": {"X"}, "csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := f.b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin post: %v %v, want 403", resp.StatusCode, err)
	}
}

// TestSecurityHeaders: pages forbid inline script and framing; the portal
// may be framed by the configured origins only.
func TestSecurityHeaders(t *testing.T) {
	f := newUI(t, func(c *config.Config) { c.PortalFrameAncestors = []string{"https://app.example.com"} })
	resp, _ := f.b.get("/ws/" + f.ws + "/webhooks")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("UI headers: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
	var link struct{ URL string }
	f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/portal-links", map[string]any{}, http.StatusCreated, &link)
	pb := newBrowser(t, f.srv.URL)
	resp, _ = pb.get(link.URL)
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors https://app.example.com") ||
		resp.Header.Get("X-Frame-Options") != "" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("portal headers: CSP %q, X-Frame-Options %q", got, resp.Header.Get("X-Frame-Options"))
	}
}

// TestPagesEscape: names a user typed are shown as text, never as markup.
func TestPagesEscape(t *testing.T) {
	f := newUI(t)
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	var sub struct{ ID string }
	f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{"name": evil, "url": "https://example.com/hook",
		"event_types": []string{"*"}, "headers": map[string]string{"X-Note": evil}}, http.StatusCreated, &sub)
	for _, path := range []string{"/webhooks", "/webhooks/" + sub.ID, "/webhooks/" + sub.ID + "/edit"} {
		_, body := f.b.get("/ws/" + f.ws + path)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s shows the name unescaped", path)
		}
	}
}

// TestFormErrorsNextToField: the service's refusal of a field is shown
// beside that field, the form keeps what was typed, and nothing is made.
func TestFormErrorsNextToField(t *testing.T) {
	f := newUI(t)
	p := "/ws/" + f.ws
	for _, c := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"bad url", url.Values{"name": {"CRM"}, "url": {"ftp://example.com"}, "event_types": {"invoice.paid"}}, `id="url"`},
		{"no event types", url.Values{"name": {"CRM"}, "url": {"https://example.com/x"}}, "Event types"},
		{"unknown event type", url.Values{"name": {"CRM"}, "url": {"https://example.com/x"}, "event_types": {"nope.never"}}, "Event types"},
		{"timeout not a number", url.Values{"name": {"CRM"}, "url": {"https://example.com/x"}, "event_types": {"*"}, "timeout_seconds": {"ten"}}, `id="timeout_seconds"`},
		{"timeout out of range", url.Values{"name": {"CRM"}, "url": {"https://example.com/x"}, "event_types": {"*"}, "timeout_seconds": {"99"}}, `id="timeout_seconds"`},
		{"header without name", url.Values{"name": {"CRM"}, "url": {"https://example.com/x"}, "event_types": {"*"}, "header_name": {""}, "header_value": {"v"}}, "Custom headers"},
		{"bad retry schedule", url.Values{"name": {"CRM"}, "url": {"https://example.com/x"}, "event_types": {"*"}, "retry_schedule": {"soon"}}, `id="retry_schedule"`},
		{"NUL in name", url.Values{"name": {"C\x00RM"}, "url": {"https://example.com/x"}, "event_types": {"*"}}, `id="name"`},
		{"invalid UTF-8", url.Values{"name": {"C\xffRM"}, "url": {"https://example.com/x"}, "event_types": {"*"}}, `id="name"`},
	} {
		resp, body := f.b.post(p+"/webhooks/new", p+"/webhooks", c.form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) ||
			!strings.Contains(body, `aria-invalid="true"`) {
			t.Errorf("%s: %d, want 422 with a field error", c.name, resp.StatusCode)
			continue
		}
		// The message follows its field.
		at := strings.Index(body, c.field)
		if at < 0 || !strings.Contains(body[at:], `class="field-error"`) {
			t.Errorf("%s: the error is not shown at %s", c.name, c.field)
		}
	}
	var list struct{ Data []any }
	f.srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/subscriptions", nil, http.StatusOK, &list)
	if len(list.Data) != 0 {
		t.Errorf("refused forms made %d subscriptions", len(list.Data))
	}
	// An oversized form is refused whole.
	resp, _ := f.b.post(p+"/webhooks/new", p+"/webhooks", url.Values{"name": {strings.Repeat("x", 1<<20)}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB form: %d, want 413", resp.StatusCode)
	}
}

// TestPortalStaysInItsWorkspace: a portal link opens one workspace's
// webhooks pages; nothing of another workspace, nor the rest of the UI,
// is reachable with it; it expires; and it cannot be made for a workspace
// the caller may not see.
func TestPortalStaysInItsWorkspace(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		f := newUI(t, engine)
		other := f.srv.Workspace(t, "invoice.paid")
		var mine, theirs struct{ ID string }
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{"name": "Mine", "url": "https://example.com/a",
			"event_types": []string{"*"}}, http.StatusCreated, &mine)
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+other+"/subscriptions", map[string]any{"name": "Theirs", "url": "https://example.com/b",
			"event_types": []string{"*"}}, http.StatusCreated, &theirs)

		var link struct {
			URL       string `json:"url"`
			ExpiresAt string `json:"expires_at"`
		}
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/portal-links", map[string]any{"ttl_seconds": 600}, http.StatusCreated, &link)
		if !strings.HasPrefix(link.URL, "/portal/pbs_") || link.ExpiresAt == "" {
			t.Fatalf("portal link: %+v", link)
		}
		pb := newBrowser(t, f.srv.URL)
		resp, _ := pb.get(link.URL)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/webhooks" {
			t.Fatalf("opening the link: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == web.PortalCookieName {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.Path != "/portal/" {
			t.Fatalf("portal cookie: %+v", cookie)
		}
		if resp, body := pb.get("/portal/webhooks"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Mine") || strings.Contains(body, "Theirs") {
			t.Errorf("the portal's list: %d", resp.StatusCode)
		}
		if resp, body := pb.get("/portal/webhooks/" + mine.ID); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Test") {
			t.Errorf("the portal's webhook page: %d", resp.StatusCode)
		}
		if resp, _ := pb.post("/portal/webhooks/"+mine.ID, "/portal/webhooks/"+mine.ID+"/disable", url.Values{}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("pausing through the portal: %d", resp.StatusCode)
		}
		for _, path := range []string{"/portal/webhooks/" + theirs.ID, "/portal/webhooks/" + theirs.ID + "/edit"} {
			if resp, body := pb.get(path); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "Theirs") {
				t.Errorf("GET %s through the portal: %d, want 404", path, resp.StatusCode)
			}
		}
		if resp, _ := pb.post("/portal/webhooks/"+mine.ID, "/portal/webhooks/"+theirs.ID+"/delete", url.Values{}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("deleting another workspace's webhook through the portal: %d, want 404", resp.StatusCode)
		}
		f.srv.JSON(t, "GET", "/api/v1/workspaces/"+other+"/subscriptions/"+theirs.ID, nil, http.StatusOK, nil)
		// A mailbox of its own workspace is not one of the portal's pages.
		var box struct{ ID string }
		f.srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{"name": "Box", "mode": "pull",
			"event_types": []string{"*"}}, http.StatusCreated, &box)
		if resp, _ := pb.get("/portal/webhooks/" + box.ID); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a mailbox through the portal: %d, want 404", resp.StatusCode)
		}
		if resp, _ := pb.post("/portal/webhooks/"+mine.ID, "/portal/webhooks/"+box.ID+"/disable", url.Values{}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("pausing a mailbox through the portal: %d, want 404", resp.StatusCode)
		}
		// The portal's secret opens nothing else: not the UI's pages, not
		// as a login cookie, not the API.
		for _, path := range []string{"/ws/" + f.ws + "/", "/ws/" + other + "/webhooks", "/users", "/workspaces"} {
			if resp, _ := pb.get(path); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
				t.Errorf("GET %s with only a portal link: %d, want a redirect to log in", path, resp.StatusCode)
			}
		}
		secret := strings.TrimPrefix(link.URL, "/portal/")
		req, _ := http.NewRequest("GET", f.srv.URL+"/ws/"+f.ws+"/", nil)
		req.AddCookie(&http.Cookie{Name: web.CookieName, Value: secret})
		if resp, err := pb.c.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Errorf("a portal secret as the login cookie: %v, want a redirect to log in", resp.StatusCode)
		}
		req, _ = http.NewRequest("GET", f.srv.URL+"/api/v1/workspaces", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a portal secret as an API token: %v, want 401", resp.StatusCode)
		}
		// A login session in the portal's cookie is not a portal link.
		lb := newBrowser(t, f.srv.URL)
		u, _ := url.Parse(f.srv.URL)
		for _, c := range f.b.c.Jar.Cookies(u) {
			if c.Name == web.CookieName {
				lb.c.Jar.SetCookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/portal/"}, []*http.Cookie{{Name: web.PortalCookieName, Value: c.Value, Path: "/portal/"}})
			}
		}
		if resp, _ := lb.get("/portal/webhooks"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a login session as a portal cookie: %d, want 401", resp.StatusCode)
		}
		// A wrong link says so.
		if resp, body := newBrowser(t, f.srv.URL).get("/portal/pbs_nottherightone"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "expired") {
			t.Errorf("a wrong link: %d", resp.StatusCode)
		}

		// The API refuses bad lifetimes and workspaces the caller may not see.
		for _, body := range []string{`{"ttl_seconds":-1}`, `{"ttl_seconds":604801}`, `{"ttl_seconds":"60"}`, `{"ttl_seconds":1.5}`} {
			if status, out := f.srv.Do(t, "POST", "/api/v1/workspaces/"+f.ws+"/portal-links", body); status != http.StatusUnprocessableEntity && status != http.StatusBadRequest {
				t.Errorf("portal link %s: %d %s", body, status, out)
			}
		}
		if status, _ := f.srv.Do(t, "POST", "/api/v1/workspaces/ws_00000000000000000000000000000000/portal-links", "{}"); status != http.StatusNotFound {
			t.Errorf("a portal link for a missing workspace: %d", status)
		}
	})
}

// TestMemberSeesOnlyTheirs: a member sees their own workspaces in the
// switcher and no user management; another workspace is not found; an
// admin sees both, and the users link.
func TestMemberSeesOnlyTheirs(t *testing.T) {
	f := newUI(t)
	other := f.srv.Workspace(t)
	f.srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "bob@example.com", "name": "Bob", "role": "member",
		"password": "correct horse battery", "workspaces": []string{f.ws}}, http.StatusCreated, nil)
	b := newBrowser(t, f.srv.URL)
	b.do("POST", "/login", url.Values{"email": {"bob@example.com"}, "password": {"correct horse battery"}})
	resp, _ := b.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ws/"+f.ws+"/" {
		t.Fatalf("a member's start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body := b.get("/ws/" + f.ws + "/")
	if strings.Contains(body, `href="/users"`) || strings.Contains(body, other) || !strings.Contains(body, `value="`+f.ws+`" selected`) {
		t.Errorf("a member's dashboard shows user management or another workspace")
	}
	for path, want := range map[string]int{"/ws/" + other + "/": http.StatusNotFound, "/ws/" + other + "/webhooks": http.StatusNotFound,
		"/switch?ws=" + other: http.StatusNotFound, "/users/" + f.adminID(t): http.StatusNotFound} {
		if resp, _ := b.get(path); resp.StatusCode != want {
			t.Errorf("a member's GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, _ := b.get("/users"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/users/usr_") {
		t.Errorf("a member's /users: %d %s, want their own account", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := b.get("/switch?ws=" + f.ws + "&section=webhooks"); resp.Header.Get("Location") != "/ws/"+f.ws+"/webhooks" {
		t.Errorf("the switcher: %s", resp.Header.Get("Location"))
	}
	_, body = f.b.get("/ws/" + f.ws + "/")
	if !strings.Contains(body, `href="/users"`) || !strings.Contains(body, other) {
		t.Errorf("an admin's dashboard lacks user management or a workspace")
	}
}

// TestSecretsShownOnce: a form that makes a secret redirects, and the page
// it leads to shows the secret once: not on a reload, not to another
// session holding the same cookie.
func TestSecretsShownOnce(t *testing.T) {
	f := newUI(t)
	p := "/ws/" + f.ws
	resp, _ := f.b.post(p+"/webhooks/new", p+"/webhooks", url.Values{"name": {"CRM"}, "url": {"https://example.com/hook"},
		"event_types": {"*"}, "active": {"1"}})
	to := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to, p+"/webhooks/sub_") {
		t.Fatalf("creating a webhook: %d %s, want a redirect to its page", resp.StatusCode, to)
	}
	var sealed *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "postbode_once" {
			sealed = c
		}
	}
	if sealed == nil || !sealed.HttpOnly || strings.Contains(sealed.Value, "whsec_") {
		t.Fatalf("the secret's cookie: %+v", sealed)
	}
	// Another session presenting the same cookie learns nothing.
	other := newUI(t)
	req, _ := http.NewRequest("GET", other.srv.URL+"/ws/"+other.ws+"/webhooks", nil)
	req.AddCookie(sealed)
	if resp, err := other.b.c.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "whsec_") {
			t.Error("another session's page shows the secret")
		}
	}
	_, body := f.b.get(to)
	if !strings.Contains(body, `id="new-secret">whsec_`) {
		t.Fatalf("the webhook's page after creating does not show the secret")
	}
	if _, body := f.b.get(to); strings.Contains(body, "whsec_") {
		t.Error("a reload shows the secret again")
	}
	var list struct{ Data []any }
	f.srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/subscriptions", nil, http.StatusOK, &list)
	if len(list.Data) != 1 {
		t.Errorf("%d webhooks, want 1", len(list.Data))
	}
}
