package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	srv := apptest.Start(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := get(t, srv.URL+path); status != http.StatusOK {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	// With the store closed the node is alive but not ready.
	srv.App.Store.Close()
	if status, _ := get(t, srv.URL+"/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a closed store: %d, want 503", status)
	}
	if status, _ := get(t, srv.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz with a closed store: %d, want 200", status)
	}
}

func TestMetricsCountDeliveries(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "order.created")
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
		"name": "orders", "url": rc.URL, "event_types": []string{"*"},
	}, http.StatusCreated, nil)
	for i := 0; i < 3; i++ {
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/events", map[string]any{"type": "order.created", "data": i},
			http.StatusAccepted, nil)
	}
	rc.Wait(t, 3, 5*time.Second)
	want := []string{
		`postbode_deliveries_total{outcome="succeeded"} 3`,
		`postbode_events_accepted_total 3`,
		`postbode_attempt_duration_seconds_count 3`,
		`postbode_queue_depth 0`,
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := get(t, srv.URL+"/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
