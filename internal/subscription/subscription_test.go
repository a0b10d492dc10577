package subscription_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
	"github.com/postbode/postbode/internal/workspace"
)

// recorder stands in for ingest's routes and the dispatcher, recording
// what the service told them.
type recorder struct {
	mu          sync.Mutex
	routes      []string // workspaces invalidated
	invalidated []string // subscriptions invalidated
	notified    int
	tested      *store.Subscription
	testData    []byte
}

func (r *recorder) Invalidate(ws string) { r.mu.Lock(); r.routes = append(r.routes, ws); r.mu.Unlock() }
func (r *recorder) Notify()              { r.mu.Lock(); r.notified++; r.mu.Unlock() }

type dispatcher struct{ *recorder }

func (d dispatcher) Invalidate(id string) {
	d.mu.Lock()
	d.invalidated = append(d.invalidated, id)
	d.mu.Unlock()
}

func (d dispatcher) Test(_ context.Context, sub *store.Subscription, data []byte) (*store.Attempt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tested, d.testData = sub, data
	return &store.Attempt{ID: "att_1", Test: true}, nil
}

type env struct {
	ctx   context.Context
	st    store.Store
	svc   *subscription.Service
	rec   *recorder
	admin *auth.Principal
	ws    string
}

func newEnv(t *testing.T, st store.Store) *env {
	ctx := context.Background()
	clock := servicetest.NewClock()
	wss := workspace.New(st, clock.Now)
	rec := &recorder{}
	e := &env{ctx: ctx, st: st, rec: rec, admin: servicetest.User(t, st, store.RoleAdmin, "admin@example.com"),
		svc: subscription.New(subscription.Options{Store: st, Workspaces: wss, Routes: rec, Delivery: dispatcher{rec}, Now: clock.Now})}
	w, err := wss.Create(ctx, e.admin, "Main")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	if _, err := wss.CreateEventType(ctx, e.admin, e.ws, workspace.EventTypeInput{Name: "a", Label: "A"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func (e *env) create(t *testing.T, in *subscription.Input) *subscription.Created {
	t.Helper()
	if in.Name == nil {
		in.Name = ptr("hook")
	}
	if in.URL == nil {
		in.URL = ptr("https://example.com/hook")
	}
	if in.EventTypes == nil {
		in.EventTypes = []string{"*"}
	}
	c, err := e.svc.Create(e.ctx, e.admin, e.ws, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateDefaultsAndSecretShownOnce(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		c := e.create(t, &subscription.Input{})
		s := c.Subscription
		if s.Mode != store.ModePush || s.Status != store.SubscriptionActive || s.Payload != "full" || s.Format != "envelope" ||
			s.SignatureScheme != "standard" || s.SignatureHeader != "X-Postbode-Signature" || s.TimeoutSeconds != 10 ||
			s.FailureThreshold != 5 || !strings.HasPrefix(c.Secret, "whsec_") {
			t.Errorf("defaults: %+v, secret %q", s, c.Secret)
		}
		if b, _ := json.Marshal(s); strings.Contains(string(b), c.Secret) {
			t.Errorf("the subscription shows its secret: %s", b)
		}
		if len(e.rec.routes) != 1 || e.rec.routes[0] != e.ws {
			t.Errorf("routes invalidated: %v, want [%s]", e.rec.routes, e.ws)
		}
	})
}

func TestSecretsInURLAndHeadersAreMasked(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		c := e.create(t, &subscription.Input{URL: ptr("https://user:s3cret@example.com/hook"),
			Headers: map[string]string{"Authorization": "Bearer abc", "X-Api-Key": "k", "X-Customer": "42"}})
		check := func(what string, s *store.Subscription) {
			t.Helper()
			if s.URL != "https://user:***@example.com/hook" || s.Headers["Authorization"] != "***" ||
				s.Headers["X-Api-Key"] != "***" || s.Headers["X-Customer"] != "42" {
				t.Errorf("%s shows %s %v", what, s.URL, s.Headers)
			}
		}
		check("create", c.Subscription)
		got, err := e.svc.Get(e.ctx, e.admin, e.ws, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		check("get", got)
		l, err := e.svc.List(e.ctx, e.admin, e.ws, listing.Query{})
		if err != nil || len(l.Data) != 1 {
			t.Fatal(l, err)
		}
		check("list", &l.Data[0])

		// Sent back as shown, the masked values keep the real ones.
		up, err := e.svc.Update(e.ctx, e.admin, e.ws, c.ID, &subscription.Input{URL: ptr(got.URL), Headers: got.Headers})
		if err != nil {
			t.Fatal(err)
		}
		check("update", up)
		real, err := st.GetSubscription(e.ctx, e.ws, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if real.URL != "https://user:s3cret@example.com/hook" || real.Headers["Authorization"] != "Bearer abc" || real.Headers["X-Api-Key"] != "k" {
			t.Errorf("stored after a round trip: %s %v", real.URL, real.Headers)
		}
	})
}

func TestBadInput(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.create(t, &subscription.Input{})
		cases := []struct {
			name  string
			in    subscription.Input
			field string
		}{
			{"NUL in name", subscription.Input{Name: ptr("a\x00b")}, "name"},
			{"invalid UTF-8 name", subscription.Input{Name: ptr("\xff")}, "name"},
			{"NUL in url", subscription.Input{URL: ptr("https://example.com/\x00")}, "url"},
			{"invalid UTF-8 url", subscription.Input{URL: ptr("https://example.com/\xff")}, "url"},
			{"NUL in a header value", subscription.Input{Headers: map[string]string{"X-A": "a\x00"}}, "headers.X-A"},
			{"invalid UTF-8 header value", subscription.Input{Headers: map[string]string{"X-A": "\xff"}}, "headers.X-A"},
			{"NUL in a header name", subscription.Input{Headers: map[string]string{"X-\x00": "a"}}, "headers"},
			{"NUL in api_version", subscription.Input{APIVersion: json.RawMessage(`"v\u0000"`)}, "api_version"},
			{"NUL in an event type", subscription.Input{EventTypes: []string{"a\x00"}}, "event_types[0]"},
			{"status", subscription.Input{Status: ptr("active")}, "status"},
			{"pull", subscription.Input{Mode: ptr("pull")}, "mode"},
			{"timeout", subscription.Input{TimeoutSeconds: ptr(31)}, "timeout_seconds"},
			{"retry step", subscription.Input{RetrySchedule: json.RawMessage(`["5s","x\u0000"]`)}, "retry_schedule[1]"},
			{"secret", subscription.Input{Secret: ptr("whsec_short")}, "secret"},
		}
		for _, c := range cases {
			_, err := e.svc.Update(e.ctx, e.admin, e.ws, sub.ID, &c.in)
			servicetest.Check(t, c.name, err, servicetest.Want{Kind: errs.Invalid, Field: c.field})
		}
		for _, id := range []string{"sub_\xff", "sub_\x00"} {
			_, err := e.svc.Get(e.ctx, e.admin, e.ws, id)
			servicetest.Check(t, "id "+strings.ToValidUTF8(id, "?"), err, servicetest.Want{Kind: errs.Invalid, Field: "id"})
		}
		_, err := e.svc.Recover(e.ctx, e.admin, e.ws, sub.ID, "yesterday")
		servicetest.Check(t, "since", err, servicetest.Want{Kind: errs.Invalid, Field: "since"})
	})
}

// TestDeletedSubscription: every action on a subscription deleted before
// or while it runs is not found, never another error.
func TestDeletedSubscription(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		actions := map[string]func(id string) error{
			"delete": func(id string) error { return e.svc.Delete(e.ctx, e.admin, e.ws, id) },
			"update": func(id string) error {
				_, err := e.svc.Update(e.ctx, e.admin, e.ws, id, &subscription.Input{Name: ptr("renamed")})
				return err
			},
			"enable":  func(id string) error { _, err := e.svc.Enable(e.ctx, e.admin, e.ws, id); return err },
			"disable": func(id string) error { _, err := e.svc.Disable(e.ctx, e.admin, e.ws, id); return err },
			"rotate":  func(id string) error { _, err := e.svc.RotateSecret(e.ctx, e.admin, e.ws, id); return err },
			"recover": func(id string) error {
				_, err := e.svc.Recover(e.ctx, e.admin, e.ws, id, "2020-01-01T00:00:00Z")
				return err
			},
			"test": func(id string) error { _, err := e.svc.Test(e.ctx, e.admin, e.ws, id); return err },
			"attempts": func(id string) error {
				_, err := e.svc.ListAttempts(e.ctx, e.admin, e.ws, id, listing.Query{})
				return err
			},
		}
		for name, act := range actions {
			// After the delete.
			sub := e.create(t, &subscription.Input{})
			if err := e.svc.Delete(e.ctx, e.admin, e.ws, sub.ID); err != nil {
				t.Fatal(err)
			}
			servicetest.Check(t, name+" after delete", act(sub.ID), servicetest.Want{Kind: errs.NotFound})
			// Racing the delete: each either wins or is not found.
			for range 5 {
				sub := e.create(t, &subscription.Input{})
				var wg sync.WaitGroup
				errc := make(chan error, 2)
				wg.Go(func() { errc <- e.svc.Delete(e.ctx, e.admin, e.ws, sub.ID) })
				wg.Go(func() { errc <- act(sub.ID) })
				wg.Wait()
				close(errc)
				for err := range errc {
					if err != nil && errs.KindOf(err) != errs.NotFound {
						t.Errorf("%s racing a delete: %v", name, err)
					}
				}
			}
		}
	})
}

func TestActionsTellTheCaches(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.create(t, &subscription.Input{})
		e.rec.routes, e.rec.invalidated, e.rec.notified = nil, nil, 0
		if _, err := e.svc.Disable(e.ctx, e.admin, e.ws, sub.ID); err != nil {
			t.Fatal(err)
		}
		if len(e.rec.routes) != 1 || len(e.rec.invalidated) != 1 || e.rec.invalidated[0] != sub.ID || e.rec.notified != 1 {
			t.Errorf("after disable: routes %v, subscriptions %v, notified %d", e.rec.routes, e.rec.invalidated, e.rec.notified)
		}
		a, err := e.svc.Test(e.ctx, e.admin, e.ws, sub.ID)
		if err != nil || !a.Test {
			t.Fatal(a, err)
		}
		var data map[string]string
		if json.Unmarshal(e.rec.testData, &data) != nil || data["id"] != e.admin.User.ID || data["email"] != "admin@example.com" {
			t.Errorf("test data %s", e.rec.testData)
		}
		if e.rec.tested.Secret == "" || strings.Contains(e.rec.tested.URL, "***") {
			t.Errorf("the test send got a masked subscription: %+v", e.rec.tested)
		}
		rot, err := e.svc.RotateSecret(e.ctx, e.admin, e.ws, sub.ID)
		if err != nil || rot.Secret == sub.Secret || rot.PreviousSecretExpiresAt == nil ||
			!rot.PreviousSecretExpiresAt.Equal(servicetest.NewClock().T.Add(subscription.SecretRotationGrace).Truncate(time.Microsecond)) {
			t.Errorf("rotate: %+v, %v", rot, err)
		}
	})
}

// TestMaskedSecretsSentBack: a URL whose key is its user name is masked
// whole; sent back masked with another path, the URL keeps its secret; a
// masked value that stands for nothing is refused, never sent as "***".
func TestMaskedSecretsSentBack(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		c := e.create(t, &subscription.Input{URL: ptr("https://sk_live_42@example.com/a")})
		if c.URL != "https://***@example.com/a" {
			t.Errorf("shown as %s", c.URL)
		}
		if _, err := e.svc.Update(e.ctx, e.admin, e.ws, c.ID, &subscription.Input{URL: ptr("https://***@example.com/b")}); err != nil {
			t.Fatal(err)
		}
		if real, _ := st.GetSubscription(e.ctx, e.ws, c.ID); real.URL != "https://sk_live_42@example.com/b" {
			t.Errorf("stored %s, want the key kept with the new path", real.URL)
		}
		for name, in := range map[string]*subscription.Input{
			"masked user for another host":   {URL: ptr("https://***@other.example.com/")},
			"masked password where none was": {URL: ptr("https://u:***@example.com/")},
			"masked header never set":        {Headers: map[string]string{"X-Api-Key": "***"}},
		} {
			_, err := e.svc.Update(e.ctx, e.admin, e.ws, c.ID, in)
			servicetest.Check(t, name, err, servicetest.Want{Kind: errs.Invalid})
		}
	})
}
