// Conformance tests of subscriptions: their fields, edits and deletion, and
// the status changes (enable, pause, rotate, recover) that hold or release
// their deliveries.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func subscriptionTests() []test {
	return []test{
		{"RoundTrip", func(t *testing.T, f *fixture) {
			for _, c := range []struct {
				name string
				edit func(*store.Subscription)
			}{
				{"defaults", func(*store.Subscription) {}},
				{"every field set", func(s *store.Subscription) {
					s.Name, s.URL = "Billing service", "http://billing.example.com:8080/hooks?x=1"
					s.EventTypes = []string{"invoice.paid", "invoice.due"}
					s.Payload, s.Format = "notification", "raw"
					s.Headers = map[string]string{"X-Customer": "acme", "Authorization": "Bearer abc", "X-Empty": ""}
					s.SignatureScheme, s.SignatureHeader = "hmac-sha256", "X-Signature"
					s.Secret, s.PreviousSecret = "whsec_bmV3", "whsec_b2xk"
					s.PreviousSecretExpiresAt = ptr(at(24 * time.Hour))
					s.TimeoutSeconds, s.FailureThreshold = 30, 12
					s.RetrySchedule = []store.Duration{store.Duration(5 * time.Second), store.Duration(90 * time.Minute)}
					s.APIVersion = ptr("2024-01-01")
					s.CreatedAt, s.UpdatedAt = at(-time.Hour), at(time.Second)
				}},
				{"pull mailbox", func(s *store.Subscription) {
					s.Mode, s.URL, s.Auth, s.CoalesceBySubject = "pull", "", "basic", true
				}},
				{"paused with failures", func(s *store.Subscription) {
					s.Status, s.ConsecutiveFailures = store.SubscriptionPaused, 3
				}},
				{"retry schedule empty, not default", func(s *store.Subscription) { s.RetrySchedule = []store.Duration{} }},
				{"api version empty string, not null", func(s *store.Subscription) { s.APIVersion = ptr("") }},
			} {
				want := f.newSub("", c.edit)
				got, err := f.s.GetSubscription(f.ctx, f.ws, want.ID)
				f.must(err, "GetSubscription")
				wantSame(t, c.name+": GetSubscription", got, want)
				wantSame(t, c.name+": SubscriptionByID", f.sub(want.ID), want)
				list, err := f.s.ListSubscriptions(f.ctx, f.ws, store.Page{Limit: 100})
				f.must(err, "ListSubscriptions")
				found := false
				for i := range list {
					if list[i].ID == want.ID {
						found = true
						wantSame(t, c.name+": ListSubscriptions", &list[i], want)
					}
				}
				if !found {
					t.Errorf("%s: not in ListSubscriptions", c.name)
				}
			}
		}},
		{"GetUnknownIsNotFound", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			other := f.newWorkspace("other", "")
			_, err := f.s.GetSubscription(f.ctx, other, s.ID)
			wantErr(t, "GetSubscription from another workspace", err, store.ErrNotFound)
			_, err = f.s.GetSubscription(f.ctx, f.ws, "sub_unknown")
			wantErr(t, "GetSubscription", err, store.ErrNotFound)
			_, err = f.s.SubscriptionByID(f.ctx, "sub_unknown")
			wantErr(t, "SubscriptionByID", err, store.ErrNotFound)
		}},
		{"ListPagesByID", func(t *testing.T, f *fixture) {
			other := f.newWorkspace("other", "")
			var want []string
			for i := range 5 {
				want = append(want, f.newSub("").ID)
				if i == 2 {
					f.newSub(other)
				}
			}
			var got []string
			cursor := ""
			for range 10 {
				page, err := f.s.ListSubscriptions(f.ctx, f.ws, store.Page{Cursor: cursor, Limit: 2})
				f.must(err, "ListSubscriptions")
				for _, s := range page {
					got = append(got, s.ID)
				}
				if len(page) < 2 {
					break
				}
				cursor = page[len(page)-1].ID
			}
			wantIDs(t, "subscriptions", got, want)
		}},
		{"RoutableIsEverySubscription", func(t *testing.T, f *fixture) {
			active := f.newSub("")
			paused := f.newSub("", func(s *store.Subscription) { s.Status = store.SubscriptionPaused })
			disabled := f.newSub("", func(s *store.Subscription) { s.Status = store.SubscriptionDisabled })
			pull := f.newSub("", func(s *store.Subscription) { s.Mode, s.URL, s.Auth = "pull", "", "bearer" })
			f.newSub(f.newWorkspace("other", ""))
			subs, err := f.s.RoutableSubscriptions(f.ctx, f.ws)
			f.must(err, "RoutableSubscriptions")
			var got []string
			for _, s := range subs {
				got = append(got, s.ID)
				if s.ID == paused.ID {
					wantSame(t, "routable subscription", &s, paused)
				}
			}
			wantIDs(t, "routable", sorted(got...), sorted(active.ID, paused.ID, disabled.ID, pull.ID))
		}},
		{"UpdateWritesEditableFields", func(t *testing.T, f *fixture) {
			orig := f.newSub("", func(s *store.Subscription) {
				s.RetrySchedule = []store.Duration{store.Duration(time.Second)}
				s.APIVersion = ptr("v1")
				s.Headers = map[string]string{"X-Old": "1"}
			})
			// Fail twice and pause, so that it shows the count and status are kept.
			ids := f.publish(t0, orig, orig)
			f.deliverAll(t0, func(id string) store.Outcome { return f.retry(id, t0, at(time.Hour)) })
			_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, orig.ID, store.SubscriptionPaused, t0)
			f.must(err, "SetSubscriptionStatus")

			edit := *f.sub(orig.ID)
			edit.Name, edit.URL = "Renamed", "https://new.example.com/hook"
			edit.EventTypes = []string{"a", "b"}
			edit.Payload, edit.Format = "notification", "raw"
			edit.Headers = map[string]string{"X-New": "2"}
			edit.SignatureScheme, edit.SignatureHeader = "hmac-sha256", "X-Sig"
			edit.TimeoutSeconds, edit.FailureThreshold = 3, 9
			edit.RetrySchedule, edit.APIVersion = nil, nil
			edit.CoalesceBySubject = true
			edit.UpdatedAt = at(time.Minute)
			want := edit
			// What a PATCH cannot change, whatever the struct says: status
			// only moves through enable/disable, secrets through rotation,
			// failures through deliveries.
			edit.Status, edit.Secret, edit.PreviousSecret = store.SubscriptionActive, "whsec_changed", "whsec_prev"
			edit.PreviousSecretExpiresAt = ptr(at(time.Hour))
			edit.ConsecutiveFailures, edit.CreatedAt = 0, at(time.Hour)
			edit.Mode = "pull"
			f.must(f.s.UpdateSubscription(f.ctx, &edit), "UpdateSubscription")
			if want.ConsecutiveFailures != 2 || want.Status != store.SubscriptionPaused {
				t.Fatalf("before the update: %s with %d failures, want paused with 2", want.Status, want.ConsecutiveFailures)
			}
			wantSame(t, "updated subscription", f.sub(orig.ID), &want)
			f.wantStatus(store.DeliveryHeld, ids...)
		}},
		{"UpdateUnknownIsNotFound", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			moved := *s
			moved.WorkspaceID, moved.Name = f.newWorkspace("other", ""), "Hijacked"
			wantErr(t, "UpdateSubscription in another workspace", f.s.UpdateSubscription(f.ctx, &moved), store.ErrNotFound)
			if got := f.sub(s.ID); got.Name != s.Name || got.WorkspaceID != s.WorkspaceID {
				t.Errorf("subscription changed through another workspace: %q in %s", got.Name, got.WorkspaceID)
			}
			moved = *s
			moved.ID = "sub_unknown"
			wantErr(t, "UpdateSubscription", f.s.UpdateSubscription(f.ctx, &moved), store.ErrNotFound)
		}},
		{"DeleteCascadesDeliveries", func(t *testing.T, f *fixture) {
			doomed, kept := f.newSub(""), f.newSub("")
			ids := f.publish(t0, doomed, kept)
			later := f.publish(at(time.Hour), doomed, kept)
			wantIDs(t, "claimed", f.claimIDs(t0, 10), sorted(ids...))
			f.complete(f.failed(ids[0], t0))
			if n := f.queueDepth(); n != 3 {
				t.Fatalf("queue depth %d before delete, want 3", n)
			}
			f.must(f.s.DeleteSubscription(f.ctx, f.ws, doomed.ID), "DeleteSubscription")
			_, err := f.s.GetSubscription(f.ctx, f.ws, doomed.ID)
			wantErr(t, "GetSubscription after delete", err, store.ErrNotFound)
			for _, id := range []string{ids[0], later[0]} {
				if _, ok := f.lookup(id); ok {
					t.Errorf("delivery %s of the deleted subscription still exists", id)
				}
			}
			f.wantStatus(store.DeliverySending, ids[1])
			f.wantStatus(store.DeliveryPending, later[1])
			if n := f.queueDepth(); n != 2 {
				t.Errorf("queue depth %d after delete, want 2", n)
			}
			atts, err := f.s.ListAttempts(f.ctx, f.ws, doomed.ID, store.Page{Limit: 10})
			if !errors.Is(err, store.ErrNotFound) || len(atts) != 0 {
				t.Errorf("ListAttempts of the deleted subscription: %d attempts, error %v; want %v", len(atts), err,
					store.ErrNotFound)
			}
			wantIDs(t, "claimable after delete", f.claimIDs(at(time.Hour), 10), later[1:])
		}},
		{"DeleteUnknownIsNotFound", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			err := f.s.DeleteSubscription(f.ctx, f.newWorkspace("other", ""), s.ID)
			wantErr(t, "DeleteSubscription from another workspace", err, store.ErrNotFound)
			f.sub(s.ID) // still there
			wantErr(t, "DeleteSubscription", f.s.DeleteSubscription(f.ctx, f.ws, "sub_unknown"), store.ErrNotFound)
		}},
	}
}

func statusTests() []test {
	tests := []test{
		{"EnableResetsFailuresAndReleasesHeld", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 2 })
			failed := f.publish(t0, s)[0]
			retried := f.publish(t0, s, s)
			wantIDs(t, "claimed", f.claimIDs(t0, 10), sorted(append(retried, failed)...))
			disabled := f.complete(f.failed(failed, t0), f.retry(retried[0], t0, at(time.Minute)),
				f.retry(retried[1], t0, at(time.Minute)))
			wantIDs(t, "disabled", disabled, []string{s.ID})
			f.wantStatus(store.DeliveryHeld, retried...)
			held := f.publish(at(time.Second), f.sub(s.ID)) // routed while disabled: held

			now := at(10 * time.Minute)
			got, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, s.ID, store.SubscriptionActive, now)
			f.must(err, "SetSubscriptionStatus")
			for what, sub := range map[string]*store.Subscription{"returned": got, "stored": f.sub(s.ID)} {
				if sub.Status != store.SubscriptionActive || sub.ConsecutiveFailures != 0 {
					t.Errorf("%s after enable: status %q, failures %d; want active, 0", what, sub.Status,
						sub.ConsecutiveFailures)
				}
			}
			released := sorted(append(retried, held...)...)
			for _, id := range released {
				d := f.delivery(id)
				if d.Status != store.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(now) {
					t.Errorf("delivery %s after enable: %s due %s, want pending due %s", id, d.Status,
						show(d.NextAttemptAt), show(now))
				}
			}
			f.wantStatus(store.DeliveryFailed, failed) // only Recover re-queues failed ones
			wantIDs(t, "claimable after enable", f.claimIDs(now, 10), released)
		}},
		{"UnknownIsNotFound", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			other := f.newWorkspace("other", "")
			_, err := f.s.SetSubscriptionStatus(f.ctx, other, s.ID, store.SubscriptionPaused, t0)
			wantErr(t, "SetSubscriptionStatus in another workspace", err, store.ErrNotFound)
			if got := f.sub(s.ID).Status; got != store.SubscriptionActive {
				t.Errorf("status changed through another workspace: %q", got)
			}
			_, err = f.s.SetSubscriptionStatus(f.ctx, f.ws, "sub_unknown", store.SubscriptionPaused, t0)
			wantErr(t, "SetSubscriptionStatus", err, store.ErrNotFound)
			_, err = f.s.RotateSecret(f.ctx, other, s.ID, "whsec_x", t0, t0)
			wantErr(t, "RotateSecret in another workspace", err, store.ErrNotFound)
			_, err = f.s.RotateSecret(f.ctx, f.ws, "sub_unknown", "whsec_x", t0, t0)
			wantErr(t, "RotateSecret", err, store.ErrNotFound)
			_, err = f.s.Recover(f.ctx, other, s.ID, t0, t0)
			wantErr(t, "Recover in another workspace", err, store.ErrNotFound)
			_, err = f.s.Recover(f.ctx, f.ws, "sub_unknown", t0, t0)
			wantErr(t, "Recover", err, store.ErrNotFound)
		}},
		{"RotateSecretKeepsPrevious", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.Secret = "whsec_Zmlyc3Q=" })
			now, until := at(time.Minute), at(24*time.Hour)
			got, err := f.s.RotateSecret(f.ctx, f.ws, s.ID, "whsec_c2Vjb25k", now, until)
			f.must(err, "RotateSecret")
			for what, sub := range map[string]*store.Subscription{"returned": got, "stored": f.sub(s.ID)} {
				if sub.Secret != "whsec_c2Vjb25k" || sub.PreviousSecret != "whsec_Zmlyc3Q=" ||
					sub.PreviousSecretExpiresAt == nil || !sub.PreviousSecretExpiresAt.Equal(until) {
					t.Errorf("%s after rotation: secret %q, previous %q until %s", what, sub.Secret, sub.PreviousSecret,
						show(sub.PreviousSecretExpiresAt))
				}
				if !sub.UpdatedAt.Equal(now) {
					t.Errorf("%s after rotation: updated at %s, want the given now, %s", what, show(sub.UpdatedAt), show(now))
				}
			}
			// A second rotation retires the first secret.
			now2, until2 := at(2*time.Minute), at(48*time.Hour)
			_, err = f.s.RotateSecret(f.ctx, f.ws, s.ID, "whsec_dGhpcmQ=", now2, until2)
			f.must(err, "RotateSecret")
			sub := f.sub(s.ID)
			if sub.Secret != "whsec_dGhpcmQ=" || sub.PreviousSecret != "whsec_c2Vjb25k" ||
				sub.PreviousSecretExpiresAt == nil || !sub.PreviousSecretExpiresAt.Equal(until2) {
				t.Errorf("after second rotation: secret %q, previous %q until %s", sub.Secret, sub.PreviousSecret,
					show(sub.PreviousSecretExpiresAt))
			}
			want := *s
			want.UpdatedAt = now2
			wantSame(t, "rotated subscription", sub, &want, "Secret", "PreviousSecret", "PreviousSecretExpiresAt")
		}},
	}
	for _, status := range []string{store.SubscriptionPaused, store.SubscriptionDisabled} {
		tests = append(tests, test{"SetTo" + status + "HoldsPending", func(t *testing.T, f *fixture) {
			testHold(t, f, status)
		}})
	}
	for _, status := range []string{store.SubscriptionActive, store.SubscriptionPaused, store.SubscriptionDisabled} {
		tests = append(tests, test{"RecoverWhen" + status, func(t *testing.T, f *fixture) {
			testRecover(t, f, status)
		}})
	}
	return tests
}

// testHold moves a subscription away from active by hand: its pending
// deliveries are held, others (its finished and in-flight ones, other
// subscriptions') are untouched.
func testHold(t *testing.T, f *fixture, status string) {
	s, other := f.newSub(""), f.newSub("")
	sending := f.publish(t0, s)
	wantIDs(t, "claimed", f.claimIDs(t0, 10), sending)
	done := f.publish(t0, s)
	wantIDs(t, "claimed", f.claimIDs(t0, 10), done)
	f.complete(f.succeeded(done[0], t0))
	due := f.publish(t0, s)
	later := f.publish(at(time.Hour), s)
	otherDue := f.publish(t0, other)

	got, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, s.ID, status, at(time.Second))
	f.must(err, "SetSubscriptionStatus")
	if got.Status != status || f.sub(s.ID).Status != status {
		t.Errorf("status %q (stored %q), want %q", got.Status, f.sub(s.ID).Status, status)
	}
	f.wantStatus(store.DeliveryHeld, due[0], later[0])
	f.wantStatus(store.DeliverySucceeded, done...)
	f.wantStatus(store.DeliverySending, sending...)
	f.wantStatus(store.DeliveryPending, otherDue...)
	wantIDs(t, "claimable", f.claimIDs(at(2*time.Hour), 10), otherDue)
}

// testRecover runs Recover on a subscription that is active, paused by
// hand, or disabled after failures, with deliveries in every state on
// both sides of since.
func testRecover(t *testing.T, f *fixture, status string) {
	since, now := at(time.Hour), at(3*time.Hour)
	threshold := 100
	if status == store.SubscriptionDisabled {
		threshold = 2
	}
	s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = threshold })
	oldFailed := f.publish(at(-time.Hour), s)[0]
	oldHeld := f.publishHeld(at(-time.Hour), s)[0]
	failed := f.publish(at(2*time.Hour), s)[0]
	succeeded := f.publish(at(2*time.Hour), s)[0]
	pending := f.publish(at(10*time.Hour), s)[0] // not due yet
	newHeld := f.publishHeld(at(2*time.Hour), s)[0]
	wantIDs(t, "claimed", f.claimIDs(at(2*time.Hour), 10), sorted(oldFailed, failed, succeeded))
	disabled := f.complete(f.succeeded(succeeded, at(2*time.Hour)), f.failed(oldFailed, at(2*time.Hour)),
		f.failed(failed, at(2*time.Hour)))
	if sub := f.sub(s.ID); sub.ConsecutiveFailures != 2 {
		t.Fatalf("consecutive failures %d, want 2", sub.ConsecutiveFailures)
	}
	requeued := []string{failed, newHeld}
	switch status {
	case store.SubscriptionPaused:
		_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, s.ID, status, at(2*time.Hour))
		f.must(err, "SetSubscriptionStatus")
		requeued = append(requeued, pending) // pausing held it
	case store.SubscriptionDisabled:
		wantIDs(t, "disabled", disabled, []string{s.ID})
		// Disabling held pending; recovering enables the subscription, which
		// releases every held delivery, whenever it was made.
		requeued = append(requeued, pending, oldHeld)
	}

	n, err := f.s.Recover(f.ctx, f.ws, s.ID, since, now)
	f.must(err, "Recover")
	if n != len(requeued) {
		t.Errorf("Recover = %d, want %d", n, len(requeued))
	}
	sub := f.sub(s.ID)
	wantSub, want := status, store.DeliveryPending
	switch status {
	case store.SubscriptionDisabled:
		wantSub = store.SubscriptionActive
		if sub.ConsecutiveFailures != 0 {
			t.Errorf("consecutive failures %d after recovering a disabled subscription, want 0", sub.ConsecutiveFailures)
		}
	case store.SubscriptionPaused:
		want = store.DeliveryHeld // re-queued, but sent only once enabled
	}
	if sub.Status != wantSub {
		t.Errorf("subscription %s after Recover, want %s", sub.Status, wantSub)
	}
	for _, id := range requeued {
		d := f.delivery(id)
		if d.Status != want || d.Attempts != 0 {
			t.Errorf("re-queued delivery %s: %s with %d attempts, want %s with 0", id, d.Status, d.Attempts, want)
		}
		if want == store.DeliveryPending && (d.NextAttemptAt == nil || d.NextAttemptAt.After(now)) {
			t.Errorf("re-queued delivery %s due %s, want due by %s", id, show(d.NextAttemptAt), show(now))
		}
	}
	if status == store.SubscriptionActive {
		if d := f.delivery(pending); d.Status != store.DeliveryPending || !d.NextAttemptAt.Equal(at(10*time.Hour)) {
			t.Errorf("pending delivery became %s due %s; want untouched", d.Status, show(d.NextAttemptAt))
		}
	}
	// Created before since: untouched.
	if d := f.delivery(oldFailed); d.Status != store.DeliveryFailed || d.Attempts != 1 {
		t.Errorf("failed delivery before since: %s with %d attempts, want failed with 1", d.Status, d.Attempts)
	}
	if status != store.SubscriptionDisabled {
		f.wantStatus(store.DeliveryHeld, oldHeld)
	}
	f.wantStatus(store.DeliverySucceeded, succeeded)

	var claimable []string
	if want == store.DeliveryPending {
		claimable = sorted(requeued...)
	}
	wantIDs(t, "claimable after Recover", f.claimIDs(now, 10), claimable)
}
