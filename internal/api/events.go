// Publishing events, reading them back with their deliveries, resending.
package api

import (
	"encoding/json"
	"net/http"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/event"
)

func (s *Server) publish(r *http.Request, p *auth.Principal) (int, any, error) {
	var in event.Input
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return accepted(s.Events.Publish(r.Context(), p, r.PathValue("ws"), in, r.Header.Get("Idempotency-Key")))
}

// publishBatch stores up to event.MaxBatch events in one transaction: all
// of them or, when one is refused, none.
func (s *Server) publishBatch(r *http.Request, p *auth.Principal) (int, any, error) {
	// Events are decoded one by one, so that an error names the event.
	var in struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	// The size first, so that a batch too large is not decoded event by event.
	if err := event.CheckBatchSize(len(in.Events)); err != nil {
		return 0, nil, err
	}
	items := make([]event.BatchItem, len(in.Events))
	for i, raw := range in.Events {
		if err := unmarshalAt(event.ItemField(i)+".", raw, &items[i]); err != nil {
			return 0, nil, err
		}
	}
	res, err := s.Events.PublishBatch(r.Context(), p, r.PathValue("ws"), r.Header.Get("Idempotency-Key"), items)
	return answer(http.StatusAccepted, batchOutput{Events: res}, err)
}

func (s *Server) listEvents(r *http.Request, p *auth.Principal) (int, any, error) {
	q := r.URL.Query()
	f := event.Filter{Type: q.Get("type"), Subject: q.Get("subject"), Since: q.Get("since"), Until: q.Get("until")}
	return ok(s.Events.List(r.Context(), p, r.PathValue("ws"), f, query(r)))
}

func (s *Server) getEvent(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Events.Get(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

func (s *Server) resend(r *http.Request, p *auth.Principal) (int, any, error) {
	if err := noBody(r); err != nil {
		return 0, nil, err
	}
	return accepted(s.Events.Resend(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}
