// Inbound webhooks: managing them (create, read, change, delete, enable,
// disable, a new app token, the request log) and posting to one
// (POST /in/{id}).
package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"iter"
	"net/http"
	"strings"
)

// InboundParams is a new inbound webhook: Name and EventType (of the
// workspace's catalogue) are required; Auth is bearer (default) or basic.
type InboundParams struct {
	Name         string         `json:"name"`
	Auth         string         `json:"auth,omitempty"`
	EventType    string         `json:"event_type"`
	Verify       *InboundVerify `json:"verify,omitempty"`
	DedupeHeader string         `json:"dedupe_header,omitempty"`
}

// InboundUpdate changes an inbound webhook: nil fields stay as they are.
// Verify sent back with Secret "***" and the same scheme keeps the stored
// secret; RemoveVerify sends verify null (no check); DedupeHeader "" stops
// deduplication. Auth cannot change.
type InboundUpdate struct {
	Name         *string
	EventType    *string
	Verify       *InboundVerify
	RemoveVerify bool
	DedupeHeader *string
}

// MarshalJSON writes the fields that are set.
func (u InboundUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.Name != nil {
		m["name"] = *u.Name
	}
	if u.EventType != nil {
		m["event_type"] = *u.EventType
	}
	switch {
	case u.RemoveVerify:
		m["verify"] = nil
	case u.Verify != nil:
		m["verify"] = u.Verify
	}
	if u.DedupeHeader != nil {
		m["dedupe_header"] = *u.DedupeHeader
	}
	return json.Marshal(m)
}

// CreateInbound makes an inbound webhook with an app token owned by the
// caller; the answer is the only one that shows the token.
func (c *Client) CreateInbound(ctx context.Context, workspaceID string, p InboundParams) (*InboundWithToken, error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	var out InboundWithToken
	if err := c.do(ctx, &request{method: "POST", path: apiPath("workspaces", workspaceID, "inbound"), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) inbound(ctx context.Context, method, workspaceID, inboundID string, body, out any, action ...string) error {
	if err := required("workspace id", workspaceID, "inbound id", inboundID); err != nil {
		return err
	}
	path := apiPath(append([]string{"workspaces", workspaceID, "inbound", inboundID}, action...)...)
	return c.do(ctx, &request{method: method, path: path, body: body, idempotent: method == "GET"}, out)
}

// GetInbound returns one inbound webhook.
func (c *Client) GetInbound(ctx context.Context, workspaceID, inboundID string) (*Inbound, error) {
	var out Inbound
	if err := c.inbound(ctx, "GET", workspaceID, inboundID, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListInbound lists a workspace's inbound webhooks, by id.
func (c *Client) ListInbound(ctx context.Context, workspaceID string, opt ListOptions) (*Page[Inbound], error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	return list[Inbound](ctx, c, apiPath("workspaces", workspaceID, "inbound"), nil, "limit", opt)
}

// AllInbound iterates over a workspace's inbound webhooks.
func (c *Client) AllInbound(ctx context.Context, workspaceID string, opt ListOptions) iter.Seq2[Inbound, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[Inbound], error) {
		return c.ListInbound(ctx, workspaceID, o)
	})
}

// UpdateInbound changes the fields u sets (PATCH).
func (c *Client) UpdateInbound(ctx context.Context, workspaceID, inboundID string, u InboundUpdate) (*Inbound, error) {
	var out Inbound
	if err := c.inbound(ctx, "PATCH", workspaceID, inboundID, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteInbound deletes an inbound webhook, its log and its app token.
func (c *Client) DeleteInbound(ctx context.Context, workspaceID, inboundID string) error {
	return c.inbound(ctx, "DELETE", workspaceID, inboundID, nil, nil)
}

// EnableInbound makes an inbound webhook active.
func (c *Client) EnableInbound(ctx context.Context, workspaceID, inboundID string) (*Inbound, error) {
	var out Inbound
	if err := c.inbound(ctx, "POST", workspaceID, inboundID, nil, &out, "enable"); err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableInbound disables an inbound webhook: posts to it are answered
// 403 inbound_disabled.
func (c *Client) DisableInbound(ctx context.Context, workspaceID, inboundID string) (*Inbound, error) {
	var out Inbound
	if err := c.inbound(ctx, "POST", workspaceID, inboundID, nil, &out, "disable"); err != nil {
		return nil, err
	}
	return &out, nil
}

// NewInboundToken gives an inbound webhook a new app token, owned by
// userID ("" for the caller; only an admin may name another user); the
// old token stops working at once.
func (c *Client) NewInboundToken(ctx context.Context, workspaceID, inboundID, userID string) (*InboundWithToken, error) {
	var body any
	if userID != "" {
		body = struct {
			UserID string `json:"user_id"`
		}{userID}
	}
	var out InboundWithToken
	if err := c.inbound(ctx, "POST", workspaceID, inboundID, body, &out, "token"); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListInboundRequests lists the requests an inbound webhook received,
// newest first (Limit 1 to 100; it keeps its last 100).
func (c *Client) ListInboundRequests(ctx context.Context, workspaceID, inboundID string, opt ListOptions) (*Page[InboundRequest], error) {
	if err := required("workspace id", workspaceID, "inbound id", inboundID); err != nil {
		return nil, err
	}
	return list[InboundRequest](ctx, c, apiPath("workspaces", workspaceID, "inbound", inboundID, "requests"), nil, "limit", opt)
}

// AllInboundRequests iterates over an inbound webhook's request log.
func (c *Client) AllInboundRequests(ctx context.Context, workspaceID, inboundID string, opt ListOptions) iter.Seq2[InboundRequest, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[InboundRequest], error) {
		return c.ListInboundRequests(ctx, workspaceID, inboundID, o)
	})
}

// InboundAuth is the credential of a post to an inbound webhook: Token
// (the webhook's app token, or an integration token) as Bearer, or, with
// Username set, as Basic username:token (webhooks with auth basic, whose
// username is the webhook's id). A zero InboundAuth sends the client's
// own token as Bearer.
type InboundAuth struct {
	Username string
	Token    string
}

func (a InboundAuth) header() string {
	switch {
	case a.Username != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Token))
	case a.Token != "":
		return "Bearer " + a.Token
	}
	return ""
}

// InboundPost is a post to an inbound webhook with everything a sender
// may set.
type InboundPost struct {
	// URL is the webhook's url: absolute, or a path (/in/{id}) on the
	// client's server.
	URL  string
	Auth InboundAuth
	Body []byte
	// ContentType is application/json when empty; an
	// application/x-www-form-urlencoded body becomes an object of fields.
	ContentType string
	// Header holds more headers: the sender's signature (for a webhook
	// with verify), its dedupe header.
	Header http.Header
}

// PostInbound posts body, JSON, to an inbound webhook (POST /in/{id}) and
// returns the event it made. url is the webhook's url (Inbound.URL):
// absolute, or a path on the client's server.
func (c *Client) PostInbound(ctx context.Context, url string, auth InboundAuth, body []byte) (*InboundAccepted, error) {
	return c.PostInboundRequest(ctx, InboundPost{URL: url, Auth: auth, Body: body})
}

// PostInboundRequest is PostInbound with a content type and headers of
// the caller's choice. A 429 or 503 is retried like every request; a post
// that failed on the network is not (the client cannot know whether the
// webhook deduplicates).
func (c *Client) PostInboundRequest(ctx context.Context, p InboundPost) (*InboundAccepted, error) {
	if err := required("url", p.URL); err != nil {
		return nil, err
	}
	r := &request{method: "POST", raw: p.Body, contentType: p.ContentType, header: p.Header,
		authorization: p.Auth.header()}
	if r.raw == nil {
		r.raw = []byte{}
	}
	if r.contentType == "" {
		r.contentType = "application/json"
	}
	if strings.Contains(p.URL, "://") {
		r.rawURL = p.URL
	} else {
		r.path = "/" + strings.TrimPrefix(p.URL, "/")
	}
	var out InboundAccepted
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
