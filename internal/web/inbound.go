// The inbound webhooks pages: the three-step wizard (name and event type;
// Bearer or Basic and sender verification; the URL, the token once and a
// curl example), a webhook's request log, and replacing its token.
package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/store"
)

func (s *Server) inboundList(w http.ResponseWriter, r *http.Request, v *view) error {
	list, err := s.Inbound.List(r.Context(), v.principal, v.WS, listQuery(r.URL.Query().Get("cursor"), "100"))
	if err != nil {
		return err
	}
	v.Title = "Inbound webhooks"
	v.Data = map[string]any{"Hooks": list.Data, "Next": list.NextCursor}
	s.render(w, http.StatusOK, "inbound_list.html", v)
	return nil
}

// wizardPage is the data of the wizard's steps.
type wizardPage struct {
	Step       int
	EventTypes []store.EventType
	Created    *inbound.Created
	Curl       string
}

// inboundWizard shows step 1, or step 2 with step 1's answers (neither is
// secret, so they travel in the query).
func (s *Server) inboundWizard(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	step := 1
	if q.Get("step") == "2" {
		step = 2
		v.Form = q
	}
	return s.wizardStep(w, r, v, step, http.StatusOK)
}

func (s *Server) wizardStep(w http.ResponseWriter, r *http.Request, v *view, step, code int) error {
	types, err := s.Workspaces.ListEventTypes(r.Context(), v.principal, v.WS, listQuery("", "1000"))
	if err != nil {
		return err
	}
	v.Title = "New inbound webhook"
	v.Data = &wizardPage{Step: step, EventTypes: types.Data}
	s.render(w, code, "inbound_wizard.html", v)
	return nil
}

// verifyConfig builds the sender verification the form asks for, as the
// API's verify object; the service validates it.
func verifyConfig(r *http.Request) json.RawMessage {
	scheme := r.PostFormValue("verify_scheme")
	if scheme == "" {
		return nil
	}
	c := map[string]string{"scheme": scheme, "secret": r.PostFormValue("verify_secret")}
	if scheme == "hmac" {
		for _, f := range []string{"header", "algorithm", "encoding", "prefix"} {
			if v := strings.TrimSpace(r.PostFormValue("verify_" + f)); v != "" {
				c[f] = v
			}
		}
	}
	b, _ := json.Marshal(c)
	return b
}

func (s *Server) createInbound(w http.ResponseWriter, r *http.Request, v *view) error {
	f := r.PostForm
	in := &inbound.Input{Verify: verifyConfig(r), Name: formString(f, "name"), Auth: formString(f, "auth"),
		EventType: formString(f, "event_type")}
	if d := strings.TrimSpace(r.PostFormValue("dedupe_header")); d != "" {
		in.DedupeHeader = &d
	}
	created, err := s.Inbound.Create(r.Context(), v.principal, v.WS, in)
	if err != nil {
		step := 2
		var e *errs.Error
		if errors.As(err, &e) && (e.Field == "name" || e.Field == "event_type") {
			step = 1
		}
		types, terr := s.Workspaces.ListEventTypes(r.Context(), v.principal, v.WS, listQuery("", "1000"))
		if terr != nil {
			return terr
		}
		v.Title = "New inbound webhook"
		v.Data = &wizardPage{Step: step, EventTypes: types.Data}
		return s.refused(w, r, v, "inbound_wizard.html", err)
	}
	return s.showOnce(w, r, v, v.Base+"/inbound/"+created.ID+"/ready", "",
		once{For: created.ID, Values: map[string]string{"token": created.Token}})
}

// inboundReady is the wizard's last step: the URL, the token (once) and a
// curl command that uses them.
func (s *Server) inboundReady(w http.ResponseWriter, r *http.Request, v *view) error {
	hook, err := s.Inbound.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	hook.URL = absolute(r, hook.URL)
	c := &inbound.Created{View: *hook, Token: v.onceFor(hook.ID)["token"]}
	page := &wizardPage{Step: 3, Created: c}
	if c.Token != "" {
		page.Curl = curlExample(c)
	}
	v.Title = "Inbound webhook ready"
	v.Data = page
	s.render(w, http.StatusOK, "inbound_wizard.html", v)
	return nil
}

// absolute makes a URL the server printed relative (no --public-url) into
// one with the address this page was reached at.
func absolute(r *http.Request, u string) string {
	if !strings.HasPrefix(u, "/") {
		return u
	}
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + u
}

// curlExample is a command that posts a test event to the new webhook.
func curlExample(c *inbound.Created) string {
	cred := "-H 'Authorization: Bearer " + c.Token + "'"
	if c.Auth == store.AuthBasic {
		cred = "-u '" + c.Username + ":" + c.Token + "'"
	}
	return "curl -sS " + cred + " \\\n  -H 'Content-Type: application/json' \\\n  -d '{\"hello\":\"world\"}' \\\n  '" + c.URL + "'"
}

func (s *Server) inboundDetail(w http.ResponseWriter, r *http.Request, v *view) error {
	return s.showInbound(w, r, v, v.onceFor(r.PathValue("id"))["token"], http.StatusOK)
}

// showInbound renders a webhook's page; token is a new token to show once.
func (s *Server) showInbound(w http.ResponseWriter, r *http.Request, v *view, token string, code int) error {
	hook, err := s.Inbound.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	hook.URL = absolute(r, hook.URL)
	reqs, err := s.Inbound.Requests(r.Context(), v.principal, v.WS, hook.ID, listQuery("", "20"))
	if err != nil {
		return err
	}
	var users []account.User
	if v.Admin {
		list, err := s.Accounts.ListUsers(r.Context(), v.principal, listQuery("", "1000"))
		if err != nil {
			return err
		}
		// Only a user who may act in the workspace can own its token.
		for _, u := range list.Data {
			if u.Role == store.RoleAdmin || slices.Contains(u.Workspaces, v.WS) {
				users = append(users, u)
			}
		}
	}
	data := map[string]any{"Hook": hook, "Requests": reqs.Data, "Users": users}
	if token != "" {
		data["Token"] = token
		data["Curl"] = curlExample(&inbound.Created{View: *hook, Token: token})
	}
	v.Title = hook.Name
	v.Data = data
	s.render(w, code, "inbound.html", v)
	return nil
}

func (s *Server) inboundAction(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	var err error
	flash := "Inbound webhook enabled."
	if strings.HasSuffix(r.URL.Path, "/disable") {
		_, err = s.Inbound.Disable(r.Context(), v.principal, v.WS, id)
		flash = "Inbound webhook disabled: it answers 403 until enabled."
	} else {
		_, err = s.Inbound.Enable(r.Context(), v.principal, v.WS, id)
	}
	if err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/inbound/"+id, flash)
}

// inboundToken replaces the webhook's token with one owned by the chosen
// user (the caller by default); the old one stops working.
func (s *Server) inboundToken(w http.ResponseWriter, r *http.Request, v *view) error {
	c, err := s.Inbound.NewToken(r.Context(), v.principal, v.WS, r.PathValue("id"), r.PostFormValue("user_id"))
	var e *errs.Error
	if errors.As(err, &e) && (e.Kind == errs.Invalid || e.Kind == errs.Conflict) {
		v.Error = message(err)
		v.Errors = map[string]string{e.Field: upperFirst(e.Message) + "."}
		return s.showInbound(w, r, v, "", status(err))
	}
	if err != nil {
		return err
	}
	return s.showOnce(w, r, v, v.Base+"/inbound/"+c.ID, "New token made; the old one no longer works. Copy it now: it is not shown again.",
		once{For: c.ID, Values: map[string]string{"token": c.Token}})
}

func (s *Server) inboundConfirmDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	hook, err := s.Inbound.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.Title = "Delete " + hook.Name
	v.Data = map[string]any{
		"What":   "inbound webhook " + hook.Name,
		"Detail": "Its URL stops accepting requests at once, its token is revoked and its request log is deleted.",
		"Action": v.Base + "/inbound/" + hook.ID + "/delete", "Back": v.Base + "/inbound/" + hook.ID,
	}
	s.render(w, http.StatusOK, "confirm.html", v)
	return nil
}

func (s *Server) inboundDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := s.Inbound.Delete(r.Context(), v.principal, v.WS, r.PathValue("id")); err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/inbound", "Inbound webhook deleted.")
}
