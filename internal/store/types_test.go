package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestJSONNames checks the API's field names of the records the API shows
// as they are, and that secrets never appear in them.
func TestJSONNames(t *testing.T) {
	when := time.Date(2024, 3, 14, 15, 9, 26, 0, time.UTC)
	evt := "evt_1"
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"Inbound", Inbound{ID: "inb_1", WorkspaceID: "ws_1", Name: "Orders", Auth: AuthBasic, Username: "shop",
			EventType: "order.created", Verify: json.RawMessage(`{"secret":"whsec_x"}`), DedupeHeader: "Webhook-Id",
			Status: InboundActive, CreatedAt: when, UpdatedAt: when},
			`{"id":"inb_1","workspace_id":"ws_1","name":"Orders","auth":"basic","username":"shop",
			"event_type":"order.created","dedupe_header":"Webhook-Id","status":"active",
			"created_at":"2024-03-14T15:09:26Z","updated_at":"2024-03-14T15:09:26Z"}`},
		{"InboundBearer", Inbound{ID: "inb_1", WorkspaceID: "ws_1", Name: "Orders", Auth: AuthBearer,
			EventType: "order.created", Status: InboundDisabled, CreatedAt: when, UpdatedAt: when},
			`{"id":"inb_1","workspace_id":"ws_1","name":"Orders","auth":"bearer","event_type":"order.created",
			"status":"disabled","created_at":"2024-03-14T15:09:26Z","updated_at":"2024-03-14T15:09:26Z"}`},
		{"InboundRequest", InboundRequest{ID: "irq_1", InboundID: "inb_1", WorkspaceID: "ws_1", ReceivedAt: when,
			Status: 202, EventID: &evt, RemoteAddr: "203.0.113.7:5000", Request: InboundRequestData{Method: "POST",
				Headers: map[string]string{"Content-Type": "application/json"}, Body: `{}`, BodyTruncated: true}},
			`{"id":"irq_1","received_at":"2024-03-14T15:09:26Z","status":202,"error":"","event_id":"evt_1",
			"remote_addr":"203.0.113.7:5000","request":{"method":"POST","headers":{"Content-Type":"application/json"},
			"body":"{}","body_truncated":true}}`},
		{"Session", Session{Hash: "secret-hash", UserID: "usr_1", CreatedAt: when, ExpiresAt: when},
			`{"user_id":"usr_1","created_at":"2024-03-14T15:09:26Z","expires_at":"2024-03-14T15:09:26Z"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got, want any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(c.want), &want); err != nil {
			t.Fatalf("%s: the wanted JSON: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: JSON\n\t%s\nwant\n\t%s", c.name, b, c.want)
		}
	}
}
