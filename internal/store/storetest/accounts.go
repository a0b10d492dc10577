// Conformance tests of the small tables: workspaces and membership, users
// and tokens, and the event type catalogue.
package storetest

import (
	"encoding/json"
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
