package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
)

// mailboxCall sends a mailbox request with the consumer's credential.
func mailboxCall(t *testing.T, srv *apptest.Server, authorization, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, r)
	req.Header.Set("Authorization", authorization)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type claimed struct {
	Messages []struct {
		ID      string
		LeaseID string `json:"lease_id"`
		Event   struct{ ID, Type string }
		Claims  int
	}
}

// TestKoppeltaalFlow: the whole Koppeltaal flow through HTTP, on both
// engines: a pull subscription (a mailbox) and a notification-only push
// subscription to the consumer's URL carrying its identifier header; a
// publish nudges the consumer, which claims with its app token (basic
// auth) and acknowledges.
func TestKoppeltaalFlow(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "patient.update")
		nudged := apptest.NewReceiver(t, nil)
		var pull struct{ ID, Token, Username string }
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{"name": "EPD mailbox", "mode": "pull",
			"auth": "basic", "event_types": []string{"patient.update"}, "coalesce_by_subject": true}, http.StatusCreated, &pull)
		if pull.Token == "" || pull.Username != pull.ID {
			t.Fatalf("pull subscription %+v", pull)
		}
		createSubscription(t, srv, ws, nudged.URL+"/nudge", map[string]any{"payload": "notification",
			"headers": map[string]string{"X-Koppeltaal-Consumer": "epd-1"}})
		cred := "Basic " + base64.StdEncoding.EncodeToString([]byte(pull.Username+":"+pull.Token))
		path := "/api/v1/workspaces/" + ws + "/subscriptions/" + pull.ID + "/mailbox"

		evt := srv.Publish(t, ws, "patient.update", map[string]string{"name": "Jansen"})
		nudge := nudged.Wait(t, 1, eventuallyTimeout)[0]
		var env map[string]json.RawMessage
		json.Unmarshal(nudge.Body, &env)
		if _, hasData := env["data"]; hasData || nudge.Header.Get("X-Koppeltaal-Consumer") != "epd-1" || string(env["id"]) != q(evt) {
			t.Errorf("the nudge: %s %v", nudge.Body, nudge.Header)
		}
		status, body := mailboxCall(t, srv, cred, "POST", path+"/claim", `{"count":10,"lease_seconds":30}`)
		var c claimed
		if json.Unmarshal(body, &c); status != http.StatusOK || len(c.Messages) != 1 || c.Messages[0].Event.ID != evt {
			t.Fatalf("claim: %d %s", status, body)
		}
		m := c.Messages[0]
		if status, body := mailboxCall(t, srv, cred, "POST", path+"/"+m.ID+"/success", `{"lease_id":"`+m.LeaseID+`"}`); status != http.StatusOK {
			t.Fatalf("success: %d %s", status, body)
		}
		if status, _ := mailboxCall(t, srv, cred, "POST", path+"/"+m.ID+"/success", ""); status != http.StatusConflict {
			t.Errorf("a second acknowledgement: %d, want 409 lease_lost", status)
		}
		// Two more, acknowledged in one batch: one applied, one refused.
		srv.Publish(t, ws, "patient.update", map[string]string{"name": "de Vries"})
		srv.Publish(t, ws, "patient.update", map[string]string{"name": "Bakker"})
		status, body = mailboxCall(t, srv, cred, "POST", path+"/claim", `{"count":10}`)
		if json.Unmarshal(body, &c); status != http.StatusOK || len(c.Messages) != 2 {
			t.Fatalf("claim of two: %d %s", status, body)
		}
		status, body = mailboxCall(t, srv, cred, "POST", path+"/ack", `{"acks":[{"id":"`+c.Messages[0].ID+`","action":"success","lease_id":"`+
			c.Messages[0].LeaseID+`"},{"id":"`+c.Messages[1].ID+`","action":"failed"}]}`)
		want := `{"results":[{"id":"` + c.Messages[0].ID + `","status":"success"},{"id":"` + c.Messages[1].ID +
			`","error":{"code":"invalid_field","message":"acks[1].reason: is required: why the message failed for good"}}]}`
		if status != http.StatusOK || strings.TrimSpace(string(body)) != want {
			t.Errorf("batch acknowledgement: %d %s\nwant %s", status, body, want)
		}
		var stats map[string]int
		_, body = mailboxCall(t, srv, cred, "GET", path+"/stats", "")
		if json.Unmarshal(body, &stats); stats["success"] != 2 || stats["new"] != 0 || stats["claimed"] != 1 {
			t.Errorf("stats %s", body)
		}
		// The mailbox's token is for the mailbox only.
		if status, _ := mailboxCall(t, srv, "Bearer "+pull.Token, "GET", "/api/v1/workspaces/"+ws+"/subscriptions", ""); status != http.StatusUnauthorized {
			t.Errorf("the mailbox token on the management API: %d", status)
		}
	})
}

// TestLongPollAcrossNodes: a consumer waiting on one node is woken by a
// publish on another (PostgreSQL, through NOTIFY), within milliseconds, not
// at the end of its wait.
func TestLongPollAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	url := pgtest.URL(t)
	a := apptest.Start(t, func(c *config.Config) { c.Database = url })
	b := apptest.Start(t, func(c *config.Config) { c.Database = url })
	ws := a.Workspace(t, "task.new")
	var pull struct{ ID, Token string }
	a.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{"name": "m", "mode": "pull",
		"event_types": []string{"*"}}, http.StatusCreated, &pull)
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + pull.ID + "/mailbox/claim"
	done := make(chan claimed, 1)
	go func() {
		_, body := mailboxCall(t, a, "Bearer "+pull.Token, "POST", path, `{"wait_seconds":20}`)
		var c claimed
		json.Unmarshal(body, &c)
		done <- c
	}()
	time.Sleep(300 * time.Millisecond) // the claim is waiting on node a
	start := time.Now()
	evt := b.Publish(t, ws, "task.new", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case c := <-done:
		if len(c.Messages) != 1 || c.Messages[0].Event.ID != evt {
			t.Errorf("woken with %+v", c)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("woken %v after the publish on the other node", d)
		}
	case <-ctx.Done():
		t.Fatal("a publish on another node did not wake the waiting claim")
	}
}
