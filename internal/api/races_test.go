package api_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// TestRacesOnOneSubscription: two requests racing on one subscription, one
// of them a DELETE. The loser gets 404 (or 409), never a 5xx, on both
// engines.
func TestRacesOnOneSubscription(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "invoice.paid")
		others := map[string]struct{ method, suffix, body string }{
			"delete":  {"DELETE", "", ""},
			"patch":   {"PATCH", "", `{"name":"renamed"}`},
			"enable":  {"POST", "/enable", ""},
			"disable": {"POST", "/disable", ""},
			"rotate":  {"POST", "/rotate-secret", ""},
			"recover": {"POST", "/recover", `{"since":"2020-01-01T00:00:00Z"}`},
			"test":    {"POST", "/test", ""},
			"get":     {"GET", "", ""},
		}
		for name, o := range others {
			for range 10 {
				var sub struct{ ID string }
				srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
					"name": "x", "url": "http://127.0.0.1:9/x", "event_types": []string{"*"},
				}, http.StatusCreated, &sub)
				path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID
				var wg sync.WaitGroup
				var mu sync.Mutex
				var statuses []int
				do := func(method, p, body string) {
					var b any
					if body != "" {
						b = body
					}
					status, resp := srv.Do(t, method, p, b)
					mu.Lock()
					statuses = append(statuses, status)
					mu.Unlock()
					if status >= 500 {
						t.Errorf("%s racing a DELETE: %d %s", name, status, resp)
					}
				}
				wg.Go(func() { do("DELETE", path, "") })
				wg.Go(func() { do(o.method, path+o.suffix, o.body) })
				wg.Wait()
				for _, s := range statuses {
					if s >= 300 && s != http.StatusNotFound && s != http.StatusConflict {
						t.Errorf("%s racing a DELETE: statuses %v", name, statuses)
					}
				}
			}
		}
	})
}
