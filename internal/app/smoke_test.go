package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
)

func TestPublishDelivers(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
		"name": "billing", "url": rc.URL + "/hook", "event_types": []string{"invoice.paid"},
	}, http.StatusCreated, nil)
	var ev struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/events", map[string]any{
		"type": "invoice.paid", "data": map[string]int{"amount": 42},
	}, http.StatusAccepted, &ev)
	got := rc.Wait(t, 1, 5*time.Second)
	if id := got[0].Header.Get("webhook-id"); id != ev.ID {
		t.Fatalf("webhook-id %q, want %q", id, ev.ID)
	}
}
