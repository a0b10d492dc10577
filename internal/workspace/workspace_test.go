package workspace_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/workspace"
)

func TestCreateRefusesBadNames(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		svc := workspace.New(st, servicetest.NewClock().Now)
		admin := servicetest.User(t, st, store.RoleAdmin, "admin@example.com")
		for _, name := range []string{"", "   ", strings.Repeat("x", 201), "a\x00b", "bad \xff utf-8", "two\nlines"} {
			_, err := svc.Create(context.Background(), admin, name)
			servicetest.Check(t, "name "+strings.ToValidUTF8(name, "?"), err, servicetest.Want{Kind: errs.Invalid, Field: "name"})
		}
		w, err := svc.Create(context.Background(), admin, "  Main  ")
		if err != nil || w.Name != "Main" || !strings.HasPrefix(w.ID, "ws_") {
			t.Fatalf("Create: %+v, %v", w, err)
		}
	})
}

func TestAccess(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := workspace.New(st, servicetest.NewClock().Now)
		admin := servicetest.User(t, st, store.RoleAdmin, "admin@example.com")
		alice := servicetest.User(t, st, store.RoleMember, "alice@example.com")
		bob := servicetest.User(t, st, store.RoleMember, "bob@example.com")
		w, err := svc.Create(ctx, alice, "Alice's")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Access(ctx, alice, w.ID); err != nil {
			t.Errorf("member: %v", err)
		}
		if err := svc.Access(ctx, admin, w.ID); err != nil {
			t.Errorf("admin: %v", err)
		}
		// Another tenant's workspace is not found, exactly like a missing one.
		servicetest.Check(t, "non-member", svc.Access(ctx, bob, w.ID), servicetest.Want{Kind: errs.NotFound})
		servicetest.Check(t, "missing", svc.Access(ctx, admin, "ws_nope"), servicetest.Want{Kind: errs.NotFound})
		servicetest.Check(t, "no prefix", svc.Access(ctx, admin, "nope"), servicetest.Want{Kind: errs.NotFound})
		servicetest.Check(t, "invalid UTF-8", svc.Access(ctx, admin, "ws_\xff"), servicetest.Want{Kind: errs.Invalid, Field: "workspace"})
		servicetest.Check(t, "NUL", svc.Access(ctx, admin, "ws_\x00"), servicetest.Want{Kind: errs.Invalid, Field: "workspace"})

		// Members list their own workspaces, admins all of them.
		if _, err := svc.Create(ctx, bob, "Bob's"); err != nil {
			t.Fatal(err)
		}
		l, err := svc.List(ctx, alice, listing.Query{})
		if err != nil || len(l.Data) != 1 || l.Data[0].ID != w.ID {
			t.Errorf("alice lists %+v, %v", l.Data, err)
		}
		l, err = svc.List(ctx, admin, listing.Query{Limit: "1"})
		if err != nil || len(l.Data) != 1 || l.NextCursor == nil {
			t.Errorf("admin's first page %+v, %v", l, err)
		}
		l, err = svc.List(ctx, admin, listing.Query{Cursor: *l.NextCursor})
		if err != nil || len(l.Data) != 1 || l.NextCursor != nil {
			t.Errorf("admin's second page %+v, %v", l, err)
		}
		for _, q := range []listing.Query{{Limit: "0"}, {Limit: "1001"}, {Limit: "x"}, {Cursor: "\xff"}, {Cursor: "a\x00"}} {
			_, err := svc.List(ctx, admin, q)
			if e, ok := errs.As(err); !ok || e.Kind != errs.Invalid {
				t.Errorf("List(%+v): %v, want invalid", q, err)
			}
		}
	})
}

func TestEventTypes(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := workspace.New(st, servicetest.NewClock().Now)
		admin := servicetest.User(t, st, store.RoleAdmin, "admin@example.com")
		outsider := servicetest.User(t, st, store.RoleMember, "out@example.com")
		w, err := svc.Create(ctx, admin, "Main")
		if err != nil {
			t.Fatal(err)
		}
		ok := workspace.EventTypeInput{Name: "invoice.paid", Label: "Invoice paid",
			Schema: json.RawMessage(`{"type":"object","required":["amount"]}`)}
		bad := []struct {
			name string
			in   workspace.EventTypeInput
			want servicetest.Want
		}{
			{"no name", workspace.EventTypeInput{Label: "x"}, servicetest.Want{Kind: errs.Invalid, Field: "name"}},
			{"bad name", workspace.EventTypeInput{Name: "Invoice Paid", Label: "x"}, servicetest.Want{Kind: errs.Invalid, Field: "name"}},
			{"reserved", workspace.EventTypeInput{Name: store.TestEventType, Label: "x"}, servicetest.Want{Kind: errs.Invalid, Field: "name"}},
			{"no label", workspace.EventTypeInput{Name: "a"}, servicetest.Want{Kind: errs.Invalid, Field: "label"}},
			{"NUL label", workspace.EventTypeInput{Name: "a", Label: "a\x00"}, servicetest.Want{Kind: errs.Invalid, Field: "label"}},
			{"long description", workspace.EventTypeInput{Name: "a", Label: "a", Description: strings.Repeat("d", 2001)},
				servicetest.Want{Kind: errs.Invalid, Field: "description"}},
			{"invalid UTF-8 description", workspace.EventTypeInput{Name: "a", Label: "a", Description: "\xc3"},
				servicetest.Want{Kind: errs.Invalid, Field: "description"}},
			{"schema that does not compile", workspace.EventTypeInput{Name: "a", Label: "a", Schema: json.RawMessage(`{"type":"nope"}`)},
				servicetest.Want{Kind: errs.Invalid, Field: "schema"}},
			{"schema with NUL", workspace.EventTypeInput{Name: "a", Label: "a", Schema: json.RawMessage(`{"title":"\u0000"}`)},
				servicetest.Want{Kind: errs.Invalid, Field: "schema"}},
		}
		for _, c := range bad {
			_, err := svc.CreateEventType(ctx, admin, w.ID, c.in)
			servicetest.Check(t, c.name, err, c.want)
		}
		_, err = svc.CreateEventType(ctx, outsider, w.ID, ok)
		servicetest.Check(t, "outsider", err, servicetest.Want{Kind: errs.NotFound})
		et, err := svc.CreateEventType(ctx, admin, w.ID, ok)
		if err != nil || et.Name != ok.Name || string(et.Schema) != string(ok.Schema) {
			t.Fatalf("create: %+v, %v", et, err)
		}
		_, err = svc.CreateEventType(ctx, admin, w.ID, ok)
		servicetest.Check(t, "again", err, servicetest.Want{Kind: errs.Conflict, Code: "event_type_exists"})

		servicetest.Check(t, "no types", svc.CheckEventTypes(ctx, w.ID, []string{}), servicetest.Want{Kind: errs.Invalid, Field: "event_types"})
		servicetest.Check(t, "star and more", svc.CheckEventTypes(ctx, w.ID, []string{"*", "invoice.paid"}), servicetest.Want{Kind: errs.Invalid, Field: "event_types[0]"})
		servicetest.Check(t, "unknown", svc.CheckEventTypes(ctx, w.ID, []string{"invoice.paid", "nope"}),
			servicetest.Want{Kind: errs.Invalid, Field: "event_types[1]", Code: "unknown_event_type"})
		if err := svc.CheckEventTypes(ctx, w.ID, []string{"invoice.paid"}); err != nil {
			t.Errorf("known type: %v", err)
		}
	})
}
