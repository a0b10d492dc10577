package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// TestAttemptListStaysSmallWithLargeResponseHeaders: the attempt log cuts
// bodies at 4 KiB in a list "so that a page stays small". A receiver
// answering with 64 KiB of headers (what an attempt keeps of them) makes
// every listed attempt 64 KiB anyway: ?limit=100 is then about 7 MB. The
// headers, like the bodies, must be cut in a list and kept whole in the
// single-attempt view.
func TestAttemptListStaysSmallWithLargeResponseHeaders(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "invoice.paid")
		rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			for i := range 150 {
				w.Header().Set(fmt.Sprintf("X-Big-%03d", i), strings.Repeat("v", 1000))
			}
		})
		sub := createSubscription(t, srv, ws, rc.URL+"/hook", nil)
		const n = 10
		for range n {
			srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/test", nil, http.StatusOK, nil)
		}
		status, page := srv.Do(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/attempts?limit=100", nil)
		if status != http.StatusOK {
			t.Fatalf("attempts: %d %s", status, page)
		}
		var list struct{ Data []json.RawMessage }
		if err := json.Unmarshal(page, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Data) != n {
			t.Fatalf("%d attempts listed, want %d", len(list.Data), n)
		}
		// A listed attempt holds at most 4 KiB of each body; allow as much
		// again for headers and the rest.
		const most = 16 << 10
		for i, a := range list.Data {
			if len(a) > most {
				t.Errorf("listed attempt %d is %d bytes, want at most %d: the response headers are not cut in a list", i, len(a), most)
				break
			}
		}
	})
}

// TestMaskedPasswordKeptWhenURLPathChanges: a client that reads the URL
// as shown (https://user:***@host/a) and changes only its path sends the
// password back as ***. Postbode must keep the real one (or refuse the
// change), never store and send the literal "***" as the password. The
// same for a masked header sent back for a header that had no value.
func TestMaskedPasswordKeptWhenURLPathChanges(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "invoice.paid")
		rc := apptest.NewReceiver(t, nil)
		host := strings.TrimPrefix(rc.URL, "http://")
		sub := createSubscription(t, srv, ws, "http://user:s3cret@"+host+"/a", nil)
		path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID

		status, b := srv.Do(t, "PATCH", path, map[string]any{"url": "http://user:***@" + host + "/b"})
		switch status {
		case http.StatusUnprocessableEntity:
			// Refused: the client must send the password again. Fine.
		case http.StatusOK:
			srv.JSON(t, "POST", path+"/test", nil, http.StatusOK, nil)
			got := rc.Requests()
			user, pass, ok := (&http.Request{Header: got[len(got)-1].Header}).BasicAuth()
			if !ok || user != "user" || pass != "s3cret" {
				t.Errorf("after PATCH url with the password as ***, the receiver got user %q password %q, want the real one", user, pass)
			}
		default:
			t.Fatalf("PATCH url: %d %s", status, b)
		}

		status, b = srv.Do(t, "PATCH", path, map[string]any{"headers": map[string]string{"X-Api-Key": "***"}})
		if status != http.StatusOK && status != http.StatusUnprocessableEntity {
			t.Errorf("PATCH of a new header X-Api-Key as ***: %d %s, want 422", status, b)
		}
		if status == http.StatusOK {
			srv.JSON(t, "POST", path+"/test", nil, http.StatusOK, nil)
			got := rc.Requests()
			if v := got[len(got)-1].Header.Get("X-Api-Key"); v == "***" {
				t.Errorf("PATCH of a new header X-Api-Key as *** (there is no real value to keep): %d, and the receiver got the literal %q; want 422", status, v)
			}
		}
	})
}
