// Subscriptions (push and pull): create, read, change, delete, and the
// actions on one: test, the attempt log, enable, disable, rotate-secret,
// recover.
package client

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// SubscriptionParams is a new subscription. Name and EventTypes (names, or
// ["*"]) are required, and URL for a push subscription; zero fields take
// the server's defaults. A pull subscription (Mode "pull", a mailbox)
// takes Name, EventTypes, Auth and CoalesceBySubject only.
type SubscriptionParams struct {
	Name              string            `json:"name"`
	Mode              string            `json:"mode,omitempty"` // push (default) or pull
	URL               string            `json:"url,omitempty"`
	EventTypes        []string          `json:"event_types"`
	Payload           string            `json:"payload,omitempty"`          // full (default) or notification
	Format            string            `json:"format,omitempty"`           // envelope (default), raw or entity
	Headers           map[string]string `json:"headers,omitempty"`          // extra request headers
	SignatureScheme   string            `json:"signature_scheme,omitempty"` // standard (default) or hmac-sha256
	SignatureHeader   string            `json:"signature_header,omitempty"` // hmac-sha256: default X-Postbode-Signature
	Secret            string            `json:"secret,omitempty"`           // whsec_…; generated when empty
	TimeoutSeconds    int               `json:"timeout_seconds,omitempty"`  // 1..30, default 10
	FailureThreshold  int               `json:"failure_threshold,omitempty"`
	RetrySchedule     []string          `json:"retry_schedule,omitempty"` // Go durations: ["30s","5m"]
	APIVersion        string            `json:"api_version,omitempty"`
	Auth              string            `json:"auth,omitempty"` // pull: bearer (default) or basic
	CoalesceBySubject bool              `json:"coalesce_by_subject,omitempty"`
}

// SubscriptionUpdate changes a subscription: nil fields stay as they are.
// Headers replaces all the headers when not nil (an empty map removes
// them; values read back as "***" keep the stored secret). Mode and Auth
// cannot change.
type SubscriptionUpdate struct {
	Name              *string
	URL               *string
	EventTypes        []string
	Payload           *string
	Format            *string
	Headers           map[string]string
	SignatureScheme   *string
	SignatureHeader   *string
	TimeoutSeconds    *int
	FailureThreshold  *int
	RetrySchedule     []string
	APIVersion        *string
	CoalesceBySubject *bool
	// DefaultRetrySchedule sends retry_schedule null: back to the server's
	// default (RetrySchedule is then ignored).
	DefaultRetrySchedule bool
	// ClearAPIVersion sends api_version null (APIVersion is then ignored).
	ClearAPIVersion bool
}

// MarshalJSON writes the fields that are set, and null where a field is
// cleared.
func (u SubscriptionUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("name", u.Name, u.Name != nil)
	set("url", u.URL, u.URL != nil)
	set("event_types", u.EventTypes, u.EventTypes != nil)
	set("payload", u.Payload, u.Payload != nil)
	set("format", u.Format, u.Format != nil)
	set("headers", u.Headers, u.Headers != nil)
	set("signature_scheme", u.SignatureScheme, u.SignatureScheme != nil)
	set("signature_header", u.SignatureHeader, u.SignatureHeader != nil)
	set("timeout_seconds", u.TimeoutSeconds, u.TimeoutSeconds != nil)
	set("failure_threshold", u.FailureThreshold, u.FailureThreshold != nil)
	set("coalesce_by_subject", u.CoalesceBySubject, u.CoalesceBySubject != nil)
	switch {
	case u.DefaultRetrySchedule:
		m["retry_schedule"] = nil
	case u.RetrySchedule != nil:
		m["retry_schedule"] = u.RetrySchedule
	}
	switch {
	case u.ClearAPIVersion:
		m["api_version"] = nil
	case u.APIVersion != nil:
		m["api_version"] = *u.APIVersion
	}
	return json.Marshal(m)
}

// CreateSubscription makes a subscription. The answer is the only one that
// shows its signing secret (push), or its mailbox's app token (pull).
func (c *Client) CreateSubscription(ctx context.Context, workspaceID string, p SubscriptionParams) (*SubscriptionWithSecret, error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	var out SubscriptionWithSecret
	if err := c.do(ctx, &request{method: "POST", path: apiPath("workspaces", workspaceID, "subscriptions"), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) subscription(ctx context.Context, method, workspaceID, subID string, body any, out any, action ...string) error {
	if err := required("workspace id", workspaceID, "subscription id", subID); err != nil {
		return err
	}
	path := apiPath(append([]string{"workspaces", workspaceID, "subscriptions", subID}, action...)...)
	return c.do(ctx, &request{method: method, path: path, body: body, idempotent: method == "GET"}, out)
}

// GetSubscription returns one subscription, secrets in its URL and headers
// masked.
func (c *Client) GetSubscription(ctx context.Context, workspaceID, subID string) (*Subscription, error) {
	var out Subscription
	if err := c.subscription(ctx, "GET", workspaceID, subID, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSubscriptions lists a workspace's subscriptions, by id.
func (c *Client) ListSubscriptions(ctx context.Context, workspaceID string, opt ListOptions) (*Page[Subscription], error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	return list[Subscription](ctx, c, apiPath("workspaces", workspaceID, "subscriptions"), nil, "limit", opt)
}

// AllSubscriptions iterates over a workspace's subscriptions.
func (c *Client) AllSubscriptions(ctx context.Context, workspaceID string, opt ListOptions) iter.Seq2[Subscription, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[Subscription], error) {
		return c.ListSubscriptions(ctx, workspaceID, o)
	})
}

// UpdateSubscription changes the fields u sets (PATCH).
func (c *Client) UpdateSubscription(ctx context.Context, workspaceID, subID string, u SubscriptionUpdate) (*Subscription, error) {
	var out Subscription
	if err := c.subscription(ctx, "PATCH", workspaceID, subID, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSubscription deletes a subscription with its deliveries and
// attempts (or its mailbox).
func (c *Client) DeleteSubscription(ctx context.Context, workspaceID, subID string) error {
	return c.subscription(ctx, "DELETE", workspaceID, subID, nil, nil)
}

// TestSubscription sends a webhook.test event now, whose data is the
// calling user, and returns the attempt. A pull subscription is a 409.
func (c *Client) TestSubscription(ctx context.Context, workspaceID, subID string) (*Attempt, error) {
	var out struct {
		Attempt *Attempt `json:"attempt"`
	}
	if err := c.subscription(ctx, "POST", workspaceID, subID, nil, &out, "test"); err != nil {
		return nil, err
	}
	return out.Attempt, nil
}

// ListAttempts lists a push subscription's attempts, newest first, bodies
// cut at 4 KiB (Limit 1 to 100, default 10).
func (c *Client) ListAttempts(ctx context.Context, workspaceID, subID string, opt ListOptions) (*Page[Attempt], error) {
	if err := required("workspace id", workspaceID, "subscription id", subID); err != nil {
		return nil, err
	}
	return list[Attempt](ctx, c, apiPath("workspaces", workspaceID, "subscriptions", subID, "attempts"), nil, "limit", opt)
}

// AllAttempts iterates over a subscription's attempt log, newest first.
func (c *Client) AllAttempts(ctx context.Context, workspaceID, subID string, opt ListOptions) iter.Seq2[Attempt, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[Attempt], error) {
		return c.ListAttempts(ctx, workspaceID, subID, o)
	})
}

// GetAttempt returns one attempt whole.
func (c *Client) GetAttempt(ctx context.Context, workspaceID, subID, attemptID string) (*Attempt, error) {
	if err := required("attempt id", attemptID); err != nil {
		return nil, err
	}
	var out Attempt
	if err := c.subscription(ctx, "GET", workspaceID, subID, nil, &out, "attempts", attemptID); err != nil {
		return nil, err
	}
	return &out, nil
}

// EnableSubscription makes a subscription active: its failure count
// resets and its held deliveries are released.
func (c *Client) EnableSubscription(ctx context.Context, workspaceID, subID string) (*Subscription, error) {
	var out Subscription
	if err := c.subscription(ctx, "POST", workspaceID, subID, nil, &out, "enable"); err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableSubscription pauses a subscription: new deliveries are held.
func (c *Client) DisableSubscription(ctx context.Context, workspaceID, subID string) (*Subscription, error) {
	var out Subscription
	if err := c.subscription(ctx, "POST", workspaceID, subID, nil, &out, "disable"); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateSecret gives a push subscription a new secret, shown this once;
// the old one keeps signing beside it for 24 hours.
func (c *Client) RotateSecret(ctx context.Context, workspaceID, subID string) (*SubscriptionWithSecret, error) {
	var out SubscriptionWithSecret
	if err := c.subscription(ctx, "POST", workspaceID, subID, nil, &out, "rotate-secret"); err != nil {
		return nil, err
	}
	return &out, nil
}

// RecoverDeliveries re-queues the failed and held deliveries created since
// then (enabling a disabled subscription) and returns how many.
func (c *Client) RecoverDeliveries(ctx context.Context, workspaceID, subID string, since time.Time) (int, error) {
	body := struct {
		Since string `json:"since"`
	}{since.UTC().Format(time.RFC3339Nano)}
	var out struct {
		Queued int `json:"queued"`
	}
	if err := c.subscription(ctx, "POST", workspaceID, subID, body, &out, "recover"); err != nil {
		return 0, err
	}
	return out.Queued, nil
}
