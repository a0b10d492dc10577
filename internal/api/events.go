// Publishing events and reading them back with their deliveries.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/store"
)

func (s *Server) publish(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Type    string          `json:"type"`
		Data    json.RawMessage `json:"data"`
		UserID  *string         `json:"user_id"`
		Subject *string         `json:"subject"`
	}
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	if err := checkEventTypeName("type", in.Type); err != nil {
		return 0, nil, err
	}
	if len(in.Data) == 0 {
		return 0, nil, invalid("data", "is required")
	}
	if err := optionalText("user_id", in.UserID, 255); err != nil {
		return 0, nil, err
	}
	if err := optionalText("subject", in.Subject, 255); err != nil {
		return 0, nil, err
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		return 0, nil, invalid("Idempotency-Key", "must be at most 255 characters")
	}
	res, err := s.Ingest.Publish(r.Context(), ingest.Publish{WorkspaceID: ws, Type: in.Type, Data: in.Data,
		UserID: in.UserID, Subject: in.Subject, IdempotencyKey: key})
	if errors.Is(err, ingest.ErrUnknownEventType) {
		return 0, nil, errorf(http.StatusUnprocessableEntity, "unknown_event_type",
			"type: this workspace has no event type %q; create it first", in.Type)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]any{"id": res.Event.ID, "type": res.Event.Type,
		"created_at": res.Event.CreatedAt, "duplicate": res.Duplicate}, nil
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
