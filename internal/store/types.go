// Record types shared by every engine. JSON tags give the API's field names,
// so the types that the API shows as they are need no second copy.
package store

import (
	"encoding/json"
	"time"
)

// Workspace is the isolation unit.
type Workspace struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is an account, a person or a service.
type User struct {
	ID           string     `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role"` // admin or member
	PasswordHash string     `json:"-"`
	Status       string     `json:"status"`
	LastActiveAt *time.Time `json:"last_active_at"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Token kinds.
const (
	TokenIntegration = "integration"
	TokenApp         = "app"
)

// Token is a bearer credential; only its SHA-256 hash is stored.
type Token struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	ResourceID string     `json:"resource_id,omitempty"` // app tokens: the inbound webhook or pull subscription
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Session is a login to the web UI, or a customer-portal link; only its
// SHA-256 hash is stored.
type Session struct {
	Hash   string `json:"-"`
	UserID string `json:"user_id"`
	// WorkspaceID, when set, makes the session a customer-portal link
	// scoped to that one workspace; it is empty for a login session.
	WorkspaceID string    `json:"workspace_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Inbound is an inbound webhook: a URL that external systems post events to.
type Inbound struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	Name        string `json:"name"`
	Auth        string `json:"auth"`               // AuthBearer or AuthBasic
	Username    string `json:"username,omitempty"` // basic auth only
	EventType   string `json:"event_type"`
	// Verify is how the sender's own signature is checked, nil for not at
	// all. It holds a secret, so the service renders it.
	Verify       json.RawMessage `json:"-"`
	DedupeHeader string          `json:"dedupe_header,omitempty"`
	Status       string          `json:"status"` // InboundActive or InboundDisabled
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// InboundRequest is one request an inbound webhook received, accepted or
// refused, as its log shows it.
type InboundRequest struct {
	ID          string             `json:"id"`
	InboundID   string             `json:"-"`
	WorkspaceID string             `json:"-"`
	ReceivedAt  time.Time          `json:"received_at"`
	Status      int                `json:"status"` // the HTTP status answered
	Error       string             `json:"error"`
	EventID     *string            `json:"event_id"` // the event made, if any
	RemoteAddr  string             `json:"remote_addr"`
	Request     InboundRequestData `json:"request"`
}

// InboundRequestData is what was received; the receiver leaves credentials
// out and cuts the body before it is stored.
type InboundRequestData struct {
	Method        string            `json:"method"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
}

// EventType is a catalogue entry.
type EventType struct {
	WorkspaceID string          `json:"workspace_id"`
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Event is something that happened.
type Event struct {
	ID          string          `json:"id"`
	WorkspaceID string          `json:"workspace_id"`
	Type        string          `json:"type"`
	Label       string          `json:"label"`
	Data        json.RawMessage `json:"data"`
	UserID      *string         `json:"user_id"`
	Subject     *string         `json:"subject"`
	CreatedAt   time.Time       `json:"created_at"`
	// DataTruncated says that a list of events left out Data, larger than
	// ListBodyLimit bytes; the event's own route shows it.
	DataTruncated bool `json:"data_truncated,omitempty"`
	// TraceParent is the W3C traceparent of the span that ingested the
	// event, which its delivery attempts continue; empty when tracing is
	// off (stored as NULL). Lists of events leave it out.
	TraceParent string `json:"-"`
}

// EventFilter narrows a list of events; zero fields do not filter.
type EventFilter struct {
	Type    string
	Subject string
	Since   time.Time // created at or after
	Until   time.Time // created before
}

// Subscription says where events of chosen types go.
type Subscription struct {
	ID                      string            `json:"id"`
	WorkspaceID             string            `json:"workspace_id"`
	Name                    string            `json:"name"`
	Mode                    string            `json:"mode"`
	URL                     string            `json:"url,omitempty"`
	EventTypes              []string          `json:"event_types"`
	Status                  string            `json:"status"`
	Payload                 string            `json:"payload"`
	Format                  string            `json:"format"`
	Headers                 map[string]string `json:"headers"`
	SignatureScheme         string            `json:"signature_scheme"`
	SignatureHeader         string            `json:"signature_header"`
	Secret                  string            `json:"-"`
	PreviousSecret          string            `json:"-"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at,omitempty"`
	TimeoutSeconds          int               `json:"timeout_seconds"`
	FailureThreshold        int               `json:"failure_threshold"`
	RetrySchedule           []Duration        `json:"retry_schedule"` // nil: the server's default
	APIVersion              *string           `json:"api_version"`
	Auth                    string            `json:"auth,omitempty"`
	CoalesceBySubject       bool              `json:"coalesce_by_subject"`
	ConsecutiveFailures     int               `json:"consecutive_failures"`
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
}

// Matches reports whether the subscription wants events of type t.
func (s *Subscription) Matches(t string) bool {
	for _, et := range s.EventTypes {
		if et == "*" || et == t {
			return true
		}
	}
	return false
}

// Delivery is one event for one subscription.
type Delivery struct {
	ID             string     `json:"id"`
	WorkspaceID    string     `json:"workspace_id"`
	EventID        string     `json:"event_id"`
	SubscriptionID string     `json:"subscription_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// LeaseOwner and LeaseUntil are set on a delivery inserted as sending:
	// handed straight to the inserting node's dispatcher.
	LeaseOwner string     `json:"-"`
	LeaseUntil *time.Time `json:"-"`
}

// Attempt is one HTTP request and its response or error.
type Attempt struct {
	ID             string           `json:"id"`
	DeliveryID     string           `json:"delivery_id"`
	EventID        string           `json:"event_id"`
	EventType      string           `json:"event_type"`
	SubscriptionID string           `json:"-"`
	WorkspaceID    string           `json:"-"`
	CreatedAt      time.Time        `json:"created_at"`
	DurationMS     int64            `json:"duration_ms"`
	Request        AttemptRequest   `json:"request"`
	Response       *AttemptResponse `json:"response"`
	Error          string           `json:"error"`
	Succeeded      bool             `json:"succeeded"`
	Test           bool             `json:"test"`
}

// AttemptMinute is how many attempts one minute saw, and how many succeeded.
type AttemptMinute struct {
	Minute    time.Time `json:"minute"` // UTC, truncated to the minute
	Attempts  int       `json:"attempts"`
	Succeeded int       `json:"succeeded"`
}

// AttemptRequest is what was sent.
type AttemptRequest struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// BodyTruncated says that a list of attempts cut Body (ListBodyLimit).
	BodyTruncated bool `json:"body_truncated"`
}

// AttemptResponse is what came back; Body is cut at 64 KiB.
type AttemptResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// BodyTruncated says that a list of attempts cut Body (ListBodyLimit).
	BodyTruncated bool `json:"body_truncated"`
}

// ListBodyLimit is how many bytes of each request and response body a list
// of attempts carries (SPEC §3), so that a page of a thousand attempts stays
// small however large the bodies: the database cuts them, and does not send
// the rest. A cut that splits a UTF-8 character drops its first bytes too
// (TrimPartialRune): a cut body is as valid UTF-8 as the stored one, and at
// most three bytes shorter than the limit.
const ListBodyLimit = 4096

// Duration is a time.Duration that reads and writes as a Go duration string.
type Duration time.Duration

// MarshalJSON writes "5m0s"-style strings.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
