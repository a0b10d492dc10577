// Push subscriptions: create, read, change, delete, and the actions on one
// (test, attempts, enable, disable, rotate-secret, recover).
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/netguard"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
)

// SecretRotationGrace is how long the old secret keeps signing.
const SecretRotationGrace = 24 * time.Hour

// subscriptionInput is the body of create and PATCH; absent fields are nil.
type subscriptionInput struct {
	Name              *string           `json:"name"`
	Mode              *string           `json:"mode"`
	URL               *string           `json:"url"`
	EventTypes        []string          `json:"event_types"`
	Status            *string           `json:"status"`
	Payload           *string           `json:"payload"`
	Format            *string           `json:"format"`
	Headers           map[string]string `json:"headers"`
	SignatureScheme   *string           `json:"signature_scheme"`
	SignatureHeader   *string           `json:"signature_header"`
	Secret            *string           `json:"secret"`
	TimeoutSeconds    *int              `json:"timeout_seconds"`
	FailureThreshold  *int              `json:"failure_threshold"`
	RetrySchedule     json.RawMessage   `json:"retry_schedule"` // null: back to the server's default
	APIVersion        json.RawMessage   `json:"api_version"`
	Auth              *string           `json:"auth"`
	CoalesceBySubject *bool             `json:"coalesce_by_subject"`
}

// withSecret is a subscription as shown right after its secret was made.
type withSecret struct {
	*store.Subscription
	Secret string `json:"secret"`
}

func (s *Server) createSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return 0, nil, err
	}
	var in subscriptionInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	t := now()
	sub := &store.Subscription{ID: id.New(id.Subscription), WorkspaceID: ws, Mode: "push", Status: store.SubscriptionActive,
		Payload: "full", Format: "envelope", Headers: map[string]string{}, SignatureScheme: "standard",
		SignatureHeader: "X-Postbode-Signature", Secret: signing.NewSecret(), TimeoutSeconds: 10, FailureThreshold: 5,
		CreatedAt: t, UpdatedAt: t}
	if in.Name == nil {
		return 0, nil, invalid("name", "is required")
	}
	if in.EventTypes == nil {
		return 0, nil, invalid("event_types", `is required: a list of event type names, or ["*"]`)
	}
	if err := s.apply(r, sub, &in); err != nil {
		return 0, nil, err
	}
	if err := s.Store.CreateSubscription(r.Context(), sub); err != nil {
		return 0, nil, err
	}
	s.Ingest.Invalidate(ws)
	return http.StatusCreated, withSecret{sub, sub.Secret}, nil
}

// apply validates in and writes it onto sub.
func (s *Server) apply(r *http.Request, sub *store.Subscription, in *subscriptionInput) error {
	if in.Status != nil {
		return invalid("status", "is read-only; use the enable and disable actions")
	}
	if in.Mode != nil {
		switch *in.Mode {
		case "push":
		case "pull":
			return invalid("mode", "pull subscriptions (mailboxes) are not available in this version")
		default:
			return invalid("mode", "must be push or pull")
		}
	}
	if in.Auth != nil {
		return invalid("auth", "applies to pull subscriptions only")
	}
	if in.CoalesceBySubject != nil {
		return invalid("coalesce_by_subject", "applies to pull subscriptions only")
	}
	if in.Name != nil {
		sub.Name = strings.TrimSpace(*in.Name)
		if err := checkName("name", sub.Name); err != nil {
			return err
		}
	}
	if in.URL != nil {
		if err := s.checkURL(r, *in.URL); err != nil {
			return err
		}
		sub.URL = *in.URL
	}
	if sub.URL == "" {
		return invalid("url", "is required for push subscriptions")
	}
	if in.EventTypes != nil {
		if err := s.checkEventTypes(r, sub.WorkspaceID, in.EventTypes); err != nil {
			return err
		}
		sub.EventTypes = in.EventTypes
	}
	if err := oneOf("payload", in.Payload, &sub.Payload, "full", "notification"); err != nil {
		return err
	}
	if err := oneOf("format", in.Format, &sub.Format, "envelope", "raw"); err != nil {
		return err
	}
	if sub.Format == "raw" && sub.Payload == "notification" {
		return invalid("format", "raw sends the event's data as the body, so it cannot go with payload notification")
	}
	if err := oneOf("signature_scheme", in.SignatureScheme, &sub.SignatureScheme, "standard", "hmac-sha256"); err != nil {
		return err
	}
	if in.SignatureHeader != nil {
		if !validHeaderName(*in.SignatureHeader) || reservedHeader(*in.SignatureHeader) {
			return invalid("signature_header", "must be a valid HTTP header name that Postbode does not set itself")
		}
		sub.SignatureHeader = *in.SignatureHeader
	}
	if in.Headers != nil {
		if err := checkHeaders(in.Headers, sub.SignatureHeader); err != nil {
			return err
		}
		sub.Headers = in.Headers
	} else if in.SignatureHeader != nil {
		// The headers already set must not clash with the new name.
		for k := range sub.Headers {
			if strings.EqualFold(k, sub.SignatureHeader) {
				return invalid("signature_header", "%q is already one of the subscription's headers", k)
			}
		}
	}
	if in.Secret != nil {
		k, err := signing.DecodeSecret(*in.Secret)
		if err != nil || len(k) < 24 || len(k) > 64 || !strings.HasPrefix(*in.Secret, "whsec_") {
			return invalid("secret", "must be whsec_ followed by the base64 of 24 to 64 random bytes; leave it out to have one generated")
		}
		sub.Secret = *in.Secret
	}
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds < 1 || *in.TimeoutSeconds > 30 {
			return invalid("timeout_seconds", "must be from 1 to 30")
		}
		sub.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.FailureThreshold != nil {
		if *in.FailureThreshold < 1 || *in.FailureThreshold > 1000 {
			return invalid("failure_threshold", "must be from 1 to 1000")
		}
		sub.FailureThreshold = *in.FailureThreshold
	}
	if string(in.RetrySchedule) == "null" {
		sub.RetrySchedule = nil
	} else if len(in.RetrySchedule) > 0 {
		var list []string
		if json.Unmarshal(in.RetrySchedule, &list) != nil {
			return invalid("retry_schedule", `must be a list of Go durations such as ["30s","5m"], or null for the server's default`)
		}
		if len(list) > config.MaxRetries {
			return invalid("retry_schedule", "may hold at most %d delays", config.MaxRetries)
		}
		sched := make([]store.Duration, len(list))
		for i, v := range list {
			d, err := time.ParseDuration(v)
			if err == nil {
				err = config.CheckDelay(d)
			}
			if err != nil {
				return invalid(fmt.Sprintf("retry_schedule[%d]", i), "%q must be a Go duration such as 30s or 5m, from above 0 to %s", v, config.MaxRetryDelay)
			}
			sched[i] = store.Duration(d)
		}
		sub.RetrySchedule = sched
	}
	if len(in.APIVersion) > 0 {
		if string(in.APIVersion) == "null" {
			sub.APIVersion = nil
		} else {
			var v string
			if json.Unmarshal(in.APIVersion, &v) != nil || len(v) > 100 {
				return invalid("api_version", "must be a string of at most 100 characters, or null")
			}
			sub.APIVersion = &v
		}
	}
	return nil
}

func oneOf(field string, in *string, dst *string, allowed ...string) error {
	if in == nil {
		return nil
	}
	for _, a := range allowed {
		if *in == a {
			*dst = a
			return nil
		}
	}
	return invalid(field, "must be %s", strings.Join(allowed, " or "))
}

func (s *Server) checkURL(r *http.Request, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || len(raw) > 2048 {
		return invalid("url", "must be an absolute http or https URL of at most 2048 characters")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid("url", "the port must be from 1 to 65535")
		}
	}
	if s.AllowPrivateTargets {
		return nil
	}
	if err := s.CheckTarget(r.Context(), raw); err != nil {
		if errors.Is(err, netguard.ErrPrivateTarget) {
			return errorf(http.StatusUnprocessableEntity, "private_target",
				"url: the target resolves to a loopback, private, link-local or unspecified address")
		}
		return invalid("url", "%v", err)
	}
	return nil
}

func (s *Server) checkEventTypes(r *http.Request, ws string, types []string) error {
	if len(types) == 0 {
		return invalid("event_types", `must list at least one event type, or be ["*"]`)
	}
	if len(types) > 100 {
		return invalid("event_types", "may list at most 100 event types")
	}
	for i, t := range types {
		field := fmt.Sprintf("event_types[%d]", i)
		if t == "*" {
			if len(types) > 1 {
				return invalid(field, `"*" already selects every event type; list it alone`)
			}
			continue
		}
		if err := checkEventTypeName(field, t); err != nil {
			return err
		}
		if _, err := s.Store.GetEventType(r.Context(), ws, t); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errorf(http.StatusUnprocessableEntity, "unknown_event_type",
					"%s: this workspace has no event type %q", field, t)
			}
			return err
		}
	}
	return nil
}

// reservedHeader names the headers Postbode sets on every request.
func reservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection",
		"webhook-id", "webhook-timestamp", "webhook-signature":
		return true
	}
	return false
}

func validHeaderName(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue rejects what an HTTP client refuses to send: control
// characters other than tab (CR, LF and NUL among them) and DEL.
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func checkHeaders(h map[string]string, signatureHeader string) error {
	if len(h) > 50 {
		return invalid("headers", "may hold at most 50 headers")
	}
	for k, v := range h {
		field := "headers." + k
		if !validHeaderName(k) {
			return invalid("headers", "%q is not a valid HTTP header name", k)
		}
		if reservedHeader(k) || strings.EqualFold(k, signatureHeader) {
			return invalid(field, "is set by Postbode itself")
		}
		if len(v) > 4096 || !validHeaderValue(v) {
			return invalid(field, "must be at most 4096 characters without line breaks or other control characters")
		}
	}
	return nil
}

// subscription loads the path's subscription.
func (s *Server) subscription(r *http.Request, p *auth.Principal) (*store.Subscription, error) {
	ws, err := s.workspace(r, p)
	if err != nil {
		return nil, err
	}
	sub, err := s.Store.GetSubscription(r.Context(), ws, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("subscription")
	}
	return sub, err
}

func (s *Server) getSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sub, nil
}

func (s *Server) listSubscriptions(r *http.Request, p *auth.Principal) (int, any, error) {
	return listInWorkspace(s, r, p, s.Store.ListSubscriptions, func(s *store.Subscription) string { return s.ID })
}

func (s *Server) updateSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	var in subscriptionInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	if in.Secret != nil {
		return 0, nil, invalid("secret", "cannot be changed here; use rotate-secret")
	}
	if err := s.apply(r, sub, &in); err != nil {
		return 0, nil, err
	}
	sub.UpdatedAt = now()
	if err := s.Store.UpdateSubscription(r.Context(), sub); err != nil {
		return 0, nil, err
	}
	s.changed(sub)
	return http.StatusOK, sub, nil
}

func (s *Server) changed(sub *store.Subscription) {
	s.Ingest.Invalidate(sub.WorkspaceID)
	s.Delivery.Invalidate(sub.ID)
}

func (s *Server) deleteSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	if err := s.Store.DeleteSubscription(r.Context(), sub.WorkspaceID, sub.ID); err != nil {
		return 0, nil, err
	}
	s.changed(sub)
	return http.StatusNoContent, nil, nil
}

func (s *Server) testSubscription(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	data, _ := json.Marshal(map[string]string{"id": p.User.ID, "email": p.User.Email, "name": p.User.Name})
	a, err := s.Delivery.Test(r.Context(), sub, data)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"attempt": a}, nil
}

func (s *Server) listAttempts(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	pg, err := page(r, 10, 1000)
	if err != nil {
		return 0, nil, err
	}
	as, err := s.Store.ListAttempts(r.Context(), sub.WorkspaceID, sub.ID, pg)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paged(as, pg, func(a *store.Attempt) string { return a.ID }), nil
}

func (s *Server) setStatus(r *http.Request, p *auth.Principal, status string) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	sub, err = s.Store.SetSubscriptionStatus(r.Context(), sub.WorkspaceID, sub.ID, status, now())
	if err != nil {
		return 0, nil, err
	}
	s.changed(sub)
	s.Delivery.Notify()
	return http.StatusOK, sub, nil
}

func (s *Server) enable(r *http.Request, p *auth.Principal) (int, any, error) {
	return s.setStatus(r, p, store.SubscriptionActive)
}

func (s *Server) disable(r *http.Request, p *auth.Principal) (int, any, error) {
	return s.setStatus(r, p, store.SubscriptionPaused)
}

func (s *Server) rotateSecret(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	t := now()
	sub, err = s.Store.RotateSecret(r.Context(), sub.WorkspaceID, sub.ID, signing.NewSecret(), t, t.Add(SecretRotationGrace))
	if err != nil {
		return 0, nil, err
	}
	s.changed(sub)
	return http.StatusOK, withSecret{sub, sub.Secret}, nil
}

func (s *Server) recoverDeliveries(r *http.Request, p *auth.Principal) (int, any, error) {
	sub, err := s.subscription(r, p)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Since string `json:"since"`
	}
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	since, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil {
		return 0, nil, invalid("since", "is required: an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	n, err := s.Store.Recover(r.Context(), sub.WorkspaceID, sub.ID, since, now())
	if err != nil {
		return 0, nil, err
	}
	s.changed(sub)
	s.Delivery.Notify()
	return http.StatusOK, map[string]int{"queued": n}, nil
}
