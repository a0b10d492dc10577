// Conformance tests of a subscription deleted while another request acts on
// it. Whatever the interleaving, the other request either does its work or
// finds the subscription gone (store.ErrNotFound), never another error: the
// API answers a request that lost such a race 404, not 500 (SPEC §3).
package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// raceRounds is how many times each race is run: the interleavings differ
// from round to round.
const raceRounds = 20

// raced is a subscription with deliveries in several states and attempts,
// so that deleting it has some work to do, and the targets of the
// operations that race the delete.
type raced struct {
	sub      *store.Subscription
	delivery string // failed, with an attempt
	attempt  string
}

func (f *fixture) raced() *raced {
	f.t.Helper()
	s := f.newSub("")
	ids := f.publish(t0, s, s, s, s)
	f.claim(t0, 10)
	failed := f.failed(ids[1], t0)
	f.complete(f.retry(ids[0], t0, at(time.Hour)), failed, f.succeeded(ids[2], t0))
	return &raced{sub: s, delivery: ids[1], attempt: failed.Attempt.ID}
}

func raceTests() []test {
	ops := []struct {
		name string
		op   func(f *fixture, r *raced) error
	}{
		{"Update", func(f *fixture, r *raced) error {
			s := *r.sub
			s.Name, s.UpdatedAt = "Renamed", at(time.Minute)
			return f.s.UpdateSubscription(f.ctx, &s)
		}},
		{"Pause", func(f *fixture, r *raced) error {
			_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, r.sub.ID, store.SubscriptionPaused, at(time.Minute))
			return err
		}},
		{"Enable", func(f *fixture, r *raced) error {
			_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, r.sub.ID, store.SubscriptionActive, at(time.Minute))
			return err
		}},
		{"RotateSecret", func(f *fixture, r *raced) error {
			_, err := f.s.RotateSecret(f.ctx, f.ws, r.sub.ID, "whsec_bmV3", at(time.Minute), at(time.Hour))
			return err
		}},
		{"Recover", func(f *fixture, r *raced) error {
			_, err := f.s.Recover(f.ctx, f.ws, r.sub.ID, at(-time.Hour), at(time.Minute))
			return err
		}},
		{"Resend", func(f *fixture, r *raced) error {
			_, err := f.s.Resend(f.ctx, f.ws, r.delivery, newID("dlv_"), at(time.Minute))
			return err
		}},
		{"RecordTestAttempt", func(f *fixture, r *raced) error {
			e, d, a := testSend(r.sub, at(time.Minute))
			return f.s.RecordTestAttempt(f.ctx, e, d, a)
		}},
		{"ListAttempts", func(f *fixture, r *raced) error {
			_, err := f.s.ListAttempts(f.ctx, f.ws, r.sub.ID, store.Page{Limit: 10})
			return err
		}},
		{"GetAttempt", func(f *fixture, r *raced) error {
			_, err := f.s.GetAttempt(f.ctx, f.ws, r.sub.ID, r.attempt)
			return err
		}},
	}
	tests := []test{{"DeleteTwice", func(t *testing.T, f *fixture) {
		for round := range raceRounds {
			r := f.raced()
			errs := race(f,
				func() error { return f.s.DeleteSubscription(f.ctx, f.ws, r.sub.ID) },
				func() error { return f.s.DeleteSubscription(f.ctx, f.ws, r.sub.ID) })
			nils, notFound := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					nils++
				case errors.Is(err, store.ErrNotFound):
					notFound++
				}
			}
			if nils != 1 || notFound != 1 {
				t.Errorf("round %d: two deletes at once: %v and %v; want one nil and one %v", round, errs[0], errs[1],
					store.ErrNotFound)
			}
		}
	}}}
	for _, o := range ops {
		tests = append(tests, test{"DeleteAnd" + o.name, func(t *testing.T, f *fixture) {
			for round := range raceRounds {
				r := f.raced()
				errs := race(f,
					func() error { return f.s.DeleteSubscription(f.ctx, f.ws, r.sub.ID) },
					func() error { return o.op(f, r) })
				if errs[0] != nil {
					t.Errorf("round %d: DeleteSubscription: %v", round, errs[0])
				}
				if errs[1] != nil && !errors.Is(errs[1], store.ErrNotFound) {
					t.Errorf("round %d: %s racing a delete: %v; want success or %v", round, o.name, errs[1], store.ErrNotFound)
				}
				// Done after the delete, it finds the subscription gone.
				if err := o.op(f, r); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("round %d: %s after the delete: %v, want %v", round, o.name, err, store.ErrNotFound)
				}
			}
		}})
	}
	return tests
}

// race runs fns at once and returns their errors.
func race(f *fixture, fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// testSend returns a test send to s made at when, as the dispatcher records
// it: its event, finished delivery and attempt.
func testSend(s *store.Subscription, when time.Time) (*store.Event, *store.Delivery, *store.Attempt) {
	e := &store.Event{ID: newID("evt_"), WorkspaceID: s.WorkspaceID, Type: store.TestEventType, Label: "Test",
		Data: []byte(`{"id":"usr_1","email":"a@example.com","name":"A"}`), CreatedAt: when}
	d := &store.Delivery{ID: newID("dlv_"), WorkspaceID: s.WorkspaceID, EventID: e.ID, SubscriptionID: s.ID,
		Status: store.DeliverySucceeded, CreatedAt: when}
	a := &store.Attempt{ID: newID("att_"), DeliveryID: d.ID, EventID: e.ID, EventType: e.Type, SubscriptionID: s.ID,
		WorkspaceID: s.WorkspaceID, CreatedAt: when, DurationMS: 5,
		Request:  store.AttemptRequest{URL: s.URL, Headers: map[string]string{"A": "b"}, Body: string(e.Data)},
		Response: &store.AttemptResponse{Status: 200, Headers: map[string]string{}, Body: ""}, Succeeded: true, Test: true}
	return e, d, a
}
