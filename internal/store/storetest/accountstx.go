// Conformance tests of account upkeep, sessions and inbound webhooks inside
// InTx: each method sees the transaction's writes, one refused with
// ErrNotFound, ErrConflict or ErrHasTokens leaves none of its own writes
// and the transaction usable, and a rollback keeps nothing.
package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func accountTxTests() []test {
	return []test{
		{"EveryMethodInTx", testAccountsInTx},
		{"RefusedCallsLeaveNoTrace", testRefusedInTx},
		{"RolledBack", func(t *testing.T, f *fixture) {
			existing, existingTok := f.newInbound("")
			u := f.newUser("member@example.com")
			f.newSession("session-1", u.ID, at(time.Hour))
			var in *store.Inbound
			var tok *store.Token
			err := f.s.InTx(f.ctx, func(tx store.Tx) error {
				ctx := t.Context()
				in = &store.Inbound{ID: newID("inb_"), WorkspaceID: f.ws, Name: "New", Auth: store.AuthBearer,
					EventType: "a", Status: store.InboundActive, CreatedAt: t0, UpdatedAt: t0}
				tok = f.appToken(u.ID)
				for what, err := range map[string]error{
					"CreateInbound":      tx.CreateInbound(ctx, in, tok),
					"SetMemberships":     tx.SetMemberships(ctx, u.ID, []string{f.ws}),
					"RecordActivity":     tx.RecordActivity(ctx, map[string]time.Time{u.ID: at(time.Minute)}, nil),
					"DeleteUserSessions": tx.DeleteUserSessions(ctx, u.ID),
					"SetPassword":        tx.SetPassword(ctx, u.ID, "changed"),
				} {
					f.must(err, what+" in a transaction")
				}
				_, err := tx.DeleteInbound(ctx, f.ws, existing.ID)
				f.must(err, "DeleteInbound in a transaction")
				return errAbandon
			})
			wantErr(t, "InTx", err, errAbandon)
			_, err = f.s.InboundByID(f.ctx, in.ID)
			wantErr(t, "InboundByID of the rolled back webhook", err, store.ErrNotFound)
			wantToken(t, f, "rolled back token", tok, false)
			got, err := f.s.GetInbound(f.ctx, f.ws, existing.ID)
			f.must(err, "GetInbound of the webhook whose delete was rolled back")
			wantSame(t, "webhook", got, existing)
			wantToken(t, f, "its token", existingTok, true)
			wantIDs(t, "memberships", f.memberships(u.ID), nil)
			wantSame(t, "user", f.getUser(u.ID), u)
			wantSession(t, f, "session", "session-1", t0, true)
		}},
	}
}

// testAccountsInTx calls every method of account upkeep, sessions and
// inbound webhooks on one transaction, each reading what the ones before
// wrote, and checks what was committed.
func testAccountsInTx(t *testing.T, f *fixture) {
	u := &store.User{ID: newID("usr_"), Email: "new@example.com", Name: "New", Role: store.RoleMember,
		Status: store.UserActive, CreatedAt: t0}
	leaver := &store.User{ID: newID("usr_"), Email: "leaver@example.com", Name: "Leaver", Role: store.RoleMember,
		Status: store.UserActive, CreatedAt: t0}
	in := &store.Inbound{ID: newID("inb_"), WorkspaceID: f.ws, Name: "Orders", Auth: store.AuthBasic, Username: "shop",
		EventType: "order.created", Verify: json.RawMessage(`{"scheme":"standard"}`), Status: store.InboundActive,
		CreatedAt: t0, UpdatedAt: t0}
	doomed := &store.Inbound{ID: newID("inb_"), WorkspaceID: f.ws, Name: "Doomed", Auth: store.AuthBearer,
		EventType: "a", Status: store.InboundActive, CreatedAt: t0, UpdatedAt: t0}
	first, replacement, doomedTok := f.appToken(f.user.ID), f.appToken(f.user.ID), f.appToken(f.user.ID)
	req := f.inboundRequest(in, at(time.Minute))
	f.must(f.s.InTx(f.ctx, func(tx store.Tx) error {
		ctx := t.Context()
		// check fails the test when err is not nil.
		check := func(err error, what string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s in a transaction: %v", what, err)
			}
		}
		check(tx.CreateUser(ctx, u), "CreateUser")
		check(tx.CreateUser(ctx, leaver), "CreateUser")
		got, err := tx.UserByEmail(ctx, u.Email)
		check(err, "UserByEmail")
		wantSame(t, "user by email", got, u)
		users, err := tx.ListUsers(ctx, store.Page{})
		check(err, "ListUsers")
		if len(users) != 3 {
			t.Errorf("ListUsers in a transaction: %d users, want 3", len(users))
		}
		// The name only: a member made admin would stay active below, and
		// then be the last admin, which cannot be made a member again.
		u.Name = "Renamed"
		check(tx.UpdateUser(ctx, u), "UpdateUser")
		u.PasswordHash = "new-hash"
		check(tx.SetPassword(ctx, u.ID, u.PasswordHash), "SetPassword")
		got, err = tx.GetUser(ctx, u.ID)
		check(err, "GetUser")
		wantSame(t, "updated user", got, u)

		ws := &store.Workspace{ID: newID("ws_"), Name: "Second", CreatedAt: t0}
		check(tx.CreateWorkspace(ctx, ws, ""), "CreateWorkspace")
		check(tx.SetMemberships(ctx, u.ID, []string{ws.ID, f.ws}), "SetMemberships")
		ids, err := tx.Memberships(ctx, u.ID)
		check(err, "Memberships")
		wantIDs(t, "memberships in a transaction", ids, sorted(f.ws, ws.ID))

		tok := &store.Token{ID: newID("tok_"), UserID: leaver.ID, Kind: store.TokenIntegration, Name: "CI",
			Hash: "hash-tx", CreatedAt: t0}
		check(tx.CreateToken(ctx, tok), "CreateToken")
		toks, err := tx.ListTokens(ctx, leaver.ID, store.Page{})
		check(err, "ListTokens")
		if len(toks) != 1 || toks[0].ID != tok.ID {
			t.Errorf("ListTokens in a transaction: %v, want [%s]", toks, tok.ID)
		}
		moved, err := tx.TransferToken(ctx, tok.ID, u.ID)
		check(err, "TransferToken")
		if moved.UserID != u.ID {
			t.Errorf("TransferToken in a transaction: owned by %s", moved.UserID)
		}
		got2, err := tx.GetToken(ctx, tok.ID)
		check(err, "GetToken")
		wantSame(t, "transferred token", got2, moved)
		if n, err := tx.CountTokens(ctx, leaver.ID); err != nil || n != 0 {
			t.Errorf("CountTokens of the giver in a transaction = %d, %v; want 0", n, err)
		}

		check(tx.RecordActivity(ctx, map[string]time.Time{u.ID: at(time.Minute)}, map[string]time.Time{tok.ID: at(time.Minute)}),
			"RecordActivity")
		marked, err := tx.MarkUsersInactive(ctx, at(2*time.Minute), at(2*time.Minute))
		check(err, "MarkUsersInactive")
		if !contains(marked, u.ID) {
			t.Errorf("MarkUsersInactive in a transaction: %v, want %s among them", marked, u.ID)
		}
		back, err := tx.ReactivateUser(ctx, u.ID, at(3*time.Minute))
		check(err, "ReactivateUser")
		if back.Status != store.UserActive || !back.LastActiveAt.Equal(at(3*time.Minute)) {
			t.Errorf("ReactivateUser in a transaction: %s, last active %s", back.Status, show(back.LastActiveAt))
		}
		u.Status, u.LastActiveAt = store.UserActive, ptr(at(3*time.Minute))

		check(tx.CreateSession(ctx, &store.Session{Hash: "session-1", UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}),
			"CreateSession")
		if _, su, err := tx.SessionByHash(ctx, "session-1", t0); err != nil || su.ID != u.ID {
			t.Errorf("SessionByHash in a transaction: %v", err)
		}
		check(tx.DeleteSession(ctx, "session-1"), "DeleteSession")
		check(tx.CreateSession(ctx, &store.Session{Hash: "session-2", UserID: leaver.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}),
			"CreateSession")
		check(tx.DeleteUserSessions(ctx, leaver.ID), "DeleteUserSessions")
		check(tx.CreateSession(ctx, &store.Session{Hash: "session-3", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0}),
			"CreateSession")
		if n, err := tx.PruneSessions(ctx, t0); err != nil || n != 1 {
			t.Errorf("PruneSessions in a transaction = %d, %v; want 1", n, err)
		}
		check(tx.DeleteUser(ctx, leaver.ID), "DeleteUser")

		check(tx.CreateInbound(ctx, in, first), "CreateInbound")
		check(tx.CreateInbound(ctx, doomed, doomedTok), "CreateInbound")
		gotIn, err := tx.GetInbound(ctx, f.ws, in.ID)
		check(err, "GetInbound")
		wantSame(t, "webhook in a transaction", gotIn, in)
		if _, err := tx.InboundByID(ctx, in.ID); err != nil {
			t.Errorf("InboundByID in a transaction: %v", err)
		}
		if list, err := tx.ListInbound(ctx, f.ws, store.Page{}); err != nil || len(list) != 2 {
			t.Errorf("ListInbound in a transaction: %d, %v; want 2", len(list), err)
		}
		in.Name, in.UpdatedAt = "Renamed", at(time.Minute)
		check(tx.UpdateInbound(ctx, in), "UpdateInbound")
		disabled, err := tx.SetInboundStatus(ctx, f.ws, in.ID, store.InboundDisabled, at(2*time.Minute))
		check(err, "SetInboundStatus")
		in.Status, in.UpdatedAt = store.InboundDisabled, at(2*time.Minute)
		wantSame(t, "disabled webhook in a transaction", disabled, in)
		removed, err := tx.ReplaceInboundToken(ctx, f.ws, in.ID, replacement)
		check(err, "ReplaceInboundToken")
		wantTokens(t, "tokens replaced in a transaction", removed, first)
		removed, err = tx.DeleteInbound(ctx, f.ws, doomed.ID)
		check(err, "DeleteInbound")
		wantTokens(t, "tokens deleted in a transaction", removed, doomedTok)
		check(tx.InsertInboundRequests(ctx, []store.InboundRequest{req}, 10), "InsertInboundRequests")
		reqs, err := tx.ListInboundRequests(ctx, f.ws, in.ID, store.Page{})
		check(err, "ListInboundRequests")
		wantIDs(t, "log in a transaction", requestIDs(reqs), []string{req.ID})
		return nil
	}), "InTx")

	wantSame(t, "committed user", f.getUser(u.ID), u)
	_, err := f.s.GetUser(f.ctx, leaver.ID)
	wantErr(t, "GetUser of the user deleted in the transaction", err, store.ErrNotFound)
	if n, err := f.s.CountTokens(f.ctx, u.ID); err != nil || n != 1 {
		t.Errorf("CountTokens after commit = %d, %v; want 1", n, err)
	}
	wantSession(t, f, "session deleted in the transaction", "session-1", t0, false)
	got, err := f.s.GetInbound(f.ctx, f.ws, in.ID)
	f.must(err, "GetInbound after commit")
	wantSame(t, "committed webhook", got, in)
	wantToken(t, f, "replaced token", first, false)
	wantToken(t, f, "replacement token", replacement, true)
	_, err = f.s.InboundByID(f.ctx, doomed.ID)
	wantErr(t, "InboundByID of the webhook deleted in the transaction", err, store.ErrNotFound)
	wantToken(t, f, "the deleted webhook's token", doomedTok, false)
	wantIDs(t, "committed log", requestIDs(f.inboundRequests(in)), []string{req.ID})
}

// testRefusedInTx makes calls refused after some of their writes (on
// engines that write before they find the refusal) inside InTx, then goes
// on and commits: none of the refused calls' writes may be committed.
func testRefusedInTx(t *testing.T, f *fixture) {
	in, tok := f.newInbound("")
	u := f.newUser("member@example.com")
	f.must(f.s.SetMemberships(f.ctx, u.ID, []string{f.ws}), "SetMemberships")
	taken := f.newToken("hash-taken")
	fresh := &store.Inbound{ID: newID("inb_"), WorkspaceID: f.ws, Name: "New", Auth: store.AuthBearer, EventType: "a",
		Status: store.InboundActive, CreatedAt: t0, UpdatedAt: t0}
	f.must(f.s.InTx(f.ctx, func(tx store.Tx) error {
		ctx := t.Context()
		// A webhook inserted, then its token refused.
		dup := f.appToken(f.user.ID)
		dup.Hash = taken.Hash
		wantErr(t, "CreateInbound with a taken token hash", tx.CreateInbound(ctx, fresh, dup), store.ErrConflict)
		_, err := tx.InboundByID(ctx, fresh.ID)
		wantErr(t, "InboundByID of the refused webhook in the transaction", err, store.ErrNotFound)
		// The old token deleted, then the new one refused.
		_, err = tx.ReplaceInboundToken(ctx, f.ws, in.ID, dup)
		wantErr(t, "ReplaceInboundToken with a taken hash", err, store.ErrConflict)
		if _, _, err := tx.TokenByHash(ctx, tok.Hash); err != nil {
			t.Errorf("the webhook's token after a refused replacement, in the transaction: %v", err)
		}
		wantErr(t, "SetMemberships with an unknown workspace", tx.SetMemberships(ctx, u.ID, []string{"ws_unknown"}),
			store.ErrNotFound)
		wantErr(t, "DeleteUser of a user with tokens", tx.DeleteUser(ctx, f.user.ID), store.ErrHasTokens)
		edit := *u
		edit.Email = f.user.Email
		wantErr(t, "UpdateUser to a taken email", tx.UpdateUser(ctx, &edit), store.ErrConflict)
		// The transaction goes on.
		return tx.SetPassword(ctx, u.ID, "changed")
	}), "InTx")
	_, err := f.s.InboundByID(f.ctx, fresh.ID)
	wantErr(t, "InboundByID of the refused webhook", err, store.ErrNotFound)
	wantToken(t, f, "the webhook's token", tok, true)
	wantIDs(t, "memberships", f.memberships(u.ID), []string{f.ws})
	want := *u
	want.PasswordHash = "changed"
	wantSame(t, "user", f.getUser(u.ID), &want)
}
