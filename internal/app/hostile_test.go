package app_test

import (
	"net/http"
	"testing"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// TestResponseBodyThatIsNotText: a receiver is free to answer with any
// bytes, NUL characters and invalid UTF-8 included. The attempt is kept
// and shown, the test button answers 200, and the delivery succeeds, on
// both engines. On PostgreSQL such an answer must not poison the writer of
// delivery results either, which would leave every later delivery of the
// node, to any receiver of any workspace, stuck in "sending".
func TestResponseBodyThatIsNotText(t *testing.T) {
	bodies := map[string][]byte{
		"nul":         []byte("{\"a\":\"x\x00y\"}"),
		"invalid-utf": []byte("{\"a\":\"x\xffy\xc0\xaf\"}"),
	}
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		for name, answer := range bodies {
			t.Run(name, func(t *testing.T) {
				srv := apptest.Start(t, engine)
				ws := srv.Workspace(t, "invoice.paid", "order.created")
				odd := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
					w.Write(answer)
				})
				good := apptest.NewReceiver(t, nil)
				oddSub := createSubscription(t, srv, ws, odd.URL+"/odd", map[string]any{"event_types": []string{"invoice.paid"}})
				createSubscription(t, srv, ws, good.URL+"/good", map[string]any{"event_types": []string{"order.created"}})

				status, b := srv.Do(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+oddSub.ID+"/test", nil)
				if status != http.StatusOK {
					t.Errorf("test button on a receiver answering %q: %d %s, want 200", answer, status, b)
				}

				oddEvent := srv.Publish(t, ws, "invoice.paid", map[string]int{"n": 1})
				odd.Wait(t, 2, eventuallyTimeout)
				goodEvent := srv.Publish(t, ws, "order.created", map[string]int{"n": 2})
				// Another receiver is not held up by the odd one's answer...
				waitDelivery(t, srv, ws, goodEvent, "succeeded")
				// ...and the odd one's delivery succeeded: it got a 200.
				waitDelivery(t, srv, ws, oddEvent, "succeeded")
			})
		}
	})
}
