// End to end: a real Postbode node delivers to an httptest server wrapped
// by Middleware, for both signature schemes and through a secret rotation.
package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/webhook"
)

// delivery is what the handler behind the middleware got.
type delivery struct {
	header http.Header
	body   []byte
	event  *webhook.Event
}

// receiver is an httptest server whose handler is set once the
// subscription (and so its secret) exists.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.Handler
	got     []delivery
	refused []error
	arrived chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{arrived: make(chan struct{}, 64)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		h := rc.handler
		rc.mu.Unlock()
		if h == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// verifyWith puts v's Middleware in front of a handler that records what
// verified; refusals are recorded too.
func (rc *receiver) verifyWith(t *testing.T, secret string, opts ...webhook.Option) {
	opts = append(opts, webhook.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
		rc.mu.Lock()
		rc.refused = append(rc.refused, err)
		rc.mu.Unlock()
		http.Error(w, err.Error(), status)
	}))
	v, err := webhook.NewVerifier(secret, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		e, err := webhook.Parse(body)
		if err != nil {
			t.Errorf("parse %q: %v", body, err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{r.Header.Clone(), body, e})
		rc.mu.Unlock()
		rc.arrived <- struct{}{}
	}))
	rc.mu.Lock()
	rc.handler = h
	rc.mu.Unlock()
}

func (rc *receiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]delivery(nil), rc.got...)
		refused := append([]error(nil), rc.refused...)
		rc.mu.Unlock()
		if len(refused) > 0 {
			t.Fatalf("the middleware refused a delivery of Postbode's: %v", refused)
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.arrived:
		case <-deadline:
			t.Fatalf("%d deliveries verified within 10s, want %d", len(got), n)
		}
	}
}

func TestMiddlewareVerifiesRealDeliveries(t *testing.T) {
	srv := apptest.Start(t)
	c := client.New(srv.URL, apptest.Token)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, err := c.CreateWorkspace(ctx, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEventType(ctx, ws.ID, client.EventTypeParams{Name: "invoice.paid", Label: "Invoice paid"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, scheme, header string }{
		{"standard", webhook.SchemeStandard, ""},
		{"hmac-sha256", webhook.SchemeHMACSHA256, ""},
		{"hmac-sha256 own header", webhook.SchemeHMACSHA256, "Dastra-Signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t)
			sub, err := c.CreateSubscription(ctx, ws.ID, client.SubscriptionParams{Name: tc.name, URL: rc.URL + "/hook",
				EventTypes: []string{"invoice.paid"}, SignatureScheme: tc.scheme, SignatureHeader: tc.header})
			if err != nil {
				t.Fatal(err)
			}
			opts := []webhook.Option{webhook.WithScheme(tc.scheme)}
			if tc.header != "" {
				opts = append(opts, webhook.WithSignatureHeader(tc.header))
			}
			rc.verifyWith(t, sub.Secret, opts...)

			p, err := c.Publish(ctx, ws.ID, client.PublishParams{Type: "invoice.paid", Data: map[string]any{"invoice": "1001"},
				Subject: "invoice/1001"})
			if err != nil {
				t.Fatal(err)
			}
			d := rc.wait(t, 1)[0]
			e := d.event
			if e.ID != p.ID || e.Type != "invoice.paid" || e.Label != "Invoice paid" || e.SubscriptionID != sub.ID ||
				e.WorkspaceID != ws.ID || string(e.Data) != `{"invoice":"1001"}` || e.Subject == nil || *e.Subject != "invoice/1001" {
				t.Fatalf("event %+v", e)
			}
			// Another secret does not verify it.
			wrong, err := webhook.NewVerifier("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := wrong.Verify(d.header, d.body); !errors.Is(err, webhook.ErrInvalidSignature) {
				t.Fatalf("another secret: %v", err)
			}
			// The test button's request verifies too.
			a, err := c.TestSubscription(ctx, ws.ID, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Succeeded {
				t.Fatalf("the test attempt failed: %+v", a)
			}
			rc.wait(t, 2)

			// A rotation: Postbode signs with both secrets for 24 hours,
			// so receivers holding either verify.
			rot, err := c.RotateSecret(ctx, ws.ID, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Publish(ctx, ws.ID, client.PublishParams{Type: "invoice.paid", Data: map[string]any{"invoice": "1002"}}); err != nil {
				t.Fatal(err)
			}
			last := rc.wait(t, 3)[2] // verified by the old secret's middleware
			vNew, err := webhook.NewVerifier(rot.Secret, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := vNew.Verify(last.header, last.body); err != nil {
				t.Fatalf("the new secret: %v", err)
			}
			rc.verifyWith(t, rot.Secret, opts...)
			if _, err := c.Publish(ctx, ws.ID, client.PublishParams{Type: "invoice.paid", Data: map[string]any{"invoice": "1003"}}); err != nil {
				t.Fatal(err)
			}
			rc.wait(t, 4)
		})
	}
}
