// Workspaces and the event type catalogue.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
)

func (s *Server) createWorkspace(r *http.Request, p *auth.Principal) (int, any, error) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := checkName("name", in.Name); err != nil {
		return 0, nil, err
	}
	w := &store.Workspace{ID: id.New(id.Workspace), Name: in.Name, CreatedAt: now()}
	if err := s.Store.CreateWorkspace(r.Context(), w, p.User.ID); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, w, nil
}

func (s *Server) listWorkspaces(r *http.Request, p *auth.Principal) (int, any, error) {
	pg, err := page(r, 100, 1000)
	if err != nil {
		return 0, nil, err
	}
	member := p.User.ID
	if p.IsAdmin() {
		member = ""
	}
	ws, err := s.Store.ListWorkspaces(r.Context(), member, pg)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paged(ws, pg, func(w *store.Workspace) string { return w.ID }), nil
}

func checkName(field, v string) error {
	if v == "" {
		return invalid(field, "is required")
	}
	if len(v) > 200 {
		return invalid(field, "must be at most 200 characters")
	}
	return nil
}

var eventTypeName = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// TestEventType is the built-in type of test sends.
const TestEventType = "webhook.test"

func checkEventTypeName(field, name string) error {
	if name == "" {
		return invalid(field, "is required")
	}
	if len(name) > 100 || !eventTypeName.MatchString(name) {
		return invalid(field, "must be 1 to 100 characters of a-z, 0-9, '_', '.' and '-'")
	}
	return nil
}

func (s *Server) createEventType(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Name        string          `json:"name"`
		Label       string          `json:"label"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
	}
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	if err := checkEventTypeName("name", in.Name); err != nil {
		return 0, nil, err
	}
	if in.Name == TestEventType {
		return 0, nil, invalid("name", "%s is reserved for test sends", TestEventType)
	}
	if err := checkName("label", strings.TrimSpace(in.Label)); err != nil {
		return 0, nil, err
	}
	if len(in.Description) > 2000 {
		return 0, nil, invalid("description", "must be at most 2000 characters")
	}
	if len(in.Schema) > 0 && string(in.Schema) != "null" {
		var obj map[string]any
		if json.Unmarshal(in.Schema, &obj) != nil {
			return 0, nil, invalid("schema", "must be a JSON Schema object")
		}
	} else {
		in.Schema = nil
	}
	et := &store.EventType{WorkspaceID: ws, Name: in.Name, Label: strings.TrimSpace(in.Label),
		Description: in.Description, Schema: in.Schema, CreatedAt: now()}
	if err := s.Store.CreateEventType(r.Context(), et); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, errorf(http.StatusConflict, "event_type_exists", "an event type named %q already exists in this workspace", in.Name)
		}
		return 0, nil, err
	}
	return http.StatusCreated, et, nil
}

func (s *Server) listEventTypes(r *http.Request, p *auth.Principal) (int, any, error) {
	return listInWorkspace(s, r, p, s.Store.ListEventTypes, func(et *store.EventType) string { return et.Name })
}
