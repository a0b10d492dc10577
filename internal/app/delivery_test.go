package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/config"
)

// answer returns a receiver handler that always answers code.
func answer(code int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) { w.WriteHeader(code) }
}

// failWhileNot answers 500 until healthy is set, then 200.
func failWhileNot(healthy *atomic.Bool) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}
}

func TestDeliverySucceededIsLogged(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc, v := newVerifyingReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "thanks")
	})
	ws := srv.Workspace(t, "invoice.paid")
	sub := createSubscription(t, srv, ws, rc.URL+"/hook", map[string]any{
		"event_types": []string{"invoice.paid"},
		"headers":     map[string]string{"X-Tenant": "acme", "Authorization": "Bearer for-the-receiver"},
	})
	v.setSecret(sub.Secret)
	evID := srv.Publish(t, ws, "invoice.paid", map[string]int{"amount": 42})

	d := waitDelivery(t, srv, ws, evID, "succeeded")
	if d.Attempts != 1 {
		t.Errorf("delivery made %d attempts, want 1", d.Attempts)
	}
	got := rc.Requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	req := got[0]
	if req.Path != "/hook" {
		t.Errorf("path %q, want /hook", req.Path)
	}
	for name, want := range map[string]string{
		"webhook-id":    evID,
		"Content-Type":  "application/json",
		"X-Tenant":      "acme",
		"Authorization": "Bearer for-the-receiver",
	} {
		if v := req.Header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	if ua := req.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Postbode/") {
		t.Errorf("User-Agent %q, want Postbode/<version>", ua)
	}

	as := listAttempts(t, srv, ws, sub.ID)
	if len(as) != 1 {
		t.Fatalf("%d attempts logged, want 1: %+v", len(as), as)
	}
	a := as[0]
	if !strings.HasPrefix(a.ID, "att_") || a.DeliveryID != d.ID || a.EventID != evID || a.EventType != "invoice.paid" {
		t.Errorf("attempt identifiers: %+v", a)
	}
	if !a.Succeeded || a.Err() != "" || a.DurationMS == nil || a.CreatedAt.IsZero() {
		t.Errorf("attempt outcome: succeeded=%v error=%q duration_ms=%v created_at=%v", a.Succeeded, a.Err(), a.DurationMS, a.CreatedAt)
	}
	if a.Request.URL != rc.URL+"/hook" {
		t.Errorf("logged url %q, want %q", a.Request.URL, rc.URL+"/hook")
	}
	if a.Request.Body != string(req.Body) {
		t.Errorf("logged body %q, receiver got %q", a.Request.Body, req.Body)
	}
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature", "Content-Type", "User-Agent", "X-Tenant"} {
		logged, ok := header(a.Request.Headers, name)
		if !ok {
			t.Errorf("logged request has no %s header: %v", name, a.Request.Headers)
		} else if logged != req.Header.Get(name) {
			t.Errorf("logged %s = %q, receiver got %q", name, logged, req.Header.Get(name))
		}
	}
	if a.Response == nil {
		t.Fatal("attempt logged no response")
	}
	if a.Response.Status != http.StatusAccepted || a.Response.Body != "thanks" {
		t.Errorf("logged response %d %q, want 202 \"thanks\"", a.Response.Status, a.Response.Body)
	}
	if v, _ := header(a.Response.Headers, "X-Receiver"); v != "yes" {
		t.Errorf("logged response headers %v, want X-Receiver: yes", a.Response.Headers)
	}
}

func TestFailedDeliveries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(elsewhere string) func(http.ResponseWriter, *http.Request, []byte)
		fields  map[string]any
		// What the end looks like.
		wantRequests       int
		wantDelivery       string
		wantSubscription   string
		wantError          string // in every attempt's error
		wantResponseStatus int    // 0: no response
	}{
		{
			name:         "500 is retried on the schedule, then failed",
			handler:      func(string) func(http.ResponseWriter, *http.Request, []byte) { return answer(500) },
			wantRequests: 3, // 1 + len(50ms,50ms)
			wantDelivery: "failed", wantSubscription: "active",
			wantError: "500", wantResponseStatus: 500,
		},
		{
			name: "receiver slower than timeout_seconds",
			handler: func(string) func(http.ResponseWriter, *http.Request, []byte) {
				return func(w http.ResponseWriter, r *http.Request, body []byte) {
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
				}
			},
			fields:       map[string]any{"timeout_seconds": 1, "retry_schedule": []string{}},
			wantRequests: 1, wantDelivery: "failed", wantSubscription: "active",
			wantError: "timeout",
		},
		{
			name: "302 is not followed",
			handler: func(elsewhere string) func(http.ResponseWriter, *http.Request, []byte) {
				return func(w http.ResponseWriter, r *http.Request, body []byte) {
					http.Redirect(w, r, elsewhere, http.StatusFound)
				}
			},
			fields:       map[string]any{"retry_schedule": []string{}},
			wantRequests: 1, wantDelivery: "failed", wantSubscription: "active",
			wantError: "302", wantResponseStatus: 302,
		},
		{
			name:         "410 disables the subscription at once",
			handler:      func(string) func(http.ResponseWriter, *http.Request, []byte) { return answer(410) },
			wantRequests: 1, wantDelivery: "held", wantSubscription: "disabled",
			wantError: "410", wantResponseStatus: 410,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := apptest.Start(t)
			elsewhere := apptest.NewReceiver(t, nil)
			rc, v := newVerifyingReceiver(t, tt.handler(elsewhere.URL+"/moved"))
			ws, sub := v.subscribe(t, srv, tt.fields)
			evID := srv.Publish(t, ws, "order.created", map[string]string{"order": "1"})

			if tt.wantSubscription != "active" {
				waitSubscriptionStatus(t, srv, ws, sub.ID, tt.wantSubscription)
			}
			d := waitDelivery(t, srv, ws, evID, tt.wantDelivery)
			if d.Attempts != tt.wantRequests {
				t.Errorf("delivery counts %d attempts, want %d", d.Attempts, tt.wantRequests)
			}
			if !strings.Contains(d.LastError, tt.wantError) {
				t.Errorf("delivery last_error %q, want one containing %q", d.LastError, tt.wantError)
			}
			if s := srv.Subscription(t, ws, sub.ID); s.Status != tt.wantSubscription {
				t.Errorf("subscription status %q, want %q", s.Status, tt.wantSubscription)
			}
			got := rc.Requests()
			if len(got) != tt.wantRequests {
				t.Errorf("receiver got %d requests, want %d", len(got), tt.wantRequests)
			}
			for i, r := range got {
				if id := r.Header.Get("webhook-id"); id != evID {
					t.Errorf("request %d: webhook-id %q, want the event id %q on every retry", i, id, evID)
				}
				// Jitter is ±20%, so a retry of 50ms comes at least 40ms later.
				if i > 0 && r.Arrived.Sub(got[i-1].Arrived) < 40*time.Millisecond {
					t.Errorf("request %d came %v after the previous one, want at least 40ms", i, r.Arrived.Sub(got[i-1].Arrived))
				}
			}
			if n := len(elsewhere.Requests()); n != 0 {
				t.Errorf("the redirect target got %d requests, want 0", n)
			}
			as := listAttempts(t, srv, ws, sub.ID)
			if len(as) != tt.wantRequests {
				t.Fatalf("%d attempts logged, want %d", len(as), tt.wantRequests)
			}
			for _, a := range as {
				if a.Succeeded || !strings.Contains(a.Err(), tt.wantError) {
					t.Errorf("attempt succeeded=%v error=%q, want failed with %q", a.Succeeded, a.Err(), tt.wantError)
				}
				switch {
				case tt.wantResponseStatus == 0 && a.Response != nil:
					t.Errorf("attempt logged response %+v, want none", a.Response)
				case tt.wantResponseStatus != 0 && (a.Response == nil || a.Response.Status != tt.wantResponseStatus):
					t.Errorf("attempt logged response %+v, want status %d", a.Response, tt.wantResponseStatus)
				}
			}

			if tt.wantSubscription == "disabled" {
				// Later events are held too, not sent and not dropped.
				ev2 := srv.Publish(t, ws, "order.created", map[string]string{"order": "2"})
				waitDelivery(t, srv, ws, ev2, "held")
				if n := len(rc.Requests()); n != tt.wantRequests {
					t.Errorf("receiver got %d requests after the subscription was disabled, want still %d", n, tt.wantRequests)
				}
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			srv := apptest.Start(t) // retry schedule 50ms,50ms
			var calls atomic.Int32
			rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(code)
				}
			})
			ws := srv.Workspace(t, "order.created")
			createSubscription(t, srv, ws, rc.URL, nil)
			evID := srv.Publish(t, ws, "order.created", map[string]string{"order": "1"})

			d := waitDelivery(t, srv, ws, evID, "succeeded")
			if d.Attempts != 2 {
				t.Errorf("delivery made %d attempts, want 2", d.Attempts)
			}
			got := rc.Requests()
			if len(got) != 2 {
				t.Fatalf("receiver got %d requests, want 2", len(got))
			}
			// The schedule says 50ms; Retry-After says a second.
			if gap := got[1].Arrived.Sub(got[0].Arrived); gap < 950*time.Millisecond {
				t.Errorf("the retry came %v after a %d with Retry-After: 1, want at least ~1s", gap, code)
			}
		})
	}
}

func TestSlowReceiverDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	const concurrency, events = 2, 20
	srv := apptest.Start(t, func(c *config.Config) { c.SubscriptionConcurrency = concurrency })
	release := make(chan struct{})
	var slowDone atomic.Int32
	slow := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		select {
		case <-release:
			slowDone.Add(1)
		case <-r.Context().Done():
		}
	})
	fast := apptest.NewReceiver(t, nil)
	var once atomic.Bool
	unblock := func() {
		if once.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(unblock) // before the receivers and the node stop

	ws := srv.Workspace(t, "order.created")
	createSubscription(t, srv, ws, slow.URL, map[string]any{"name": "slow", "timeout_seconds": 30})
	createSubscription(t, srv, ws, fast.URL, map[string]any{"name": "fast"})
	for i := range events {
		srv.Publish(t, ws, "order.created", map[string]int{"n": i})
	}

	fast.Wait(t, events, eventuallyTimeout)
	if n := slowDone.Load(); n != 0 {
		t.Fatalf("the slow receiver finished %d requests; the test is broken", n)
	}
	if n := len(slow.Requests()); n > concurrency {
		t.Errorf("the slow receiver has %d requests in flight, want at most the per-subscription concurrency %d", n, concurrency)
	}
	if ids := webhookIDs(fast.Requests()); len(ids) != events {
		t.Errorf("the fast receiver got %d distinct events, want %d", len(ids), events)
	}

	unblock()
	got := slow.Wait(t, events, eventuallyTimeout)
	if ids := webhookIDs(got); len(ids) != events {
		t.Errorf("the slow receiver got %d distinct events once released, want %d", len(ids), events)
	}
}

func TestAutoDisableHoldsDeliveriesUntilEnabled(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	var healthy atomic.Bool
	rc, v := newVerifyingReceiver(t, failWhileNot(&healthy))
	ws := srv.Workspace(t, "order.created")
	// More retries than the threshold, so the first delivery is still
	// pending when the subscription is disabled.
	sub := createSubscription(t, srv, ws, rc.URL, map[string]any{
		"failure_threshold": 3,
		"retry_schedule":    []string{"50ms", "50ms", "50ms", "50ms", "50ms"},
	})
	v.setSecret(sub.Secret)

	first := srv.Publish(t, ws, "order.created", map[string]int{"n": 0})
	s := waitSubscriptionStatus(t, srv, ws, sub.ID, "disabled")
	if s.ConsecutiveFailures != 3 {
		t.Errorf("consecutive_failures %d, want 3", s.ConsecutiveFailures)
	}
	waitDelivery(t, srv, ws, first, "held")
	events := []string{first}
	for i := 1; i <= 3; i++ {
		id := srv.Publish(t, ws, "order.created", map[string]int{"n": i})
		waitDelivery(t, srv, ws, id, "held")
		events = append(events, id)
	}
	if n := len(rc.Requests()); n != 3 {
		t.Fatalf("receiver got %d requests, want exactly the 3 failures that disabled the subscription", n)
	}

	healthy.Store(true)
	var enabled subscription
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/enable", nil, http.StatusOK, &enabled)
	if enabled.Status != "active" || enabled.ConsecutiveFailures != 0 {
		t.Errorf("after enable: status %q, consecutive_failures %d; want active, 0", enabled.Status, enabled.ConsecutiveFailures)
	}
	for _, id := range events {
		waitDelivery(t, srv, ws, id, "succeeded")
	}
	ids := webhookIDs(rc.Requests())
	for _, id := range events {
		if ids[id] == 0 {
			t.Errorf("event %s never reached the receiver", id)
		}
	}
}

func TestPauseHoldsDeliveriesUntilEnabled(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc, v := newVerifyingReceiver(t, nil)
	ws, sub := v.subscribe(t, srv, nil)

	var paused subscription
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/disable", nil, http.StatusOK, &paused)
	if paused.Status != "paused" {
		t.Fatalf("after disable: status %q, want paused", paused.Status)
	}
	var events []string
	for i := range 3 {
		id := srv.Publish(t, ws, "order.created", map[string]int{"n": i})
		waitDelivery(t, srv, ws, id, "held")
		events = append(events, id)
	}
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("a paused subscription's receiver got %d requests, want 0", n)
	}

	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/enable", nil, http.StatusOK, nil)
	for _, id := range events {
		waitDelivery(t, srv, ws, id, "succeeded")
	}
	if ids := webhookIDs(rc.Requests()); len(ids) != len(events) {
		t.Errorf("receiver got events %v, want the %d held ones", ids, len(events))
	}
}

func TestRecoverRequeuesFailedDeliveries(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	var healthy atomic.Bool
	rc, v := newVerifyingReceiver(t, failWhileNot(&healthy))
	ws, sub := v.subscribe(t, srv, map[string]any{"retry_schedule": []string{}, "failure_threshold": 100})
	path := "/api/v1/workspaces/" + ws + "/subscriptions/" + sub.ID + "/recover"

	before := srv.Publish(t, ws, "order.created", map[string]string{"when": "before since"})
	waitDelivery(t, srv, ws, before, "failed")
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC()
	var failed []string
	for i := range 3 {
		id := srv.Publish(t, ws, "order.created", map[string]int{"n": i})
		waitDelivery(t, srv, ws, id, "failed")
		failed = append(failed, id)
	}

	var res struct {
		Queued *int `json:"queued"`
	}
	srv.JSON(t, "POST", path, map[string]string{"since": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, http.StatusOK, &res)
	if res.Queued == nil || *res.Queued != 0 {
		t.Fatalf("recover since an hour ahead queued %v, want 0", res.Queued)
	}

	healthy.Store(true)
	srv.JSON(t, "POST", path, map[string]string{"since": since.Format(time.RFC3339Nano)}, http.StatusOK, &res)
	if res.Queued == nil || *res.Queued != len(failed) {
		t.Fatalf("recover queued %v, want %d", res.Queued, len(failed))
	}
	for _, id := range failed {
		waitDelivery(t, srv, ws, id, "succeeded")
	}
	if d := waitDelivery(t, srv, ws, before, "failed"); d.Attempts != 1 {
		t.Errorf("the delivery from before since made %d attempts, want 1", d.Attempts)
	}
	ids := webhookIDs(rc.Requests())
	for _, id := range failed {
		if ids[id] != 2 {
			t.Errorf("event %s reached the receiver %d times, want 2 (failed, then recovered)", id, ids[id])
		}
	}
}

func TestResendDeliversOnceMore(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc, v := newVerifyingReceiver(t, nil)
	ws, sub := v.subscribe(t, srv, nil)
	evID := srv.Publish(t, ws, "order.created", map[string]int{"n": 1})
	d := waitDelivery(t, srv, ws, evID, "succeeded")

	status, body := srv.Do(t, "POST", "/api/v1/workspaces/"+ws+"/deliveries/"+d.ID+"/resend", nil)
	if status/100 != 2 {
		t.Fatalf("resend: status %d: %s", status, body)
	}
	got := rc.Wait(t, 2, eventuallyTimeout)
	if got[0].Header.Get("webhook-id") != evID || got[1].Header.Get("webhook-id") != evID {
		t.Errorf("webhook-ids %q and %q, want the event id %q both times",
			got[0].Header.Get("webhook-id"), got[1].Header.Get("webhook-id"), evID)
	}
	eventually(t, "both deliveries succeeded", func() (bool, string) {
		ev := srv.Event(t, ws, evID)
		ok := len(ev.Deliveries) == 2
		for _, d := range ev.Deliveries {
			ok = ok && d.Status == "succeeded" && d.SubscriptionID == sub.ID
		}
		return ok, fmt.Sprintf("%+v", ev.Deliveries)
	})
	time.Sleep(100 * time.Millisecond) // a third send would come right away
	if n := len(rc.Requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
}

func TestRotateSecretSignsWithBothSecrets(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc, v := newVerifyingReceiver(t, nil)
	ws, sub := v.subscribe(t, srv, nil)
	oldSecret := sub.Secret

	first := srv.Publish(t, ws, "order.created", map[string]int{"n": 1})
	waitDelivery(t, srv, ws, first, "succeeded")
	if sigs := strings.Fields(rc.Requests()[0].Header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("before rotation: %d signatures, want 1: %v", len(sigs), sigs)
	}

	var rotated subscription
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/rotate-secret", nil, http.StatusOK, &rotated)
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == oldSecret {
		t.Fatalf("rotate-secret answered secret %q, want a new whsec_ secret", rotated.Secret)
	}
	v.setSecret(rotated.Secret) // a consumer switches to the new secret

	for i := range 3 {
		evID := srv.Publish(t, ws, "order.created", map[string]int{"n": 2 + i})
		waitDelivery(t, srv, ws, evID, "succeeded")
	}
	reqs := rc.Requests()
	if len(reqs) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(reqs))
	}
	for _, req := range reqs[1:] {
		sigs := strings.Fields(req.Header.Get("webhook-signature"))
		if len(sigs) != 2 {
			t.Fatalf("after rotation: signatures %v, want two", sigs)
		}
		msgID := req.Header.Get("webhook-id")
		ts, err := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		for i, secret := range []string{rotated.Secret, oldSecret} {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := wh.Sign(msgID, time.Unix(ts, 0), req.Body)
			if sigs[i] != want {
				t.Errorf("signature %d is %q, want %q (the %s secret)", i, sigs[i], want, []string{"new", "old"}[i])
			}
			// A consumer still on either secret accepts the request.
			if err := wh.Verify(req.Body, req.Header); err != nil {
				t.Errorf("verifying with the %s secret: %v", []string{"new", "old"}[i], err)
			}
		}
	}
}

func TestHMACSHA256Scheme(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "order.created")
	sub := createSubscription(t, srv, ws, rc.URL, map[string]any{
		"signature_scheme": "hmac-sha256", "signature_header": "X-Dastra-Signature",
	})
	srv.Publish(t, ws, "order.created", map[string]string{"naïve": "façade"})
	req := rc.Wait(t, 1, eventuallyTimeout)[0]

	mac := hmac.New(sha256.New, []byte(sub.Secret)) // the secret string's bytes, whsec_ included
	mac.Write(req.Body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := req.Header.Get("X-Dastra-Signature"); got != want {
		t.Errorf("X-Dastra-Signature %q, want %q", got, want)
	}
	if got := req.Header.Get("webhook-signature"); got != "" {
		t.Errorf("the hmac-sha256 scheme also sent webhook-signature %q", got)
	}
}

func TestBodyFormats(t *testing.T) {
	t.Parallel()
	const data = `{"b": 1,  "a":["x", {"é":null}]}` // spacing kept as published
	tests := []struct {
		name   string
		fields map[string]any
		check  func(t *testing.T, body []byte, evID, wsID, subID string)
	}{
		{
			name:   "full envelope",
			fields: map[string]any{"api_version": "2026-01-01"},
			check: func(t *testing.T, body []byte, evID, wsID, subID string) {
				env := envelopeOf(t, body)
				wantEnvelope(t, env, map[string]string{
					"id": q(evID), "type": `"order.created"`, "label": `"order.created"`, "workspace_id": q(wsID),
					"subscription_id": q(subID), "user_id": `"usr_external_7"`, "subject": `"order/1"`,
					"api_version": `"2026-01-01"`,
				}, true)
				var got, want any
				json.Unmarshal(env["data"], &got)
				json.Unmarshal([]byte(data), &want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("data %s, want %s", env["data"], data)
				}
			},
		},
		{
			name:   "notification has no data",
			fields: map[string]any{"payload": "notification"},
			check: func(t *testing.T, body []byte, evID, wsID, subID string) {
				env := envelopeOf(t, body)
				wantEnvelope(t, env, map[string]string{
					"id": q(evID), "type": `"order.created"`, "workspace_id": q(wsID), "subscription_id": q(subID),
					"user_id": `"usr_external_7"`, "subject": `"order/1"`, "api_version": "null",
				}, false)
			},
		},
		{
			name:   "entity is Aanmelder's body",
			fields: map[string]any{"format": "entity"},
			check: func(t *testing.T, body []byte, evID, wsID, subID string) {
				want := `{"entity_id":1,"entity_type":"order","action_type":"created","result":` + data + `}`
				var got, w any
				json.Unmarshal(body, &got)
				json.Unmarshal([]byte(want), &w)
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("entity body %s, want %s", body, want)
				}
			},
		},
		{
			name:   "raw is exactly the data",
			fields: map[string]any{"format": "raw"},
			check: func(t *testing.T, body []byte, evID, wsID, subID string) {
				if string(body) != data {
					t.Errorf("raw body %s, want exactly %s", body, data)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := apptest.Start(t)
			rc, v := newVerifyingReceiver(t, nil)
			ws, sub := v.subscribe(t, srv, tt.fields)
			// Published as text so that the data's exact bytes are known.
			var ev struct{ ID string }
			srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/events",
				`{"type":"order.created","user_id":"usr_external_7","subject":"order/1","data":`+data+`}`,
				http.StatusAccepted, &ev)
			req := rc.Wait(t, 1, eventuallyTimeout)[0]
			if ct := req.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			tt.check(t, req.Body, ev.ID, ws, sub.ID)
		})
	}
}

func q(s string) string { return strconv.Quote(s) }

// wantEnvelope checks an envelope's keys (SPEC §4) and the given values.
func wantEnvelope(t *testing.T, env map[string]json.RawMessage, want map[string]string, withData bool) {
	t.Helper()
	keys := []string{"id", "type", "label", "workspace_id", "subscription_id", "user_id", "subject", "timestamp", "api_version"}
	if withData {
		keys = append(keys, "data")
	}
	var got []string
	for k := range env {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("envelope keys %v, want %v", got, keys)
	}
	for k, v := range want {
		if string(env[k]) != v {
			t.Errorf("envelope %s = %s, want %s", k, env[k], v)
		}
	}
	var ts string
	if err := json.Unmarshal(env["timestamp"], &ts); err != nil {
		t.Fatalf("timestamp %s: %v", env["timestamp"], err)
	}
	if tm, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || time.Since(tm) > time.Minute {
		t.Errorf("timestamp %q, want a recent RFC 3339 UTC time", ts)
	}
}

func TestTestButton(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc, v := newVerifyingReceiver(t, nil)
	ws, sub := v.subscribe(t, srv, map[string]any{"event_types": []string{"order.created"}})
	_, caller, err := srv.App.Store.TokenByHash(context.Background(), auth.HashToken(apptest.Token))
	if err != nil {
		t.Fatal(err)
	}

	var res struct{ Attempt *attempt }
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/test", nil, http.StatusOK, &res)
	// Synchronous: the request has arrived by the time the answer has.
	got := rc.Requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests when the test answered, want 1", len(got))
	}
	if res.Attempt == nil || !res.Attempt.Succeeded || res.Attempt.Response == nil || res.Attempt.Response.Status != 200 ||
		res.Attempt.EventType != "webhook.test" {
		t.Fatalf("test answered attempt %+v, want a succeeded webhook.test with status 200", res.Attempt)
	}
	env := envelopeOf(t, got[0].Body)
	if string(env["type"]) != `"webhook.test"` {
		t.Errorf("type %s, want webhook.test", env["type"])
	}
	var data map[string]string
	if err := json.Unmarshal(env["data"], &data); err != nil {
		t.Fatalf("data %s: %v", env["data"], err)
	}
	want := map[string]string{"id": caller.ID, "email": caller.Email, "name": caller.Name}
	if fmt.Sprint(data) != fmt.Sprint(want) {
		t.Errorf("data %v, want the calling user %v", data, want)
	}
	if got[0].Header.Get("webhook-id") != res.Attempt.EventID {
		t.Errorf("webhook-id %q, attempt's event_id %q", got[0].Header.Get("webhook-id"), res.Attempt.EventID)
	}
	as := listAttempts(t, srv, ws, sub.ID)
	if len(as) != 1 || as[0].ID != res.Attempt.ID {
		t.Errorf("attempt log %+v, want the test attempt %s", as, res.Attempt.ID)
	}
}

func TestTestButtonDoesNotCountTowardAutoDisable(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	rc := apptest.NewReceiver(t, answer(http.StatusInternalServerError))
	ws := srv.Workspace(t, "order.created")
	sub := createSubscription(t, srv, ws, rc.URL, map[string]any{"failure_threshold": 1, "retry_schedule": []string{}})

	for range 3 {
		var res struct{ Attempt *attempt }
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID+"/test", nil, http.StatusOK, &res)
		if res.Attempt == nil || res.Attempt.Succeeded || res.Attempt.Response == nil || res.Attempt.Response.Status != 500 {
			t.Fatalf("test against a failing receiver answered %+v, want a failed attempt with status 500", res.Attempt)
		}
	}
	if s := srv.Subscription(t, ws, sub.ID); s.Status != "active" || s.ConsecutiveFailures != 0 {
		t.Fatalf("after 3 failed tests: status %q, consecutive_failures %d; want active, 0", s.Status, s.ConsecutiveFailures)
	}
	// One real failure does count, against the same threshold.
	srv.Publish(t, ws, "order.created", map[string]int{"n": 1})
	waitSubscriptionStatus(t, srv, ws, sub.ID, "disabled")
}

// TestEveryDeliveryVerifies publishes a mix of events, some retried, to a
// consumer that checks every request with the Standard Webhooks library.
func TestEveryDeliveryVerifies(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t)
	var calls atomic.Int32
	rc, v := newVerifyingReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if calls.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried, with a fresh timestamp and signature
		}
	})
	ws := srv.Workspace(t, "order.created", "order.paid")
	sub := createSubscription(t, srv, ws, rc.URL, map[string]any{
		"headers": map[string]string{"X-Tenant": "acme"}, "retry_schedule": []string{"50ms", "50ms", "50ms", "50ms"},
		"failure_threshold": 1000,
	})
	v.setSecret(sub.Secret)
	datas := []any{
		map[string]any{"n": 1},
		"just a string",
		[]any{1, "two", 3.5, nil},
		map[string]string{"unicode": "Grüße, 世界, 🚀", "quotes": `"\<>&`},
		map[string]string{"big": strings.Repeat("x", 100<<10)},
		false,
	}
	var events []string
	for i, d := range datas {
		events = append(events, srv.Publish(t, ws, []string{"order.created", "order.paid"}[i%2], d))
	}
	for _, id := range events {
		waitDelivery(t, srv, ws, id, "succeeded")
	}
	ids := webhookIDs(rc.Requests())
	for _, id := range events {
		if ids[id] == 0 {
			t.Errorf("event %s never arrived", id)
		}
	}
	// The verifier fails the test for any request that did not verify.
}
