// Publishing events and reading them back with their deliveries.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/store"
)

// eventIn is one event to publish, as a request carries it.
type eventIn struct {
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
	UserID  *string         `json:"user_id"`
	Subject *string         `json:"subject"`
}

// published is the answer for one stored event.
type published struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Duplicate bool      `json:"duplicate"`
}

// check validates an event; field names in errors start with prefix.
func (in *eventIn) check(prefix string) error {
	if err := checkEventTypeName(prefix+"type", in.Type); err != nil {
		return err
	}
	if len(in.Data) == 0 {
		return invalid(prefix+"data", "is required")
	}
	if err := optionalText(prefix+"user_id", in.UserID, 255); err != nil {
		return err
	}
	return optionalText(prefix+"subject", in.Subject, 255)
}

func checkIdempotencyKey(field, key string) error {
	if len(key) > 255 {
		return invalid(field, "must be at most 255 characters")
	}
	return nil
}

func (in *eventIn) publish(ws, key string) ingest.Publish {
	return ingest.Publish{WorkspaceID: ws, Type: in.Type, Data: in.Data, UserID: in.UserID, Subject: in.Subject,
		IdempotencyKey: key}
}

func unknownType(field, typ string) error {
	return errorf(http.StatusUnprocessableEntity, "unknown_event_type",
		"%s: this workspace has no event type %q; create it first", field, typ)
}

func (s *Server) publish(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	var in eventIn
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	if err := in.check(""); err != nil {
		return 0, nil, err
	}
	key := r.Header.Get("Idempotency-Key")
	if err := checkIdempotencyKey("Idempotency-Key", key); err != nil {
		return 0, nil, err
	}
	res, err := s.Ingest.Publish(r.Context(), in.publish(ws, key))
	if errors.Is(err, ingest.ErrUnknownEventType) {
		return 0, nil, unknownType("type", in.Type)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, published{res.Event.ID, res.Event.Type, res.Event.CreatedAt, res.Duplicate}, nil
}

// publishBatch stores up to ingest.MaxBatch events in one transaction: all
// of them or, when one is refused, none.
func (s *Server) publishBatch(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	if r.Header.Get("Idempotency-Key") != "" {
		return 0, nil, invalid("Idempotency-Key", "is not used by batch publishes; give each event its own idempotency_key")
	}
	// Events are decoded one by one, so that an error names the event.
	var in struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	switch {
	case len(in.Events) == 0:
		return 0, nil, invalid("events", "must hold at least one event")
	case len(in.Events) > ingest.MaxBatch:
		return 0, nil, invalid("events", "must hold at most %d events; split the batch", ingest.MaxBatch)
	}
	ps := make([]ingest.Publish, len(in.Events))
	for i, raw := range in.Events {
		// Not eventIn embedded: decoding errors would name its fields
		// "eventIn.type".
		var e struct {
			Type           string          `json:"type"`
			Data           json.RawMessage `json:"data"`
			UserID         *string         `json:"user_id"`
			Subject        *string         `json:"subject"`
			IdempotencyKey string          `json:"idempotency_key"`
		}
		prefix := "events[" + strconv.Itoa(i) + "]."
		if err := unmarshalAt(prefix, raw, &e); err != nil {
			return 0, nil, err
		}
		ev := eventIn{Type: e.Type, Data: e.Data, UserID: e.UserID, Subject: e.Subject}
		if err := ev.check(prefix); err != nil {
			return 0, nil, err
		}
		if err := checkIdempotencyKey(prefix+"idempotency_key", e.IdempotencyKey); err != nil {
			return 0, nil, err
		}
		ps[i] = ev.publish(ws, e.IdempotencyKey)
	}
	res, err := s.Ingest.PublishBatch(r.Context(), ps)
	if be := (*ingest.BatchError)(nil); errors.As(err, &be) && errors.Is(be.Err, ingest.ErrUnknownEventType) {
		return 0, nil, unknownType("events["+strconv.Itoa(be.Index)+"].type", ps[be.Index].Type)
	}
	if err != nil {
		return 0, nil, err
	}
	out := make([]published, len(res))
	for i, r := range res {
		out[i] = published{r.Event.ID, r.Event.Type, r.Event.CreatedAt, r.Duplicate}
	}
	return http.StatusAccepted, map[string]any{"events": out}, nil
}

func optionalText(field string, v *string, maxLen int) error {
	if v == nil {
		return nil
	}
	if strings.TrimSpace(*v) == "" {
		return invalid(field, "must not be empty; leave it out instead")
	}
	if len(*v) > maxLen {
		return invalid(field, "must be at most %d characters", maxLen)
	}
	return nil
}

func (s *Server) getEvent(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	e, ds, err := s.Store.GetEvent(r.Context(), ws, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, notFound("event")
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct {
		*store.Event
		Deliveries []store.Delivery `json:"deliveries"`
	}{e, ds}, nil
}

func (s *Server) resend(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	// No fields, but a body that is there must be valid, as for the other actions.
	if err := decode(r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	d, err := s.Store.Resend(r.Context(), ws, r.PathValue("id"), id.New(id.Delivery), now())
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, notFound("delivery")
	}
	if err != nil {
		return 0, nil, err
	}
	s.Delivery.Notify()
	return http.StatusAccepted, d, nil
}
