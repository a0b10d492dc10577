// Conformance tests of AttemptStats, the dashboard's per-minute counts of a
// workspace's delivery attempts: the same buckets, in the same order, on
// every engine, whatever each stores times as.
package storetest

import (
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func attemptStatsTests() []test {
	return []test{
		{"PerMinute", func(t *testing.T, f *fixture) {
			minute := t0.Truncate(time.Minute)
			// Mid-minute, so that the first bucket holds only what is at or
			// after since: filtered before grouped.
			since := minute.Add(2*time.Minute + 30*time.Second)
			s := f.newSub("")
			other := f.newSub(f.newWorkspace("Other", f.user.ID))
			ids := f.publish(t0, s, s, s, s, s, s, s)
			e := f.newEvent(t0)
			e.WorkspaceID = other.WorkspaceID
			elsewhere := f.routed(e, other)
			f.insert(elsewhere)
			f.claim(t0, 100)

			refused := f.attempt(ids[5], minute.Add(4*time.Minute+59*time.Second), 0)
			f.complete(
				f.succeeded(ids[0], since.Add(-time.Microsecond)), // before since
				f.succeeded(ids[1], since),
				f.failed(ids[2], minute.Add(3*time.Minute-time.Microsecond)),
				// Nothing in the minute after: no bucket for it.
				f.succeeded(ids[3], minute.Add(4*time.Minute)),
				f.retry(ids[4], minute.Add(4*time.Minute+time.Second), at(time.Hour)),
				store.Outcome{DeliveryID: ids[5], SubscriptionID: s.ID, Status: store.DeliveryPending,
					NextAttemptAt: at(time.Hour), Attempt: refused, Error: refused.Error, CountFailure: true},
				f.failed(ids[6], minute.Add(6*time.Minute+time.Microsecond)),
				f.succeeded(elsewhere.Deliveries[0].ID, minute.Add(4*time.Minute)), // another workspace
			)
			ev, d, a := testSend(s, minute.Add(4*time.Minute+2*time.Second)) // a test send
			f.must(f.s.RecordTestAttempt(f.ctx, ev, d, a), "RecordTestAttempt")

			wantAttemptStats(t, f, f.ws, since, []store.AttemptMinute{
				{Minute: minute.Add(2 * time.Minute), Attempts: 2, Succeeded: 1},
				{Minute: minute.Add(4 * time.Minute), Attempts: 3, Succeeded: 1},
				{Minute: minute.Add(6 * time.Minute), Attempts: 1, Succeeded: 0},
			})
			wantAttemptStats(t, f, f.ws, minute.Add(4*time.Minute+time.Second), []store.AttemptMinute{
				{Minute: minute.Add(4 * time.Minute), Attempts: 2, Succeeded: 0},
				{Minute: minute.Add(6 * time.Minute), Attempts: 1, Succeeded: 0},
			})
			wantAttemptStats(t, f, other.WorkspaceID, since, []store.AttemptMinute{
				{Minute: minute.Add(4 * time.Minute), Attempts: 1, Succeeded: 1},
			})
			wantAttemptStats(t, f, f.ws, minute.Add(7*time.Minute), nil)
			wantAttemptStats(t, f, "ws_unknown", since, nil)
		}},
	}
}

// wantAttemptStats checks AttemptStats of workspaceID since since: buckets in
// order, each minute a UTC instant.
func wantAttemptStats(t *testing.T, f *fixture, workspaceID string, since time.Time, want []store.AttemptMinute) {
	t.Helper()
	got, err := f.s.AttemptStats(f.ctx, workspaceID, since)
	f.must(err, "AttemptStats")
	if len(got) != len(want) {
		t.Errorf("AttemptStats of %s since %s: %d minutes %v, want %d %v", workspaceID, show(since), len(got), got,
			len(want), want)
		return
	}
	for i := range want {
		if got[i].Minute.Location() != time.UTC {
			t.Errorf("AttemptStats minute %d: in %s, want UTC", i, got[i].Minute.Location())
		}
		wantSame(t, "AttemptStats minute", got[i], want[i])
	}
}
