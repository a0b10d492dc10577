package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
// dispatcher's decisions need nothing else.
type subStore struct {
	noQueue
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
// once half of maxInMemory or of the memory budget is in use, so that slow
// subscriptions cannot take the memory the others need; past the budget
// it takes none, and Release gives back what Reserve took.
func TestReserveShrinksQueuesUnderMemoryPressure(t *testing.T) {
	const (
		conc   = 4
		budget = 64 << 20
		kib    = 1 << 10
	)
	small := weight(kib)
	tests := []struct {
		name  string
		count int   // held by other subscriptions
		bytes int64 // and what they weigh
		size  int   // of the events reserved for
		want  int   // places Reserve grants one subscription
	}{
		{"memory free", 0, 0, kib, conc * deepQueue},
		{"just under half the count", maxInMemory/2 - conc*deepQueue - 1, (maxInMemory/2 - conc*deepQueue - 1) * small, kib,
			conc * deepQueue},
		{"half the count in use", maxInMemory / 2, maxInMemory / 2 * small, kib, conc * shallowQueue},
		{"count nearly full", maxInMemory - 3, (maxInMemory - 3) * small, kib, 3},
		{"just under half the bytes", 1, budget/2 - conc*deepQueue*small - 1, kib, conc * deepQueue},
		{"half the bytes in use", 1, budget / 2, kib, conc * shallowQueue},
		{"bytes nearly full", 1, budget - 3*small, kib, 3},
		{"large events fill the budget", 0, 0, 10 << 20, 6},
		{"an event larger than the budget, alone", 0, 0, 100 << 20, 1},
		{"an event larger than the budget, not alone", 1, small, 100 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(nil, nil, Options{Owner: "node_test", Concurrency: conc, QueueMemory: budget})
			d.runCtx = t.Context()
			d.mem.count, d.mem.bytes = tt.count, tt.bytes
			got := 0
			for got < maxInMemory {
				if _, _, ok := d.Reserve("sub_a", tt.size); !ok {
					break
				}
				got++
			}
			if got != tt.want {
				t.Errorf("Reserve granted %d places, want %d", got, tt.want)
			}
			for range got {
				d.Release("sub_a", tt.size)
			}
			if d.mem.count != tt.count || d.mem.bytes != tt.bytes || len(d.queues) != 0 {
				t.Errorf("after releasing every place: %d deliveries of %d bytes in memory, %d queues; want %d of %d, none",
					d.mem.count, d.mem.bytes, len(d.queues), tt.count, tt.bytes)
			}
		})
	}
}

// TestMemoryAccounting: what fits in memory, how much a claim may take and
// when memory is no longer plentiful.
func TestMemoryAccounting(t *testing.T) {
	const budget = 16 << 20
	worst := int(weight(maxEventData))
	tests := []struct {
		name          string
		count         int
		bytes         int64
		w             int64 // the weight asked to fit
		wantFits      bool
		wantClaimable int // at most
		wantPlentiful bool
	}{
		{"empty", 0, 0, weight(100), true, budget / worst, true},
		{"empty: larger than the budget fits, alone", 0, 0, weight(budget), true, budget / worst, true},
		{"not empty: larger than the budget does not fit", 1, weight(100), weight(budget), false,
			int(budget-weight(100)) / worst, true},
		{"fits exactly", 10, budget - weight(100), weight(100), true, 0, false},
		{"a byte over", 10, budget - weight(100) + 1, weight(100), false, 0, false},
		{"room for one worst case", 1, budget - int64(worst), weight(100), true, 1, false},
		{"half the bytes", 1, budget / 2, weight(100), true, budget / 2 / worst, false},
		{"half the count", maxInMemory / 2, maxInMemory / 2 * weight(100), weight(100), true,
			int(budget-maxInMemory/2*weight(100)) / worst, false},
		{"count full", maxInMemory, maxInMemory * weight(10), weight(10), false, 0, false},
		{"over the budget: an event larger than it, alone", 1, weight(budget), weight(100), false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memory{count: tt.count, bytes: tt.bytes, budget: budget}
			if got := m.fits(tt.w); got != tt.wantFits {
				t.Errorf("fits(%d) = %v, want %v", tt.w, got, tt.wantFits)
			}
			if got := max(m.claimable(), 0); got != tt.wantClaimable {
				t.Errorf("claimable() = %d, want %d", got, tt.wantClaimable)
			}
			if got := m.plentiful(); got != tt.wantPlentiful {
				t.Errorf("plentiful() = %v, want %v", got, tt.wantPlentiful)
			}
			// Whatever fits may be added without passing the budget, unless
			// it is alone.
			if m.fits(tt.w) {
				m.add(tt.w)
				if m.bytes > budget && m.count > 1 {
					t.Errorf("added %d: %d bytes in memory, over the budget of %d", tt.w, m.bytes, budget)
				}
				m.remove(tt.w)
			}
			if m.count != tt.count || m.bytes != tt.bytes {
				t.Errorf("add then remove left %d of %d bytes, want %d of %d", m.count, m.bytes, tt.count, tt.bytes)
			}
		})
	}
}

// errNotInThisFake is what a fake answers for a method its test does not use.
var errNotInThisFake = errors.New("not used by this test")

// noQueue answers every queue method of Store with errNotInThisFake.
type noQueue struct{}

func (noQueue) NextDue(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, errNotInThisFake
}
func (noQueue) ClaimDeliveries(context.Context, store.Claim) ([]store.ClaimedDelivery, error) {
	return nil, errNotInThisFake
}
func (noQueue) CompleteDeliveries(context.Context, time.Time, []store.Outcome) ([]string, error) {
	return nil, errNotInThisFake
}
func (noQueue) ExtendLeases(context.Context, string, []string, time.Time) (int, error) {
	return 0, errNotInThisFake
}
func (noQueue) ReleaseLeases(context.Context, string, time.Time) (int, error) {
	return 0, errNotInThisFake
}
func (noQueue) RecordTestAttempt(context.Context, *store.Event, *store.Delivery, *store.Attempt) error {
	return errNotInThisFake
}

// queueStore keeps the deliveries of one subscription as a queue in memory,
// enough to run a Dispatcher on; it fails on demand.
type queueStore struct {
	sub *store.Subscription

	mu             sync.Mutex
	fail           bool // NextDue and ClaimDeliveries fail
	failCompletes  int  // this many more CompleteDeliveries fail
	claimCalls     int  // NextDue and ClaimDeliveries, failed or not
	completeCalls  int
	pending        []store.ClaimedDelivery
	leased         map[string]store.ClaimedDelivery
	maxLeased      int64             // the most the leased deliveries ever weighed
	finished       map[string]string // delivery id → status
	errUnreachable error
	// refuse, when set, makes CompleteDeliveries fail a batch holding an
	// outcome it refuses, as a store does one holding text it cannot keep.
	refuse   func(store.Outcome) bool
	attempts map[string]*store.Attempt // the attempt written with each finished delivery
}

func newQueueStore(sub *store.Subscription) *queueStore {
	return &queueStore{sub: sub, leased: map[string]store.ClaimedDelivery{}, finished: map[string]string{},
		attempts:       map[string]*store.Attempt{},
		errUnreachable: fmt.Errorf("%w: dial tcp 127.0.0.1:5432: connect: connection refused", store.ErrUnavailable)}
}

// add stores a pending delivery, due now, of an event with data.
func (s *queueStore) add(id string, data []byte) store.ClaimedDelivery {
	cd := s.delivery(id, data, store.DeliveryPending)
	s.mu.Lock()
	s.pending = append(s.pending, cd)
	s.mu.Unlock()
	return cd
}

// addLeased stores a delivery leased to the dispatcher, as ingest does
// with one it hands over.
func (s *queueStore) addLeased(id string, data []byte) store.ClaimedDelivery {
	cd := s.delivery(id, data, store.DeliverySending)
	s.mu.Lock()
	s.leased[id] = cd
	s.noteLeased()
	s.mu.Unlock()
	return cd
}

func (s *queueStore) delivery(id string, data []byte, status string) store.ClaimedDelivery {
	now := time.Now()
	return store.ClaimedDelivery{
		Delivery: store.Delivery{ID: id, SubscriptionID: s.sub.ID, Status: status, NextAttemptAt: &now},
		Event: store.Event{ID: "evt_" + id, WorkspaceID: s.sub.WorkspaceID, Type: "big.event", Data: data,
			CreatedAt: now},
	}
}

// noteLeased records what the leased deliveries weigh now; s.mu is held.
// They are what the dispatcher holds in memory (it forgets a delivery
// only after its result is written), so this measures it from outside.
func (s *queueStore) noteLeased() {
	var n int64
	for _, cd := range s.leased {
		n += weight(len(cd.Event.Data))
	}
	s.maxLeased = max(s.maxLeased, n)
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
	s.noteLeased()
	return claimed, nil
}

func (s *queueStore) RecordTestAttempt(context.Context, *store.Event, *store.Delivery, *store.Attempt) error {
	return errNotInThisFake
}

func (s *queueStore) CompleteDeliveries(ctx context.Context, _ time.Time, outs []store.Outcome) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completeCalls++
	if s.failCompletes > 0 {
		s.failCompletes--
		return nil, s.errUnreachable
	}
	for _, o := range outs {
		if s.refuse != nil && s.refuse(o) {
			return nil, errors.New("invalid byte sequence for encoding \"UTF8\": 0x00 (SQLSTATE 22021)")
		}
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
		s.attempts[o.DeliveryID] = o.Attempt
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
	d.mem.add(weight(2))
	writes := backoff{what: "writing delivery results", log: d.opt.Log}
	start := time.Now()
	d.write([]outcome{{Outcome: store.Outcome{DeliveryID: cd.Delivery.ID, SubscriptionID: sub.ID,
		Status: store.DeliverySucceeded}, weight: weight(2)}}, &writes)
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

// TestAResultTheStoreRefusesHoldsUpNoOther: a batch the store refuses for
// something else than being out of reach is split until the one result it
// cannot keep is alone; that one is kept without the response, and every
// other result of the batch is written.
func TestAResultTheStoreRefusesHoldsUpNoOther(t *testing.T) {
	sub := testSubscription()
	st := newQueueStore(sub)
	var batch []outcome
	for i := range 9 {
		cd := st.add(fmt.Sprintf("dlv_%d", i), []byte(`{}`))
		a := &store.Attempt{ID: fmt.Sprintf("att_%d", i), Response: &store.AttemptResponse{Status: 200, Body: "fine"}}
		if i == 5 {
			a.Response.Body = "poison"
		}
		batch = append(batch, outcome{Outcome: store.Outcome{DeliveryID: cd.Delivery.ID, SubscriptionID: sub.ID,
			Status: store.DeliverySucceeded, Attempt: a}, weight: weight(2)})
	}
	if _, err := st.ClaimDeliveries(t.Context(), store.Claim{Limit: 9, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.refuse = func(o store.Outcome) bool {
		return o.Attempt != nil && o.Attempt.Response != nil && o.Attempt.Response.Body == "poison"
	}
	var logs logBuffer
	d := New(st, nil, Options{Owner: "node_test", Concurrency: 1, Metrics: metrics.New(nil),
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	d.mem.add(9 * weight(2))
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.write(batch, &backoff{what: "writing delivery results", log: d.opt.Log})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer is stuck on a result the store refuses")
	}
	for i := range 9 {
		if got := st.status(fmt.Sprintf("dlv_%d", i)); got != store.DeliverySucceeded {
			t.Errorf("dlv_%d is %q, want succeeded", i, got)
		}
	}
	if kept := st.attempts["dlv_5"]; kept == nil || kept.Response != nil || !strings.Contains(kept.Error, "could not be stored") {
		t.Errorf("the refused attempt was kept as %+v", kept)
	}
	if len(logs.lines("ERROR", "refused an attempt's response")) != 1 {
		t.Errorf("logs:\n%s", logs.b.String())
	}
}

// TestQueuesStayWithinTheMemoryBudget: with a slow receiver and large
// events, the deliveries in memory, handed over at publish or claimed,
// never weigh more than the budget; the rest wait in the store and are
// claimed as memory frees, until every one is delivered.
func TestQueuesStayWithinTheMemoryBudget(t *testing.T) {
	const (
		budget = 2 << 20
		events = 40
		size   = 300 << 10
	)
	var received atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond)
		received.Add(1)
	}))
	defer srv.Close()
	sub := testSubscription()
	sub.URL = srv.URL
	st := newQueueStore(sub)
	sender := NewSender(true, "test")
	defer sender.Close()
	d := New(st, sender, Options{Owner: "node_test", Concurrency: 2, QueueMemory: budget, Metrics: metrics.New(nil),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for running := false; !running; time.Sleep(time.Millisecond) {
		d.mu.Lock()
		running = d.runCtx != nil
		d.mu.Unlock()
	}

	// Publish as ingest does: hand over while Reserve grants a place, else
	// leave pending in the store.
	data := []byte(`"` + strings.Repeat("x", size-2) + `"`)
	handed := 0
	for i := range events {
		id := fmt.Sprintf("dlv_%02d", i)
		if _, _, ok := d.Reserve(sub.ID, len(data)); ok {
			d.Handoff(st.addLeased(id, data))
			handed++
		} else {
			st.add(id, data)
			d.Notify()
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st.mu.Lock()
		finished := len(st.finished)
		st.mu.Unlock()
		if finished == events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries finished", finished, events)
		}
	}
	cancel()
	<-done

	if n := received.Load(); n != events {
		t.Errorf("the receiver got %d requests, want %d", n, events)
	}
	for id, status := range st.finished {
		if status != store.DeliverySucceeded {
			t.Errorf("%s: %s, want %s", id, status, store.DeliverySucceeded)
		}
	}
	if handed == 0 || handed == events {
		t.Errorf("%d of %d deliveries handed over at publish: want some, not all", handed, events)
	}
	if st.maxLeased > budget || st.maxLeased < budget/2 {
		t.Errorf("the deliveries in memory weighed up to %d bytes, want up to the budget of %d, and more than half",
			st.maxLeased, budget)
	}
	if d.mem.count != 0 || d.mem.bytes != 0 {
		t.Errorf("after the last result: %d deliveries of %d bytes still counted in memory", d.mem.count, d.mem.bytes)
	}
}
