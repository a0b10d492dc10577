// The management API as a test client reads it: views decoded from the wire,
// independent of the server's own types, so that tests check the JSON
// itself, and the calls that end-to-end tests of several packages share.

package apptest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/client"
)

// Subscription is a subscription as the API shows it.
type Subscription struct {
	ID                      string            `json:"id"`
	WorkspaceID             string            `json:"workspace_id"`
	Name                    string            `json:"name"`
	Mode                    string            `json:"mode"`
	URL                     string            `json:"url"`
	EventTypes              []string          `json:"event_types"`
	Status                  string            `json:"status"`
	Payload                 string            `json:"payload"`
	Format                  string            `json:"format"`
	Headers                 map[string]string `json:"headers"`
	SignatureScheme         string            `json:"signature_scheme"`
	SignatureHeader         string            `json:"signature_header"`
	Secret                  string            `json:"secret"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at"`
	TimeoutSeconds          int               `json:"timeout_seconds"`
	FailureThreshold        int               `json:"failure_threshold"`
	RetrySchedule           []string          `json:"retry_schedule"`
	APIVersion              *string           `json:"api_version"`
	ConsecutiveFailures     int               `json:"consecutive_failures"`
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
}

// Delivery is one delivery of an event.
type Delivery struct {
	ID             string `json:"id"`
	EventID        string `json:"event_id"`
	SubscriptionID string `json:"subscription_id"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastError      string `json:"last_error"`
}

// Event is an event with its deliveries.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	UserID     *string         `json:"user_id"`
	Subject    *string         `json:"subject"`
	CreatedAt  time.Time       `json:"created_at"`
	Deliveries []Delivery      `json:"deliveries"`
}

// Attempt is one entry of a subscription's log of requests.
type Attempt struct {
	ID         string    `json:"id"`
	DeliveryID string    `json:"delivery_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	CreatedAt  time.Time `json:"created_at"`
	DurationMS *int64    `json:"duration_ms"`
	Request    struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	Response *struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"response"`
	Error     *string `json:"error"` // a pointer, so that a test can tell "" from a missing field
	Succeeded bool    `json:"succeeded"`
}

// Err is the attempt's error, "" when there is none or the field is missing.
func (a Attempt) Err() string {
	if a.Error == nil {
		return ""
	}
	return *a.Error
}

// Publish publishes an event of type typ to workspace ws through the SDK
// and returns its id.
func (s *Server) Publish(t testing.TB, ws, typ string, data any) string {
	t.Helper()
	ev, err := s.Client().Publish(t.Context(), ws, client.PublishParams{Type: typ, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.ID, "evt_") {
		t.Fatalf("published event id %q", ev.ID)
	}
	return ev.ID
}

// Event reads an event with its deliveries.
func (s *Server) Event(t testing.TB, ws, id string) Event {
	t.Helper()
	var ev Event
	s.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/events/"+id, nil, http.StatusOK, &ev)
	return ev
}

// Subscription reads a subscription.
func (s *Server) Subscription(t testing.TB, ws, id string) Subscription {
	t.Helper()
	var sub Subscription
	s.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions/"+id, nil, http.StatusOK, &sub)
	return sub
}
