package app_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/postbode/postbode/internal/app/apptest"
)

// eventuallyTimeout bounds every "eventually" in these tests: generous,
// because it only matters when something is broken.
const eventuallyTimeout = 15 * time.Second

// The API's JSON as these tests read it.
type (
	subscription = apptest.Subscription
	delivery     = apptest.Delivery
	attempt      = apptest.Attempt
)

// createSubscription creates a push subscription to url for every event
// type; fields add to or override that.
func createSubscription(t *testing.T, srv *apptest.Server, ws, url string, fields map[string]any) subscription {
	t.Helper()
	body := map[string]any{"name": "receiver", "url": url, "event_types": []string{"*"}}
	for k, v := range fields {
		body[k] = v
	}
	var sub subscription
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", body, http.StatusCreated, &sub)
	if sub.ID == "" || !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("created subscription %+v: want an id and a whsec_ secret", sub)
	}
	return sub
}

func listAttempts(t *testing.T, srv *apptest.Server, ws, subID string) []attempt {
	t.Helper()
	var page struct{ Data []attempt }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions/"+subID+"/attempts?limit=100", nil, http.StatusOK, &page)
	return page.Data
}

// eventually polls cond until it reports true or eventuallyTimeout passes;
// cond's message says what was last seen.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(eventuallyTimeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, eventuallyTimeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDelivery waits until the event's only delivery has status want.
func waitDelivery(t *testing.T, srv *apptest.Server, ws, eventID, want string) delivery {
	t.Helper()
	var d delivery
	eventually(t, "delivery of "+eventID+" "+want, func() (bool, string) {
		ev := srv.Event(t, ws, eventID)
		if len(ev.Deliveries) != 1 {
			t.Fatalf("event %s has %d deliveries, want 1: %+v", eventID, len(ev.Deliveries), ev.Deliveries)
		}
		d = ev.Deliveries[0]
		return d.Status == want, d.Status + " " + d.LastError
	})
	return d
}

func waitSubscriptionStatus(t *testing.T, srv *apptest.Server, ws, id, want string) subscription {
	t.Helper()
	var sub subscription
	eventually(t, "subscription "+id+" "+want, func() (bool, string) {
		sub = srv.Subscription(t, ws, id)
		return sub.Status == want, sub.Status
	})
	return sub
}

// header looks a header up in a logged attempt, ignoring case.
func header(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// webhookIDs counts the requests per webhook-id header.
func webhookIDs(reqs []apptest.Request) map[string]int {
	ids := map[string]int{}
	for _, r := range reqs {
		ids[r.Header.Get("webhook-id")]++
	}
	return ids
}

// envelopeOf decodes a request body as an envelope.
func envelopeOf(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, body)
	}
	return env
}

// verifier checks every request it gets the way a consumer using the
// Standard Webhooks Go library would, and answers 401 to any that fails.
// Failures fail the test when it ends.
type verifier struct {
	secret atomic.Pointer[string]
	mu     sync.Mutex
	failed []string
	next   func(w http.ResponseWriter, r *http.Request, body []byte)
	rc     *apptest.Receiver
}

// newVerifyingReceiver starts a receiver that verifies signatures with the
// secret set through setSecret, then hands valid requests to next (nil: 200).
func newVerifyingReceiver(t *testing.T, next func(w http.ResponseWriter, r *http.Request, body []byte)) (*apptest.Receiver, *verifier) {
	t.Helper()
	v := &verifier{next: next}
	rc := apptest.NewReceiver(t, v.handle)
	v.rc = rc
	t.Cleanup(func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, f := range v.failed {
			t.Errorf("a delivered request did not verify: %s", f)
		}
	})
	return rc, v
}

func (v *verifier) setSecret(s string) { v.secret.Store(&s) }

// subscribe makes a workspace with the order.created event type and a
// subscription of it to the receiver (fields add to or override the
// defaults), and verifies with the subscription's secret.
func (v *verifier) subscribe(t *testing.T, srv *apptest.Server, fields map[string]any) (string, subscription) {
	t.Helper()
	ws := srv.Workspace(t, "order.created")
	sub := createSubscription(t, srv, ws, v.rc.URL, fields)
	v.setSecret(sub.Secret)
	return ws, sub
}

func (v *verifier) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	if err := v.verify(body, r.Header); err != nil {
		v.mu.Lock()
		v.failed = append(v.failed, r.Header.Get("webhook-id")+": "+err.Error())
		v.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if v.next != nil {
		v.next(w, r, body)
	}
}

func (v *verifier) verify(body []byte, h http.Header) error {
	secret := v.secret.Load()
	if secret == nil {
		return errNoSecret
	}
	wh, err := standardwebhooks.NewWebhook(*secret)
	if err != nil {
		return err
	}
	return wh.Verify(body, h)
}

var errNoSecret = errors.New("the test set no secret before the request arrived")
