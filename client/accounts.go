// The caller (me), users (admins manage them) and their tokens.
package client

import (
	"context"
	"encoding/json"
	"iter"
)

// Me returns the calling user with its workspaces.
func (c *Client) Me(ctx context.Context) (*User, error) {
	var out User
	if err := c.do(ctx, &request{method: "GET", path: apiPath("me"), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UserParams is a new user (admins only). Role is admin or member; a
// member sees only Workspaces. Without Password the server makes one and
// shows it once (NewUser.Password).
type UserParams struct {
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	Role       string   `json:"role"`
	Password   string   `json:"password,omitempty"`
	Workspaces []string `json:"workspaces,omitempty"`
}

// UserUpdate changes a user (admins only): nil fields stay as they are;
// Workspaces, when not nil, replaces the memberships (empty: none).
type UserUpdate struct {
	Email      *string
	Name       *string
	Role       *string
	Workspaces []string
}

// MarshalJSON writes the fields that are set.
func (u UserUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.Email != nil {
		m["email"] = *u.Email
	}
	if u.Name != nil {
		m["name"] = *u.Name
	}
	if u.Role != nil {
		m["role"] = *u.Role
	}
	if u.Workspaces != nil {
		m["workspaces"] = u.Workspaces
	}
	return json.Marshal(m)
}

// CreateUser makes a user (admins only).
func (c *Client) CreateUser(ctx context.Context, p UserParams) (*NewUser, error) {
	var out NewUser
	if err := c.do(ctx, &request{method: "POST", path: apiPath("users"), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListUsers lists the users the caller may see (a member: itself).
func (c *Client) ListUsers(ctx context.Context, opt ListOptions) (*Page[User], error) {
	return list[User](ctx, c, apiPath("users"), nil, "limit", opt)
}

// AllUsers iterates over the users the caller may see.
func (c *Client) AllUsers(ctx context.Context, opt ListOptions) iter.Seq2[User, error] {
	return all(ctx, opt, c.ListUsers)
}

func (c *Client) user(ctx context.Context, method, userID string, body, out any, action ...string) error {
	if err := required("user id", userID); err != nil {
		return err
	}
	return c.do(ctx, &request{method: method, path: apiPath(append([]string{"users", userID}, action...)...), body: body,
		idempotent: method == "GET"}, out)
}

// GetUser returns one user, with its status and last activity.
func (c *Client) GetUser(ctx context.Context, userID string) (*User, error) {
	var out User
	if err := c.user(ctx, "GET", userID, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateUser changes the fields u sets (admins only).
func (c *Client) UpdateUser(ctx context.Context, userID string, u UserUpdate) (*User, error) {
	var out User
	if err := c.user(ctx, "PATCH", userID, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser deletes a user; one that still owns tokens is
// ErrUserHasTokens (revoke or transfer them first).
func (c *Client) DeleteUser(ctx context.Context, userID string) error {
	return c.user(ctx, "DELETE", userID, nil, nil)
}

// ReactivateUser makes an inactive user active again (admins only).
func (c *Client) ReactivateUser(ctx context.Context, userID string) (*User, error) {
	var out User
	if err := c.user(ctx, "POST", userID, nil, &out, "reactivate"); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPassword changes a user's password: an admin for anyone (current
// ""), a user its own with its current password. The user's login
// sessions end; its tokens keep working.
func (c *Client) SetPassword(ctx context.Context, userID, password, current string) error {
	body := struct {
		Password        string `json:"password"`
		CurrentPassword string `json:"current_password,omitempty"`
	}{password, current}
	return c.user(ctx, "POST", userID, body, nil, "password")
}

// CreateToken makes an integration token for a user; its secret
// (NewToken.Secret) is shown this once.
func (c *Client) CreateToken(ctx context.Context, userID, name string) (*NewToken, error) {
	body := struct {
		Name string `json:"name"`
	}{name}
	var out NewToken
	if err := c.user(ctx, "POST", userID, body, &out, "tokens"); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTokens lists a user's tokens, integration and app, without secrets.
func (c *Client) ListTokens(ctx context.Context, userID string, opt ListOptions) (*Page[Token], error) {
	if err := required("user id", userID); err != nil {
		return nil, err
	}
	return list[Token](ctx, c, apiPath("users", userID, "tokens"), nil, "limit", opt)
}

// AllTokens iterates over a user's tokens.
func (c *Client) AllTokens(ctx context.Context, userID string, opt ListOptions) iter.Seq2[Token, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[Token], error) {
		return c.ListTokens(ctx, userID, o)
	})
}

// RevokeToken revokes a token: it stops working at once.
func (c *Client) RevokeToken(ctx context.Context, tokenID string) error {
	if err := required("token id", tokenID); err != nil {
		return err
	}
	return c.do(ctx, &request{method: "DELETE", path: apiPath("tokens", tokenID)}, nil)
}

// TransferToken moves a token to another user (admins only), where it
// keeps working.
func (c *Client) TransferToken(ctx context.Context, tokenID, userID string) (*Token, error) {
	if err := required("token id", tokenID, "user id", userID); err != nil {
		return nil, err
	}
	body := struct {
		UserID string `json:"user_id"`
	}{userID}
	var out Token
	if err := c.do(ctx, &request{method: "POST", path: apiPath("tokens", tokenID, "transfer"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
