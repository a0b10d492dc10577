// Conformance tests of inbound webhooks: the webhook and its app token
// made, replaced and deleted together, isolation between workspaces, and
// the request log, trimmed to the newest requests of each webhook.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// newInbound creates an active bearer webhook in ws (f.ws when empty), with
// an app token of the fixture's user, after applying edits.
func (f *fixture) newInbound(ws string, edits ...func(*store.Inbound)) (*store.Inbound, *store.Token) {
	f.t.Helper()
	if ws == "" {
		ws = f.ws
	}
	in := &store.Inbound{ID: newID("inb_"), WorkspaceID: ws, Name: "Orders", Auth: store.AuthBearer,
		EventType: "order.created", Status: store.InboundActive, CreatedAt: t0, UpdatedAt: t0}
	for _, e := range edits {
		e(in)
	}
	tok := f.appToken(f.user.ID)
	f.must(f.s.CreateInbound(f.ctx, in, tok), "CreateInbound")
	return in, tok
}

// appToken returns an unsaved app token of userID.
func (f *fixture) appToken(userID string) *store.Token {
	id := newID("tok_")
	return &store.Token{ID: id, UserID: userID, Kind: store.TokenApp, Name: "app", Hash: "hash-" + id, CreatedAt: t0}
}

// wantToken checks whether TokenByHash finds tok.
func wantToken(t *testing.T, f *fixture, what string, tok *store.Token, found bool) {
	t.Helper()
	got, _, err := f.s.TokenByHash(f.ctx, tok.Hash)
	switch {
	case found && err != nil:
		t.Errorf("%s: TokenByHash: %v, want the token", what, err)
	case found:
		wantSame(t, what, got, tok)
	default:
		wantErr(t, what+": TokenByHash", err, store.ErrNotFound)
	}
}

// wantTokens compares tokens by id, in order.
func wantTokens(t *testing.T, what string, got []store.Token, want ...*store.Token) {
	t.Helper()
	var g, w []string
	for _, tok := range got {
		g = append(g, tok.ID)
	}
	for _, tok := range want {
		w = append(w, tok.ID)
	}
	wantIDs(t, what, g, w)
	for i := range got {
		if i < len(want) {
			wantSame(t, what, &got[i], want[i])
		}
	}
}

func inboundTests() []test {
	return []test{
		{"CreateAndGet", func(t *testing.T, f *fixture) {
			plain, plainTok := f.newInbound("")
			signed, _ := f.newInbound("", func(in *store.Inbound) {
				in.Auth, in.Username, in.DedupeHeader = store.AuthBasic, "shop", "X-GitHub-Delivery"
				in.Verify = json.RawMessage(`{"scheme":"github", "secret":"s3cret"}`)
				in.CreatedAt, in.UpdatedAt = at(time.Second), at(time.Minute)
			})
			for _, in := range []*store.Inbound{plain, signed} {
				got, err := f.s.GetInbound(f.ctx, f.ws, in.ID)
				f.must(err, "GetInbound")
				wantSame(t, "inbound "+in.ID, got, in)
				got, err = f.s.InboundByID(f.ctx, in.ID)
				f.must(err, "InboundByID")
				wantSame(t, "inbound by id "+in.ID, got, in)
			}
			if plainTok.ResourceID != plain.ID {
				t.Errorf("the app token's ResourceID is %q, want the webhook's id", plainTok.ResourceID)
			}
			wantToken(t, f, "app token", plainTok, true)
			_, err := f.s.GetInbound(f.ctx, f.ws, "inb_unknown")
			wantErr(t, "GetInbound of an unknown id", err, store.ErrNotFound)
			_, err = f.s.InboundByID(f.ctx, "inb_unknown")
			wantErr(t, "InboundByID of an unknown id", err, store.ErrNotFound)
		}},
		{"CreateRefusedWritesNothing", func(t *testing.T, f *fixture) {
			existing, existingTok := f.newInbound("")
			mk := func(edit func(*store.Inbound, *store.Token)) (*store.Inbound, *store.Token) {
				in := &store.Inbound{ID: newID("inb_"), WorkspaceID: f.ws, Name: "x", Auth: store.AuthBearer, EventType: "a",
					Status: store.InboundActive, CreatedAt: t0, UpdatedAt: t0}
				tok := f.appToken(f.user.ID)
				edit(in, tok)
				return in, tok
			}
			for _, c := range []struct {
				name string
				edit func(*store.Inbound, *store.Token)
				want error
			}{
				{"UnknownWorkspace", func(in *store.Inbound, _ *store.Token) { in.WorkspaceID = "ws_unknown" }, store.ErrNotFound},
				{"UnknownOwner", func(_ *store.Inbound, tok *store.Token) { tok.UserID = "usr_unknown" }, store.ErrNotFound},
				{"TakenID", func(in *store.Inbound, _ *store.Token) { in.ID = existing.ID }, store.ErrConflict},
				{"TakenHash", func(_ *store.Inbound, tok *store.Token) { tok.Hash = existingTok.Hash }, store.ErrConflict},
			} {
				in, tok := mk(c.edit)
				wantErr(t, c.name+": CreateInbound", f.s.CreateInbound(f.ctx, in, tok), c.want)
				if in.ID != existing.ID {
					_, err := f.s.InboundByID(f.ctx, in.ID)
					wantErr(t, c.name+": InboundByID of the refused webhook", err, store.ErrNotFound)
				}
				if tok.Hash != existingTok.Hash {
					wantToken(t, f, c.name+": the refused token", tok, false)
				}
			}
			got, err := f.s.GetInbound(f.ctx, f.ws, existing.ID)
			f.must(err, "GetInbound")
			wantSame(t, "the existing webhook", got, existing)
			wantToken(t, f, "the existing token", existingTok, true)
		}},
		{"ListPagesByID", func(t *testing.T, f *fixture) {
			other := f.newWorkspace("other", "")
			var want []string
			for i := range 5 {
				in, _ := f.newInbound("")
				want = append(want, in.ID)
				if i == 2 {
					f.newInbound(other)
				}
			}
			var got []string
			cursor := ""
			for range 10 {
				page, err := f.s.ListInbound(f.ctx, f.ws, store.Page{Cursor: cursor, Limit: 2})
				f.must(err, "ListInbound")
				for _, in := range page {
					got = append(got, in.ID)
				}
				if len(page) < 2 {
					break
				}
				cursor = page[len(page)-1].ID
			}
			wantIDs(t, "webhooks", got, want)
			page, err := f.s.ListInbound(f.ctx, other, store.Page{})
			f.must(err, "ListInbound of the other workspace")
			if len(page) != 1 {
				t.Errorf("other workspace: %d webhooks, want 1", len(page))
			}
		}},
		{"Update", func(t *testing.T, f *fixture) {
			in, _ := f.newInbound("", func(in *store.Inbound) {
				in.Auth, in.Username, in.Verify = store.AuthBasic, "shop", json.RawMessage(`{"scheme":"standard"}`)
			})
			edit := *in
			edit.Name, edit.EventType, edit.DedupeHeader = "Renamed", "order.paid", "Webhook-Id"
			edit.Verify, edit.UpdatedAt = json.RawMessage(`{"scheme":"hmac","header":"X-Sig"}`), at(time.Minute)
			want := edit
			// Auth, username, status and created_at are not the update's.
			edit.Auth, edit.Username, edit.Status, edit.CreatedAt = store.AuthBearer, "", store.InboundDisabled, at(time.Hour)
			f.must(f.s.UpdateInbound(f.ctx, &edit), "UpdateInbound")
			got, err := f.s.GetInbound(f.ctx, f.ws, in.ID)
			f.must(err, "GetInbound")
			wantSame(t, "updated webhook", got, &want)

			want.Verify, want.DedupeHeader, want.UpdatedAt = nil, "", at(2*time.Minute)
			f.must(f.s.UpdateInbound(f.ctx, &want), "UpdateInbound clearing verify")
			got, err = f.s.GetInbound(f.ctx, f.ws, in.ID)
			f.must(err, "GetInbound")
			wantSame(t, "webhook without verify", got, &want)

			missing := want
			missing.ID = "inb_unknown"
			wantErr(t, "UpdateInbound of an unknown id", f.s.UpdateInbound(f.ctx, &missing), store.ErrNotFound)
		}},
		{"SetStatus", func(t *testing.T, f *fixture) {
			in, _ := f.newInbound("")
			now := at(time.Minute)
			got, err := f.s.SetInboundStatus(f.ctx, f.ws, in.ID, store.InboundDisabled, now)
			f.must(err, "SetInboundStatus")
			want := *in
			want.Status, want.UpdatedAt = store.InboundDisabled, now
			wantSame(t, "disabled webhook", got, &want)
			read, err := f.s.GetInbound(f.ctx, f.ws, in.ID)
			f.must(err, "GetInbound")
			wantSame(t, "disabled webhook read back", read, &want)
			got, err = f.s.SetInboundStatus(f.ctx, f.ws, in.ID, store.InboundActive, at(time.Hour))
			f.must(err, "SetInboundStatus")
			if got.Status != store.InboundActive || !got.UpdatedAt.Equal(at(time.Hour)) {
				t.Errorf("enabled webhook: status %s, updated %s", got.Status, show(got.UpdatedAt))
			}
			_, err = f.s.SetInboundStatus(f.ctx, f.ws, "inb_unknown", store.InboundActive, now)
			wantErr(t, "SetInboundStatus of an unknown id", err, store.ErrNotFound)
		}},
		{"Delete", func(t *testing.T, f *fixture) {
			in, tok := f.newInbound("")
			second := f.newTokenOf(f.newUser("other@example.com").ID, "hash-second", in.ID)
			integration := f.newToken("hash-integration")
			otherApp := f.newTokenOf(f.user.ID, "hash-other-app", "inb_other")
			kept, keptTok := f.newInbound("")
			f.must(f.s.InsertInboundRequests(f.ctx, []store.InboundRequest{f.inboundRequest(in, t0),
				f.inboundRequest(kept, t0)}, 10), "InsertInboundRequests")

			removed, err := f.s.DeleteInbound(f.ctx, f.ws, in.ID)
			f.must(err, "DeleteInbound")
			wantTokens(t, "tokens removed", removed, tok, second)
			wantToken(t, f, "the app token", tok, false)
			wantToken(t, f, "the second app token", second, false)
			for _, k := range []*store.Token{integration, otherApp, keptTok} {
				wantToken(t, f, "unrelated token "+k.ID, k, true)
			}
			_, err = f.s.GetInbound(f.ctx, f.ws, in.ID)
			wantErr(t, "GetInbound of the deleted webhook", err, store.ErrNotFound)
			_, err = f.s.ListInboundRequests(f.ctx, f.ws, in.ID, store.Page{})
			wantErr(t, "ListInboundRequests of the deleted webhook", err, store.ErrNotFound)
			if reqs := f.inboundRequests(kept); len(reqs) != 1 {
				t.Errorf("the other webhook's log: %d requests, want 1", len(reqs))
			}
			_, err = f.s.DeleteInbound(f.ctx, f.ws, in.ID)
			wantErr(t, "DeleteInbound again", err, store.ErrNotFound)
			// Its owner can be deleted once it owns no other token.
			f.must(f.s.DeleteUser(f.ctx, second.UserID), "DeleteUser of the second token's owner")
		}},
		{"ReplaceToken", func(t *testing.T, f *fixture) {
			in, old := f.newInbound("")
			heir := f.newUser("heir@example.com")
			tok := f.appToken(heir.ID)
			removed, err := f.s.ReplaceInboundToken(f.ctx, f.ws, in.ID, tok)
			f.must(err, "ReplaceInboundToken")
			wantTokens(t, "tokens removed", removed, old)
			if tok.ResourceID != in.ID {
				t.Errorf("the new token's ResourceID is %q, want the webhook's id", tok.ResourceID)
			}
			wantToken(t, f, "old token", old, false)
			wantToken(t, f, "new token", tok, true)
			_, owner, err := f.s.TokenByHash(f.ctx, tok.Hash)
			f.must(err, "TokenByHash")
			wantSame(t, "new token's owner", owner, heir)

			// Refused replacements change nothing.
			for _, c := range []struct {
				name string
				edit func(*store.Token)
				want error
			}{
				{"UnknownOwner", func(n *store.Token) { n.UserID = "usr_unknown" }, store.ErrNotFound},
				{"TakenHash", func(n *store.Token) { n.Hash = f.newToken("hash-taken-" + n.ID).Hash }, store.ErrConflict},
			} {
				n := f.appToken(f.user.ID)
				c.edit(n)
				_, err := f.s.ReplaceInboundToken(f.ctx, f.ws, in.ID, n)
				wantErr(t, c.name+": ReplaceInboundToken", err, c.want)
				wantToken(t, f, c.name+": the token in place", tok, true)
			}
			_, err = f.s.ReplaceInboundToken(f.ctx, f.ws, "inb_unknown", f.appToken(f.user.ID))
			wantErr(t, "ReplaceInboundToken of an unknown webhook", err, store.ErrNotFound)
		}},
		{"OtherWorkspaceIsNotFound", func(t *testing.T, f *fixture) {
			other := f.newWorkspace("other", "")
			in, tok := f.newInbound(other)
			f.must(f.s.InsertInboundRequests(f.ctx, []store.InboundRequest{f.inboundRequest(in, t0)}, 10),
				"InsertInboundRequests")
			_, err := f.s.GetInbound(f.ctx, f.ws, in.ID)
			wantErr(t, "GetInbound", err, store.ErrNotFound)
			edit := *in
			edit.WorkspaceID, edit.Name = f.ws, "Hijacked"
			wantErr(t, "UpdateInbound", f.s.UpdateInbound(f.ctx, &edit), store.ErrNotFound)
			_, err = f.s.SetInboundStatus(f.ctx, f.ws, in.ID, store.InboundDisabled, at(time.Minute))
			wantErr(t, "SetInboundStatus", err, store.ErrNotFound)
			_, err = f.s.ListInboundRequests(f.ctx, f.ws, in.ID, store.Page{})
			wantErr(t, "ListInboundRequests", err, store.ErrNotFound)
			n := f.appToken(f.user.ID)
			_, err = f.s.ReplaceInboundToken(f.ctx, f.ws, in.ID, n)
			wantErr(t, "ReplaceInboundToken", err, store.ErrNotFound)
			wantToken(t, f, "the token of the refused replacement", n, false)
			_, err = f.s.DeleteInbound(f.ctx, f.ws, in.ID)
			wantErr(t, "DeleteInbound", err, store.ErrNotFound)
			if page, _ := f.s.ListInbound(f.ctx, f.ws, store.Page{}); len(page) != 0 {
				t.Errorf("ListInbound of the fixture's workspace lists %d webhooks", len(page))
			}
			// Nothing changed in its own workspace.
			got, err := f.s.GetInbound(f.ctx, other, in.ID)
			f.must(err, "GetInbound in its workspace")
			wantSame(t, "the other workspace's webhook", got, in)
			wantToken(t, f, "its token", tok, true)
			if reqs := f.inboundRequests(in); len(reqs) != 1 {
				t.Errorf("its log: %d requests, want 1", len(reqs))
			}
		}},
	}
}

// inboundRequest returns an unsaved request to in received at when.
func (f *fixture) inboundRequest(in *store.Inbound, when time.Time) store.InboundRequest {
	id := newID("irq_")
	return store.InboundRequest{ID: id, InboundID: in.ID, WorkspaceID: in.WorkspaceID, ReceivedAt: when, Status: 202,
		EventID: ptr(newID("evt_")), RemoteAddr: "203.0.113.7:51234",
		Request: store.InboundRequestData{Method: "POST",
			Headers: map[string]string{"Content-Type": "application/json", "X-Request": id},
			Body:    fmt.Sprintf(`{"request":%q}`, id)}}
}

// inboundRequests returns the whole log of in, newest first.
func (f *fixture) inboundRequests(in *store.Inbound) []store.InboundRequest {
	f.t.Helper()
	reqs, err := f.s.ListInboundRequests(f.ctx, in.WorkspaceID, in.ID, store.Page{Limit: 1000})
	f.must(err, "ListInboundRequests")
	return reqs
}

func requestIDs(reqs []store.InboundRequest) []string {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.ID)
	}
	return ids
}

func inboundRequestTests() []test {
	return []test{
		{"InsertAndList", func(t *testing.T, f *fixture) {
			in, _ := f.newInbound("")
			accepted := f.inboundRequest(in, at(time.Second))
			refused := f.inboundRequest(in, at(time.Minute))
			refused.Status, refused.Error, refused.EventID = 401, "invalid_signature", nil
			refused.RemoteAddr, refused.Request.Method, refused.Request.Headers = "[2001:db8::1]:443", "PUT", nil
			refused.Request.Body, refused.Request.BodyTruncated = "ünïcode body, cut", true
			// The workspace is the webhook's, whatever the request says.
			refused.WorkspaceID = "ws_elsewhere"
			f.must(f.s.InsertInboundRequests(f.ctx, []store.InboundRequest{accepted, refused}, 10), "InsertInboundRequests")
			got := f.inboundRequests(in)
			if len(got) != 2 {
				t.Fatalf("log: %d requests, want 2", len(got))
			}
			refused.WorkspaceID = in.WorkspaceID
			wantSame(t, "newest request", &got[0], &refused)
			wantSame(t, "oldest request", &got[1], &accepted)
		}},
		{"ListNewestFirst", func(t *testing.T, f *fixture) {
			in, _ := f.newInbound("")
			other, _ := f.newInbound("")
			var reqs []store.InboundRequest
			var want []string
			for i := range 5 {
				r := f.inboundRequest(in, at(time.Duration(i)*time.Second))
				reqs = append(reqs, r, f.inboundRequest(other, t0))
				want = append([]string{r.ID}, want...)
			}
			f.must(f.s.InsertInboundRequests(f.ctx, reqs, 10), "InsertInboundRequests")
			var got []string
			cursor := ""
			for range 10 {
				page, err := f.s.ListInboundRequests(f.ctx, f.ws, in.ID, store.Page{Cursor: cursor, Limit: 2})
				f.must(err, "ListInboundRequests")
				got = append(got, requestIDs(page)...)
				if len(page) < 2 {
					break
				}
				cursor = page[len(page)-1].ID
			}
			wantIDs(t, "requests newest first", got, want)
			empty, _ := f.newInbound("")
			page, err := f.s.ListInboundRequests(f.ctx, f.ws, empty.ID, store.Page{})
			if err != nil || len(page) != 0 {
				t.Errorf("log of a webhook without requests: %d, %v; want none, no error", len(page), err)
			}
			_, err = f.s.ListInboundRequests(f.ctx, f.ws, "inb_unknown", store.Page{})
			wantErr(t, "ListInboundRequests of an unknown webhook", err, store.ErrNotFound)
		}},
		{"KeepsNewestPerWebhook", func(t *testing.T, f *fixture) {
			a, _ := f.newInbound("")
			b, _ := f.newInbound("")
			var aIDs, bIDs []string
			var bReqs []store.InboundRequest
			for range 4 {
				r := f.inboundRequest(b, t0)
				bReqs, bIDs = append(bReqs, r), append(bIDs, r.ID)
			}
			f.must(f.s.InsertInboundRequests(f.ctx, bReqs, 10), "InsertInboundRequests of b")
			// A batch written out of id order keeps the newest by id.
			var aReqs []store.InboundRequest
			for range 5 {
				r := f.inboundRequest(a, t0)
				aReqs, aIDs = append(aReqs, r), append(aIDs, r.ID)
			}
			slices.Reverse(aReqs)
			f.must(f.s.InsertInboundRequests(f.ctx, aReqs, 3), "InsertInboundRequests of a")
			newest := func(ids []string, n int) []string {
				out := slices.Clone(ids[len(ids)-n:])
				slices.Reverse(out)
				return out
			}
			wantIDs(t, "a's log", requestIDs(f.inboundRequests(a)), newest(aIDs, 3))
			// A batch that does not name b leaves its log alone.
			wantIDs(t, "b's log", requestIDs(f.inboundRequests(b)), newest(bIDs, 4))
			// Each webhook named is trimmed.
			ra, rb := f.inboundRequest(a, t0), f.inboundRequest(b, t0)
			aIDs, bIDs = append(aIDs, ra.ID), append(bIDs, rb.ID)
			f.must(f.s.InsertInboundRequests(f.ctx, []store.InboundRequest{ra, rb}, 2), "InsertInboundRequests of both")
			wantIDs(t, "a's log after the second batch", requestIDs(f.inboundRequests(a)), newest(aIDs, 2))
			wantIDs(t, "b's log after the second batch", requestIDs(f.inboundRequests(b)), newest(bIDs, 2))
		}},
		{"DroppedForMissingWebhook", func(t *testing.T, f *fixture) {
			in, _ := f.newInbound("")
			gone, _ := f.newInbound("")
			_, err := f.s.DeleteInbound(f.ctx, f.ws, gone.ID)
			f.must(err, "DeleteInbound")
			kept := f.inboundRequest(in, t0)
			f.must(f.s.InsertInboundRequests(f.ctx, []store.InboundRequest{f.inboundRequest(gone, t0), kept,
				f.inboundRequest(&store.Inbound{ID: "inb_unknown", WorkspaceID: f.ws}, t0)}, 10),
				"InsertInboundRequests naming deleted webhooks")
			wantIDs(t, "log of the live webhook", requestIDs(f.inboundRequests(in)), []string{kept.ID})
			_, err = f.s.ListInboundRequests(f.ctx, f.ws, gone.ID, store.Page{})
			wantErr(t, "ListInboundRequests of the deleted webhook", err, store.ErrNotFound)
		}},
		{"BatchWrittenAgain", func(t *testing.T, f *fixture) {
			in, _ := f.newInbound("")
			batch := []store.InboundRequest{f.inboundRequest(in, t0), f.inboundRequest(in, t0)}
			f.must(f.s.InsertInboundRequests(f.ctx, batch, 10), "InsertInboundRequests")
			again := slices.Clone(batch)
			again[0].Status = 500
			f.must(f.s.InsertInboundRequests(f.ctx, again, 10), "InsertInboundRequests again")
			got := f.inboundRequests(in)
			wantIDs(t, "log", requestIDs(got), []string{batch[1].ID, batch[0].ID})
			if len(got) == 2 && got[1].Status != batch[0].Status {
				t.Errorf("a request written again changed: status %d, want the first %d", got[1].Status, batch[0].Status)
			}
			f.must(f.s.InsertInboundRequests(f.ctx, nil, 10), "InsertInboundRequests of nothing")
		}},
	}
}

// WorkspaceCascade checks what deleting a workspace does: its inbound
// webhooks go, with their logs and app tokens (whose owner can then be
// deleted), and its mailboxes' messages go; another workspace's stay. The
// store has no method that deletes a workspace, so each engine's own test
// passes open, which returns a fresh store and a deleteWorkspace that does
// it in the database.
func WorkspaceCascade(t *testing.T, open func(t *testing.T) (store.Store, func(ctx context.Context, id string) error)) {
	t.Run("Inbound", func(t *testing.T) { inboundCascade(t, open) })
	t.Run("Mailboxes", func(t *testing.T) { mailboxCascade(t, open) })
}

func inboundCascade(t *testing.T, open func(t *testing.T) (store.Store, func(ctx context.Context, id string) error)) {
	s, deleteWorkspace := open(t)
	f := &fixture{t: t, s: s, ctx: t.Context(), eventOf: map[string][2]string{}}
	f.user = f.newUser("owner@example.com")
	f.ws = f.newWorkspace("Main", f.user.ID)
	keptWS := f.newWorkspace("Kept", f.user.ID)
	in, tok := f.newInbound("")
	kept, keptTok := f.newInbound(keptWS)
	f.must(s.InsertInboundRequests(f.ctx, []store.InboundRequest{f.inboundRequest(in, t0), f.inboundRequest(kept, t0)}, 10),
		"InsertInboundRequests")
	other := f.newUser("other@example.com")
	second := f.newTokenOf(other.ID, "hash-second", in.ID)

	f.must(deleteWorkspace(f.ctx, f.ws), "deleting the workspace")
	_, err := s.InboundByID(f.ctx, in.ID)
	wantErr(t, "InboundByID of the deleted workspace's webhook", err, store.ErrNotFound)
	wantToken(t, f, "its app token", tok, false)
	wantToken(t, f, "its second app token", second, false)
	f.must(s.DeleteUser(f.ctx, other.ID), "DeleteUser of the second app token's owner")
	// A webhook of the same id later has an empty log.
	again := *in
	again.WorkspaceID = keptWS
	f.must(s.CreateInbound(f.ctx, &again, f.appToken(f.user.ID)), "CreateInbound again")
	if reqs := f.inboundRequests(&again); len(reqs) != 0 {
		t.Errorf("a new webhook of the same id has %d requests", len(reqs))
	}
	got, err := s.GetInbound(f.ctx, keptWS, kept.ID)
	f.must(err, "GetInbound of the other workspace's webhook")
	wantSame(t, "the other workspace's webhook", got, kept)
	wantToken(t, f, "its token", keptTok, true)
	if reqs := f.inboundRequests(kept); len(reqs) != 1 {
		t.Errorf("its log: %d requests, want 1", len(reqs))
	}
}
