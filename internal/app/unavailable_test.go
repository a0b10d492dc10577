package app_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
)

// TestStoreUnavailable: while PostgreSQL cannot be reached, requests get
// 503 store_unavailable with Retry-After (never a 500), /readyz says so
// without connection details, and all is well again once it is back.
func TestStoreUnavailable(t *testing.T) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.StartProxy(t, u.Host)
	u.Host = proxy.Addr()
	srv := apptest.Start(t, func(c *config.Config) { c.Database = u.String() })
	ws := srv.Workspace(t, "invoice.paid")

	proxy.Stop()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/workspaces", ""},
		{"GET", "/api/v1/workspaces/" + ws + "/subscriptions", ""},
		{"POST", "/api/v1/workspaces/" + ws + "/events", `{"type":"invoice.paid","data":{}}`},
		{"POST", "/api/v1/workspaces", `{"name":"x"}`},
	} {
		var body any
		if r.body != "" {
			body = r.body
		}
		status, b := srv.Do(t, r.method, r.path, body)
		if status != http.StatusServiceUnavailable || !strings.Contains(string(b), `"store_unavailable"`) {
			t.Errorf("%s %s with the database away: %d %s, want 503 store_unavailable", r.method, r.path, status, b)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	resp, err = http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(b), "127.0.0.1") ||
		strings.Contains(string(b), "postgres") || strings.Contains(string(b), "dial") {
		t.Errorf("/readyz with the database away: %d %q, want 503 without connection details", resp.StatusCode, b)
	}

	proxy.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, b := srv.Do(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions", nil)
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the database came back: %d %s", status, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
