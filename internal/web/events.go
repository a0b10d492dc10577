// Event types (the catalogue, read-only in the portal), events (search,
// one with its deliveries, resend) and the dashboard.
package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/workspace"
)

func (s *Server) eventTypes(w http.ResponseWriter, r *http.Request, v *view) error {
	list, err := s.Workspaces.ListEventTypes(r.Context(), v.principal, v.WS, listQuery(r.URL.Query().Get("cursor"), "100"))
	if err != nil {
		return err
	}
	v.Title = "Event types"
	v.Data = map[string]any{"Types": list.Data, "Next": list.NextCursor}
	s.render(w, http.StatusOK, "event_types.html", v)
	return nil
}

func (s *Server) eventTypeForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "New event type"
	s.render(w, http.StatusOK, "event_type_form.html", v)
	return nil
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "New event type"
	in := workspace.EventTypeInput{
		Name: strings.TrimSpace(r.PostFormValue("name")), Label: strings.TrimSpace(r.PostFormValue("label")),
		Description: strings.TrimSpace(r.PostFormValue("description")),
	}
	if schema := strings.TrimSpace(r.PostFormValue("schema")); schema != "" {
		in.Schema = json.RawMessage(schema)
	}
	et, err := s.Workspaces.CreateEventType(r.Context(), v.principal, v.WS, in)
	if err != nil {
		return s.refused(w, r, v, "event_type_form.html", err)
	}
	return s.redirect(w, r, v.Base+"/event-types", "Event type "+et.Name+" added.")
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	v.Title = "Events"
	v.Form = q
	f := event.Filter{Type: strings.TrimSpace(q.Get("type")), Subject: strings.TrimSpace(q.Get("subject")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	list, err := s.Events.List(r.Context(), v.principal, v.WS, f, listQuery(q.Get("cursor"), "50"))
	if err != nil {
		v.Data = map[string]any{}
		return s.refused(w, r, v, "events.html", err)
	}
	next := ""
	if list.NextCursor != nil {
		nq := r.URL.Query()
		nq.Set("cursor", *list.NextCursor)
		next = "?" + nq.Encode()
	}
	v.Data = map[string]any{"Events": list.Data, "Next": next}
	s.render(w, http.StatusOK, "events.html", v)
	return nil
}

func (s *Server) event(w http.ResponseWriter, r *http.Request, v *view) error {
	e, err := s.Events.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	subs := map[string]string{}
	list, err := s.Subscriptions.List(r.Context(), v.principal, v.WS, listQuery("", "1000"))
	if err != nil {
		return err
	}
	for _, sub := range list.Data {
		subs[sub.ID] = sub.Name
	}
	v.Title = "Event " + e.ID
	v.Data = map[string]any{"Event": e, "Subs": subs}
	s.render(w, http.StatusOK, "event.html", v)
	return nil
}

func (s *Server) resendDelivery(w http.ResponseWriter, r *http.Request, v *view) error {
	d, err := s.Events.Resend(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/events/"+d.EventID, "Sent again: a new delivery is on its way.")
}

// resendEvent sends an event again to every subscription it went to: the
// bulk resend, one delivery at a time through the same service call.
func (s *Server) resendEvent(w http.ResponseWriter, r *http.Request, v *view) error {
	e, err := s.Events.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	n := 0
	for _, d := range e.Deliveries {
		if seen[d.SubscriptionID] {
			continue
		}
		seen[d.SubscriptionID] = true
		if _, err := s.Events.Resend(r.Context(), v.principal, v.WS, d.ID); err != nil {
			return err
		}
		n++
	}
	return s.redirect(w, r, v.Base+"/events/"+e.ID, "Sent again to "+countOf(n, "webhook")+".")
}
