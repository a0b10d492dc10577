// The envelope: the body Postbode sends with format "envelope".
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Event is the envelope Postbode sends (format "envelope"). Data is the
// event's data as published, byte for byte; it is absent (nil) with
// payload "notification". ID is the event's id, the same on every retry
// and for every subscription: deduplicate by it.
type Event struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	Label          string          `json:"label"`
	WorkspaceID    string          `json:"workspace_id"`
	SubscriptionID string          `json:"subscription_id"`
	UserID         *string         `json:"user_id"`
	Subject        *string         `json:"subject"`
	Data           json.RawMessage `json:"data,omitempty"`
	Timestamp      time.Time       `json:"timestamp"`
	APIVersion     *string         `json:"api_version"`
}

// ErrNotEnvelope: the body is not Postbode's envelope (not a JSON object,
// or without an id or type).
var ErrNotEnvelope = errors.New("webhook: not an envelope")

// Parse reads an envelope body. It does not verify anything: call it on a
// body Verify accepted (or inside Middleware).
func Parse(body []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotEnvelope, err)
	}
	if e.ID == "" || e.Type == "" {
		return nil, fmt.Errorf("%w: no id or type", ErrNotEnvelope)
	}
	return &e, nil
}

// DecodeData decodes the event's data into v. An event sent without data
// (payload notification) is an error.
func (e *Event) DecodeData(v any) error {
	if len(e.Data) == 0 {
		return errors.New("webhook: the event has no data (payload notification)")
	}
	return json.Unmarshal(e.Data, v)
}

// VerifyEvent verifies body, received with h, and parses its envelope.
func (v *Verifier) VerifyEvent(h http.Header, body []byte) (*Event, error) {
	if err := v.Verify(h, body); err != nil {
		return nil, err
	}
	return Parse(body)
}
