// Publishing events (one, or a batch), reading them back with their
// deliveries, and resending a delivery.
package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// PublishParams is one event to publish. Data is any value encoding/json
// can encode (a json.RawMessage is sent byte for byte) except nil: an event
// with nothing to say sends struct{}{} or map[string]any{}.
type PublishParams struct {
	Type    string `json:"type"`
	Data    any    `json:"data"`
	UserID  string `json:"user_id,omitempty"`
	Subject string `json:"subject,omitempty"` // e.g. "user/1"
	// IdempotencyKey is sent as the Idempotency-Key header: a repeat within
	// 24 hours answers with the first event (Published.Duplicate) and
	// stores nothing. When it is empty and retries are on, the client
	// makes one, so that a retried request never stores the event twice.
	IdempotencyKey string `json:"-"`
}

// Publish stores an event durably and routes it to the workspace's
// subscriptions (202 once stored). An unknown type is ErrUnknownEventType;
// data that does not match its type's schema, ErrSchemaMismatch.
func (c *Client) Publish(ctx context.Context, workspaceID string, p PublishParams) (*Published, error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	key := p.IdempotencyKey
	if key == "" && c.retries > 0 {
		key = c.newKey()
	}
	r := &request{method: "POST", path: apiPath("workspaces", workspaceID, "events"), body: p, idempotent: key != ""}
	if key != "" {
		r.header = http.Header{"Idempotency-Key": {key}}
	}
	var out Published
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// BatchEvent is one event of a batch, with its own idempotency key.
type BatchEvent struct {
	Type           string `json:"type"`
	Data           any    `json:"data"`
	UserID         string `json:"user_id,omitempty"`
	Subject        string `json:"subject,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// PublishBatch stores 1 to 1,000 events in one transaction, all of them or
// (when one is refused, the error naming it: events[3].data) none, and
// answers one Published per event, in order. When retries are on, events
// without an IdempotencyKey get a generated one (events is not changed),
// so that a retried batch stores nothing twice.
func (c *Client) PublishBatch(ctx context.Context, workspaceID string, events []BatchEvent) ([]Published, error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	keyed := true
	if c.retries > 0 {
		events = append([]BatchEvent(nil), events...)
		for i := range events {
			if events[i].IdempotencyKey == "" {
				events[i].IdempotencyKey = c.newKey()
			}
		}
	} else {
		for _, e := range events {
			keyed = keyed && e.IdempotencyKey != ""
		}
	}
	body := struct {
		Events []BatchEvent `json:"events"`
	}{events}
	var out struct {
		Events []Published `json:"events"`
	}
	r := &request{method: "POST", path: apiPath("workspaces", workspaceID, "events", "batch"), body: body, idempotent: keyed}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// EventFilter narrows a list of events; zero fields do not filter. Since is
// inclusive, Until exclusive.
type EventFilter struct {
	Type    string
	Subject string
	Since   time.Time
	Until   time.Time
}

func (f EventFilter) values() url.Values {
	q := url.Values{}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.Subject != "" {
		q.Set("subject", f.Subject)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// ListEvents lists a workspace's events, newest first. Data over 4 KiB is
// left out (Event.DataTruncated); GetEvent shows it.
func (c *Client) ListEvents(ctx context.Context, workspaceID string, f EventFilter, opt ListOptions) (*Page[Event], error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	return list[Event](ctx, c, apiPath("workspaces", workspaceID, "events"), f.values(), "limit", opt)
}

// AllEvents iterates over a workspace's events, newest first, page after
// page (opt.Limit events a page).
func (c *Client) AllEvents(ctx context.Context, workspaceID string, f EventFilter, opt ListOptions) iter.Seq2[Event, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[Event], error) {
		return c.ListEvents(ctx, workspaceID, f, o)
	})
}

// GetEvent returns an event whole, with its deliveries.
func (c *Client) GetEvent(ctx context.Context, workspaceID, eventID string) (*Event, error) {
	if err := required("workspace id", workspaceID, "event id", eventID); err != nil {
		return nil, err
	}
	var out Event
	err := c.do(ctx, &request{method: "GET", path: apiPath("workspaces", workspaceID, "events", eventID), idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ResendDelivery makes one more delivery of a delivery's event to its
// subscription, and returns the new delivery.
func (c *Client) ResendDelivery(ctx context.Context, workspaceID, deliveryID string) (*Delivery, error) {
	if err := required("workspace id", workspaceID, "delivery id", deliveryID); err != nil {
		return nil, err
	}
	var out Delivery
	err := c.do(ctx, &request{method: "POST", path: apiPath("workspaces", workspaceID, "deliveries", deliveryID, "resend")}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
