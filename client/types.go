// The API's resources as the client reads them: exported structs whose
// JSON tags are the API's field names.
package client

import (
	"encoding/json"
	"time"
)

// Workspace is the isolation unit every resource belongs to.
type Workspace struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType is an entry of a workspace's catalogue.
type EventType struct {
	WorkspaceID string          `json:"workspace_id"`
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Published is the answer for one published event. Duplicate says that an
// earlier event with the same idempotency key was returned instead.
type Published struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Duplicate bool      `json:"duplicate"`
}

// Event is something that happened. In a list, Data over 4 KiB is left out
// (null) and DataTruncated is true; GetEvent shows it whole, with
// Deliveries.
type Event struct {
	ID            string          `json:"id"`
	WorkspaceID   string          `json:"workspace_id"`
	Type          string          `json:"type"`
	Label         string          `json:"label"`
	Data          json.RawMessage `json:"data"`
	UserID        *string         `json:"user_id"`
	Subject       *string         `json:"subject"`
	CreatedAt     time.Time       `json:"created_at"`
	DataTruncated bool            `json:"data_truncated,omitempty"`
	Deliveries    []Delivery      `json:"deliveries,omitempty"`
}

// Delivery is one event for one subscription.
type Delivery struct {
	ID             string     `json:"id"`
	WorkspaceID    string     `json:"workspace_id"`
	EventID        string     `json:"event_id"`
	SubscriptionID string     `json:"subscription_id"`
	Status         string     `json:"status"` // pending, sending, held, succeeded, failed
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Subscription says where events of chosen types go: pushed to a URL
// (Mode "push") or kept in a mailbox (Mode "pull").
type Subscription struct {
	ID                      string            `json:"id"`
	WorkspaceID             string            `json:"workspace_id"`
	Name                    string            `json:"name"`
	Mode                    string            `json:"mode"`
	URL                     string            `json:"url,omitempty"`
	EventTypes              []string          `json:"event_types"`
	Status                  string            `json:"status"` // active, paused, disabled
	Payload                 string            `json:"payload"`
	Format                  string            `json:"format"`
	Headers                 map[string]string `json:"headers"`
	SignatureScheme         string            `json:"signature_scheme"`
	SignatureHeader         string            `json:"signature_header"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at,omitempty"`
	TimeoutSeconds          int               `json:"timeout_seconds"`
	FailureThreshold        int               `json:"failure_threshold"`
	RetrySchedule           []string          `json:"retry_schedule"` // Go durations; nil: the server's default
	APIVersion              *string           `json:"api_version"`
	Auth                    string            `json:"auth,omitempty"`
	CoalesceBySubject       bool              `json:"coalesce_by_subject"`
	ConsecutiveFailures     int               `json:"consecutive_failures"`
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
}

// SubscriptionWithSecret is a subscription as created or after
// rotate-secret: the only answers that show its signing Secret (push), or
// its mailbox's app Token and, with basic auth, Username (pull).
type SubscriptionWithSecret struct {
	Subscription
	Secret   string `json:"secret,omitempty"`
	Token    string `json:"token,omitempty"`
	Username string `json:"username,omitempty"`
}

// Attempt is one HTTP request to a subscription's URL and its response or
// error. In a list, bodies are cut at 4 KiB (BodyTruncated).
type Attempt struct {
	ID         string           `json:"id"`
	DeliveryID string           `json:"delivery_id"`
	EventID    string           `json:"event_id"`
	EventType  string           `json:"event_type"`
	CreatedAt  time.Time        `json:"created_at"`
	DurationMS int64            `json:"duration_ms"`
	Request    AttemptRequest   `json:"request"`
	Response   *AttemptResponse `json:"response"` // nil when none came (a connection error, a timeout)
	Error      string           `json:"error"`
	Succeeded  bool             `json:"succeeded"`
	Test       bool             `json:"test"`
}

// AttemptRequest is what was sent, secrets masked.
type AttemptRequest struct {
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
}

// AttemptResponse is what came back.
type AttemptResponse struct {
	Status        int               `json:"status"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
}

// Inbound is an inbound webhook: a URL (POST /in/{id}) that other systems
// post events to.
type Inbound struct {
	ID           string         `json:"id"`
	WorkspaceID  string         `json:"workspace_id"`
	Name         string         `json:"name"`
	Auth         string         `json:"auth"`               // bearer or basic
	Username     string         `json:"username,omitempty"` // basic only
	EventType    string         `json:"event_type"`
	DedupeHeader string         `json:"dedupe_header,omitempty"`
	Status       string         `json:"status"` // active or disabled
	URL          string         `json:"url"`    // absolute with the server's --public-url, else /in/{id}
	Verify       *InboundVerify `json:"verify"` // its secret reads "***"
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

// InboundWithToken is an inbound webhook with its app token, shown when it
// is made and when the token is replaced, and never again.
type InboundWithToken struct {
	Inbound
	Token string `json:"token"`
}

// InboundVerify is how an inbound webhook checks the sender's own
// signature: Scheme standard, hmac, github, stripe, shopify or slack.
type InboundVerify struct {
	Scheme    string `json:"scheme"`
	Secret    string `json:"secret"`
	Header    string `json:"header,omitempty"`    // hmac
	Algorithm string `json:"algorithm,omitempty"` // hmac: sha1, sha256, sha512
	Encoding  string `json:"encoding,omitempty"`  // hmac: hex, base64
	Prefix    string `json:"prefix,omitempty"`    // hmac, e.g. "sha256="
}

// InboundRequest is one request an inbound webhook received, as its log
// keeps it, credentials masked.
type InboundRequest struct {
	ID         string             `json:"id"`
	ReceivedAt time.Time          `json:"received_at"`
	Status     int                `json:"status"`
	Error      string             `json:"error"`
	EventID    *string            `json:"event_id"`
	RemoteAddr string             `json:"remote_addr"`
	Request    InboundRequestData `json:"request"`
}

// InboundRequestData is what an inbound webhook received.
type InboundRequestData struct {
	Method        string            `json:"method"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
}

// InboundAccepted is the answer of POST /in/{id}: the event made.
type InboundAccepted struct {
	ID string `json:"id"`
}

// User is an account, a person or a service, with its workspaces (the
// ones it belongs to as a member) and how many tokens it owns.
type User struct {
	ID           string     `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`   // admin or member
	Status       string     `json:"status"` // active or inactive
	LastActiveAt *time.Time `json:"last_active_at"`
	CreatedAt    time.Time  `json:"created_at"`
	Workspaces   []string   `json:"workspaces"`
	TokenCount   int        `json:"token_count"`
}

// NewUser is a user just made; Password is set when the server generated
// one, and shown this once.
type NewUser struct {
	User
	Password string `json:"password,omitempty"`
}

// Token is a bearer credential, listed without its secret.
type Token struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Kind       string     `json:"kind"` // integration or app
	Name       string     `json:"name"`
	ResourceID string     `json:"resource_id,omitempty"` // app tokens: the inbound webhook or pull subscription
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// NewToken is a token just made, with its secret (Token), shown this once.
type NewToken struct {
	Token
	Secret string `json:"token"`
}

// PortalLink is a link to a workspace's customer portal.
type PortalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Mailbox message statuses.
const (
	MessageNew                = "new"
	MessageClaimed            = "claimed"
	MessageSuccess            = "success"
	MessageFailed             = "failed"
	MessageMaxRetriesExceeded = "max_retries_exceeded"
	MessageReplaced           = "replaced"
)

// MailboxMessage is one event in the mailbox of a pull subscription.
type MailboxMessage struct {
	ID             string     `json:"id"`
	WorkspaceID    string     `json:"workspace_id"`
	SubscriptionID string     `json:"subscription_id"`
	EventID        string     `json:"event_id"`
	Type           string     `json:"type"`
	Subject        *string    `json:"subject"`
	Status         string     `json:"status"`
	Claims         int        `json:"claims"`
	ClaimedUntil   *time.Time `json:"claimed_until"`
	LeaseID        string     `json:"lease_id"`
	AvailableAt    time.Time  `json:"available_at"`
	Reason         string     `json:"reason"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// ClaimedMessage is a message a claim took, with its event. Acknowledge it
// with its ID and LeaseID.
type ClaimedMessage struct {
	ID           string    `json:"id"`
	Event        Event     `json:"event"`
	ClaimedUntil time.Time `json:"claimed_until"`
	Claims       int       `json:"claims"`
	LeaseID      string    `json:"lease_id"`
}

// MailboxStats counts a mailbox's messages by status (MessageNew, …).
type MailboxStats map[string]int
