package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
)

// TestLastAdminIsNotMadeInactive: an installation whose only admin has
// not logged in or used a token for --inactive-after (60 days by default)
// must not lock itself out for good. Today the maintenance run marks that
// admin inactive like anyone else: its tokens answer 401, it cannot log
// in, no one is left who may reactivate it (members may not), and
// POSTBODE_BOOTSTRAP_TOKEN is ignored on a database that has users. Only
// editing the database by hand gets the installation back.
func TestLastAdminIsNotMadeInactive(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine, func(c *config.Config) { c.InactiveAfter = 2 * time.Second })
		// The only admin does nothing for longer than --inactive-after
		// while the maintenance run goes on.
		time.Sleep(6 * time.Second)
		status, b := srv.Do(t, "GET", "/api/v1/me", nil)
		if status != http.StatusOK {
			t.Errorf("the only admin after a quiet spell: GET /api/v1/me %d %s; want 200: with it inactive nobody can "+
				"reactivate anyone, and the installation is locked for good", status, b)
		}
	})
}

// TestTokenTransferToUserWhoCannotUseIt: "POST /api/v1/tokens/{id}/transfer
// moves one to another user, where it keeps working". POST …/inbound/{id}/token
// refuses a user who is inactive (422 user_inactive) or has no access to the
// workspace; the transfer takes either, answers 200, and the token then
// silently stops working: the integration behind it breaks with nothing
// said. It must be refused (422 naming user_id) or keep working.
func TestTokenTransferToUserWhoCannotUseIt(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ctx := context.Background()
		st := srv.App.Store
		ws := srv.Workspace(t, "lead.created")
		h := createHook(t, srv, ws, nil)
		var me struct{ ID string }
		srv.JSON(t, "GET", "/api/v1/me", nil, http.StatusOK, &me)
		var toks struct {
			Data []struct {
				ID         string
				Kind       string
				ResourceID string `json:"resource_id"`
			}
		}
		srv.JSON(t, "GET", "/api/v1/users/"+me.ID+"/tokens?limit=1000", nil, http.StatusOK, &toks)
		appTokenID := ""
		for _, tk := range toks.Data {
			if tk.Kind == "app" && tk.ResourceID == h.ID {
				appTokenID = tk.ID
			}
		}
		if appTokenID == "" {
			t.Fatalf("the webhook's app token is not among its owner's tokens: %+v", toks.Data)
		}

		// A member of no workspace: the webhook's token moved to it.
		outsider, _ := newUser(t, srv, "member")
		status, b := srv.Do(t, "POST", "/api/v1/tokens/"+appTokenID+"/transfer", map[string]string{"user_id": outsider})
		switch status {
		case http.StatusUnprocessableEntity:
			if !strings.Contains(string(b), "user_id") {
				t.Errorf("transfer to a user without access: %d %s; want the message to name user_id", status, b)
			}
		case http.StatusOK:
			if r := postIn(t, srv, h.ID, inReq{header: bearer(h.Token), body: `{"n":1}`}); r.status != http.StatusAccepted {
				t.Errorf("app token moved to a user without access to the workspace: transfer 200, then POST /in %d %s; "+
					"want the transfer refused (422) or the token to keep working", r.status, r.body)
			}
		default:
			t.Errorf("transfer to a user without access: %d %s", status, b)
		}

		// An inactive user: an integration token moved to it.
		stale := time.Now().Add(-srv.App.Config.InactiveAfter - time.Hour).UTC()
		idle := &store.User{ID: id.New(id.User), Email: "idle@example.com", Name: "Idle", Role: store.RoleAdmin,
			Status: store.UserInactive, CreatedAt: stale}
		if err := st.CreateUser(ctx, idle); err != nil {
			t.Fatal(err)
		}
		var tok struct{ ID, Token string }
		srv.JSON(t, "POST", "/api/v1/users/"+me.ID+"/tokens", map[string]string{"name": "ci"}, http.StatusCreated, &tok)
		status, b = srv.Do(t, "POST", "/api/v1/tokens/"+tok.ID+"/transfer", map[string]string{"user_id": idle.ID})
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(b), "user_id") {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			after := 0
			if resp, err := http.DefaultClient.Do(req); err == nil {
				after = resp.StatusCode
				resp.Body.Close()
			}
			t.Errorf("transfer to an inactive user: %d %s, and the token then answers %d; want 422 user_inactive naming "+
				"user_id, as POST …/inbound/{id}/token does", status, b, after)
		}
	})
}

// TestAdminOwnTokenCannotSetOwnPassword: "A user's own token cannot set its
// password without the current one, so a leaked token does not become a
// login." An admin's own integration token sets the admin's own password
// without current_password (204), ending the admin's sessions and giving
// whoever holds the token the admin's login. "An admin, without" is for
// another user's password.
func TestAdminOwnTokenCannotSetOwnPassword(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		var me struct{ ID string }
		srv.JSON(t, "GET", "/api/v1/me", nil, http.StatusOK, &me)
		status, b := srv.Do(t, "POST", "/api/v1/users/"+me.ID+"/password", map[string]string{"password": "taken over by a token"})
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(b), "current_password") {
			t.Errorf("an admin's token setting its own password without current_password: %d %s; want 422 naming "+
				"current_password", status, b)
		}
	})
}

// TestInboundVerifyHeaderCannotBeACredentialHeader: the hmac scheme takes
// its signature from verify.header. "Authorization" is accepted (201), but
// that header carries the webhook's token: no request can ever carry both,
// so the webhook is configured to refuse everything. The dedupe header
// already refuses secret-bearing headers; the signature header must too.
func TestInboundVerifyHeaderCannotBeACredentialHeader(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "lead.created")
		for _, name := range []string{"Authorization", "authorization"} {
			status, b := srv.Do(t, "POST", "/api/v1/workspaces/"+ws+"/inbound", map[string]any{"name": "crm", "auth": "bearer",
				"event_type": "lead.created", "verify": map[string]string{"scheme": "hmac", "secret": "s3cret", "header": name}})
			if status != http.StatusUnprocessableEntity || !strings.Contains(string(b), "verify.header") {
				t.Errorf("verify.header %q: %d %s; want 422 naming verify.header", name, status, b)
			}
		}
	})
}

// doAs sends a JSON request with the given integration token.
func doAs(t *testing.T, srv *apptest.Server, token, method, path string, body any) (int, []byte) {
	t.Helper()
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestConcurrentDemotionsLeaveAnAdmin: an admin cannot take its own admin
// role away, so that one is always left. Two admins taking each other's
// role at the same moment both get 200, on both engines, nearly every
// time: the check that the caller is an admin is made on what was true
// before the other change, and nothing keeps the last admin. With those
// two the only admins, no one is left who may manage users, promote
// anyone or reactivate anyone, for good.
func TestConcurrentDemotionsLeaveAnAdmin(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		var boot struct{ ID string }
		srv.JSON(t, "GET", "/api/v1/me", nil, http.StatusOK, &boot)
		for trial := range 10 {
			otherID, otherTok := newUser(t, srv, "admin")
			var wg sync.WaitGroup
			var a, b int
			wg.Add(2)
			go func() {
				defer wg.Done()
				a, _ = doAs(t, srv, apptest.Token, "PATCH", "/api/v1/users/"+otherID, map[string]string{"role": "member"})
			}()
			go func() {
				defer wg.Done()
				b, _ = doAs(t, srv, otherTok, "PATCH", "/api/v1/users/"+boot.ID, map[string]string{"role": "member"})
			}()
			wg.Wait()
			var roles []string
			for _, tok := range []string{apptest.Token, otherTok} {
				var me struct{ Role string }
				status, body := doAs(t, srv, tok, "GET", "/api/v1/me", nil)
				if status == http.StatusOK {
					json.Unmarshal(body, &me)
				}
				roles = append(roles, me.Role)
			}
			if roles[0] != "admin" && roles[1] != "admin" {
				t.Fatalf("trial %d: two admins demoting each other at once: %d and %d, and now neither is an admin "+
					"(roles %v): no admin is left", trial, a, b, roles)
			}
			if roles[0] != "admin" {
				// The other won the race: one admin is left, as it must be.
				// Later trials need the bootstrap admin as an admin again.
				if status, body := doAs(t, srv, otherTok, "PATCH", "/api/v1/users/"+boot.ID, map[string]string{"role": "admin"}); status != http.StatusOK {
					t.Fatalf("trial %d: making the bootstrap admin an admin again: %d %s", trial, status, body)
				}
				if status, body := doAs(t, srv, apptest.Token, "PATCH", "/api/v1/users/"+otherID, map[string]string{"role": "member"}); status != http.StatusOK {
					t.Fatalf("trial %d: leaving the bootstrap admin the only admin again: %d %s", trial, status, body)
				}
			}
		}
	})
}

// TestMailboxTokenCannotProbeWorkspaces: "any route under another workspace
// answers 404 not_found, exactly as for a workspace that does not exist, so
// ids of other tenants cannot be probed." A mailbox's app token (held by an
// outside consumer) put under another tenant's workspace id gets "mailbox
// not found", and under a made-up id "workspace not found": the answer
// tells which workspace ids exist.
func TestMailboxTokenCannotProbeWorkspaces(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "lead.created")
		other := srv.Workspace(t, "lead.created")
		var sub struct{ ID, Token string }
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{"name": "EPD", "mode": "pull",
			"event_types": []string{"*"}}, http.StatusCreated, &sub)
		ask := func(workspace string) (int, string) {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/workspaces/"+workspace+"/subscriptions/"+sub.ID+"/mailbox/stats", nil)
			req.Header.Set("Authorization", "Bearer "+sub.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		s1, b1 := ask(other)
		s2, b2 := ask(id.New(id.Workspace))
		if s1 != s2 || b1 != b2 {
			t.Errorf("a mailbox token under another tenant's workspace: %d %s; under one that does not exist: %d %s; "+
				"want the same answer", s1, b1, s2, b2)
		}
	})
}

// TestOneLineNamesRefuseC1Controls: "Names, labels, header values and other
// one-line fields may hold no control characters." C0 controls and DEL are
// refused, but the C1 controls U+0080..U+009F (NEL, U+0085, is a line
// break to many tools) and the line separators U+2028/U+2029 pass in the
// names of workspaces, users, tokens, inbound webhooks and subscriptions.
func TestOneLineNamesRefuseC1Controls(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "lead.created")
		var me struct{ ID string }
		srv.JSON(t, "GET", "/api/v1/me", nil, http.StatusOK, &me)
		for _, ch := range []string{"\u0085", "\u009b", "\u2028"} {
			name := "a" + ch + "b"
			for what, req := range map[string]struct {
				path string
				body map[string]any
			}{
				"workspace": {"/api/v1/workspaces", map[string]any{"name": name}},
				"token":     {"/api/v1/users/" + me.ID + "/tokens", map[string]any{"name": name}},
				"user":      {"/api/v1/users", map[string]any{"email": id.New("") + "@example.com", "name": name, "role": "member"}},
				"inbound":   {"/api/v1/workspaces/" + ws + "/inbound", map[string]any{"name": name, "auth": "bearer", "event_type": "lead.created"}},
				"mailbox":   {"/api/v1/workspaces/" + ws + "/subscriptions", map[string]any{"name": name, "mode": "pull", "event_types": []string{"*"}}},
			} {
				if status, b := srv.Do(t, "POST", req.path, req.body); status != http.StatusUnprocessableEntity {
					t.Errorf("%s name with %q: %d %s; want 422 naming name", what, ch, status, b)
				}
			}
		}
	})
}
