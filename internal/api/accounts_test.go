package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// TestUsersAndTokens: the users and tokens routes end to end, on both
// engines: a token is shown once and works at once, listing never shows
// it, a revoked one fails at once, a user with tokens is not deleted.
func TestUsersAndTokens(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "invoice.paid")
		var u struct {
			ID, Email, Status, Password string
			Workspaces                  []string
		}
		srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "Svc@Example.com", "name": "Billing integration",
			"workspaces": []string{ws}}, http.StatusCreated, &u)
		if u.Email != "svc@example.com" || u.Status != "active" || len(u.Password) < 20 || len(u.Workspaces) != 1 {
			t.Fatalf("created %+v", u)
		}
		var tok struct{ ID, Kind, Name, Token string }
		srv.JSON(t, "POST", "/api/v1/users/"+u.ID+"/tokens", map[string]string{"name": "ci"}, http.StatusCreated, &tok)
		if tok.Kind != "integration" || !strings.HasPrefix(tok.Token, "pbi_") {
			t.Fatalf("token %+v", tok)
		}
		if status, body := doAs(t, srv, tok.Token, "GET", "/api/v1/workspaces/"+ws+"/event-types", nil); status != http.StatusOK {
			t.Errorf("the new token in its user's workspace: %d %s", status, body)
		}
		var me struct {
			ID         string
			Workspaces []string
		}
		status, body := doAs(t, srv, tok.Token, "GET", "/api/v1/me", nil)
		if json.Unmarshal(body, &me); status != http.StatusOK || me.ID != u.ID || len(me.Workspaces) != 1 {
			t.Errorf("me: %d %s", status, body)
		}
		_, list := srv.Do(t, "GET", "/api/v1/users/"+u.ID+"/tokens", nil)
		if strings.Contains(string(list), tok.Token) || strings.Contains(string(list), "hash") || !strings.Contains(string(list), tok.ID) {
			t.Errorf("token list: %s", list)
		}
		status, body = srv.Do(t, "DELETE", "/api/v1/users/"+u.ID, nil)
		var e errorBody
		if json.Unmarshal(body, &e); status != http.StatusConflict || e.Error == nil || e.Error.Code != "user_has_tokens" ||
			e.Error.Message != account.UserHasTokens {
			t.Errorf("delete with tokens: %d %s", status, body)
		}
		if status, body := srv.Do(t, "DELETE", "/api/v1/tokens/"+tok.ID, nil); status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", status, body)
		}
		if status, _ := doAs(t, srv, tok.Token, "GET", "/api/v1/me", nil); status != http.StatusUnauthorized {
			t.Errorf("a revoked token: %d", status)
		}
		if status, body := srv.Do(t, "DELETE", "/api/v1/users/"+u.ID, nil); status != http.StatusNoContent {
			t.Errorf("delete without tokens: %d %s", status, body)
		}
	})
}
