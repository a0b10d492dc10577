package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// TestMailboxesAreApart: one mailbox's token and messages reach nothing of
// another's, on both engines.
func TestMailboxesAreApart(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "invoice.paid")
		var a, b struct{ ID, Token string }
		for _, s := range []*struct{ ID, Token string }{&a, &b} {
			srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{"name": "m", "mode": "pull",
				"event_types": []string{"*"}}, http.StatusCreated, s)
		}
		srv.Publish(t, ws, "invoice.paid", 1)
		base := "/api/v1/workspaces/" + ws + "/subscriptions/"
		var claimed struct {
			Messages []struct {
				ID      string
				LeaseID string `json:"lease_id"`
			}
		}
		status, body := doAs(t, srv, a.Token, "POST", base+a.ID+"/mailbox/claim", map[string]int{"count": 10})
		if status != http.StatusOK {
			t.Fatalf("claim: %d %s", status, body)
		}
		if err := json.Unmarshal(body, &claimed); err != nil || len(claimed.Messages) != 1 {
			t.Fatalf("claimed %s", body)
		}
		msg := claimed.Messages[0]
		if status, body := doAs(t, srv, b.Token, "POST", base+a.ID+"/mailbox/claim", map[string]int{"count": 10}); status != http.StatusUnauthorized {
			t.Errorf("another mailbox's token: %d %s", status, body)
		}
		if status, body := doAs(t, srv, b.Token, "POST", base+b.ID+"/mailbox/"+msg.ID+"/success", map[string]string{"lease_id": msg.LeaseID}); status != http.StatusNotFound {
			t.Errorf("a message acknowledged through another mailbox: %d %s", status, body)
		}
		if status, body := doAs(t, srv, a.Token, "POST", base+a.ID+"/mailbox/"+msg.ID+"/success", map[string]string{"lease_id": msg.LeaseID}); status != http.StatusOK {
			t.Errorf("its own mailbox: %d %s", status, body)
		}
	})
}
