package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
	"github.com/postbode/postbode/internal/store/storetest"
)

// TestPublishWakesMailboxesOnOtherNodes publishes a message to a pull
// subscription on one node and hears, on another's Listen, that its mailbox
// has messages: what wakes a long poll there. A release without delay
// wakes it too.
func TestPublishWakesMailboxesOnOtherNodes(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	var nodes [2]*postgres.DB
	for i := range nodes {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ws := &store.Workspace{ID: "ws_1", Name: "w", CreatedAt: now}
	if err := nodes[1].CreateWorkspace(ctx, ws, ""); err != nil {
		t.Fatal(err)
	}
	sub := &store.Subscription{ID: "sub_pull", WorkspaceID: ws.ID, Name: "s", Mode: store.ModePull,
		EventTypes: []string{"*"}, Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
		Headers: map[string]string{}, SignatureScheme: "standard", Secret: "whsec_eA==", TimeoutSeconds: 10,
		FailureThreshold: 5, Auth: store.AuthBearer, CreatedAt: now, UpdatedAt: now}
	if err := nodes[1].CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}

	hear := listen(t, ctx, nodes[0], nodes[1])
	e := store.Event{ID: "evt_1", WorkspaceID: ws.ID, Type: "t", Label: "T", Data: []byte(`{}`), CreatedAt: now}
	if _, err := nodes[1].InsertEvents(ctx, []store.NewEvent{{Event: e,
		Messages: []store.MailboxMessage{{ID: "msg_1", SubscriptionID: sub.ID}}}}); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	if !hear(store.Notification{Mailbox: sub.ID}, time.Second) {
		t.Fatal("the publish did not wake the mailbox on the other node within a second")
	}
	cms, err := nodes[1].ClaimMessages(ctx, store.MailboxClaim{WorkspaceID: ws.ID, SubscriptionID: sub.ID, Count: 1,
		Now: now, LeaseUntil: now.Add(time.Minute), LeaseID: "lease"})
	if err != nil || len(cms) != 1 {
		t.Fatalf("ClaimMessages: %d, %v", len(cms), err)
	}
	if _, err := nodes[1].AckMessage(ctx, store.MailboxAck{WorkspaceID: ws.ID, SubscriptionID: sub.ID, MessageID: "msg_1",
		LeaseID: "lease", Action: store.AckRelease, Now: now}); err != nil {
		t.Fatalf("release: %v", err)
	}
	if !hear(store.Notification{Mailbox: sub.ID}, time.Second) {
		t.Error("the release did not wake the mailbox on the other node within a second")
	}
}

// TestMailboxClaimRaceAcrossNodes runs the claimers' race on two nodes
// (two pools on one database): SKIP LOCKED keeps them apart as it keeps
// one node's claimers.
func TestMailboxClaimRaceAcrossNodes(t *testing.T) {
	url := pgtest.URL(t)
	var nodes []store.Store
	for range 2 {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes = append(nodes, db)
	}
	storetest.MailboxClaimRace(t, nodes...)
}

func BenchmarkMailbox(b *testing.B) {
	storetest.BenchMailbox(b, func(b *testing.B) store.Store {
		db, err := postgres.Open(context.Background(), pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}
