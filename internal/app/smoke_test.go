package app_test

import (
	"testing"
	"time"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/app/apptest"
)

// TestPublishDelivers: a subscription made and an event published through
// the public SDK arrive at the receiver, with the event's id as webhook-id.
func TestPublishDelivers(t *testing.T) {
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "invoice.paid")
	c := srv.Client()
	if _, err := c.CreateSubscription(t.Context(), ws, client.SubscriptionParams{
		Name: "billing", URL: rc.URL + "/hook", EventTypes: []string{"invoice.paid"},
	}); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Publish(t.Context(), ws, client.PublishParams{Type: "invoice.paid", Data: map[string]int{"amount": 42}})
	if err != nil {
		t.Fatal(err)
	}
	got := rc.Wait(t, 1, 5*time.Second)
	if id := got[0].Header.Get("webhook-id"); id != ev.ID {
		t.Fatalf("webhook-id %q, want %q", id, ev.ID)
	}
}
