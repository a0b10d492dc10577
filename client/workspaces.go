// Workspaces, their event type catalogue, and customer-portal links.
package client

import (
	"context"
	"encoding/json"
	"iter"
)

// CreateWorkspace makes a workspace (POST /api/v1/workspaces).
func (c *Client) CreateWorkspace(ctx context.Context, name string) (*Workspace, error) {
	var out Workspace
	body := struct {
		Name string `json:"name"`
	}{name}
	if err := c.do(ctx, &request{method: "POST", path: apiPath("workspaces"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWorkspaces lists the workspaces the caller may see, by id.
func (c *Client) ListWorkspaces(ctx context.Context, opt ListOptions) (*Page[Workspace], error) {
	return list[Workspace](ctx, c, apiPath("workspaces"), nil, "limit", opt)
}

// AllWorkspaces iterates over every workspace the caller may see.
func (c *Client) AllWorkspaces(ctx context.Context, opt ListOptions) iter.Seq2[Workspace, error] {
	return all(ctx, opt, c.ListWorkspaces)
}

// EventTypeParams is a new event type. Name is [a-z0-9_.-]+; Schema, when
// given, is a JSON Schema that every event's data must match.
type EventTypeParams struct {
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// CreateEventType adds an event type to a workspace's catalogue; one that
// exists is ErrEventTypeExists.
func (c *Client) CreateEventType(ctx context.Context, workspaceID string, p EventTypeParams) (*EventType, error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	var out EventType
	if err := c.do(ctx, &request{method: "POST", path: apiPath("workspaces", workspaceID, "event-types"), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListEventTypes lists a workspace's event types.
func (c *Client) ListEventTypes(ctx context.Context, workspaceID string, opt ListOptions) (*Page[EventType], error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	return list[EventType](ctx, c, apiPath("workspaces", workspaceID, "event-types"), nil, "limit", opt)
}

// AllEventTypes iterates over a workspace's event types.
func (c *Client) AllEventTypes(ctx context.Context, workspaceID string, opt ListOptions) iter.Seq2[EventType, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[EventType], error) {
		return c.ListEventTypes(ctx, workspaceID, o)
	})
}

// PortalLinkParams is how long a portal link lasts: TTLSeconds from 1 to
// 604800 (7 days); 0 for the server's default, 3600.
type PortalLinkParams struct {
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// CreatePortalLink makes a link to the customer portal of a workspace: its
// webhooks pages, without an account, acting as the caller until it
// expires.
func (c *Client) CreatePortalLink(ctx context.Context, workspaceID string, p PortalLinkParams) (*PortalLink, error) {
	if err := required("workspace id", workspaceID); err != nil {
		return nil, err
	}
	var out PortalLink
	if err := c.do(ctx, &request{method: "POST", path: apiPath("workspaces", workspaceID, "portal-links"), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
