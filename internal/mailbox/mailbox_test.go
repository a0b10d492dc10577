package mailbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/mailbox"
	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
	"github.com/postbode/postbode/internal/workspace"
)

// clock is a settable clock safe for the long polls' goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time                                      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)                                 { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                                               { return &clock{t: servicetest.NewClock().T} }
func ptr[T any](v T) *T                                              { return &v }
func (noDispatch) Reserve(string, int) (string, time.Duration, bool) { return "", 0, false }
func (noDispatch) Release(string, int)                               {}
func (noDispatch) Handoff(store.ClaimedDelivery)                     {}
func (noDispatch) Notify()                                           {}
func (noDispatch) Invalidate(string)                                 {}
func (noDispatch) Test(context.Context, *store.Subscription, []byte) (*store.Attempt, error) {
	return nil, nil
}

type noDispatch struct{}

type env struct {
	ctx    context.Context
	clock  *clock
	st     store.Store
	subs   *subscription.Service
	events *event.Service
	svc    *mailbox.Service
	admin  *auth.Principal
	ws     string
}

func newEnv(t *testing.T, st store.Store) *env {
	ctx := context.Background()
	c := newClock()
	wss := workspace.New(st, c.Now)
	in := ingest.New(st, noDispatch{}, 1, metrics.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), c.Now)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); in.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	a := auth.NewAuthenticator(st, st, c.Now, 0)
	e := &env{ctx: ctx, clock: c, st: st, svc: mailbox.New(st, wss, a, c.Now),
		subs:   subscription.New(subscription.Options{Store: st, Workspaces: wss, Routes: in, Delivery: noDispatch{}, Now: c.Now}),
		events: event.New(st, wss, in, noDispatch{}, c.Now), admin: servicetest.User(t, st, store.RoleAdmin, "admin@example.com")}
	in.Mailboxes = e.svc
	w, err := wss.Create(ctx, e.admin, "Main")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	for _, et := range []string{"patient.update", "task.new"} {
		if _, err := wss.CreateEventType(ctx, e.admin, e.ws, workspace.EventTypeInput{Name: et, Label: et}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// pull makes a pull subscription; it returns it with its app token.
func (e *env) pull(t *testing.T, in subscription.Input) *subscription.Created {
	t.Helper()
	in.Name, in.Mode, in.EventTypes = ptr("consumer"), ptr(store.ModePull), []string{"*"}
	c, err := e.subs.Create(e.ctx, e.admin, e.ws, &in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) publish(t *testing.T, typ, subject string) string {
	t.Helper()
	p, err := e.events.Publish(e.ctx, e.admin, e.ws, event.Input{Type: typ, Subject: &subject, Data: json.RawMessage(`{"v":1}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func (e *env) claim(t *testing.T, sub string, in mailbox.ClaimInput) []mailbox.Claimed {
	t.Helper()
	c, err := e.svc.Claim(e.ctx, e.admin, e.ws, sub, in)
	if err != nil {
		t.Fatal(err)
	}
	return c.Messages
}

// TestClaimAndAcknowledge: Koppeltaal's GetNextNewAndClaim and the four
// acknowledgements, with the clock moved instead of sleeping.
func TestClaimAndAcknowledge(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{})
		if sub.Token == "" || sub.Secret != "" || sub.Mode != store.ModePull {
			t.Fatalf("pull subscription %+v", sub)
		}
		evts := []string{e.publish(t, "patient.update", "patient/1"), e.publish(t, "task.new", "task/1"), e.publish(t, "task.new", "task/2")}
		got := e.claim(t, sub.ID, mailbox.ClaimInput{Count: ptr(2)})
		if len(got) != 2 || got[0].Event.ID != evts[0] || got[1].Event.ID != evts[1] || got[0].Claims != 1 || got[0].LeaseID == "" ||
			!got[0].ClaimedUntil.Equal(e.clock.Now().Add(time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("first claim %+v", got)
		}
		third := e.claim(t, sub.ID, mailbox.ClaimInput{Type: "task.new"})
		if len(third) != 1 || third[0].Event.ID != evts[2] {
			t.Fatalf("claim of task.new %+v", third)
		}
		ack := func(m mailbox.Claimed, action string, in mailbox.AckInput) error {
			in.LeaseID = m.LeaseID
			_, err := e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, m.ID, action, in)
			return err
		}
		if err := ack(got[0], store.AckSuccess, mailbox.AckInput{}); err != nil {
			t.Fatal(err)
		}
		if err := ack(got[1], store.AckFailed, mailbox.AckInput{Reason: "no such task"}); err != nil {
			t.Fatal(err)
		}
		if err := ack(third[0], store.AckRelease, mailbox.AckInput{DelaySeconds: ptr(30)}); err != nil {
			t.Fatal(err)
		}
		stats, err := e.svc.Stats(e.ctx, e.admin, e.ws, sub.ID)
		if err != nil || stats[store.MessageSuccess] != 1 || stats[store.MessageFailed] != 1 || stats[store.MessageNew] != 1 {
			t.Errorf("stats %v, %v", stats, err)
		}
		if got := e.claim(t, sub.ID, mailbox.ClaimInput{}); len(got) != 0 {
			t.Errorf("a released message claimed before its delay: %+v", got)
		}
		e.clock.Add(31 * time.Second)
		again := e.claim(t, sub.ID, mailbox.ClaimInput{})
		if len(again) != 1 || again[0].ID != third[0].ID || again[0].Claims != 2 {
			t.Errorf("after the delay: %+v", again)
		}
		failed, err := e.svc.Search(e.ctx, e.admin, e.ws, sub.ID, mailbox.Filter{Status: store.MessageFailed}, listing.Query{})
		if err != nil || len(failed.Data) != 1 || failed.Data[0].Reason != "no such task" {
			t.Errorf("failed messages %+v, %v", failed.Data, err)
		}
	})
}

// TestLeases: a lease that runs out makes the message claimable again and
// counts; an acknowledgement after that, or under another claim's lease,
// is lease_lost; after MaxClaims claims the message is max_retries_exceeded.
func TestLeases(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{})
		e.publish(t, "task.new", "task/1")
		first := e.claim(t, sub.ID, mailbox.ClaimInput{LeaseSeconds: ptr(10)})[0]
		e.clock.Add(11 * time.Second)
		_, err := e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, first.ID, store.AckSuccess, mailbox.AckInput{LeaseID: first.LeaseID})
		servicetest.Check(t, "after the lease ran out", err, servicetest.Want{Kind: errs.Conflict, Code: "lease_lost"})
		second := e.claim(t, sub.ID, mailbox.ClaimInput{LeaseSeconds: ptr(10)})[0]
		if second.ID != first.ID || second.Claims != 2 || second.LeaseID == first.LeaseID {
			t.Fatalf("second claim %+v", second)
		}
		_, err = e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, first.ID, store.AckSuccess, mailbox.AckInput{LeaseID: first.LeaseID})
		servicetest.Check(t, "under the first claim's lease", err, servicetest.Want{Kind: errs.Conflict, Code: "lease_lost"})
		if _, err := e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, second.ID, store.AckExtend,
			mailbox.AckInput{LeaseID: second.LeaseID, LeaseSeconds: ptr(60)}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(30 * time.Second) // past the first lease, within the extended one
		if _, err := e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, second.ID, store.AckRelease, mailbox.AckInput{LeaseID: second.LeaseID}); err != nil {
			t.Fatalf("release within the extended lease: %v", err)
		}
		for range store.MaxClaims - 2 {
			if got := e.claim(t, sub.ID, mailbox.ClaimInput{LeaseSeconds: ptr(1)}); len(got) != 1 {
				t.Fatalf("claim: %+v", got)
			}
			e.clock.Add(2 * time.Second)
		}
		if got := e.claim(t, sub.ID, mailbox.ClaimInput{}); len(got) != 0 {
			t.Errorf("claimed after %d claims: %+v", store.MaxClaims, got)
		}
		if stats, _ := e.svc.Stats(e.ctx, e.admin, e.ws, sub.ID); stats[store.MessageMaxRetriesExceeded] != 1 {
			t.Errorf("stats %v, want one max_retries_exceeded", stats)
		}
	})
}

// TestLongPolling: a claim that finds nothing waits, and a publish wakes it.
func TestLongPolling(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{})
		start := time.Now()
		if got := e.claim(t, sub.ID, mailbox.ClaimInput{WaitSeconds: ptr(1)}); len(got) != 0 || time.Since(start) < 900*time.Millisecond {
			t.Errorf("an empty claim waiting 1 s answered %+v after %v", got, time.Since(start))
		}
		done := make(chan []mailbox.Claimed, 1)
		go func() {
			c, err := e.svc.Claim(e.ctx, e.admin, e.ws, sub.ID, mailbox.ClaimInput{WaitSeconds: ptr(10)})
			if err != nil {
				t.Error(err)
			}
			done <- c.Messages
		}()
		time.Sleep(100 * time.Millisecond)
		published := time.Now()
		evt := e.publish(t, "task.new", "task/9")
		select {
		case got := <-done:
			if len(got) != 1 || got[0].Event.ID != evt || got[0].Claims != 1 || got[0].LeaseID == "" {
				t.Fatalf("woken with %+v", got)
			}
			// Handed over claimed, in the publish's transaction: it is
			// claimed in the store, under the lease the claim answered.
			if _, err := e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, got[0].ID, store.AckSuccess,
				mailbox.AckInput{LeaseID: got[0].LeaseID}); err != nil {
				t.Errorf("acknowledging the handed message: %v", err)
			}
			if d := time.Since(published); d > 2*time.Second {
				t.Errorf("woken %v after the publish", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a publish did not wake the waiting claim")
		}
	})
}

// TestCoalescing: with coalesce_by_subject, a new message about a subject
// replaces the unclaimed one, which stays searchable.
func TestCoalescing(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{CoalesceBySubject: ptr(true)})
		old := e.publish(t, "patient.update", "patient/1")
		newest := e.publish(t, "patient.update", "patient/1")
		other := e.publish(t, "patient.update", "patient/2")
		got := e.claim(t, sub.ID, mailbox.ClaimInput{Count: ptr(10)})
		if len(got) != 2 || got[0].Event.ID != newest || got[1].Event.ID != other {
			t.Errorf("claimed %+v, want only the latest about each subject", got)
		}
		replaced, err := e.svc.Search(e.ctx, e.admin, e.ws, sub.ID, mailbox.Filter{Status: store.MessageReplaced}, listing.Query{})
		if err != nil || len(replaced.Data) != 1 || replaced.Data[0].EventID != old {
			t.Errorf("replaced %+v, %v", replaced.Data, err)
		}
	})
}

// TestAuthenticate: the mailbox's own app token (bearer, or basic with the
// subscription's id), or an integration token; never another mailbox's.
func TestAuthenticate(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		a := e.pull(t, subscription.Input{Auth: ptr(store.AuthBasic)})
		b := e.pull(t, subscription.Input{})
		if a.Username != a.ID {
			t.Errorf("basic auth username %q, want the subscription id", a.Username)
		}
		integration := auth.NewToken(store.TokenIntegration)
		if err := st.CreateToken(e.ctx, &store.Token{ID: "tok_int", UserID: e.admin.User.ID, Kind: store.TokenIntegration,
			Name: "x", Hash: auth.HashToken(integration)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			cred auth.Credential
			ok   bool
		}{
			{"its token", auth.Credential{Token: a.Token}, true},
			{"basic", auth.Credential{Basic: true, Username: a.ID, Token: a.Token}, true},
			{"basic, another username", auth.Credential{Basic: true, Username: "someone", Token: a.Token}, false},
			{"another mailbox's token", auth.Credential{Token: b.Token}, false},
			{"an integration token", auth.Credential{Token: integration}, true},
			{"none", auth.Credential{}, false},
			{"garbage", auth.Credential{Token: "pba_nope"}, false},
		} {
			_, err := e.svc.Authenticate(e.ctx, c.cred, a.ID)
			if (err == nil) != c.ok {
				t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
			}
		}
		// A deleted pull subscription takes its token along.
		if err := e.subs.Delete(e.ctx, e.admin, e.ws, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.TokenByHash(e.ctx, auth.HashToken(b.Token)); err != store.ErrNotFound {
			t.Errorf("the deleted subscription's token: %v", err)
		}
	})
}

// TestAckBatch: a batch applies each acknowledgement on its own, in order,
// in one store call: the valid ones are written, the others refused in
// their results (invalid naming acks[i].field, not_found, lease_lost).
func TestAckBatch(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{})
		for i := 0; i < 5; i++ {
			e.publish(t, "task.new", "task/"+string(rune('a'+i)))
		}
		got := e.claim(t, sub.ID, mailbox.ClaimInput{Count: ptr(5)})
		if len(got) != 5 {
			t.Fatalf("claimed %d, want 5", len(got))
		}
		item := func(m mailbox.Claimed, action string, in mailbox.AckInput) mailbox.AckItem {
			if in.LeaseID == "" {
				in.LeaseID = m.LeaseID
			}
			return mailbox.AckItem{ID: m.ID, Action: action, AckInput: in}
		}
		res, err := e.svc.AckBatch(e.ctx, e.admin, e.ws, sub.ID, mailbox.AckBatchInput{Acks: []mailbox.AckItem{
			item(got[0], store.AckSuccess, mailbox.AckInput{}),
			item(got[1], store.AckFailed, mailbox.AckInput{Reason: "no such task"}),
			item(got[2], store.AckFailed, mailbox.AckInput{}),                               // no reason
			item(got[2], store.AckSuccess, mailbox.AckInput{LeaseID: "lease_someone_else"}), // lease lost
			{ID: "msg_00000000000000000000000000", Action: store.AckSuccess},                // not found
			item(got[3], store.AckRelease, mailbox.AckInput{DelaySeconds: ptr(10)}),
			item(got[4], store.AckExtend, mailbox.AckInput{LeaseSeconds: ptr(600)}),
			item(got[0], store.AckSuccess, mailbox.AckInput{}), // done already
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ status, code, mention string }{
			{store.MessageSuccess, "", ""}, {store.MessageFailed, "", ""}, {"", "invalid_field", "acks[2].reason"},
			{"", "lease_lost", ""}, {"", "not_found", "message"}, {store.MessageNew, "", ""}, {store.MessageClaimed, "", ""},
			{"", "lease_lost", ""},
		}
		if len(res.Results) != len(want) {
			t.Fatalf("%d results, want %d", len(res.Results), len(want))
		}
		for i, w := range want {
			r := res.Results[i]
			switch {
			case w.code == "" && (r.Error != nil || r.Status != w.status):
				t.Errorf("results[%d] = %+v (error %+v), want %s", i, r, r.Error, w.status)
			case w.code != "" && (r.Error == nil || r.Error.Code != w.code || !strings.Contains(r.Error.Message, w.mention) || r.Status != ""):
				t.Errorf("results[%d] = %+v (error %+v), want %s mentioning %q", i, r, r.Error, w.code, w.mention)
			}
		}
		stats, err := e.svc.Stats(e.ctx, e.admin, e.ws, sub.ID)
		if err != nil || stats[store.MessageSuccess] != 1 || stats[store.MessageFailed] != 1 || stats[store.MessageNew] != 1 ||
			stats[store.MessageClaimed] != 2 {
			t.Errorf("stats %v, %v", stats, err)
		}
		// The extended lease outlives the first one; the released message
		// waits for its delay.
		e.clock.Add(61 * time.Second)
		if again := e.claim(t, sub.ID, mailbox.ClaimInput{Count: ptr(5)}); len(again) != 2 || again[0].ID != got[2].ID || again[1].ID != got[3].ID {
			t.Errorf("after 61 s claimed %+v, want the unacknowledged and the released", again)
		}
		for _, n := range []int{0, mailbox.MaxAcks + 1} {
			_, err := e.svc.AckBatch(e.ctx, e.admin, e.ws, sub.ID, mailbox.AckBatchInput{Acks: make([]mailbox.AckItem, n)})
			if e, ok := errs.As(err); !ok || e.Field != "acks" {
				t.Errorf("a batch of %d: %v, want invalid acks", n, err)
			}
		}
	})
}

// TestConcurrentAcks: single acknowledgements made at once are written
// together (group commit) and each still gets its own answer.
func TestConcurrentAcks(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{})
		const n = 40
		for i := 0; i < n; i++ {
			e.publish(t, "task.new", "task/"+strconv.Itoa(i))
		}
		got := e.claim(t, sub.ID, mailbox.ClaimInput{Count: ptr(n)})
		if len(got) != n {
			t.Fatalf("claimed %d, want %d", len(got), n)
		}
		errsOf := make([]error, n)
		var wg sync.WaitGroup
		for i, m := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lease := m.LeaseID
				if i%4 == 3 {
					lease = "lease_someone_else"
				}
				_, errsOf[i] = e.svc.Ack(e.ctx, e.admin, e.ws, sub.ID, m.ID, store.AckSuccess, mailbox.AckInput{LeaseID: lease})
			}()
		}
		wg.Wait()
		for i, err := range errsOf {
			ae, ok := errs.As(err)
			if i%4 == 3 && (!ok || ae.Code != "lease_lost") || i%4 != 3 && err != nil {
				t.Errorf("ack %d: %v", i, err)
			}
		}
		stats, err := e.svc.Stats(e.ctx, e.admin, e.ws, sub.ID)
		if err != nil || stats[store.MessageSuccess] != n*3/4 || stats[store.MessageClaimed] != n/4 {
			t.Errorf("stats %v, %v", stats, err)
		}
	})
}

// TestHandoffToNobodyReleases: a message stored claimed for a claim that
// answered before it was handed over is released, new again, so that the
// next claim takes it rather than waiting for the lease to run out.
func TestHandoffToNobodyReleases(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sub := e.pull(t, subscription.Input{})
		e.publish(t, "task.new", "task/1")
		got := e.claim(t, sub.ID, mailbox.ClaimInput{LeaseSeconds: ptr(3600)})
		if len(got) != 1 {
			t.Fatalf("claimed %+v", got)
		}
		m := store.MailboxMessage{ID: got[0].ID, WorkspaceID: e.ws, SubscriptionID: sub.ID}
		e.svc.Handoff(sub.ID, got[0].LeaseID, store.ClaimedMessage{Message: m}) // nobody waits under that lease
		deadline := time.Now().Add(5 * time.Second)
		for {
			stats, err := e.svc.Stats(e.ctx, e.admin, e.ws, sub.ID)
			if err == nil && stats[store.MessageNew] == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the message handed to nobody is not released: %v, %v", stats, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
