// The fields a client may set on a subscription, and the rules that decide
// whether a create or a change is accepted.
package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/netguard"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
)

// Input is the body of a create or a change; absent fields are nil.
type Input struct {
	Name              *string         `json:"name"`
	Mode              *string         `json:"mode"`
	URL               *string         `json:"url"`
	EventTypes        Names           `json:"event_types"`
	Status            *string         `json:"status"`
	Payload           *string         `json:"payload"`
	Format            *string         `json:"format"`
	Headers           Headers         `json:"headers"`
	SignatureScheme   *string         `json:"signature_scheme"`
	SignatureHeader   *string         `json:"signature_header"`
	Secret            *string         `json:"secret"`
	TimeoutSeconds    *int            `json:"timeout_seconds"`
	FailureThreshold  *int            `json:"failure_threshold"`
	RetrySchedule     json.RawMessage `json:"retry_schedule"` // null: back to the server's default
	APIVersion        json.RawMessage `json:"api_version"`
	Auth              *string         `json:"auth"`
	CoalesceBySubject *bool           `json:"coalesce_by_subject"`
}

// Headers is a JSON object of header names and values, decoded so that a
// value of another type names its header ("headers.X-Api-Key").
type Headers map[string]string

// UnmarshalJSON decodes the object, or null for none.
func (h *Headers) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		return errs.Invalidf("headers", "must be an object of header names and their values")
	}
	out := make(Headers, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return errs.Invalidf("headers."+k, "must be a string")
		}
		out[k] = s
	}
	*h = out
	return nil
}

// Names is a JSON array of event type names, decoded so that an element of
// another type names its place ("event_types[1]").
type Names []string

// UnmarshalJSON decodes the array, or null for none.
func (n *Names) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = nil
		return nil
	}
	var raw []json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		return errs.Invalidf("event_types", "must be an array of event type names")
	}
	out := make(Names, len(raw))
	for i, v := range raw {
		if json.Unmarshal(v, &out[i]) != nil {
			return errs.Invalidf("event_types["+strconv.Itoa(i)+"]", "must be a string")
		}
	}
	*n = out
	return nil
}

// Limits on what a subscription holds.
const (
	MaxURL         = 2048
	MaxHeaders     = 50
	MaxHeaderValue = 4096
	MaxAPIVersion  = 100
)

// apply validates in and writes it onto sub; creating says whether sub is
// new (a mode and a pull subscription's auth are chosen once).
func (s *Service) apply(ctx context.Context, sub *store.Subscription, in *Input, creating bool) error {
	if in.Status != nil {
		return errs.Invalidf("status", "is read-only; use the enable and disable actions")
	}
	if in.Mode != nil {
		if !creating && *in.Mode != sub.Mode {
			return errs.Invalidf("mode", "cannot change; make a new subscription instead")
		}
		if *in.Mode != store.ModePush && *in.Mode != store.ModePull {
			return errs.Invalidf("mode", "must be push or pull")
		}
		sub.Mode = *in.Mode
	}
	if sub.Mode == store.ModePull {
		return s.applyPull(ctx, sub, in, creating)
	}
	if in.Auth != nil {
		return errs.Invalidf("auth", "applies to pull subscriptions only")
	}
	if in.CoalesceBySubject != nil {
		return errs.Invalidf("coalesce_by_subject", "applies to pull subscriptions only")
	}
	if in.Name != nil {
		sub.Name = strings.TrimSpace(*in.Name)
		if err := validate.Name("name", sub.Name); err != nil {
			return err
		}
	}
	if in.URL != nil && *in.URL != shown(sub.URL) {
		// A URL sent back as it was shown, password masked, is no change;
		// one changed elsewhere keeps its masked password.
		raw, err := keepMaskedURL(*in.URL, sub.URL)
		if err != nil {
			return err
		}
		if err := s.checkURL(ctx, raw); err != nil {
			return err
		}
		sub.URL = raw
	}
	if sub.URL == "" {
		return errs.Invalidf("url", "is required for push subscriptions")
	}
	if in.EventTypes != nil {
		if err := s.opt.Workspaces.CheckEventTypes(ctx, sub.WorkspaceID, in.EventTypes); err != nil {
			return err
		}
		sub.EventTypes = []string(in.EventTypes)
	}
	if err := oneOf("payload", in.Payload, &sub.Payload, "full", "notification"); err != nil {
		return err
	}
	if err := oneOf("format", in.Format, &sub.Format, "envelope", "raw", "entity"); err != nil {
		return err
	}
	if sub.Format == "raw" && sub.Payload == "notification" {
		return errs.Invalidf("format", "raw sends the event's data as the body, so it cannot go with payload notification")
	}
	if err := oneOf("signature_scheme", in.SignatureScheme, &sub.SignatureScheme, "standard", "hmac-sha256"); err != nil {
		return err
	}
	if in.SignatureHeader != nil {
		if !validate.HeaderName(*in.SignatureHeader) || reservedHeader(*in.SignatureHeader) {
			return errs.Invalidf("signature_header", "must be a valid HTTP header name that Postbode does not set itself")
		}
		sub.SignatureHeader = *in.SignatureHeader
	}
	if in.Headers != nil {
		if err := keepMasked(in.Headers, sub.Headers); err != nil {
			return err
		}
		if err := checkHeaders(in.Headers, sub.SignatureHeader); err != nil {
			return err
		}
		sub.Headers = in.Headers
	} else if in.SignatureHeader != nil {
		// The headers already set must not clash with the new name.
		for k := range sub.Headers {
			if strings.EqualFold(k, sub.SignatureHeader) {
				return errs.Invalidf("signature_header", "%q is already one of the subscription's headers", k)
			}
		}
	}
	if in.Secret != nil {
		k, err := signing.DecodeSecret(*in.Secret)
		if err != nil || len(k) < 24 || len(k) > 64 || !strings.HasPrefix(*in.Secret, "whsec_") {
			return errs.Invalidf("secret", "must be whsec_ followed by the base64 of 24 to 64 random bytes; leave it out to have one generated")
		}
		sub.Secret = *in.Secret
	}
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds < 1 || *in.TimeoutSeconds > 30 {
			return errs.Invalidf("timeout_seconds", "must be from 1 to 30")
		}
		sub.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.FailureThreshold != nil {
		if *in.FailureThreshold < 1 || *in.FailureThreshold > 1000 {
			return errs.Invalidf("failure_threshold", "must be from 1 to 1000")
		}
		sub.FailureThreshold = *in.FailureThreshold
	}
	if err := applySchedule(sub, in.RetrySchedule); err != nil {
		return err
	}
	if len(in.APIVersion) > 0 {
		if string(in.APIVersion) == "null" {
			sub.APIVersion = nil
		} else {
			var v string
			if json.Unmarshal(in.APIVersion, &v) != nil {
				return errs.Invalidf("api_version", "must be a string of at most %d characters, or null", MaxAPIVersion)
			}
			if err := validate.Line("api_version", v, MaxAPIVersion); err != nil {
				return err
			}
			sub.APIVersion = &v
		}
	}
	return nil
}

// applyPull applies the fields of a pull subscription (a mailbox): a name,
// event types, how its consumer authenticates and whether new messages
// replace unclaimed ones about the same subject. The fields of pushing are
// refused, rather than kept for nothing.
func (s *Service) applyPull(ctx context.Context, sub *store.Subscription, in *Input, creating bool) error {
	for field, set := range map[string]bool{"url": in.URL != nil, "headers": in.Headers != nil, "payload": in.Payload != nil,
		"format": in.Format != nil, "signature_scheme": in.SignatureScheme != nil, "signature_header": in.SignatureHeader != nil,
		"secret": in.Secret != nil, "timeout_seconds": in.TimeoutSeconds != nil, "failure_threshold": in.FailureThreshold != nil,
		"retry_schedule": len(in.RetrySchedule) > 0, "api_version": len(in.APIVersion) > 0} {
		if set {
			return errs.Invalidf(field, "applies to push subscriptions only")
		}
	}
	if in.Name != nil {
		sub.Name = strings.TrimSpace(*in.Name)
		if err := validate.Name("name", sub.Name); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		if err := s.opt.Workspaces.CheckEventTypes(ctx, sub.WorkspaceID, in.EventTypes); err != nil {
			return err
		}
		sub.EventTypes = []string(in.EventTypes)
	}
	if in.Auth != nil {
		if !creating && *in.Auth != sub.Auth {
			return errs.Invalidf("auth", "cannot change; make a new subscription instead")
		}
		if *in.Auth != store.AuthBearer && *in.Auth != store.AuthBasic {
			return errs.Invalidf("auth", "must be bearer or basic")
		}
		sub.Auth = *in.Auth
	}
	if in.CoalesceBySubject != nil {
		sub.CoalesceBySubject = *in.CoalesceBySubject
	}
	return nil
}

// shown is a URL as the client was shown it.
func shown(u string) string { return View(&store.Subscription{URL: u}).URL }

func applySchedule(sub *store.Subscription, raw json.RawMessage) error {
	if string(raw) == "null" {
		sub.RetrySchedule = nil
		return nil
	}
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return errs.Invalidf("retry_schedule", `must be a list of Go durations such as ["30s","5m"], or null for the server's default`)
	}
	if len(list) > config.MaxRetries {
		return errs.Invalidf("retry_schedule", "may hold at most %d delays", config.MaxRetries)
	}
	sched := make([]store.Duration, len(list))
	for i, v := range list {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errs.Invalidf(fmt.Sprintf("retry_schedule[%d]", i), "%q is not a Go duration such as 30s, 5m or 2h", v)
		}
		if err := config.CheckDelay(d); err != nil {
			return errs.Invalidf(fmt.Sprintf("retry_schedule[%d]", i), "%s", err)
		}
		sched[i] = store.Duration(d)
	}
	sub.RetrySchedule = sched
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
	return errs.Invalidf(field, "must be %s", strings.Join(allowed, " or "))
}

func (s *Service) checkURL(ctx context.Context, raw string) error {
	if err := validate.Line("url", raw, MaxURL); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errs.Invalidf("url", "must be an absolute http or https URL of at most %d characters", MaxURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errs.Invalidf("url", "the port must be from 1 to 65535")
		}
	}
	if s.opt.CheckTarget == nil {
		return nil
	}
	if err := s.opt.CheckTarget(ctx, raw); err != nil {
		if errors.Is(err, netguard.ErrPrivateTarget) {
			return errs.InvalidCode("private_target", "url", "the target resolves to a loopback, private, link-local or unspecified address")
		}
		return errs.Invalidf("url", "%v", err)
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

func checkHeaders(h map[string]string, signatureHeader string) error {
	if len(h) > MaxHeaders {
		return errs.Invalidf("headers", "may hold at most %d headers", MaxHeaders)
	}
	for k, v := range h {
		if !validate.HeaderName(k) {
			return errs.Invalidf("headers", "%q is not a valid HTTP header name", k)
		}
		field := "headers." + k
		if reservedHeader(k) || strings.EqualFold(k, signatureHeader) {
			return errs.Invalidf(field, "is set by Postbode itself")
		}
		if len(v) > MaxHeaderValue || validate.Line(field, v, 0) != nil {
			return errs.Invalidf(field, "must be at most %d characters without line breaks or other control characters", MaxHeaderValue)
		}
	}
	return nil
}
