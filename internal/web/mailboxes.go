// The mailboxes pages (pull subscriptions): counts by status, browsing
// and searching messages, and making a mailbox with its consumer's token.
package web

import (
	"net/http"
	"strings"

	"github.com/postbode/postbode/internal/mailbox"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
)

// mailboxRow is a mailbox with its counts.
type mailboxRow struct {
	Sub   store.Subscription
	Stats map[string]int
}

// pullSubscriptions lists the workspace's mailboxes with their counts.
func (s *Server) pullSubscriptions(r *http.Request, v *view) ([]mailboxRow, error) {
	list, err := s.Subscriptions.List(r.Context(), v.principal, v.WS, listQuery("", "1000"))
	if err != nil {
		return nil, err
	}
	var rows []mailboxRow
	for _, sub := range list.Data {
		if sub.Mode != store.ModePull {
			continue
		}
		st, err := s.Mailboxes.Stats(r.Context(), v.principal, v.WS, sub.ID)
		if err != nil {
			return nil, err
		}
		rows = append(rows, mailboxRow{Sub: sub, Stats: st})
	}
	return rows, nil
}

func (s *Server) mailboxes(w http.ResponseWriter, r *http.Request, v *view) error {
	rows, err := s.pullSubscriptions(r, v)
	if err != nil {
		return err
	}
	v.Title = "Mailboxes"
	v.Data = rows
	s.render(w, http.StatusOK, "mailboxes.html", v)
	return nil
}

func (s *Server) mailboxFormData(r *http.Request, v *view) error {
	types, err := s.Workspaces.ListEventTypes(r.Context(), v.principal, v.WS, listQuery("", "1000"))
	if err != nil {
		return err
	}
	v.Data = map[string]any{"EventTypes": types.Data}
	return nil
}

func (s *Server) mailboxForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "New mailbox"
	if err := s.mailboxFormData(r, v); err != nil {
		return err
	}
	s.render(w, http.StatusOK, "mailbox_form.html", v)
	return nil
}

func (s *Server) createMailbox(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "New mailbox"
	name, mode, authn := strings.TrimSpace(r.PostFormValue("name")), store.ModePull, r.PostFormValue("auth")
	coalesce := r.PostFormValue("coalesce_by_subject") != ""
	types := subscription.Names(r.PostForm["event_types"])
	if types == nil {
		types = subscription.Names{}
	}
	in := &subscription.Input{Name: &name, Mode: &mode, Auth: &authn, EventTypes: types, CoalesceBySubject: &coalesce}
	created, err := s.Subscriptions.Create(r.Context(), v.principal, v.WS, in)
	if err != nil {
		if ferr := s.mailboxFormData(r, v); ferr != nil {
			return ferr
		}
		return s.refused(w, r, v, "mailbox_form.html", err)
	}
	return s.showOnce(w, r, v, v.Base+"/mailboxes/"+created.ID, "Mailbox created. Copy its consumer's token now: it is not shown again.",
		once{For: created.ID, Values: map[string]string{"token": created.Token, "username": created.Username}})
}

func (s *Server) mailboxDetail(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	var created *subscription.Created
	if o := v.onceFor(id); o != nil {
		created = &subscription.Created{Token: o["token"], Username: o["username"]}
	}
	return s.showMailbox(w, r, v, id, created, http.StatusOK)
}

func (s *Server) showMailbox(w http.ResponseWriter, r *http.Request, v *view, id string, created *subscription.Created, code int) error {
	sub, err := s.Subscriptions.Get(r.Context(), v.principal, v.WS, id)
	if err != nil {
		return err
	}
	if sub.Mode != store.ModePull {
		http.Redirect(w, r, v.Base+"/webhooks/"+sub.ID, http.StatusSeeOther)
		return nil
	}
	stats, err := s.Mailboxes.Stats(r.Context(), v.principal, v.WS, id)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if created == nil {
		v.Form = q
	}
	f := mailbox.Filter{Status: q.Get("status"), Type: strings.TrimSpace(q.Get("type")), Subject: strings.TrimSpace(q.Get("subject"))}
	data := map[string]any{"Sub": sub, "Stats": stats, "Statuses": []string{"new", "claimed", "success", "failed", "max_retries_exceeded", "replaced"}, "Created": created}
	v.Title = sub.Name
	v.Data = data
	msgs, err := s.Mailboxes.Search(r.Context(), v.principal, v.WS, id, f, listQuery(q.Get("cursor"), "50"))
	if err != nil {
		return s.refusedGET(w, v, "mailbox.html", err)
	}
	data["Messages"] = msgs.Data
	if msgs.NextCursor != nil {
		nq := r.URL.Query()
		nq.Set("cursor", *msgs.NextCursor)
		data["Next"] = "?" + nq.Encode()
	}
	s.render(w, code, "mailbox.html", v)
	return nil
}
