// Conformance tests of the small tables: workspaces and membership, users
// and tokens, the event type catalogue, and transactions over them (InTx).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

func workspaceTests() []test {
	return []test{
		{"CreateAndGet", func(t *testing.T, f *fixture) {
			w := &store.Workspace{ID: newID("ws_"), Name: "Billing", CreatedAt: at(time.Minute)}
			f.must(f.s.CreateWorkspace(f.ctx, w, ""), "CreateWorkspace")
			got, err := f.s.GetWorkspace(f.ctx, w.ID)
			f.must(err, "GetWorkspace")
			wantSame(t, "workspace", got, w)
		}},
		{"GetUnknownIsNotFound", func(t *testing.T, f *fixture) {
			_, err := f.s.GetWorkspace(f.ctx, "ws_unknown")
			wantErr(t, "GetWorkspace", err, store.ErrNotFound)
		}},
		{"DuplicateIDIsConflict", func(t *testing.T, f *fixture) {
			err := f.s.CreateWorkspace(f.ctx, &store.Workspace{ID: f.ws, Name: "again", CreatedAt: t0}, "")
			wantErr(t, "CreateWorkspace", err, store.ErrConflict)
		}},
		{"ListAllPagesByID", func(t *testing.T, f *fixture) {
			// Created out of id order; listed in id order.
			ids := []string{f.ws}
			for range 4 {
				ids = append(ids, newID("ws_"))
			}
			for _, i := range []int{3, 1, 4, 2} {
				f.must(f.s.CreateWorkspace(f.ctx, &store.Workspace{ID: ids[i], Name: "w", CreatedAt: t0}, ""), "CreateWorkspace")
			}
			wantIDs(t, "pages", pageWorkspaces(f, "", 2), ids)
			wantIDs(t, "one page", pageWorkspaces(f, "", 10), ids)
			last, err := f.s.ListWorkspaces(f.ctx, "", store.Page{Cursor: ids[4], Limit: 2})
			f.must(err, "ListWorkspaces")
			if len(last) != 0 {
				t.Errorf("page after the last id: %d workspaces, want none", len(last))
			}
		}},
		{"ListForMember", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			mine := []string{f.ws}
			for i := range 4 {
				owner := other.ID
				if i%2 == 0 {
					owner = f.user.ID
				}
				id := f.newWorkspace("w", owner)
				if owner == f.user.ID {
					mine = append(mine, id)
				}
			}
			f.newWorkspace("nobody's", "")
			wantIDs(t, "member's workspaces", pageWorkspaces(f, f.user.ID, 1), mine)
			wantIDs(t, "other's workspaces", pageWorkspaces(f, other.ID, 10), pageWorkspaces(f, other.ID, 1))
			if n := len(pageWorkspaces(f, other.ID, 10)); n != 2 {
				t.Errorf("other user's workspaces: %d, want 2", n)
			}
			if n := len(pageWorkspaces(f, "", 10)); n != 6 {
				t.Errorf("all workspaces: %d, want 6", n)
			}
			loner := f.newUser("loner@example.com")
			if ws := pageWorkspaces(f, loner.ID, 10); len(ws) != 0 {
				t.Errorf("workspaces of a user in none: %v", ws)
			}
		}},
		{"IsMember", func(t *testing.T, f *fixture) {
			other := f.newUser("other@example.com")
			orphan := f.newWorkspace("no owner", "")
			for _, c := range []struct {
				ws, user string
				want     bool
			}{
				{f.ws, f.user.ID, true},
				{f.ws, other.ID, false},
				{orphan, f.user.ID, false},
				{"ws_unknown", f.user.ID, false},
				{f.ws, "usr_unknown", false},
			} {
				got, err := f.s.IsMember(f.ctx, c.ws, c.user)
				f.must(err, "IsMember")
				if got != c.want {
					t.Errorf("IsMember(%s, %s) = %v, want %v", c.ws, c.user, got, c.want)
				}
			}
		}},
	}
}

// pageWorkspaces lists every workspace (of userID) a page of limit at a
// time, following the cursor, and returns their ids.
func pageWorkspaces(f *fixture, userID string, limit int) []string {
	f.t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		page, err := f.s.ListWorkspaces(f.ctx, userID, store.Page{Cursor: cursor, Limit: limit})
		f.must(err, "ListWorkspaces")
		if len(page) > limit {
			f.t.Fatalf("ListWorkspaces returned %d, limit %d", len(page), limit)
		}
		for _, w := range page {
			ids = append(ids, w.ID)
		}
		if len(page) < limit {
			return ids
		}
		cursor = page[len(page)-1].ID
	}
	f.t.Fatal("ListWorkspaces never ends")
	return nil
}

func userTests() []test {
	return []test{
		{"CreateAndGet", func(t *testing.T, f *fixture) {
			for _, u := range []*store.User{
				{ID: newID("usr_"), Email: "a@example.com", Name: "A", Role: "admin", PasswordHash: "$argon2id$x",
					Status: "active", CreatedAt: at(time.Second)},
				{ID: newID("usr_"), Email: "b@example.com", Name: "B", Role: "member", Status: "inactive",
					LastActiveAt: ptr(at(-time.Hour)), CreatedAt: at(time.Second)},
			} {
				f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
				got, err := f.s.GetUser(f.ctx, u.ID)
				f.must(err, "GetUser")
				wantSame(t, "user "+u.Email, got, u)
			}
		}},
		{"GetUnknownIsNotFound", func(t *testing.T, f *fixture) {
			_, err := f.s.GetUser(f.ctx, "usr_unknown")
			wantErr(t, "GetUser", err, store.ErrNotFound)
		}},
		{"DuplicateEmailIsConflict", func(t *testing.T, f *fixture) {
			n, err := f.s.CountUsers(f.ctx)
			f.must(err, "CountUsers")
			if n != 1 {
				t.Fatalf("CountUsers = %d with the fixture's owner, want 1", n)
			}
			err = f.s.CreateUser(f.ctx, &store.User{ID: newID("usr_"), Email: f.user.Email, Name: "Twin",
				Role: "member", Status: "active", CreatedAt: t0})
			wantErr(t, "CreateUser with a taken email", err, store.ErrConflict)
			f.newUser("second@example.com")
			if n, _ := f.s.CountUsers(f.ctx); n != 2 {
				t.Errorf("CountUsers = %d, want 2 (the conflicting user must not be stored)", n)
			}
		}},
		{"TokenByHash", func(t *testing.T, f *fixture) {
			for _, tok := range []*store.Token{
				{ID: newID("tok_"), UserID: f.user.ID, Kind: store.TokenIntegration, Name: "CI", Hash: "hash-1",
					CreatedAt: at(time.Second)},
				{ID: newID("tok_"), UserID: f.user.ID, Kind: store.TokenApp, Name: "inbound", Hash: "hash-2",
					ResourceID: "inb_1", CreatedAt: at(time.Second)},
			} {
				f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
				got, owner, err := f.s.TokenByHash(f.ctx, tok.Hash)
				f.must(err, "TokenByHash")
				wantSame(t, "token "+tok.Name, got, tok)
				wantSame(t, "owner of token "+tok.Name, owner, f.user)
			}
		}},
		{"TokenByUnknownHashIsNotFound", func(t *testing.T, f *fixture) {
			f.must(f.s.CreateToken(f.ctx, &store.Token{ID: newID("tok_"), UserID: f.user.ID, Kind: store.TokenIntegration,
				Name: "CI", Hash: "hash-1", CreatedAt: t0}), "CreateToken")
			_, _, err := f.s.TokenByHash(f.ctx, "hash-2")
			wantErr(t, "TokenByHash", err, store.ErrNotFound)
		}},
		{"DeleteToken", func(t *testing.T, f *fixture) {
			kept, doomed := f.newToken("hash-1"), f.newToken("hash-2")
			f.must(f.s.DeleteToken(f.ctx, doomed.ID), "DeleteToken")
			_, _, err := f.s.TokenByHash(f.ctx, doomed.Hash)
			wantErr(t, "TokenByHash of a deleted token", err, store.ErrNotFound)
			_, _, err = f.s.TokenByHash(f.ctx, kept.Hash)
			f.must(err, "TokenByHash of the other token")
			wantErr(t, "DeleteToken again", f.s.DeleteToken(f.ctx, doomed.ID), store.ErrNotFound)
			wantErr(t, "DeleteToken of an unknown id", f.s.DeleteToken(f.ctx, "tok_unknown"), store.ErrNotFound)
		}},
		{"DuplicateTokenHashIsConflict", func(t *testing.T, f *fixture) {
			tok := &store.Token{ID: newID("tok_"), UserID: f.user.ID, Kind: store.TokenIntegration, Name: "CI",
				Hash: "hash-1", CreatedAt: t0}
			f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
			dup := *tok
			dup.ID = newID("tok_")
			wantErr(t, "CreateToken with a taken hash", f.s.CreateToken(f.ctx, &dup), store.ErrConflict)
		}},
	}
}

func eventTypeTests() []test {
	return []test{
		{"CreateAndGet", func(t *testing.T, f *fixture) {
			for _, et := range []*store.EventType{
				{WorkspaceID: f.ws, Name: "invoice.paid", Label: "Invoice paid", Description: "An invoice was paid.",
					CreatedAt: at(time.Second)},
				{WorkspaceID: f.ws, Name: "user.created", Label: "User created",
					Schema: json.RawMessage(`{"type":"object","required":["id"]}`), CreatedAt: at(time.Second)},
			} {
				f.must(f.s.CreateEventType(f.ctx, et), "CreateEventType")
				got, err := f.s.GetEventType(f.ctx, f.ws, et.Name)
				f.must(err, "GetEventType")
				wantSame(t, "event type "+et.Name, got, et, "Schema")
				// An engine may normalise the schema's JSON; its meaning must survive.
				if !sameJSON(got.Schema, et.Schema) {
					t.Errorf("event type %s: schema %s, want %s", et.Name, got.Schema, et.Schema)
				}
			}
		}},
		{"GetUnknownIsNotFound", func(t *testing.T, f *fixture) {
			other := f.newWorkspace("other", "")
			f.must(f.s.CreateEventType(f.ctx, &store.EventType{WorkspaceID: other, Name: "a", Label: "A", CreatedAt: t0}),
				"CreateEventType")
			_, err := f.s.GetEventType(f.ctx, f.ws, "a")
			wantErr(t, "GetEventType of another workspace's type", err, store.ErrNotFound)
		}},
		{"DuplicateNameIsConflict", func(t *testing.T, f *fixture) {
			et := &store.EventType{WorkspaceID: f.ws, Name: "invoice.paid", Label: "Invoice paid", CreatedAt: t0}
			f.must(f.s.CreateEventType(f.ctx, et), "CreateEventType")
			dup := *et
			dup.Label = "Another label"
			wantErr(t, "CreateEventType with a taken name", f.s.CreateEventType(f.ctx, &dup), store.ErrConflict)
			// The same name in another workspace is a different type.
			dup.WorkspaceID = f.newWorkspace("other", "")
			f.must(f.s.CreateEventType(f.ctx, &dup), "CreateEventType in another workspace")
			got, err := f.s.GetEventType(f.ctx, f.ws, et.Name)
			f.must(err, "GetEventType")
			if got.Label != et.Label {
				t.Errorf("label %q, want the first one, %q", got.Label, et.Label)
			}
		}},
		{"ListPagesByName", func(t *testing.T, f *fixture) {
			other := f.newWorkspace("other", "")
			f.must(f.s.CreateEventType(f.ctx, &store.EventType{WorkspaceID: other, Name: "b.other", Label: "x", CreatedAt: t0}),
				"CreateEventType")
			for _, name := range []string{"user.deleted", "invoice.paid", "user.created", "a_b-c.d", "invoice.due"} {
				f.must(f.s.CreateEventType(f.ctx, &store.EventType{WorkspaceID: f.ws, Name: name, Label: name, CreatedAt: t0}),
					"CreateEventType")
			}
			want := []string{"a_b-c.d", "invoice.due", "invoice.paid", "user.created", "user.deleted"}
			var got []string
			cursor := ""
			for range 10 {
				page, err := f.s.ListEventTypes(f.ctx, f.ws, store.Page{Cursor: cursor, Limit: 2})
				f.must(err, "ListEventTypes")
				for _, et := range page {
					if et.WorkspaceID != f.ws {
						t.Errorf("event type %s of workspace %s listed", et.Name, et.WorkspaceID)
					}
					got = append(got, et.Name)
				}
				if len(page) < 2 {
					break
				}
				cursor = page[len(page)-1].Name
			}
			wantIDs(t, "names", got, want)
		}},
	}
}

func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func (f *fixture) newToken(hash string) *store.Token {
	f.t.Helper()
	tok := &store.Token{ID: newID("tok_"), UserID: f.user.ID, Kind: store.TokenIntegration, Name: "CI", Hash: hash,
		CreatedAt: t0}
	f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
	return tok
}

var errAbandon = errors.New("abandoned on purpose")

func txTests() []test {
	// signUp creates, in tx, a user with a token and a workspace of its own
	// with one event type, reading each back within tx.
	signUp := func(t *testing.T, tx store.Tx, email string) (*store.User, *store.Token) {
		t.Helper()
		ctx := t.Context()
		u := &store.User{ID: newID("usr_"), Email: email, Name: "New", Role: store.RoleMember, Status: store.UserActive,
			CreatedAt: t0}
		tok := &store.Token{ID: newID("tok_"), UserID: u.ID, Kind: store.TokenIntegration, Name: "first", Hash: "hash-" + email,
			CreatedAt: t0}
		ws := &store.Workspace{ID: newID("ws_"), Name: "Own", CreatedAt: t0}
		et := &store.EventType{WorkspaceID: ws.ID, Name: "invoice.paid", Label: "Invoice paid", CreatedAt: t0}
		for what, err := range map[string]error{
			"CreateUser":      tx.CreateUser(ctx, u),
			"CreateToken":     tx.CreateToken(ctx, tok),
			"CreateWorkspace": tx.CreateWorkspace(ctx, ws, u.ID),
			"CreateEventType": tx.CreateEventType(ctx, et),
		} {
			if err != nil {
				t.Fatalf("%s in a transaction: %v", what, err)
			}
		}
		got, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser of the transaction's user: %v", err)
		}
		wantSame(t, "user read in the transaction", got, u)
		gotTok, owner, err := tx.TokenByHash(ctx, tok.Hash)
		if err != nil || gotTok.ID != tok.ID || owner.ID != u.ID {
			t.Errorf("TokenByHash in the transaction: %v, %v, %v; want its token and user", gotTok, owner, err)
		}
		if n, err := tx.CountUsers(ctx); err != nil || n != 2 {
			t.Errorf("CountUsers in the transaction = %d, %v; want 2", n, err)
		}
		if ok, err := tx.IsMember(ctx, ws.ID, u.ID); err != nil || !ok {
			t.Errorf("IsMember in the transaction = %v, %v; want true", ok, err)
		}
		if wss, err := tx.ListWorkspaces(ctx, u.ID, store.Page{}); err != nil || len(wss) != 1 || wss[0].ID != ws.ID {
			t.Errorf("ListWorkspaces in the transaction = %v, %v; want [%s]", wss, err, ws.ID)
		}
		if _, err := tx.GetWorkspace(ctx, ws.ID); err != nil {
			t.Errorf("GetWorkspace in the transaction: %v", err)
		}
		if _, err := tx.GetEventType(ctx, ws.ID, et.Name); err != nil {
			t.Errorf("GetEventType in the transaction: %v", err)
		}
		if ets, err := tx.ListEventTypes(ctx, ws.ID, store.Page{}); err != nil || len(ets) != 1 {
			t.Errorf("ListEventTypes in the transaction = %v, %v; want one", ets, err)
		}
		return u, tok
	}
	// wantGone checks that nothing of u and tok was kept.
	wantGone := func(t *testing.T, f *fixture, u *store.User, tok *store.Token) {
		t.Helper()
		_, err := f.s.GetUser(f.ctx, u.ID)
		wantErr(t, "GetUser after rollback", err, store.ErrNotFound)
		_, _, err = f.s.TokenByHash(f.ctx, tok.Hash)
		wantErr(t, "TokenByHash after rollback", err, store.ErrNotFound)
		if wss := pageWorkspaces(f, u.ID, 10); len(wss) != 0 {
			t.Errorf("workspaces after rollback: %v", wss)
		}
		if n, _ := f.s.CountUsers(f.ctx); n != 1 {
			t.Errorf("CountUsers after rollback = %d, want 1", n)
		}
	}
	return []test{
		{"CommittedWhenFnSucceeds", func(t *testing.T, f *fixture) {
			var u *store.User
			var tok *store.Token
			f.must(f.s.InTx(f.ctx, func(tx store.Tx) error {
				u, tok = signUp(t, tx, "new@example.com")
				return nil
			}), "InTx")
			got, err := f.s.GetUser(f.ctx, u.ID)
			f.must(err, "GetUser after commit")
			wantSame(t, "committed user", got, u)
			gotTok, owner, err := f.s.TokenByHash(f.ctx, tok.Hash)
			f.must(err, "TokenByHash after commit")
			wantSame(t, "committed token", gotTok, tok)
			wantSame(t, "committed token's owner", owner, u)
			if wss := pageWorkspaces(f, u.ID, 10); len(wss) != 1 {
				t.Errorf("workspaces of the committed user: %v, want one", wss)
			}
		}},
		{"RolledBackWhenFnFails", func(t *testing.T, f *fixture) {
			var u *store.User
			var tok *store.Token
			err := f.s.InTx(f.ctx, func(tx store.Tx) error {
				u, tok = signUp(t, tx, "new@example.com")
				return errAbandon
			})
			wantErr(t, "InTx", err, errAbandon)
			wantGone(t, f, u, tok)
		}},
		{"RolledBackWhenFnPanics", func(t *testing.T, f *fixture) {
			var u *store.User
			var tok *store.Token
			func() {
				defer func() {
					if r := recover(); r != errAbandon {
						t.Errorf("recovered %v, want InTx to pass fn's panic on", r)
					}
				}()
				f.s.InTx(f.ctx, func(tx store.Tx) error {
					u, tok = signUp(t, tx, "new@example.com")
					panic(errAbandon)
				})
			}()
			wantGone(t, f, u, tok)
			// The transaction did not stay open holding a connection (on
			// SQLite, the only writer): writes go on.
			ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
			defer cancel()
			f.must(f.s.CreateUser(ctx, &store.User{ID: newID("usr_"), Email: "after@example.com", Name: "After",
				Role: store.RoleMember, Status: store.UserActive, CreatedAt: t0}), "CreateUser after the panic")
		}},
		{"ExpectedErrorsLeaveTxUsable", func(t *testing.T, f *fixture) {
			tok := f.newToken("hash-1")
			var u *store.User
			f.must(f.s.InTx(f.ctx, func(tx store.Tx) error {
				ctx := t.Context()
				dup := *f.user
				dup.ID = newID("usr_")
				wantErr(t, "CreateUser with a taken email", tx.CreateUser(ctx, &dup), store.ErrConflict)
				wantErr(t, "CreateWorkspace with a taken id",
					tx.CreateWorkspace(ctx, &store.Workspace{ID: f.ws, Name: "again", CreatedAt: t0}, ""), store.ErrConflict)
				et := &store.EventType{WorkspaceID: f.ws, Name: "a", Label: "A", CreatedAt: t0}
				f.must(tx.CreateEventType(ctx, et), "CreateEventType")
				wantErr(t, "CreateEventType with a taken name", tx.CreateEventType(ctx, et), store.ErrConflict)
				dupTok := *tok
				dupTok.ID = newID("tok_")
				wantErr(t, "CreateToken with a taken hash", tx.CreateToken(ctx, &dupTok), store.ErrConflict)
				_, err := tx.GetUser(ctx, "usr_unknown")
				wantErr(t, "GetUser of an unknown id", err, store.ErrNotFound)
				wantErr(t, "DeleteToken of an unknown id", tx.DeleteToken(ctx, "tok_unknown"), store.ErrNotFound)
				// The transaction goes on after each of those.
				f.must(tx.DeleteToken(ctx, tok.ID), "DeleteToken")
				u, _ = signUp(t, tx, "new@example.com")
				return nil
			}), "InTx")
			f.must(func() error { _, err := f.s.GetUser(f.ctx, u.ID); return err }(), "GetUser after commit")
			_, _, err := f.s.TokenByHash(f.ctx, tok.Hash)
			wantErr(t, "TokenByHash of the token deleted in the transaction", err, store.ErrNotFound)
			if _, err := f.s.GetEventType(f.ctx, f.ws, "a"); err != nil {
				t.Errorf("GetEventType after commit: %v", err)
			}
		}},
	}
}
