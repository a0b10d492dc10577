package delivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
