package delivery

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/store"
)

// subStore is a store that knows one subscription (or fails); the
// dispatcher's decisions need nothing else. Other methods panic.
type subStore struct {
	store.Store
	sub *store.Subscription
	err error
}

func (s *subStore) SubscriptionByID(ctx context.Context, id string) (*store.Subscription, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.sub == nil || s.sub.ID != id {
		return nil, store.ErrNotFound
	}
	c := *s.sub
	return &c, nil
}

func TestDeliverDecides(t *testing.T) {
	const minute = time.Minute
	tests := []struct {
		name        string
		status      string // subscription status; "" means deleted
		storeErr    error
		answer      http.HandlerFunc
		attempts    int // made before this one
		wantSent    bool
		wantStatus  string
		wantDelay   [2]time.Duration // NextAttemptAt - now within [lo, hi], for pending
		wantFailure bool             // CountFailure
		wantSuccess bool
		wantGone    bool
	}{
		{name: "2xx succeeds", status: "active", answer: status(200, nil), wantSent: true,
			wantStatus: store.DeliverySucceeded, wantSuccess: true},
		{name: "500 is retried on the schedule", status: "active", answer: status(500, nil), wantSent: true,
			wantStatus: store.DeliveryPending, wantDelay: [2]time.Duration{minute * 8 / 10, minute * 12 / 10}, wantFailure: true},
		{name: "500 on the second attempt takes the second delay", status: "active", answer: status(500, nil), attempts: 1,
			wantSent: true, wantStatus: store.DeliveryPending, wantDelay: [2]time.Duration{8 * minute, 12 * minute}, wantFailure: true},
		{name: "500 after the schedule fails", status: "active", answer: status(500, nil), attempts: 2, wantSent: true,
			wantStatus: store.DeliveryFailed, wantFailure: true},
		{name: "503 with retry-after waits that long", status: "active",
			answer: status(503, map[string]string{"Retry-After": "600"}), wantSent: true,
			wantStatus: store.DeliveryPending, wantDelay: [2]time.Duration{599 * time.Second, 600 * time.Second}, wantFailure: true},
		{name: "410 disables", status: "active", answer: status(410, nil), wantSent: true,
			wantStatus: store.DeliveryHeld, wantGone: true},
		// Not sent, and handed back as pending, due now: the store holds it
		// if the subscription is still not active when the outcome is
		// written. Writing held here would race an enable.
		{name: "paused is handed back", status: "paused", answer: status(200, nil),
			wantStatus: store.DeliveryPending, wantDelay: [2]time.Duration{-time.Second, 0}},
		{name: "disabled is handed back", status: "disabled", answer: status(200, nil),
			wantStatus: store.DeliveryPending, wantDelay: [2]time.Duration{-time.Second, 0}},
		{name: "deleted is not sent", status: "", answer: status(200, nil), wantStatus: store.DeliveryHeld},
		{name: "store unreachable: not sent, tried again soon", status: "active", storeErr: errors.New("disk on fire"),
			answer: status(200, nil), wantStatus: store.DeliveryPending, wantDelay: [2]time.Duration{4 * time.Second, 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				tt.answer(w, r)
			}))
			defer srv.Close()
			sub := testSubscription()
			sub.URL = srv.URL
			sub.RetrySchedule = []store.Duration{store.Duration(time.Minute), store.Duration(10 * time.Minute)}
			st := &subStore{sub: sub, err: tt.storeErr}
			if tt.status == "" {
				st.sub = nil
			} else {
				sub.Status = tt.status
			}
			sender := NewSender(true, "test")
			defer sender.Close()
			d := New(st, sender, Options{Owner: "test", Concurrency: 1, Metrics: metrics.New(nil),
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			cd := &store.ClaimedDelivery{
				Delivery: store.Delivery{ID: "dlv_1", EventID: "evt_1", SubscriptionID: sub.ID, Status: store.DeliverySending,
					Attempts: tt.attempts},
				Event: *testEvent(),
			}

			o := d.deliver(context.Background(), sub.ID, cd)
			now := time.Now()

			if sent := requests.Load() > 0; sent != tt.wantSent {
				t.Errorf("sent = %v, want %v", sent, tt.wantSent)
			}
			if (o.Attempt != nil) != tt.wantSent {
				t.Errorf("attempt recorded = %v, want %v", o.Attempt != nil, tt.wantSent)
			}
			if o.Status != tt.wantStatus {
				t.Errorf("status %q, want %q", o.Status, tt.wantStatus)
			}
			if o.DeliveryID != "dlv_1" || o.SubscriptionID != sub.ID {
				t.Errorf("outcome for %s/%s, want dlv_1/%s", o.DeliveryID, o.SubscriptionID, sub.ID)
			}
			if o.CountFailure != tt.wantFailure || o.Success != tt.wantSuccess || o.Gone != tt.wantGone {
				t.Errorf("CountFailure=%v Success=%v Gone=%v; want %v %v %v",
					o.CountFailure, o.Success, o.Gone, tt.wantFailure, tt.wantSuccess, tt.wantGone)
			}
			if o.Status == store.DeliveryPending {
				delay := o.NextAttemptAt.Sub(now)
				if delay < tt.wantDelay[0] || delay > tt.wantDelay[1] {
					t.Errorf("next attempt in %v, want within [%v, %v]", delay, tt.wantDelay[0], tt.wantDelay[1])
				}
			}
		})
	}
}

// TestReserveShrinksQueuesUnderMemoryPressure: a subscription's queue takes
// deep hand-offs while memory is plentiful, and only a shallow queue's worth
// once half of maxInMemory is in use, so that slow subscriptions cannot
// take the memory the others need.
func TestReserveShrinksQueuesUnderMemoryPressure(t *testing.T) {
	const conc = 4
	tests := []struct {
		name     string
		inMemory int // held by other subscriptions
		want     int // places Reserve grants one subscription
	}{
		{"memory free", 0, conc * deepQueue},
		{"just under half", maxInMemory/2 - conc*deepQueue - 1, conc * deepQueue},
		{"half in use", maxInMemory / 2, conc * shallowQueue},
		{"nearly full", maxInMemory - 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(nil, nil, Options{Owner: "node_test", Concurrency: conc})
			d.runCtx = t.Context()
			d.inMemory = tt.inMemory
			got := 0
			for got < maxInMemory {
				if _, _, ok := d.Reserve("sub_a"); !ok {
					break
				}
				got++
			}
			if got != tt.want {
				t.Errorf("Reserve granted %d places, want %d", got, tt.want)
			}
		})
	}
}

// queueStore keeps the deliveries of one subscription as a queue in memory,
// enough to run a Dispatcher on; it fails on demand. Other methods panic.
type queueStore struct {
	store.Store
	sub *store.Subscription

	mu             sync.Mutex
	fail           bool // NextDue and ClaimDeliveries fail
	failCompletes  int  // this many more CompleteDeliveries fail
	claimCalls     int  // NextDue and ClaimDeliveries, failed or not
	completeCalls  int
	pending        []store.ClaimedDelivery
	leased         map[string]store.ClaimedDelivery
	finished       map[string]string // delivery id → status
	errUnreachable error
}

func newQueueStore(sub *store.Subscription) *queueStore {
	return &queueStore{sub: sub, leased: map[string]store.ClaimedDelivery{}, finished: map[string]string{},
		errUnreachable: errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")}
}

// add stores a pending delivery, due now, of an event with data.
func (s *queueStore) add(id string, data []byte) store.ClaimedDelivery {
	now := time.Now()
	cd := store.ClaimedDelivery{
		Delivery: store.Delivery{ID: id, SubscriptionID: s.sub.ID, Status: store.DeliveryPending, NextAttemptAt: &now},
		Event: store.Event{ID: "evt_" + id, WorkspaceID: s.sub.WorkspaceID, Type: "big.event", Data: data,
			CreatedAt: now},
	}
	s.mu.Lock()
	s.pending = append(s.pending, cd)
	s.mu.Unlock()
	return cd
}

func (s *queueStore) setFail(fail bool) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

func (s *queueStore) SubscriptionByID(ctx context.Context, id string) (*store.Subscription, error) {
	c := *s.sub
	return &c, nil
}

func (s *queueStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claimCalls++
	if s.fail {
		return time.Time{}, false, s.errUnreachable
	}
	if len(s.pending) == 0 {
		return time.Time{}, false, nil
	}
	next := *s.pending[0].Delivery.NextAttemptAt
	for _, cd := range s.pending {
		if cd.Delivery.NextAttemptAt.Before(next) {
			next = *cd.Delivery.NextAttemptAt
		}
	}
	return next, true, nil
}

func (s *queueStore) ClaimDeliveries(ctx context.Context, c store.Claim) ([]store.ClaimedDelivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claimCalls++
	if s.fail {
		return nil, s.errUnreachable
	}
	var claimed, left []store.ClaimedDelivery
	for _, cd := range s.pending {
		if len(claimed) < c.Limit && !cd.Delivery.NextAttemptAt.After(c.Now) && !slices.Contains(c.Skip, s.sub.ID) {
			cd.Delivery.Status = store.DeliverySending
			claimed = append(claimed, cd)
			s.leased[cd.Delivery.ID] = cd
		} else {
			left = append(left, cd)
		}
	}
	s.pending = left
	return claimed, nil
}

func (s *queueStore) CompleteDeliveries(ctx context.Context, outs []store.Outcome) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completeCalls++
	if s.failCompletes > 0 {
		s.failCompletes--
		return nil, s.errUnreachable
	}
	for _, o := range outs {
		cd, ok := s.leased[o.DeliveryID]
		if !ok {
			continue
		}
		delete(s.leased, o.DeliveryID)
		if o.Status == store.DeliveryPending {
			cd.Delivery.Status, cd.Delivery.NextAttemptAt = store.DeliveryPending, &o.NextAttemptAt
			s.pending = append(s.pending, cd)
			continue
		}
		s.finished[o.DeliveryID] = o.Status
	}
	return nil, nil
}

func (s *queueStore) ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	return len(ids), nil
}

func (s *queueStore) ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.leased)
	for id, cd := range s.leased {
		cd.Delivery.Status, cd.Delivery.NextAttemptAt = store.DeliveryPending, &now
		s.pending = append(s.pending, cd)
		delete(s.leased, id)
	}
	return n, nil
}

// status is a delivery's final status, or "" while it has none.
func (s *queueStore) status(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished[id]
}

// logBuffer collects a logger's lines; loops log from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines at level (ERROR, WARN, INFO) that contain msg.
func (l *logBuffer) lines(level, msg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.b.String()) {
		if strings.Contains(line, "level="+level) && strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name       string
		tries      string // f: failed, o: worked
		wantDelays []time.Duration
		wantLevels []string // of the lines logged, in order
	}{
		{"working logs nothing", "ooo", []time.Duration{0, 0, 0}, nil},
		{"failing doubles the delay up to the cap", "fffffffff",
			[]time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms},
			[]string{"ERROR"}},
		{"working again starts over", "ffoofff", []time.Duration{50 * ms, 100 * ms, 0, 0, 50 * ms, 100 * ms, 200 * ms},
			[]string{"ERROR", "INFO", "ERROR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			b := backoff{what: "testing", log: slog.New(slog.NewTextHandler(&logs, nil))}
			var delays []time.Duration
			for _, try := range tt.tries {
				if try == 'f' {
					delays = append(delays, b.failed(errors.New("down")))
				} else {
					b.ok()
					delays = append(delays, 0)
				}
			}
			if !slices.Equal(delays, tt.wantDelays) {
				t.Errorf("delays %v, want %v", delays, tt.wantDelays)
			}
			var levels []string
			for line := range strings.Lines(logs.b.String()) {
				_, after, _ := strings.Cut(line, "level=")
				level, _, _ := strings.Cut(after, " ")
				levels = append(levels, level)
			}
			if !slices.Equal(levels, tt.wantLevels) {
				t.Errorf("logged levels %v, want %v:\n%s", levels, tt.wantLevels, logs.b.String())
			}
		})
	}
}

// TestClaimerBacksOffWhileTheStoreFails: with the store unreachable the
// claimer tries a few times a second at most, whatever wakes it, logs the
// failure once and the recovery once, and claims again once the store answers.
func TestClaimerBacksOffWhileTheStoreFails(t *testing.T) {
	srv := httptest.NewServer(status(200, nil))
	defer srv.Close()
	sub := testSubscription()
	sub.URL = srv.URL
	st := newQueueStore(sub)
	st.setFail(true)
	var logs logBuffer
	sender := NewSender(true, "test")
	defer sender.Close()
	d := New(st, sender, Options{Owner: "node_test", Concurrency: 1, Metrics: metrics.New(nil),
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// Publishes and finished sends keep waking the claimer: they must not
	// cut a back-off short.
	notifying := make(chan struct{})
	go func() {
		for {
			select {
			case <-notifying:
				return
			case <-time.After(time.Millisecond):
				d.Notify()
			}
		}
	}()
	defer close(notifying)

	const window = 1200 * time.Millisecond
	time.Sleep(window)
	st.mu.Lock()
	calls := st.claimCalls
	st.mu.Unlock()
	// Tries at 0, 50, 150, 350 and 750 ms; a slow machine only makes fewer.
	// Without a back-off the claimer polls every 20 ms: 60 tries or more.
	if calls < 2 || calls > 7 {
		t.Errorf("%d store calls in %v of failures, want 2 to 7", calls, window)
	}

	st.setFail(false)
	st.add("dlv_after", []byte(`{}`))
	for deadline := time.Now().Add(10 * time.Second); st.status("dlv_after") == ""; {
		if time.Now().After(deadline) {
			t.Fatal("the delivery was not sent after the store answered again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := st.status("dlv_after"); got != store.DeliverySucceeded {
		t.Errorf("delivery %s, want %s", got, store.DeliverySucceeded)
	}
	failures, recoveries := logs.lines("ERROR", "claiming deliveries"), logs.lines("INFO", "claiming deliveries")
	if len(failures) != 1 || len(recoveries) != 1 {
		t.Errorf("logged %d failure and %d recovery lines, want 1 and 1:\n%s%s", len(failures), len(recoveries),
			strings.Join(failures, ""), strings.Join(recoveries, ""))
	}
	if other := append(logs.lines("ERROR", ""), logs.lines("WARN", "")...); len(other) != 1 {
		t.Errorf("logged other errors:\n%s", strings.Join(other, ""))
	}
}

// TestResultWriterBacksOff: results that cannot be written are tried again
// with the back-off, never dropped while running, and the failure and the
// recovery are each logged once.
func TestResultWriterBacksOff(t *testing.T) {
	sub := testSubscription()
	st := newQueueStore(sub)
	cd := st.add("dlv_1", []byte(`{}`))
	if _, err := st.ClaimDeliveries(t.Context(), store.Claim{Limit: 1, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.failCompletes = 3
	var logs logBuffer
	d := New(st, nil, Options{Owner: "node_test", Concurrency: 1, Metrics: metrics.New(nil),
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	d.inMemory = 1
	writes := backoff{what: "writing delivery results", log: d.opt.Log}
	start := time.Now()
	d.write([]outcome{{Outcome: store.Outcome{DeliveryID: cd.Delivery.ID, SubscriptionID: sub.ID,
		Status: store.DeliverySucceeded}}}, &writes)
	if elapsed, want := time.Since(start), (50+100+200)*time.Millisecond; elapsed < want {
		t.Errorf("3 failed writes and 1 that worked took %v, want at least %v of back-off", elapsed, want)
	}
	if st.completeCalls != 4 || st.status("dlv_1") != store.DeliverySucceeded {
		t.Errorf("%d writes, delivery %q; want 4 writes and the delivery succeeded", st.completeCalls, st.status("dlv_1"))
	}
	if f, r := logs.lines("ERROR", "writing delivery results"), logs.lines("INFO", "writing delivery results"); len(f) != 1 || len(r) != 1 {
		t.Errorf("logged %d failure and %d recovery lines, want 1 and 1:\n%s", len(f), len(r), logs.b.String())
	}
}
