// Conformance tests of the delivery queue: claiming under leases, writing
// outcomes back (retries, failure counting, auto-disable), the attempt log,
// lease release, resends and test sends.
package storetest

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/store"
)

func claimTests() []test {
	return []test{
		{"DuePendingOnly", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			paused := f.newSub("", func(s *store.Subscription) { s.Status = store.SubscriptionPaused })
			sending := f.publish(at(-2*time.Minute), s)
			wantIDs(t, "first claim", f.claimIDs(t0, 1), sending)
			done := f.publish(at(-2*time.Minute), s)
			wantIDs(t, "second claim", f.claimIDs(t0, 1), done)
			f.complete(f.succeeded(done[0], t0))

			early, onTime := f.routed(f.newEvent(at(-time.Minute)), s), f.routed(f.newEvent(t0), s)
			early.Event.UserID, early.Event.Subject = ptr("usr_1"), ptr("order/1")
			f.insert(early, onTime)
			f.publish(at(time.Microsecond), s) // due a moment later
			f.publishHeld(at(-time.Hour), s)
			f.publish(at(-time.Hour), paused) // routed while paused: held

			cds := f.claim(t0, 10)
			want := map[string]store.Event{early.Deliveries[0].ID: early.Event, onTime.Deliveries[0].ID: onTime.Event}
			if len(cds) != len(want) {
				t.Errorf("claimed %v, want %d deliveries", deliveryIDs(cds), len(want))
			}
			for _, cd := range cds {
				e, ok := want[cd.Delivery.ID]
				if !ok {
					t.Errorf("claimed delivery %s, which is not due", cd.Delivery.ID)
					continue
				}
				if cd.Delivery.Status != store.DeliverySending || cd.Delivery.EventID != e.ID ||
					cd.Delivery.SubscriptionID != s.ID || cd.Delivery.WorkspaceID != f.ws || cd.Delivery.Attempts != 0 {
					t.Errorf("claimed delivery: %s", showDelivery(cd.Delivery))
				}
				wantSame(t, "claimed delivery's event", &cd.Event, &e)
				f.wantStatus(store.DeliverySending, cd.Delivery.ID)
			}
			wantIDs(t, "claim again", f.claimIDs(t0, 10), nil)
		}},
		{"LimitTakesTheLongestWaiting", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			var ids []string
			for _, m := range []int{3, 1, 5, 2, 4} {
				ids = append(ids, f.publish(at(-time.Duration(m)*time.Minute), s)[0])
			}
			// By due time: 5, 4, 3, 2, 1 minutes ago.
			byDue := []string{ids[2], ids[4], ids[0], ids[3], ids[1]}
			wantIDs(t, "first page", f.claimIDs(t0, 2), sorted(byDue[:2]...))
			wantIDs(t, "second page", f.claimIDs(t0, 2), sorted(byDue[2:4]...))
			wantIDs(t, "third page", f.claimIDs(t0, 2), byDue[4:])
			wantIDs(t, "nothing left", f.claimIDs(t0, 2), nil)
		}},
		{"SkipLeavesSubscriptionsAlone", func(t *testing.T, f *fixture) {
			a, b, c := f.newSub(""), f.newSub(""), f.newSub("")
			ids := f.publish(t0, a, b, c)
			wantIDs(t, "skipping a and c", f.claimIDs(t0, 10, a.ID, c.ID), ids[1:2])
			wantIDs(t, "skipping a and b", f.claimIDs(t0, 10, a.ID, b.ID), ids[2:])
			wantIDs(t, "skipping none", f.claimIDs(t0, 10), ids[:1])
		}},
		{"PerSubscriptionCap", func(t *testing.T, f *fixture) {
			// A backlog of one subscription, due first, must not crowd out
			// another's delivery from the batch.
			busy, quiet := f.newSub(""), f.newSub("")
			var backlog []string
			for i := range 6 {
				backlog = append(backlog, f.publish(at(time.Duration(i)*time.Second), busy)...)
			}
			other := f.publish(at(time.Minute), quiet)
			cds, err := f.s.ClaimDeliveries(f.ctx, store.Claim{Owner: "node-1", Now: at(time.Hour),
				LeaseUntil: at(2 * time.Hour), Limit: 4, PerSubscription: 2})
			f.must(err, "ClaimDeliveries")
			wantIDs(t, "claimed", deliveryIDs(cds), sorted(backlog[0], backlog[1], other[0]))
		}},
	}
}

func completeTests() []test {
	return []test{
		{"WrittenAsOfNow", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 1 })
			ids := f.publish(t0, s, s)
			f.claim(t0, 10)
			now := at(7 * time.Minute)
			disabled := f.completeAt(now, f.succeeded(ids[0], t0), f.failed(ids[1], t0))
			wantIDs(t, "disabled", disabled, []string{s.ID})
			for _, id := range ids {
				if d := f.delivery(id); !d.UpdatedAt.Equal(now) {
					t.Errorf("delivery %s updated at %s, want the given now, %s", id, show(d.UpdatedAt), show(now))
				}
			}
			if sub := f.sub(s.ID); !sub.UpdatedAt.Equal(now) {
				t.Errorf("disabled subscription updated at %s, want the given now, %s", show(sub.UpdatedAt), show(now))
			}
		}},
		{"Succeeded", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			ids := f.publish(t0, s)
			f.claim(t0, 10)
			if disabled := f.complete(f.succeeded(ids[0], at(time.Second))); len(disabled) != 0 {
				t.Errorf("disabled %v", disabled)
			}
			d := f.delivery(ids[0])
			if d.Status != store.DeliverySucceeded || d.Attempts != 1 || d.LastError != "" {
				t.Errorf("after success: %s, %d attempts, error %q", d.Status, d.Attempts, d.LastError)
			}
			wantIDs(t, "claimable", f.claimIDs(at(time.Hour), 10), nil)
			if n := f.queueDepth(); n != 0 {
				t.Errorf("queue depth %d, want 0", n)
			}
		}},
		{"RetryIsClaimableOnceDue", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			ids := f.publish(t0, s)
			f.claim(t0, 10)
			f.complete(f.retry(ids[0], t0, at(5*time.Second)))
			d := f.delivery(ids[0])
			if d.Status != store.DeliveryPending || d.Attempts != 1 || d.LastError != "HTTP 500" ||
				d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(at(5*time.Second)) {
				t.Errorf("after retry: %s, %d attempts, error %q, due %s", d.Status, d.Attempts, d.LastError,
					show(d.NextAttemptAt))
			}
			wantNextDue(t, f, at(5*time.Second))
			wantIDs(t, "claimable before due", f.claimIDs(at(4*time.Second), 10), nil)
			cds := f.claim(at(5*time.Second), 10)
			if len(cds) != 1 || cds[0].Delivery.ID != ids[0] || cds[0].Delivery.Attempts != 1 {
				t.Fatalf("claimed once due: %v, want %s with 1 attempt", showDeliveries(cds), ids[0])
			}
			f.complete(f.retry(ids[0], at(5*time.Second), at(time.Minute)))
			if d := f.delivery(ids[0]); d.Attempts != 2 {
				t.Errorf("%d attempts after two tries, want 2", d.Attempts)
			}
		}},
		{"Failed", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			ids := f.publish(t0, s)
			f.claim(t0, 10)
			f.complete(f.failed(ids[0], t0))
			d := f.delivery(ids[0])
			if d.Status != store.DeliveryFailed || d.Attempts != 1 || d.LastError != "HTTP 500" {
				t.Errorf("after failure: %s, %d attempts, error %q", d.Status, d.Attempts, d.LastError)
			}
			wantIDs(t, "claimable", f.claimIDs(at(time.Hour), 10), nil)
			if n := f.queueDepth(); n != 0 {
				t.Errorf("queue depth %d, want 0", n)
			}
		}},
		{"HeldWithoutAttempt", func(t *testing.T, f *fixture) {
			// The dispatcher found the subscription inactive: nothing was sent.
			s := f.newSub("")
			ids := f.publish(t0, s)
			f.claim(t0, 10)
			f.complete(store.Outcome{DeliveryID: ids[0], SubscriptionID: s.ID, Status: store.DeliveryHeld})
			if d := f.delivery(ids[0]); d.Status != store.DeliveryHeld || d.Attempts != 0 {
				t.Errorf("after held outcome: %s with %d attempts, want held with 0", d.Status, d.Attempts)
			}
			if atts := listAttempts(f, s.ID, 10, ""); len(atts) != 0 {
				t.Errorf("%d attempts recorded, want none", len(atts))
			}
			if sub := f.sub(s.ID); sub.ConsecutiveFailures != 0 || sub.Status != store.SubscriptionActive {
				t.Errorf("subscription %s with %d failures, want active with 0", sub.Status, sub.ConsecutiveFailures)
			}
		}},
		{"ConsecutiveFailuresAcrossBatches", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 3 })
			later, disabledAt := at(time.Hour), at(time.Minute)
			var ids []string
			for range 7 {
				ids = append(ids, f.publish(t0, s)[0])
			}
			f.claim(t0, 10)
			step := func(wantFailures int, wantDisabled bool, outs ...store.Outcome) {
				t.Helper()
				disabled := f.complete(outs...)
				sub := f.sub(s.ID)
				if sub.ConsecutiveFailures != wantFailures {
					t.Errorf("consecutive failures %d, want %d", sub.ConsecutiveFailures, wantFailures)
				}
				if wantDisabled {
					wantIDs(t, "disabled", disabled, []string{s.ID})
					if sub.Status != store.SubscriptionDisabled {
						t.Errorf("status %s at the threshold, want disabled", sub.Status)
					}
					if !sub.UpdatedAt.Equal(disabledAt) {
						t.Errorf("updated_at %s after the auto-disable, want the completion's, %s", show(sub.UpdatedAt),
							show(disabledAt))
					}
				} else if len(disabled) != 0 || sub.Status != store.SubscriptionActive {
					t.Errorf("below the threshold: disabled %v, status %s", disabled, sub.Status)
				}
			}
			step(2, false, f.retry(ids[0], t0, later), f.failed(ids[1], t0))
			// Failures that are not counted: the store was unreachable, nothing was sent.
			step(2, false, store.Outcome{DeliveryID: ids[2], SubscriptionID: s.ID, Status: store.DeliveryPending,
				NextAttemptAt: later, Error: "loading subscription: timeout"})
			step(0, false, f.succeeded(ids[3], t0))
			step(2, false, f.retry(ids[4], t0, later), f.retry(ids[5], t0, later))
			step(3, true, f.retry(ids[6], disabledAt, later))
			// Every pending delivery of the disabled subscription is held.
			f.wantStatus(store.DeliveryHeld, ids[0], ids[2], ids[4], ids[5], ids[6])
			f.wantStatus(store.DeliveryFailed, ids[1])
			f.wantStatus(store.DeliverySucceeded, ids[3])
			wantIDs(t, "claimable", f.claimIDs(at(2*time.Hour), 10), nil)
		}},
		{"ThresholdHoldsTheBatchsRetries", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 2 })
			other := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 2 })
			ids := f.publish(t0, s, s, s, other)
			future := f.publish(at(time.Hour), s, other)
			wantIDs(t, "claimed", f.claimIDs(t0, 10), sorted(ids...))
			next := at(time.Minute)
			disabled := f.complete(f.retry(ids[0], t0, next), f.retry(ids[1], t0, next), f.retry(ids[3], t0, next))
			wantIDs(t, "disabled", disabled, []string{s.ID})
			// The retries of this batch are held too, not only older pending ones.
			f.wantStatus(store.DeliveryHeld, ids[0], ids[1], future[0])
			f.wantStatus(store.DeliverySending, ids[2])
			f.wantStatus(store.DeliveryPending, ids[3], future[1])
			if sub := f.sub(other.ID); sub.Status != store.SubscriptionActive || sub.ConsecutiveFailures != 1 {
				t.Errorf("other subscription %s with %d failures, want active with 1", sub.Status, sub.ConsecutiveFailures)
			}
			// An in-flight send failing afterwards does not disable it again.
			if disabled := f.complete(f.retry(ids[2], t0, next)); len(disabled) != 0 {
				t.Errorf("already disabled subscription reported as disabled again: %v", disabled)
			}
			f.wantStatus(store.DeliveryHeld, ids[2])
			wantIDs(t, "claimable", f.claimIDs(at(2*time.Hour), 10), sorted(ids[3], future[1]))
		}},
		{"OutcomesForAPausedSubscription", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 1 })
			ids := f.publish(t0, s, s, s, s)
			f.claim(t0, 10)
			_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, s.ID, store.SubscriptionPaused, t0)
			f.must(err, "SetSubscriptionStatus")
			// Sends under way when it was paused finish. Put back unsent
			// (at shutdown: pending, due now, not counted), it is held.
			f.complete(store.Outcome{DeliveryID: ids[0], SubscriptionID: s.ID, Status: store.DeliveryPending, NextAttemptAt: t0})
			f.wantStatus(store.DeliveryHeld, ids[0])
			// A retry is held, a success stands, and failing past the
			// threshold does not turn a pause into a disable.
			disabled := f.complete(f.retry(ids[1], t0, at(time.Minute)), f.succeeded(ids[2], t0), f.failed(ids[3], t0))
			if len(disabled) != 0 {
				t.Errorf("paused subscription reported as disabled: %v", disabled)
			}
			if sub := f.sub(s.ID); sub.Status != store.SubscriptionPaused {
				t.Errorf("status %s, want paused", sub.Status)
			}
			f.wantStatus(store.DeliveryHeld, ids[1])
			f.wantStatus(store.DeliverySucceeded, ids[2])
			f.wantStatus(store.DeliveryFailed, ids[3])
		}},
		{"GoneDisablesAtOnce", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			ids := f.publish(t0, s)
			future := f.publish(at(time.Hour), s)
			f.claim(t0, 10)
			wantIDs(t, "disabled", f.complete(f.gone(ids[0], t0)), []string{s.ID})
			if sub := f.sub(s.ID); sub.Status != store.SubscriptionDisabled {
				t.Errorf("status %s after 410, want disabled", sub.Status)
			}
			f.wantStatus(store.DeliveryHeld, ids[0], future[0])
			atts := listAttempts(f, s.ID, 10, "")
			if len(atts) != 1 || atts[0].Response == nil || atts[0].Response.Status != 410 {
				t.Errorf("attempts after 410: %+v", atts)
			}
		}},
		{"OutcomeOfALostLeaseIsSkipped", func(t *testing.T, f *fixture) {
			// node-1's lease ran out and node-2 took the delivery over: a
			// late result from node-1 must not overwrite node-2's work.
			s := f.newSub("")
			ids := f.publish(t0, s)
			f.claim(t0, 10) // node-1
			_, err := f.s.ReleaseLeases(f.ctx, "", at(2*time.Hour))
			f.must(err, "ReleaseLeases")
			cds, err := f.s.ClaimDeliveries(f.ctx, store.Claim{Owner: "node-2", Now: t0, LeaseUntil: at(3 * time.Hour), Limit: 10})
			f.must(err, "ClaimDeliveries")
			wantIDs(t, "taken over", deliveryIDs(cds), ids)
			late := f.failed(ids[0], at(time.Minute))
			late.Owner = "node-1"
			f.complete(late)
			if d := f.delivery(ids[0]); d.Status != store.DeliverySending || d.Attempts != 0 {
				t.Errorf("after node-1's late result: %s with %d attempts, want still sending with 0", d.Status, d.Attempts)
			}
			if sub := f.sub(s.ID); sub.ConsecutiveFailures != 0 {
				t.Errorf("node-1's late failure counted: %d", sub.ConsecutiveFailures)
			}
			done := f.succeeded(ids[0], at(time.Minute))
			done.Owner = "node-2"
			f.complete(done)
			f.wantStatus(store.DeliverySucceeded, ids[0])
		}},
		{"DeletedDeliveryIsSkipped", func(t *testing.T, f *fixture) {
			doomed, kept := f.newSub(""), f.newSub("")
			ids := f.publish(t0, doomed, kept)
			f.claim(t0, 10)
			outs := []store.Outcome{f.failed(ids[0], t0), f.succeeded(ids[1], t0)}
			f.must(f.s.DeleteSubscription(f.ctx, f.ws, doomed.ID), "DeleteSubscription")
			disabled, err := f.s.CompleteDeliveries(f.ctx, t0, outs)
			if err != nil {
				t.Fatalf("CompleteDeliveries with a deleted delivery: %v", err)
			}
			if len(disabled) != 0 {
				t.Errorf("disabled %v", disabled)
			}
			f.wantStatus(store.DeliverySucceeded, ids[1])
			if atts := listAttempts(f, kept.ID, 10, ""); len(atts) != 1 {
				t.Errorf("%d attempts of the kept subscription, want 1", len(atts))
			}
		}},
		{"NextDue", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			next, ok, err := f.s.NextDue(f.ctx)
			f.must(err, "NextDue")
			if ok {
				t.Errorf("NextDue of an empty queue: %s", show(next))
			}
			f.publishHeld(at(-time.Hour), s)
			// Held by a pause: it keeps its due time, but is not due.
			paused := f.newSub("")
			f.publish(at(-time.Hour), paused)
			_, err = f.s.SetSubscriptionStatus(f.ctx, f.ws, paused.ID, store.SubscriptionPaused, t0)
			f.must(err, "SetSubscriptionStatus")
			f.publish(at(-time.Minute), s)
			f.claim(t0, 10)
			if next, ok, _ := f.s.NextDue(f.ctx); ok {
				t.Errorf("NextDue with only held and sending deliveries: %s", show(next))
			}
			f.publish(at(10*time.Second), s)
			f.publish(at(5*time.Second), s)
			wantNextDue(t, f, at(5*time.Second))
			f.publish(at(-30*time.Second), s) // overdue: NextDue is in the past
			wantNextDue(t, f, at(-30*time.Second))
		}},
		{"QueueDepthCountsPendingAndSending", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			ids := f.publish(t0, s, s, s)
			f.claim(t0, 10)
			f.complete(f.succeeded(ids[0], t0), f.failed(ids[1], t0))
			f.publishHeld(t0, s)
			f.publish(at(time.Hour), s, s)
			if n := f.queueDepth(); n != 3 {
				t.Errorf("queue depth %d, want 3 (1 sending, 2 pending)", n)
			}
		}},
	}
}

func wantNextDue(t *testing.T, f *fixture, want time.Time) {
	t.Helper()
	next, ok, err := f.s.NextDue(f.ctx)
	f.must(err, "NextDue")
	if !ok || !next.Equal(want) {
		t.Errorf("NextDue = %s, %v; want %s", show(next), ok, show(want))
	}
}

// listAttempts lists one page of a subscription's attempts in f.ws.
func listAttempts(f *fixture, subID string, limit int, cursor string) []store.Attempt {
	f.t.Helper()
	atts, err := f.s.ListAttempts(f.ctx, f.ws, subID, store.Page{Cursor: cursor, Limit: limit})
	f.must(err, "ListAttempts")
	return atts
}

func attemptTests() []test {
	return []test{
		{"StoredAndListedNewestFirst", func(t *testing.T, f *fixture) {
			s, other := f.newSub(""), f.newSub("")
			ids := f.publish(t0, s, s, other)
			f.claim(t0, 10)
			first := f.retry(ids[0], t0, at(time.Minute))
			// No response at all: a network error.
			refused := f.attempt(ids[1], at(time.Second), 0)
			second := store.Outcome{DeliveryID: ids[1], SubscriptionID: s.ID, Status: store.DeliveryPending,
				NextAttemptAt: at(time.Minute), Attempt: refused, Error: refused.Error, CountFailure: true}
			f.complete(first, second, f.succeeded(ids[2], t0))
			f.claim(at(time.Minute), 10)
			third, fourth := f.succeeded(ids[0], at(time.Minute)), f.succeeded(ids[1], at(time.Minute))
			third.Attempt.Response.Body = strings.Repeat("é", 32<<10) // the largest body kept
			third.Attempt.Response.Headers = map[string]string{}
			third.Attempt.Request.Headers = map[string]string{"X-Multi": "a, b", "webhook-signature": "v1,abc v1,def"}
			third.Attempt.Request.Body = `{"path":"C:\\temp","quote":"\"","nul":"\u0000"}` // backslashes kept as they are
			f.complete(third, fourth)

			want := []*store.Attempt{fourth.Attempt, third.Attempt, second.Attempt, first.Attempt}
			got := listAttempts(f, s.ID, 10, "")
			if len(got) != len(want) {
				t.Fatalf("%d attempts, want %d", len(got), len(want))
			}
			for i := range want {
				wantAttempt(t, "listed attempt", &got[i], listed(want[i]))
				whole, err := f.s.GetAttempt(f.ctx, f.ws, s.ID, want[i].ID)
				f.must(err, "GetAttempt")
				wantAttempt(t, "attempt", whole, want[i])
			}
			// Paging by cursor, newest first.
			var paged []string
			cursor := ""
			for range 10 {
				page := listAttempts(f, s.ID, 3, cursor)
				for _, a := range page {
					paged = append(paged, a.ID)
				}
				if len(page) < 3 {
					break
				}
				cursor = page[len(page)-1].ID
			}
			wantIDs(t, "paged attempts", paged, []string{want[0].ID, want[1].ID, want[2].ID, want[3].ID})
			if got := listAttempts(f, other.ID, 10, ""); len(got) != 1 {
				t.Errorf("other subscription: %d attempts, want 1", len(got))
			}
			atts, err := f.s.ListAttempts(f.ctx, f.newWorkspace("other", ""), s.ID, store.Page{Limit: 10})
			if !errors.Is(err, store.ErrNotFound) || len(atts) != 0 {
				t.Errorf("ListAttempts through another workspace: %d attempts, error %v; want %v", len(atts), err,
					store.ErrNotFound)
			}
			_, err = f.s.ListAttempts(f.ctx, f.ws, "sub_unknown", store.Page{Limit: 10})
			wantErr(t, "ListAttempts of an unknown subscription", err, store.ErrNotFound)
			// A subscription without attempts lists none.
			if atts := listAttempts(f, f.newSub("").ID, 10, ""); atts == nil || len(atts) != 0 {
				t.Errorf("ListAttempts of a subscription without attempts: %#v, want an empty list", atts)
			}
		}},
		{"ListCutsLargeBodies", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			limit := store.ListBodyLimit
			bodies := []struct{ request, response string }{
				// Cuts that split a 2-, 3- and 4-byte character.
				{"x" + strings.Repeat("é", limit), strings.Repeat("ab€", limit)},
				{strings.Repeat("😀", limit) + "a", "ab" + strings.Repeat("😀", limit)},
				// At the limit, one byte over, below it, and no response at all.
				{strings.Repeat("a", limit), strings.Repeat("a", limit+1)},
				{strings.Repeat("\\", limit/4) + strings.Repeat("é", limit/4), `{"ok":true}`},
				{strings.Repeat("b", 1<<20), ""},
			}
			ids := f.publish(t0, s, s, s, s, s)
			f.claim(t0, 10)
			var outs []store.Outcome
			var want []*store.Attempt
			for i, b := range bodies {
				o := f.succeeded(ids[i], at(time.Duration(i)*time.Second))
				o.Attempt.Request.Body, o.Attempt.Response.Body = b.request, b.response
				if i == len(bodies)-1 {
					o = f.retry(ids[i], at(time.Duration(i)*time.Second), at(time.Hour))
					o.Attempt.Request.Body, o.Attempt.Response = b.request, nil
				}
				outs = append(outs, o)
				want = append([]*store.Attempt{o.Attempt}, want...)
			}
			f.complete(outs...)
			got := listAttempts(f, s.ID, 10, "")
			if len(got) != len(want) {
				t.Fatalf("%d attempts, want %d", len(got), len(want))
			}
			for i := range want {
				wantAttempt(t, "listed attempt", &got[i], listed(want[i]))
				for what, b := range map[string]string{"request": got[i].Request.Body, "response": responseBody(&got[i])} {
					if len(b) > limit || !utf8.ValidString(b) {
						t.Errorf("listed attempt %s: %s body of %d bytes, valid UTF-8 %v", got[i].ID, what, len(b),
							utf8.ValidString(b))
					}
				}
				whole, err := f.s.GetAttempt(f.ctx, f.ws, s.ID, want[i].ID)
				f.must(err, "GetAttempt")
				wantAttempt(t, "attempt", whole, want[i])
			}
		}},
		{"ListReadsCutBodiesOnly", func(t *testing.T, f *fixture) {
			// A page of attempts with large bodies: the engine must cut them
			// before they reach the process, not after.
			const n, size = 16, 1 << 20
			s := f.newSub("")
			var subs []*store.Subscription
			for range n {
				subs = append(subs, s)
			}
			ids := f.publish(t0, subs...)
			f.claim(t0, n)
			var outs []store.Outcome
			for _, id := range ids {
				o := f.succeeded(id, t0)
				o.Attempt.Request.Body, o.Attempt.Response.Body = strings.Repeat("q", size), strings.Repeat("r", size)
				outs = append(outs, o)
			}
			f.complete(outs...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got := listAttempts(f, s.ID, n, "")
			runtime.ReadMemStats(&after)
			if len(got) != n {
				t.Fatalf("%d attempts, want %d", len(got), n)
			}
			// The bodies whole are 2*n MiB; cut, 2*n*4 KiB.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("listing %d attempts with two %d-byte bodies each allocated %d bytes", n, size, alloc)
			}
		}},
		{"GetOtherIsNotFound", func(t *testing.T, f *fixture) {
			s, other := f.newSub(""), f.newSub("")
			ids := f.publish(t0, s)
			f.claim(t0, 10)
			o := f.succeeded(ids[0], t0)
			f.complete(o)
			a := o.Attempt.ID
			_, err := f.s.GetAttempt(f.ctx, f.ws, other.ID, a)
			wantErr(t, "GetAttempt through another subscription", err, store.ErrNotFound)
			_, err = f.s.GetAttempt(f.ctx, f.newWorkspace("other", ""), s.ID, a)
			wantErr(t, "GetAttempt through another workspace", err, store.ErrNotFound)
			_, err = f.s.GetAttempt(f.ctx, f.ws, s.ID, "att_unknown")
			wantErr(t, "GetAttempt of an unknown id", err, store.ErrNotFound)
		}},
		{"TestAttemptDoesNotCount", func(t *testing.T, f *fixture) {
			s := f.newSub("", func(s *store.Subscription) { s.FailureThreshold = 3 })
			ids := f.publish(t0, s, s)
			f.claim(t0, 10)
			f.complete(f.retry(ids[0], t0, at(time.Hour)), f.retry(ids[1], t0, at(time.Hour)))
			depth := f.queueDepth()

			var tests []string
			for i, ok := range []bool{false, false, true} {
				when := at(time.Duration(i+1) * time.Second)
				e := store.Event{ID: newID("evt_"), WorkspaceID: f.ws, Type: "webhook.test", Label: "Test",
					Data: []byte(`{"id":"usr_1","email":"a@example.com","name":"A"}`), CreatedAt: when}
				d := &store.Delivery{ID: newID("dlv_"), WorkspaceID: f.ws, EventID: e.ID, SubscriptionID: s.ID,
					Status: store.DeliverySucceeded, CreatedAt: when}
				status := 200
				if !ok {
					d.Status, d.LastError, status = store.DeliveryFailed, "HTTP 503", 503
				}
				f.eventOf[d.ID] = [2]string{f.ws, e.ID}
				a := &store.Attempt{ID: newID("att_"), DeliveryID: d.ID, EventID: e.ID, EventType: e.Type,
					SubscriptionID: s.ID, WorkspaceID: f.ws, CreatedAt: when, DurationMS: 5,
					Request:  store.AttemptRequest{URL: s.URL, Headers: map[string]string{"A": "b"}, Body: string(e.Data)},
					Response: &store.AttemptResponse{Status: status, Headers: map[string]string{}, Body: ""},
					Error:    d.LastError, Succeeded: ok, Test: true}
				f.must(f.s.RecordTestAttempt(f.ctx, &e, d, a), "RecordTestAttempt")
				tests = append(tests, a.ID)

				if sub := f.sub(s.ID); sub.ConsecutiveFailures != 2 || sub.Status != store.SubscriptionActive {
					t.Errorf("after test send %d: %s with %d failures, want active with 2", i, sub.Status,
						sub.ConsecutiveFailures)
				}
				stored, ds, err := f.s.GetEvent(f.ctx, f.ws, e.ID)
				f.must(err, "GetEvent of the test event")
				wantSame(t, "test event", stored, &e)
				if len(ds) != 1 || ds[0].ID != d.ID || ds[0].Status != d.Status {
					t.Errorf("test event's deliveries: %d, want one %s", len(ds), d.Status)
				}
			}
			atts := listAttempts(f, s.ID, 10, "")
			if len(atts) != 5 {
				t.Fatalf("%d attempts, want 5", len(atts))
			}
			for i, id := range []string{tests[2], tests[1], tests[0]} {
				if atts[i].ID != id || !atts[i].Test {
					t.Errorf("attempt %d: %s (test %v), want test attempt %s", i, atts[i].ID, atts[i].Test, id)
				}
			}
			for _, a := range atts[3:] {
				if a.Test {
					t.Errorf("delivery attempt %s marked as a test", a.ID)
				}
			}
			if n := f.queueDepth(); n != depth {
				t.Errorf("queue depth %d after test sends, want %d", n, depth)
			}
			wantIDs(t, "claimable", f.claimIDs(at(30*time.Minute), 10), nil)
		}},
	}
}

// wantAttempt compares attempts field by field, header maps nil and empty
// alike.
func wantAttempt(t *testing.T, what string, got, want *store.Attempt) {
	t.Helper()
	wantSame(t, what, got, want, "Request", "Response")
	wantSame(t, what+" request", &got.Request, &want.Request, "Headers")
	if !sameHeaders(got.Request.Headers, want.Request.Headers) {
		t.Errorf("%s %s: request headers %v, want %v", what, want.ID, got.Request.Headers, want.Request.Headers)
	}
	if (got.Response == nil) != (want.Response == nil) {
		t.Errorf("%s %s: response %s, want %s", what, want.ID, show(got.Response), show(want.Response))
	} else if got.Response != nil {
		wantSame(t, what+" response", got.Response, want.Response, "Headers")
		if !sameHeaders(got.Response.Headers, want.Response.Headers) {
			t.Errorf("%s %s: response headers %v, want %v", what, want.ID, got.Response.Headers, want.Response.Headers)
		}
	}
}

// listed is a as ListAttempts returns it: a body longer than
// store.ListBodyLimit bytes is cut to that many, less the start of a
// character the cut split, and marked.
func listed(a *store.Attempt) *store.Attempt {
	c := *a
	c.Request.Body, c.Request.BodyTruncated = cut(a.Request.Body)
	if a.Response != nil {
		r := *a.Response
		r.Body, r.BodyTruncated = cut(r.Body)
		c.Response = &r
	}
	return &c
}

func cut(body string) (string, bool) {
	if len(body) <= store.ListBodyLimit {
		return body, false
	}
	body = body[:store.ListBodyLimit]
	for !utf8.ValidString(body) {
		body = body[:len(body)-1]
	}
	return body, true
}

func responseBody(a *store.Attempt) string {
	if a.Response == nil {
		return ""
	}
	return a.Response.Body
}

// sameHeaders compares header maps, nil and empty alike.
func sameHeaders(a, b map[string]string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return sameValue(a, b)
}

func leaseTests() []test {
	return []test{
		{"ReleaseExpiredAndOwners", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			tried := f.publish(at(-2*time.Minute), s)
			f.claim(at(-2*time.Minute), 10)
			f.complete(f.retry(tried[0], at(-2*time.Minute), at(-time.Minute)))
			others := f.publish(t0, s, s)
			claim := func(owner string, until time.Time, limit int) []string {
				t.Helper()
				cds, err := f.s.ClaimDeliveries(f.ctx, store.Claim{Owner: owner, Now: t0, LeaseUntil: until, Limit: limit})
				f.must(err, "ClaimDeliveries")
				return deliveryIDs(cds)
			}
			short := claim("node-a", at(time.Minute), 1) // the retried one: due longest
			wantIDs(t, "short lease", short, tried)
			long := claim("node-a", at(3*time.Minute), 1)
			foreign := claim("node-b", at(3*time.Minute), 1)
			wantIDs(t, "long leases", sorted(append(long, foreign...)...), sorted(others...))

			release := func(owner string, now time.Time, want int) {
				t.Helper()
				n, err := f.s.ReleaseLeases(f.ctx, owner, now)
				f.must(err, "ReleaseLeases")
				if n != want {
					t.Errorf("ReleaseLeases(%q, %s) = %d, want %d", owner, show(now), n, want)
				}
			}
			now := at(2 * time.Minute)
			release("", now, 1) // only the expired lease
			f.wantStatus(store.DeliveryPending, short...)
			f.wantStatus(store.DeliverySending, others...)
			if d := f.delivery(tried[0]); d.Attempts != 1 {
				t.Errorf("released delivery has %d attempts, want 1", d.Attempts)
			}
			release("node-a", now, 1) // its unexpired lease too
			f.wantStatus(store.DeliveryPending, long...)
			f.wantStatus(store.DeliverySending, foreign...)
			release("", now, 0)
			// Released deliveries are due at once, by the caller's clock.
			wantIDs(t, "claimable after release", f.claimIDs(now, 10), sorted(append(short, long...)...))
			release("", at(4*time.Minute), 1)
			f.wantStatus(store.DeliveryPending, foreign...)
			if d := f.delivery(foreign[0]); !d.UpdatedAt.Equal(at(4 * time.Minute)) {
				t.Errorf("released delivery updated at %s, want the given now, %s", show(d.UpdatedAt), show(at(4*time.Minute)))
			}
		}},
	}
}

func resendTests() []test {
	return []test{
		{"CreatesAPendingDelivery", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			ne := f.routed(f.newEvent(t0), s)
			f.insert(ne)
			orig := ne.Deliveries[0].ID
			f.claim(t0, 10)
			f.complete(f.succeeded(orig, t0))
			now := at(time.Hour)
			id := newID("dlv_")
			d, err := f.s.Resend(f.ctx, f.ws, orig, id, now)
			f.must(err, "Resend")
			f.eventOf[id] = [2]string{f.ws, ne.Event.ID}
			for what, got := range map[string]store.Delivery{"returned": *d, "stored": f.delivery(id)} {
				if got.ID != id || got.EventID != ne.Event.ID || got.SubscriptionID != s.ID || got.WorkspaceID != f.ws ||
					got.Status != store.DeliveryPending || got.Attempts != 0 || got.NextAttemptAt == nil ||
					got.NextAttemptAt.After(now) {
					t.Errorf("%s resent delivery: %s", what, showDelivery(got))
				}
			}
			f.wantStatus(store.DeliverySucceeded, orig)
			cds := f.claim(now, 10)
			if len(cds) != 1 || cds[0].Delivery.ID != id {
				t.Fatalf("claimed %v, want [%s]", deliveryIDs(cds), id)
			}
			wantSame(t, "resent event", &cds[0].Event, &ne.Event)
		}},
		{"HeldWhenSubscriptionInactive", func(t *testing.T, f *fixture) {
			s := f.newSub("")
			orig := f.publish(t0, s)[0]
			f.claim(t0, 10)
			f.complete(f.failed(orig, t0))
			_, err := f.s.SetSubscriptionStatus(f.ctx, f.ws, s.ID, store.SubscriptionPaused, t0)
			f.must(err, "SetSubscriptionStatus")
			d, err := f.s.Resend(f.ctx, f.ws, orig, newID("dlv_"), at(time.Hour))
			f.must(err, "Resend")
			if d.Status != store.DeliveryHeld {
				t.Errorf("resent to a paused subscription: %s, want held", d.Status)
			}
			wantIDs(t, "claimable", f.claimIDs(at(2*time.Hour), 10), nil)
		}},
		{"UnknownIsNotFound", func(t *testing.T, f *fixture) {
			orig := f.publish(t0, f.newSub(""))[0]
			_, err := f.s.Resend(f.ctx, f.ws, "dlv_unknown", newID("dlv_"), t0)
			wantErr(t, "Resend", err, store.ErrNotFound)
			_, err = f.s.Resend(f.ctx, f.newWorkspace("other", ""), orig, newID("dlv_"), t0)
			wantErr(t, "Resend from another workspace", err, store.ErrNotFound)
			if n := f.queueDepth(); n != 1 {
				t.Errorf("queue depth %d, want 1", n)
			}
		}},
	}
}
