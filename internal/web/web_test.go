package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/web"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func post(t *testing.T, target string, form url.Values, header map[string]string, cookie *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func get(t *testing.T, target string, cookie *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == web.CookieName {
			return c
		}
	}
	return nil
}

// TestLoginSession: a login sets an HttpOnly, SameSite=Lax session cookie
// (Secure behind TLS) that expires, survives a restart, and ends at logout;
// wrong credentials and forms from other sites are refused. Both engines.
func TestLoginSession(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		cfg := apptest.Config(t)
		engine(&cfg)
		srv := apptest.StartConfig(t, cfg)
		srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada Lovelace",
			"password": "correct horse battery"}, http.StatusCreated, nil)

		if resp, _ := get(t, srv.URL+"/", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("/ without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		good := url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}
		bad := url.Values{"email": {"ada@example.com"}, "password": {"wrong horse battery"}}
		if resp, body := post(t, srv.URL+"/login", bad, nil, nil); resp.StatusCode != http.StatusUnauthorized ||
			sessionCookie(resp) != nil || !strings.Contains(body, "wrong") {
			t.Errorf("a wrong password: %d, cookie %v", resp.StatusCode, sessionCookie(resp))
		}
		for _, h := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
			if resp, _ := post(t, srv.URL+"/login", good, h, nil); resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != nil {
				t.Errorf("a login posted from another site (%v): %d", h, resp.StatusCode)
			}
		}
		resp, _ := post(t, srv.URL+"/login", good, nil, nil)
		c := sessionCookie(resp)
		if resp.StatusCode != http.StatusSeeOther || c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.MaxAge <= 0 {
			t.Fatalf("login: %d, cookie %+v", resp.StatusCode, c)
		}
		if resp, _ := post(t, srv.URL+"/login", good, map[string]string{"X-Forwarded-Proto": "https"}, nil); sessionCookie(resp) == nil || !sessionCookie(resp).Secure {
			t.Errorf("behind TLS the cookie is not Secure")
		}
		if resp, body := get(t, srv.URL+"/workspaces", c); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ada Lovelace") ||
			resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("/ with the session: %d", resp.StatusCode)
		}

		// Sessions are stored: a restarted node knows them.
		srv.Stop()
		srv = apptest.StartConfig(t, cfg)
		if resp, _ := get(t, srv.URL+"/workspaces", c); resp.StatusCode != http.StatusOK {
			t.Errorf("the session after a restart: %d", resp.StatusCode)
		}
		if resp, _ := post(t, srv.URL+"/logout", nil, nil, c); resp.StatusCode != http.StatusForbidden {
			t.Errorf("logout without the form's token: %d, want 403", resp.StatusCode)
		}
		_, page := get(t, srv.URL+"/workspaces", c)
		token := csrfField.FindStringSubmatch(page)[1]
		if resp, _ := post(t, srv.URL+"/logout", url.Values{"csrf": {token}}, nil, c); resp.StatusCode != http.StatusSeeOther ||
			sessionCookie(resp) == nil || sessionCookie(resp).MaxAge >= 0 {
			t.Errorf("logout: %d", resp.StatusCode)
		}
		if resp, _ := get(t, srv.URL+"/", c); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the session after logout: %d", resp.StatusCode)
		}
	})
}

// TestLoginGuessingIsLimited: failed logins from one address are slowed
// down and then refused with 429 for the rest of the minute, the password
// no longer even checked, the right one included.
func TestLoginGuessingIsLimited(t *testing.T) {
	srv := apptest.Start(t)
	srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada",
		"password": "correct horse battery"}, http.StatusCreated, nil)
	bad := url.Values{"email": {"ada@example.com"}, "password": {"wrong horse battery"}}
	var last *http.Response
	for range 21 {
		last, _ = post(t, srv.URL+"/login", bad, nil, nil)
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("the 21st failed login in a minute: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	good := url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}
	if resp, _ := post(t, srv.URL+"/login", good, nil, nil); resp.StatusCode != http.StatusTooManyRequests || sessionCookie(resp) != nil {
		t.Errorf("the right password from an address over the bound: %d, want 429 without checking it", resp.StatusCode)
	}
}

// TestLoginGuessingIsBounded: past the bound, guesses from the address,
// in parallel too, are answered 429 without their password being checked,
// so that no guess counts until the minute is over.
func TestLoginGuessingIsBounded(t *testing.T) {
	srv := apptest.Start(t)
	srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada",
		"password": "correct horse battery"}, http.StatusCreated, nil)
	for i := range 21 {
		post(t, srv.URL+"/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong horse " + strconv.Itoa(i)}}, nil, nil)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 50 {
		password := "guess " + strconv.Itoa(i)
		if i == 25 {
			password = "correct horse battery" // not even the right one is checked
		}
		wg.Go(func() {
			resp, _ := post(t, srv.URL+"/login", url.Values{"email": {"ada@example.com"}, "password": {password}}, nil, nil)
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusTooManyRequests] != 50 {
		t.Errorf("50 guesses from an address over the bound were answered %v, want all 429 without a check", statuses)
	}
}
