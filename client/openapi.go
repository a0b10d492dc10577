// The server's own description of its API.
package client

import (
	"context"
	"encoding/json"
)

// OpenAPI returns the OpenAPI 3.1 document the server serves at
// GET /api/v1/openapi.json (no token needed), as it came.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, &request{method: "GET", path: apiPath("openapi.json"), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}
