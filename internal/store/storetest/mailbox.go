// Conformance tests of mailboxes (pull subscriptions, SPEC §5): messages
// routed with their event, claimed oldest first under leases that run out
// on the suite's clock, acknowledged, coalesced by subject, searched,
// counted and pruned, and never handed to two claimers at once.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func mailboxTests() []test {
	return []test{
		{"RoutedWithTheEvent", testMessagesRouted},
		{"FailedBatchLeavesNoMessage", testMessagesFailedBatch},
		{"ClaimOrderCountAndFilters", testClaimOrder},
		{"LeaseExpiry", testMessageLeaseExpiry},
		{"MaxClaims", testMessageMaxClaims},
		{"ReleaseWithDelay", testMessageRelease},
		{"Extend", testMessageExtend},
		{"LeaseLost", testMessageLeaseLost},
		{"SuccessAndFailed", testMessageSuccessFailed},
		{"AckBatch", testAckBatch},
		{"Coalescing", testMessageCoalescing},
		{"ListFiltersAndPaging", testMessageList},
		{"Stats", testMessageStats},
		{"Prune", testMessagePrune},
		{"Isolation", testMessageIsolation},
		{"DeletedWithSubscription", testMessagesCascade},
		{"ConcurrentClaimers", testConcurrentClaimers},
	}
}

// newPull creates an active pull subscription in f.ws, after applying edits.
func (f *fixture) newPull(edits ...func(*store.Subscription)) *store.Subscription {
	f.t.Helper()
	return f.newSub("", append([]func(*store.Subscription){func(s *store.Subscription) {
		s.Mode, s.URL, s.Auth, s.Payload = store.ModePull, "", store.AuthBearer, "full"
	}}, edits...)...)
}

// mailboxed returns a NewEvent for e with one message per pull
// subscription, as ingest routes it: coalescing when the subscription does.
func mailboxed(e store.Event, pulls ...*store.Subscription) store.NewEvent {
	ne := store.NewEvent{Event: e}
	for _, s := range pulls {
		ne.Messages = append(ne.Messages, store.MailboxMessage{ID: newID("msg_"), SubscriptionID: s.ID,
			Coalesce: s.CoalesceBySubject})
	}
	return ne
}

// post stores one event of type typ about subject (none when empty),
// created at when, with a message to each of pulls, and returns the
// message ids in the order of pulls.
func (f *fixture) post(when time.Time, typ, subject string, pulls ...*store.Subscription) []string {
	f.t.Helper()
	e := f.newEvent(when)
	if typ != "" {
		e.Type = typ
	}
	if subject != "" {
		e.Subject = &subject
	}
	ne := mailboxed(e, pulls...)
	f.insert(ne)
	var ids []string
	for _, m := range ne.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// claimMsgs claims up to count messages of s at now for lease under
// leaseID, edited by edits.
func (f *fixture) claimMsgs(s *store.Subscription, now time.Time, count int, lease time.Duration, leaseID string,
	edits ...func(*store.MailboxClaim)) []store.ClaimedMessage {
	f.t.Helper()
	c := store.MailboxClaim{WorkspaceID: s.WorkspaceID, SubscriptionID: s.ID, Count: count, Now: now,
		LeaseUntil: now.Add(lease), LeaseID: leaseID}
	for _, e := range edits {
		e(&c)
	}
	cms, err := f.s.ClaimMessages(f.ctx, c)
	f.must(err, "ClaimMessages")
	return cms
}

func messageIDs(cms []store.ClaimedMessage) []string {
	ids := []string{}
	for _, cm := range cms {
		ids = append(ids, cm.Message.ID)
	}
	return ids
}

// ack acknowledges message id of s.
func (f *fixture) ack(s *store.Subscription, id, leaseID, action string, now time.Time,
	edits ...func(*store.MailboxAck)) (*store.MailboxMessage, error) {
	a := store.MailboxAck{WorkspaceID: s.WorkspaceID, SubscriptionID: s.ID, MessageID: id, LeaseID: leaseID,
		Action: action, Now: now}
	for _, e := range edits {
		e(&a)
	}
	return f.s.AckMessage(f.ctx, a)
}

// messages lists every message of s (as stored, no effective status).
func (f *fixture) messages(s *store.Subscription, filter store.MessageFilter) []store.MailboxMessage {
	f.t.Helper()
	ms, err := f.s.ListMessages(f.ctx, s.WorkspaceID, s.ID, filter, store.Page{Limit: 1000})
	f.must(err, "ListMessages")
	return ms
}

// message reads one message of s back.
func (f *fixture) message(s *store.Subscription, id string) store.MailboxMessage {
	f.t.Helper()
	for _, m := range f.messages(s, store.MessageFilter{}) {
		if m.ID == id {
			return m
		}
	}
	f.t.Fatalf("message %s of %s not found", id, s.ID)
	return store.MailboxMessage{}
}

func (f *fixture) wantMessageStatus(s *store.Subscription, status string, ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		if got := f.message(s, id).Status; got != status {
			f.t.Errorf("message %s: status %q, want %q", id, got, status)
		}
	}
}

func (f *fixture) stats(s *store.Subscription, now time.Time) map[string]int {
	f.t.Helper()
	st, err := f.s.MessageStats(f.ctx, s.WorkspaceID, s.ID, now)
	f.must(err, "MessageStats")
	return st
}

// wantStats compares stats with want, every status absent from want 0.
func wantStats(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	for _, s := range store.MessageStatuses {
		if got[s] != want[s] {
			t.Errorf("%s: %v, want %v (every status present, 0 for none)", what, got, want)
			return
		}
		if _, ok := got[s]; !ok {
			t.Errorf("%s: status %s missing from %v", what, s, got)
		}
	}
	if len(got) != len(store.MessageStatuses) {
		t.Errorf("%s: %v has other keys than the statuses", what, got)
	}
}

func testMessagesRouted(t *testing.T, f *fixture) {
	push, pull, gone := f.newSub(""), f.newPull(), f.newPull()
	f.must(f.s.DeleteSubscription(f.ctx, f.ws, gone.ID), "DeleteSubscription")
	e := f.newEvent(t0)
	e.Subject = ptr("invoice-42")
	ne := f.routed(e, push)
	ne.Messages = mailboxed(e, pull, gone).Messages
	res := f.insert(ne)
	if res[0].Duplicate {
		t.Fatal("first insert is a duplicate")
	}
	if _, ds, err := f.s.GetEvent(f.ctx, f.ws, e.ID); err != nil || len(ds) != 1 {
		t.Fatalf("GetEvent: %d deliveries, %v; want the push delivery", len(ds), err)
	}
	ms := f.messages(pull, store.MessageFilter{})
	if len(ms) != 1 {
		t.Fatalf("pull mailbox holds %d messages, want 1", len(ms))
	}
	want := store.MailboxMessage{ID: ne.Messages[0].ID, WorkspaceID: f.ws, SubscriptionID: pull.ID, EventID: e.ID,
		Type: e.Type, Subject: e.Subject, Status: store.MessageNew, AvailableAt: t0, CreatedAt: t0, UpdatedAt: t0}
	wantSame(t, "routed message", ms[0], want)
	// A message to the deleted subscription was dropped, not an error; the
	// push subscription has no mailbox.
	if ms := f.messages(gone, store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("deleted subscription's mailbox: %d messages", len(ms))
	}
	if ms := f.messages(push, store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("push subscription's mailbox: %d messages", len(ms))
	}
	// A message without CreatedAt takes the event's; one with its own keeps it.
	e2 := f.newEvent(at(time.Minute))
	ne2 := mailboxed(e2, pull)
	ne2.Messages[0].CreatedAt = at(2 * time.Minute)
	f.insert(ne2)
	if m := f.message(pull, ne2.Messages[0].ID); !m.CreatedAt.Equal(at(2*time.Minute)) || !m.AvailableAt.Equal(at(2*time.Minute)) {
		t.Errorf("message with its own CreatedAt: created %s, available %s", show(m.CreatedAt), show(m.AvailableAt))
	}
	// A repeated idempotency key writes no message.
	key := func(ne store.NewEvent) store.NewEvent {
		ne.IdempotencyKey, ne.IdempotencySince = "once", t0.Add(-time.Hour)
		return ne
	}
	f.insert(key(mailboxed(f.newEvent(t0), pull)))
	again := key(mailboxed(f.newEvent(t0), pull))
	if res := f.insert(again); !res[0].Duplicate {
		t.Fatal("repeated key not a duplicate")
	}
	if ms := f.messages(pull, store.MessageFilter{}); len(ms) != 3 {
		t.Errorf("after a duplicate: %d messages, want 3", len(ms))
	}
}

func testMessagesFailedBatch(t *testing.T, f *fixture) {
	pull := f.newPull()
	first := mailboxed(f.newEvent(t0), pull)
	f.insert(first)
	// A batch whose second event repeats a stored id fails as a whole: its
	// first event's message is not kept either.
	ok := mailboxed(f.newEvent(t0), pull)
	bad := mailboxed(first.Event, pull)
	if _, err := f.s.InsertEvents(f.ctx, []store.NewEvent{ok, bad}); err == nil {
		t.Fatal("InsertEvents of a repeated event id succeeded")
	}
	ms := f.messages(pull, store.MessageFilter{})
	if len(ms) != 1 || ms[0].ID != first.Messages[0].ID {
		t.Errorf("after a failed batch: %v, want only %s", ms, first.Messages[0].ID)
	}
	// A message whose id is taken fails its batch too.
	dup := mailboxed(f.newEvent(t0), pull)
	dup.Messages[0].ID = first.Messages[0].ID
	if _, err := f.s.InsertEvents(f.ctx, []store.NewEvent{dup}); err == nil {
		t.Fatal("InsertEvents of a repeated message id succeeded")
	}
	if _, _, err := f.s.GetEvent(f.ctx, f.ws, dup.Event.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("event of the failed batch: %v, want not found", err)
	}
}

func testClaimOrder(t *testing.T, f *fixture) {
	pull, other := f.newPull(), f.newPull()
	var ids []string
	for i := range 5 {
		typ, subject := "invoice.paid", fmt.Sprintf("inv-%d", i%2)
		if i == 3 {
			typ = "invoice.sent"
		}
		ids = append(ids, f.post(at(time.Duration(i)*time.Second), typ, subject, pull, other)[0])
	}
	now := at(time.Minute)
	got := f.claimMsgs(pull, now, 2, time.Minute, "lease-a")
	wantIDs(t, "first claim", messageIDs(got), ids[:2])
	for _, cm := range got {
		m := cm.Message
		if m.Status != store.MessageClaimed || m.Claims != 1 || m.LeaseID != "lease-a" || m.ClaimedUntil == nil ||
			!m.ClaimedUntil.Equal(at(2*time.Minute)) || !m.UpdatedAt.Equal(now) {
			t.Errorf("claimed message: %+v", m)
		}
		if cm.Event.ID != m.EventID || string(cm.Event.Data) != `{"invoice":42}` || cm.Event.Type != m.Type {
			t.Errorf("claimed message %s comes with event %+v", m.ID, cm.Event)
		}
	}
	// Filters: only a type, only a subject.
	wantIDs(t, "claim of invoice.sent", messageIDs(f.claimMsgs(pull, now, 10, time.Minute, "lease-b",
		func(c *store.MailboxClaim) { c.Type = "invoice.sent" })), ids[3:4])
	wantIDs(t, "claim about inv-0", messageIDs(f.claimMsgs(pull, now, 1, time.Minute, "lease-c",
		func(c *store.MailboxClaim) { c.Subject = "inv-0" })), ids[2:3])
	wantIDs(t, "claim of invoice.paid about inv-0", messageIDs(f.claimMsgs(pull, now, 10, time.Minute, "lease-d",
		func(c *store.MailboxClaim) { c.Type, c.Subject = "invoice.paid", "inv-0" })), ids[4:])
	if got := f.claimMsgs(pull, now, 10, time.Minute, "lease-e"); len(got) != 0 {
		t.Errorf("claim of an empty mailbox: %v", messageIDs(got))
	}
	// Another subscription's mailbox is its own, and a message created
	// after now is not yet claimable.
	f.post(at(2*time.Minute), "", "", other)
	if got := f.claimMsgs(other, now, 100, time.Minute, "lease-f"); len(got) != 5 {
		t.Errorf("other mailbox: claimed %d, want 5", len(got))
	}
}

func testMessageLeaseExpiry(t *testing.T, f *fixture) {
	pull := f.newPull()
	id := f.post(t0, "", "", pull)[0]
	f.claimMsgs(pull, t0, 1, time.Minute, "lease-1")
	if got := f.claimMsgs(pull, at(59*time.Second), 1, time.Minute, "lease-2"); len(got) != 0 {
		t.Errorf("claim while the lease holds: %v", messageIDs(got))
	}
	wantStats(t, "while the lease holds", f.stats(pull, at(59*time.Second)), map[string]int{store.MessageClaimed: 1})
	// At the end of the lease the message is new again (as stats and a
	// list given the time show it), and claimable, with its claim counted.
	wantStats(t, "at the lease's end", f.stats(pull, at(time.Minute)), map[string]int{store.MessageNew: 1})
	if ms := f.messages(pull, store.MessageFilter{Status: store.MessageNew, Now: at(time.Minute)}); len(ms) != 1 ||
		ms[0].Status != store.MessageNew || ms[0].Claims != 1 {
		t.Errorf("new messages at the lease's end: %+v", ms)
	}
	if ms := f.messages(pull, store.MessageFilter{Status: store.MessageClaimed, Now: at(time.Minute)}); len(ms) != 0 {
		t.Errorf("claimed messages at the lease's end: %+v", ms)
	}
	got := f.claimMsgs(pull, at(time.Minute), 1, time.Minute, "lease-3")
	if len(got) != 1 || got[0].Message.ID != id || got[0].Message.Claims != 2 || got[0].Message.LeaseID != "lease-3" {
		t.Fatalf("claim after the lease ran out: %+v", got)
	}
	// An expired claim does not jump the queue: claims go by id.
	later := f.post(at(time.Minute), "", "", pull)[0]
	wantIDs(t, "claim after the second lease", messageIDs(f.claimMsgs(pull, at(3*time.Minute), 2, time.Minute, "lease-4")),
		[]string{id, later})
}

func testMessageMaxClaims(t *testing.T, f *fixture) {
	pull := f.newPull()
	id := f.post(t0, "", "", pull)[0]
	next := f.post(t0, "", "", pull)[0]
	f.claimMsgs(pull, t0, 1, time.Hour, "keep", func(c *store.MailboxClaim) { c.Count = 0 }) // claims nothing
	now := t0
	for i := range store.MaxClaims {
		got := f.claimMsgs(pull, now, 1, time.Minute, fmt.Sprintf("lease-%d", i))
		if len(got) != 1 || got[0].Message.ID != id || got[0].Message.Claims != i+1 {
			t.Fatalf("claim %d: %+v", i+1, got)
		}
		now = now.Add(time.Minute)
	}
	// The last lease ran out: the message is out of claims.
	wantStats(t, "after the last lease", f.stats(pull, now), map[string]int{
		store.MessageMaxRetriesExceeded: 1, store.MessageNew: 1})
	if ms := f.messages(pull, store.MessageFilter{Status: store.MessageMaxRetriesExceeded, Now: now}); len(ms) != 1 ||
		ms[0].ID != id {
		t.Errorf("max_retries_exceeded messages listed: %+v", ms)
	}
	// The next claim makes it so for good, skips it, and still fills its count.
	wantIDs(t, "claim after the last lease", messageIDs(f.claimMsgs(pull, now, 1, time.Minute, "lease-last")), []string{next})
	m := f.message(pull, id)
	if m.Status != store.MessageMaxRetriesExceeded || m.Claims != store.MaxClaims {
		t.Errorf("message out of claims: %+v", m)
	}
	if _, err := f.ack(pull, id, "", store.AckSuccess, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("success of a message out of claims: %v, want ErrLeaseLost", err)
	}
	// Released after its last claim, a message is out of claims at once.
	other := f.newPull()
	oid := f.post(t0, "", "", other)[0]
	now = t0
	for i := range store.MaxClaims {
		f.claimMsgs(other, now, 1, time.Hour, fmt.Sprintf("o-%d", i))
		if i < store.MaxClaims-1 {
			if m, err := f.ack(other, oid, "", store.AckRelease, now); err != nil || m.Status != store.MessageNew {
				t.Fatalf("release %d: %+v, %v", i+1, m, err)
			}
		}
	}
	m2, err := f.ack(other, oid, "", store.AckRelease, now)
	if err != nil || m2.Status != store.MessageMaxRetriesExceeded {
		t.Errorf("release of the last claim: %+v, %v; want max_retries_exceeded", m2, err)
	}
}

func testMessageRelease(t *testing.T, f *fixture) {
	pull := f.newPull()
	id := f.post(t0, "", "", pull)[0]
	f.claimMsgs(pull, t0, 1, time.Hour, "lease-1")
	m, err := f.ack(pull, id, "lease-1", store.AckRelease, at(time.Minute), func(a *store.MailboxAck) {
		a.AvailableAt, a.Reason = at(10*time.Minute), "database busy"
	})
	f.must(err, "release")
	if m.Status != store.MessageNew || !m.AvailableAt.Equal(at(10*time.Minute)) || m.Reason != "database busy" ||
		m.Claims != 1 || !m.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("released message: %+v", m)
	}
	if got := f.claimMsgs(pull, at(9*time.Minute), 1, time.Minute, "lease-2"); len(got) != 0 {
		t.Errorf("claim during the delay: %v", messageIDs(got))
	}
	next, ok, err := f.s.NextMessage(f.ctx, pull.ID, at(9*time.Minute))
	if err != nil || !ok || !next.Equal(at(10*time.Minute)) {
		t.Errorf("NextMessage during the delay: %s, %v, %v; want the delay's end", show(next), ok, err)
	}
	got := f.claimMsgs(pull, at(10*time.Minute), 1, time.Minute, "lease-3")
	if len(got) != 1 || got[0].Message.Claims != 2 {
		t.Errorf("claim after the delay: %+v", got)
	}
	// Now claimed until 11m: that is when it may be claimed next.
	if next, ok, err := f.s.NextMessage(f.ctx, pull.ID, at(10*time.Minute)); err != nil || !ok || !next.Equal(at(11*time.Minute)) {
		t.Errorf("NextMessage under a lease: %s, %v, %v; want the lease's end", show(next), ok, err)
	}
	// A release without a delay is claimable at once.
	f.must(errOf(f.ack(pull, id, "lease-3", store.AckRelease, at(10*time.Minute))), "release at once")
	if got := f.claimMsgs(pull, at(10*time.Minute), 1, time.Minute, "lease-4"); len(got) != 1 {
		t.Errorf("claim after a release without delay: %v", messageIDs(got))
	}
	f.must(errOf(f.ack(pull, id, "lease-4", store.AckSuccess, at(10*time.Minute))), "success")
	if _, ok, err := f.s.NextMessage(f.ctx, pull.ID, at(10*time.Minute)); err != nil || ok {
		t.Errorf("NextMessage of a finished mailbox: %v, %v", ok, err)
	}
}

func errOf(_ *store.MailboxMessage, err error) error { return err }

func testMessageExtend(t *testing.T, f *fixture) {
	pull := f.newPull()
	id := f.post(t0, "", "", pull)[0]
	f.claimMsgs(pull, t0, 1, time.Minute, "lease-1")
	m, err := f.ack(pull, id, "lease-1", store.AckExtend, at(30*time.Second), func(a *store.MailboxAck) {
		a.LeaseUntil = at(5 * time.Minute)
	})
	f.must(err, "extend")
	if m.Status != store.MessageClaimed || !m.ClaimedUntil.Equal(at(5*time.Minute)) || m.Claims != 1 || m.LeaseID != "lease-1" {
		t.Errorf("extended message: %+v", m)
	}
	if got := f.claimMsgs(pull, at(2*time.Minute), 1, time.Minute, "lease-2"); len(got) != 0 {
		t.Errorf("claim under the extended lease: %v", messageIDs(got))
	}
	wantStats(t, "under the extended lease", f.stats(pull, at(2*time.Minute)), map[string]int{store.MessageClaimed: 1})
	if m, err := f.ack(pull, id, "lease-1", store.AckSuccess, at(4*time.Minute)); err != nil || m.Status != store.MessageSuccess {
		t.Errorf("success under the extended lease: %+v, %v", m, err)
	}
}

func testMessageLeaseLost(t *testing.T, f *fixture) {
	pull := f.newPull()
	id := f.post(t0, "", "", pull)[0]
	f.claimMsgs(pull, t0, 1, time.Minute, "lease-1")
	for _, action := range []string{store.AckSuccess, store.AckFailed, store.AckRelease, store.AckExtend} {
		_, err := f.ack(pull, id, "lease-1", action, at(time.Minute), func(a *store.MailboxAck) {
			a.LeaseUntil = at(time.Hour)
		})
		wantErr(t, action+" when the lease ran out", err, store.ErrLeaseLost)
	}
	// Claimed by another: the first lease's holder is refused, the new one not.
	f.claimMsgs(pull, at(time.Minute), 1, time.Minute, "lease-2")
	_, err := f.ack(pull, id, "lease-1", store.AckSuccess, at(90*time.Second))
	wantErr(t, "success under the lost lease", err, store.ErrLeaseLost)
	m := f.message(pull, id)
	if m.Status != store.MessageClaimed || m.LeaseID != "lease-2" {
		t.Errorf("a refused acknowledgement changed the message: %+v", m)
	}
	// Without a lease id the check is skipped, not the lease's end.
	if m, err := f.ack(pull, id, "", store.AckSuccess, at(90*time.Second)); err != nil || m.Status != store.MessageSuccess {
		t.Errorf("success without a lease id: %+v, %v", m, err)
	}
	// A finished message is not claimed: any acknowledgement has lost it.
	_, err = f.ack(pull, id, "lease-2", store.AckSuccess, at(90*time.Second))
	wantErr(t, "second success", err, store.ErrLeaseLost)
	// A new message was never claimed.
	fresh := f.post(t0, "", "", pull)[0]
	_, err = f.ack(pull, fresh, "", store.AckSuccess, at(90*time.Second))
	wantErr(t, "success of a new message", err, store.ErrLeaseLost)
	_, err = f.ack(pull, "msg_missing", "", store.AckSuccess, at(90*time.Second))
	wantErr(t, "success of an unknown message", err, store.ErrNotFound)
	if _, err := f.ack(pull, fresh, "", "archive", at(90*time.Second)); err == nil ||
		errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("unknown action: %v, want an error of its own", err)
	}
}

func testMessageSuccessFailed(t *testing.T, f *fixture) {
	pull := f.newPull()
	ids := []string{f.post(t0, "", "", pull)[0], f.post(t0, "", "", pull)[0]}
	f.claimMsgs(pull, t0, 2, time.Minute, "lease-1")
	ok, err := f.ack(pull, ids[0], "lease-1", store.AckSuccess, at(time.Second))
	f.must(err, "success")
	failed, err := f.ack(pull, ids[1], "lease-1", store.AckFailed, at(2*time.Second), func(a *store.MailboxAck) {
		a.Reason = "unknown patient"
	})
	f.must(err, "failed")
	if ok.Status != store.MessageSuccess || !ok.UpdatedAt.Equal(at(time.Second)) || ok.Claims != 1 {
		t.Errorf("success: %+v", ok)
	}
	if failed.Status != store.MessageFailed || failed.Reason != "unknown patient" || !failed.UpdatedAt.Equal(at(2*time.Second)) {
		t.Errorf("failed: %+v", failed)
	}
	wantSame(t, "failed message read back", f.message(pull, ids[1]), *failed)
	// Neither is claimable again, even after the lease's end.
	if got := f.claimMsgs(pull, at(time.Hour), 10, time.Minute, "lease-2"); len(got) != 0 {
		t.Errorf("claim of finished messages: %v", messageIDs(got))
	}
	wantStats(t, "finished", f.stats(pull, at(time.Hour)), map[string]int{store.MessageSuccess: 1, store.MessageFailed: 1})
}

func testAckBatch(t *testing.T, f *fixture) {
	pull, other := f.newPull(), f.newPull()
	var ids []string
	for range 4 {
		ids = append(ids, f.post(t0, "", "", pull)[0])
	}
	f.claimMsgs(pull, t0, 3, time.Minute, "lease-1") // ids 0..2; ids[3] stays new
	ack := func(id, leaseID, action string) store.MailboxAck {
		return store.MailboxAck{WorkspaceID: f.ws, SubscriptionID: pull.ID, MessageID: id, LeaseID: leaseID, Action: action,
			Now: at(time.Second), Reason: "because", AvailableAt: at(time.Hour), LeaseUntil: at(time.Hour)}
	}
	foreign := ack(ids[2], "lease-1", store.AckSuccess)
	foreign.SubscriptionID = other.ID
	batch := []store.MailboxAck{
		ack(ids[2], "lease-1", store.AckFailed),
		ack(ids[0], "lease-1", store.AckSuccess),
		ack(ids[0], "lease-1", store.AckSuccess), // the first took it
		ack(ids[1], "other-lease", store.AckSuccess),
		ack(ids[1], "lease-1", store.AckRelease),
		ack(ids[3], "", store.AckSuccess), // never claimed
		ack("msg_missing", "", store.AckSuccess),
		foreign,
	}
	// An unknown action fails the batch before anything is written.
	bad := append(append([]store.MailboxAck{}, batch...), ack(ids[1], "lease-1", "archive"))
	if _, err := f.s.AckMessages(f.ctx, bad); err == nil {
		t.Fatal("AckMessages with an unknown action succeeded")
	}
	f.wantMessageStatus(pull, store.MessageClaimed, ids[:3]...)
	res, err := f.s.AckMessages(f.ctx, batch)
	f.must(err, "AckMessages")
	if len(res) != len(batch) {
		t.Fatalf("AckMessages: %d results for %d", len(res), len(batch))
	}
	wantErrs := []error{nil, nil, store.ErrLeaseLost, store.ErrLeaseLost, nil, store.ErrLeaseLost, store.ErrNotFound,
		store.ErrNotFound}
	wantStatus := []string{store.MessageFailed, store.MessageSuccess, "", "", store.MessageNew}
	for i, r := range res {
		if !errors.Is(r.Err, wantErrs[i]) || (wantErrs[i] == nil) != (r.Err == nil) {
			t.Errorf("ack %d: error %v, want %v", i, r.Err, wantErrs[i])
		}
		if i < len(wantStatus) && wantStatus[i] != "" {
			if r.Message == nil || r.Message.Status != wantStatus[i] || r.Message.ID != batch[i].MessageID {
				t.Errorf("ack %d: message %+v, want %s", i, r.Message, wantStatus[i])
			}
		} else if r.Message != nil {
			t.Errorf("ack %d: message %+v with error %v", i, r.Message, r.Err)
		}
	}
	f.wantMessageStatus(pull, store.MessageFailed, ids[2])
	f.wantMessageStatus(pull, store.MessageSuccess, ids[0])
	f.wantMessageStatus(pull, store.MessageNew, ids[1], ids[3])
	if m := f.message(pull, ids[1]); !m.AvailableAt.Equal(at(time.Hour)) || m.Reason != "because" {
		t.Errorf("released in a batch: %+v", m)
	}
	if res, err := f.s.AckMessages(f.ctx, nil); err != nil || len(res) != 0 {
		t.Errorf("AckMessages of nothing: %v, %v", res, err)
	}
}

func testMessageCoalescing(t *testing.T, f *fixture) {
	pull := f.newPull(func(s *store.Subscription) { s.CoalesceBySubject = true })
	plain := f.newPull()
	a1 := f.post(t0, "", "patient-1", pull, plain)
	f.claimMsgs(pull, t0, 1, time.Hour, "lease-1") // a1 is claimed: never replaced
	a2 := f.post(at(time.Second), "", "patient-1", pull, plain)
	b1 := f.post(at(2*time.Second), "", "patient-2", pull, plain)
	none := f.post(at(3*time.Second), "", "", pull, plain) // no subject: nothing to coalesce
	a3 := f.post(at(4*time.Second), "", "patient-1", pull, plain)
	f.wantMessageStatus(pull, store.MessageClaimed, a1[0])
	f.wantMessageStatus(pull, store.MessageReplaced, a2[0])
	f.wantMessageStatus(pull, store.MessageNew, b1[0], none[0], a3[0])
	if m := f.message(pull, a2[0]); !m.UpdatedAt.Equal(at(4 * time.Second)) {
		t.Errorf("replaced message updated at %s, want the replacing message's creation", show(m.UpdatedAt))
	}
	// A subscription that does not coalesce keeps every message.
	f.wantMessageStatus(plain, store.MessageNew, a1[1], a2[1], b1[1], none[1], a3[1])
	// The replaced message stays searchable, and is never claimed.
	if ms := f.messages(pull, store.MessageFilter{Status: store.MessageReplaced}); len(ms) != 1 || ms[0].ID != a2[0] {
		t.Errorf("replaced messages listed: %+v", ms)
	}
	wantIDs(t, "claim after coalescing", messageIDs(f.claimMsgs(pull, at(time.Minute), 10, time.Minute, "lease-2")),
		[]string{b1[0], none[0], a3[0]})
	// Within one batch the later message replaces the earlier.
	e1, e2 := f.newEvent(at(2*time.Minute)), f.newEvent(at(2*time.Minute))
	e1.Subject, e2.Subject = ptr("patient-3"), ptr("patient-3")
	n1, n2 := mailboxed(e1, pull), mailboxed(e2, pull)
	f.insert(n1, n2)
	f.wantMessageStatus(pull, store.MessageReplaced, n1.Messages[0].ID)
	f.wantMessageStatus(pull, store.MessageNew, n2.Messages[0].ID)
	// A claim whose lease ran out is new again, so it is replaced too; a3's
	// lease (claimed at 1m for a minute) has run out by 3m.
	a4 := f.post(at(3*time.Minute), "", "patient-1", pull)
	f.wantMessageStatus(pull, store.MessageReplaced, a3[0])
	f.wantMessageStatus(pull, store.MessageNew, a4[0])
	// a1's lease (an hour) holds: it is still claimed and can succeed.
	if _, err := f.ack(pull, a1[0], "lease-1", store.AckSuccess, at(3*time.Minute)); err != nil {
		t.Errorf("success of the claimed message coalescing left alone: %v", err)
	}
	_, err := f.ack(pull, a3[0], "lease-2", store.AckSuccess, at(3*time.Minute))
	wantErr(t, "success of a replaced message", err, store.ErrLeaseLost)
}

func testMessageList(t *testing.T, f *fixture) {
	pull := f.newPull()
	var ids []string
	for i := range 7 {
		typ := "invoice.paid"
		if i%2 == 1 {
			typ = "invoice.sent"
		}
		ids = append(ids, f.post(at(time.Duration(i)*time.Second), typ, fmt.Sprintf("inv-%d", i%3), pull)[0])
	}
	f.claimMsgs(pull, at(time.Minute), 2, time.Minute, "lease-1") // ids 0, 1
	f.must(errOf(f.ack(pull, ids[0], "lease-1", store.AckSuccess, at(time.Minute))), "success")
	list := func(filter store.MessageFilter, p store.Page) []string {
		t.Helper()
		ms, err := f.s.ListMessages(f.ctx, f.ws, pull.ID, filter, p)
		f.must(err, "ListMessages")
		out := []string{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	wantIDs(t, "all, oldest first", list(store.MessageFilter{}, store.Page{}), ids)
	wantIDs(t, "page 1", list(store.MessageFilter{}, store.Page{Limit: 3}), ids[:3])
	wantIDs(t, "page 2", list(store.MessageFilter{}, store.Page{Limit: 3, Cursor: ids[2]}), ids[3:6])
	wantIDs(t, "page 3", list(store.MessageFilter{}, store.Page{Limit: 3, Cursor: ids[5]}), ids[6:])
	wantIDs(t, "new", list(store.MessageFilter{Status: store.MessageNew}, store.Page{}), ids[2:])
	wantIDs(t, "claimed", list(store.MessageFilter{Status: store.MessageClaimed}, store.Page{}), ids[1:2])
	wantIDs(t, "success", list(store.MessageFilter{Status: store.MessageSuccess}, store.Page{}), ids[:1])
	wantIDs(t, "invoice.sent", list(store.MessageFilter{Type: "invoice.sent"}, store.Page{}), []string{ids[1], ids[3], ids[5]})
	wantIDs(t, "about inv-0", list(store.MessageFilter{Subject: "inv-0"}, store.Page{}), []string{ids[0], ids[3], ids[6]})
	wantIDs(t, "new invoice.sent about inv-0", list(store.MessageFilter{Status: store.MessageNew, Type: "invoice.sent",
		Subject: "inv-0"}, store.Page{}), ids[3:4])
	wantIDs(t, "new invoice.paid, paged", list(store.MessageFilter{Status: store.MessageNew, Type: "invoice.paid"},
		store.Page{Limit: 1, Cursor: ids[2]}), ids[4:5])
	// Given a time, the list shows what an expired claim became.
	later := store.MessageFilter{Status: store.MessageNew, Now: at(2 * time.Minute)}
	wantIDs(t, "new once the lease ran out", list(later, store.Page{}), ids[1:])
	wantIDs(t, "stored as claimed, given no time", list(store.MessageFilter{Status: store.MessageClaimed}, store.Page{}), ids[1:2])
}

func testMessageStats(t *testing.T, f *fixture) {
	pull, other := f.newPull(func(s *store.Subscription) { s.CoalesceBySubject = true }), f.newPull()
	wantStats(t, "empty", f.stats(pull, t0), map[string]int{})
	var ids []string
	for i := range 6 {
		ids = append(ids, f.post(t0, "", fmt.Sprintf("p-%d", i), pull, other)[0])
	}
	f.post(t0, "", "p-5", pull) // replaces ids[5]
	f.claimMsgs(pull, t0, 4, time.Minute, "lease-1")
	f.must(errOf(f.ack(pull, ids[0], "", store.AckSuccess, t0)), "success")
	f.must(errOf(f.ack(pull, ids[1], "", store.AckFailed, t0)), "failed")
	wantStats(t, "mixed", f.stats(pull, t0), map[string]int{store.MessageNew: 2, store.MessageClaimed: 2,
		store.MessageSuccess: 1, store.MessageFailed: 1, store.MessageReplaced: 1})
	wantStats(t, "leases run out", f.stats(pull, at(time.Minute)), map[string]int{store.MessageNew: 4,
		store.MessageSuccess: 1, store.MessageFailed: 1, store.MessageReplaced: 1})
	wantStats(t, "other subscription", f.stats(other, t0), map[string]int{store.MessageNew: 6})
	st, err := f.s.MessageStats(f.ctx, f.newWorkspace("Other", f.user.ID), pull.ID, t0)
	f.must(err, "MessageStats")
	wantStats(t, "from another workspace", st, map[string]int{})
}

func testMessagePrune(t *testing.T, f *fixture) {
	day := 24 * time.Hour
	// Run at 60 days: finished messages are kept 7 days, unfinished ones 56.
	finishedBefore, newBefore := at(53*day), at(4*day)
	// One mailbox per message, so that each is claimed on its own.
	type kept struct {
		sub  *store.Subscription
		id   string
		kept bool
	}
	var all []kept
	add := func(created time.Time, keep bool, then func(s *store.Subscription, id string)) string {
		s := f.newPull()
		id := f.post(created, "", "", s)[0]
		if then != nil {
			then(s, id)
		}
		all = append(all, kept{s, id, keep})
		return id
	}
	succeed := func(when time.Time) func(*store.Subscription, string) {
		return func(s *store.Subscription, id string) {
			f.claimMsgs(s, when, 1, time.Hour, "l")
			f.must(errOf(f.ack(s, id, "l", store.AckSuccess, when)), "success")
		}
	}
	add(t0, false, nil)                                        // new, older than 56 days
	young := add(at(50*day), true, nil)                        // new
	add(at(50*day), false, succeed(at(50*day)))                // finished 10 days ago
	add(at(50*day), true, succeed(at(55*day)))                 // finished 5 days ago
	add(at(day), true, func(s *store.Subscription, _ string) { // old, but claimed now
		f.claimMsgs(s, at(59*day), 1, time.Hour, "l")
	})
	add(t0, false, func(s *store.Subscription, _ string) { // its lease ran out long ago: new
		f.claimMsgs(s, at(time.Hour), 1, time.Hour, "l")
	})
	add(at(40*day), false, func(s *store.Subscription, _ string) { // out of claims 19 days ago
		for i := range store.MaxClaims {
			f.claimMsgs(s, at(40*day+time.Duration(i)*time.Hour), 1, time.Hour, "l")
		}
	})
	n, err := f.s.PruneMessages(f.ctx, finishedBefore, newBefore, 2)
	f.must(err, "PruneMessages")
	if n != 2 {
		t.Errorf("first prune (limit 2): %d deleted", n)
	}
	n, err = f.s.PruneMessages(f.ctx, finishedBefore, newBefore, 10)
	f.must(err, "PruneMessages")
	if n != 2 {
		t.Errorf("second prune: %d deleted, want the other 2", n)
	}
	if n, err := f.s.PruneMessages(f.ctx, finishedBefore, newBefore, 10); err != nil || n != 0 {
		t.Errorf("third prune: %d, %v", n, err)
	}
	for i, k := range all {
		ms := f.messages(k.sub, store.MessageFilter{})
		if got := len(ms) == 1; got != k.kept {
			t.Errorf("message %d (%s): kept %v, want %v", i, k.id, got, k.kept)
		}
	}
	// Event retention keeps an event while a message of it is unfinished.
	if _, err := f.s.Prune(f.ctx, at(60*day), at(60*day), 100); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	for _, k := range all {
		if k.id != young {
			continue
		}
		ms := f.messages(k.sub, store.MessageFilter{})
		if len(ms) != 1 {
			t.Fatalf("event retention deleted a new message")
		}
		if _, _, err := f.s.GetEvent(f.ctx, f.ws, ms[0].EventID); err != nil {
			t.Errorf("event of a new message after Prune: %v", err)
		}
	}
}

func testMessageIsolation(t *testing.T, f *fixture) {
	pull, other := f.newPull(), f.newPull()
	ws2 := f.newWorkspace("Other", f.user.ID)
	foreign := f.newSub(ws2, func(s *store.Subscription) { s.Mode, s.URL = store.ModePull, "" })
	id := f.post(t0, "", "", pull)[0]
	f.claimMsgs(pull, t0, 1, time.Hour, "lease-1")
	_, err := f.ack(other, id, "lease-1", store.AckSuccess, t0)
	wantErr(t, "success through another subscription", err, store.ErrNotFound)
	_, err = f.ack(&store.Subscription{ID: pull.ID, WorkspaceID: ws2}, id, "lease-1", store.AckSuccess, t0)
	wantErr(t, "success through another workspace", err, store.ErrNotFound)
	if got := f.claimMsgs(&store.Subscription{ID: pull.ID, WorkspaceID: ws2}, at(2*time.Hour), 10, time.Hour, "x"); len(got) != 0 {
		t.Errorf("claim through another workspace: %v", messageIDs(got))
	}
	if ms, err := f.s.ListMessages(f.ctx, ws2, pull.ID, store.MessageFilter{}, store.Page{}); err != nil || len(ms) != 0 {
		t.Errorf("list through another workspace: %v, %v", ms, err)
	}
	if ms := f.messages(foreign, store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("foreign mailbox: %v", ms)
	}
	if m, err := f.ack(pull, id, "lease-1", store.AckSuccess, t0); err != nil || m.Status != store.MessageSuccess {
		t.Errorf("success through its own subscription: %+v, %v", m, err)
	}
}

func testMessagesCascade(t *testing.T, f *fixture) {
	pull, kept := f.newPull(), f.newPull()
	ids := f.post(t0, "", "", pull, kept)
	f.claimMsgs(pull, t0, 1, time.Hour, "lease-1")
	f.must(f.s.DeleteSubscription(f.ctx, f.ws, pull.ID), "DeleteSubscription")
	if ms := f.messages(pull, store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("deleted subscription's messages: %v", ms)
	}
	_, err := f.ack(pull, ids[0], "lease-1", store.AckSuccess, t0)
	wantErr(t, "success after the subscription was deleted", err, store.ErrNotFound)
	f.wantMessageStatus(kept, store.MessageNew, ids[1])
}

func testConcurrentClaimers(t *testing.T, f *fixture) { claimRace(t, f, []store.Store{f.s}) }

// MailboxClaimRace runs the race of ConcurrentClaimers across nodes: stores
// open on one database, as several `postbode serve` processes are; the
// claimers take turns among them. nodes must hold no data yet.
func MailboxClaimRace(t *testing.T, nodes ...store.Store) {
	f := &fixture{t: t, s: nodes[0], ctx: t.Context(), eventOf: map[string][2]string{}}
	f.user = f.newUser("owner@example.com")
	f.ws = f.newWorkspace("Main", f.user.ID)
	claimRace(t, f, nodes)
}

// claimRace has 8 claimers take 100 messages at a time from one mailbox of
// 2,000 until it is empty: every message is claimed exactly once while the
// leases hold, and none is lost.
func claimRace(t *testing.T, f *fixture, nodes []store.Store) {
	const total, claimers, count = 2000, 8, 100
	pull := f.newPull()
	batch := make([]store.NewEvent, total)
	for i := range batch {
		batch[i] = mailboxed(f.newEvent(t0), pull)
	}
	f.insert(batch...)
	var mu sync.Mutex
	seen := map[string]string{} // message → lease
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for c := range claimers {
		node := nodes[c%len(nodes)]
		wg.Go(func() {
			for round := 0; ; round++ {
				lease := fmt.Sprintf("claimer-%d-%d", c, round)
				cms, err := node.ClaimMessages(f.ctx, store.MailboxClaim{WorkspaceID: f.ws, SubscriptionID: pull.ID,
					Count: count, Now: at(time.Second), LeaseUntil: at(time.Hour), LeaseID: lease})
				if err != nil {
					errs <- err
					return
				}
				if len(cms) == 0 {
					return
				}
				mu.Lock()
				for _, cm := range cms {
					if prev, dup := seen[cm.Message.ID]; dup {
						errs <- fmt.Errorf("message %s claimed by %s and %s", cm.Message.ID, prev, lease)
					}
					seen[cm.Message.ID] = lease
					if cm.Message.LeaseID != lease || cm.Event.ID != cm.Message.EventID {
						errs <- fmt.Errorf("message %s: lease %s, event %s", cm.Message.ID, cm.Message.LeaseID, cm.Event.ID)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != total {
		t.Errorf("claimed %d distinct messages, want %d", len(seen), total)
	}
	wantStats(t, "after the claimers", f.stats(pull, at(time.Second)), map[string]int{store.MessageClaimed: total})
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, ne := range batch {
		if i >= len(ids) || ids[i] != ne.Messages[0].ID {
			t.Fatalf("claimed ids differ from the inserted ones at %d", i)
		}
	}
}

// mailboxCascade is WorkspaceCascade's check of mailboxes' messages.
func mailboxCascade(t *testing.T, open func(t *testing.T) (store.Store, func(ctx context.Context, id string) error)) {
	s, deleteWorkspace := open(t)
	f := &fixture{t: t, s: s, ctx: t.Context(), eventOf: map[string][2]string{}}
	f.user = f.newUser("owner@example.com")
	f.ws = f.newWorkspace("Main", f.user.ID)
	gone := f.newPull()
	ids := f.post(t0, "", "", gone, gone)
	f.claimMsgs(gone, t0, 1, time.Hour, "lease")
	keptWS := f.newWorkspace("Kept", f.user.ID)
	f.ws = keptWS // kept is made there; gone keeps its own workspace
	kept := f.newPull()
	keptID := f.post(t0, "", "", kept)[0]

	f.must(deleteWorkspace(f.ctx, gone.WorkspaceID), "deleting the workspace")
	if ms := f.messages(gone, store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("the deleted workspace's mailbox holds %d messages", len(ms))
	}
	_, err := f.ack(gone, ids[0], "lease", store.AckSuccess, t0)
	wantErr(t, "success in the deleted workspace", err, store.ErrNotFound)
	f.wantMessageStatus(kept, store.MessageNew, keptID)
}
