// Package receiver is the transport of inbound webhooks: POST /in/{id}. It
// decodes a request (the credential, the body as JSON or as form fields),
// calls the inbound service, which decides, and renders the answer in the
// API's JSON shape. It also slows down and then refuses clients whose
// credentials keep failing, and hands every request to the service's log.
package receiver

import (
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/api"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/ratelimit"
)

// Prefix is the path under which inbound webhooks are received.
const Prefix = "/in/"

// challenges are the WWW-Authenticate headers of a 401.
var challenges = []string{`Bearer realm="postbode"`, `Basic realm="postbode", charset="UTF-8"`}

// Server receives inbound webhooks.
type Server struct {
	inbound *inbound.Service
	log     *slog.Logger
	now     func() time.Time
	limit   *ratelimit.Limiter
}

// New returns the receiver over svc; now is its clock.
func New(svc *inbound.Service, log *slog.Logger, now func() time.Time) *Server {
	return &Server{inbound: svc, log: log, now: now, limit: ratelimit.New()}
}

// ServeHTTP answers POST /in/{id}; every other method is 405, and every
// other path under /in/ is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hookID, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || hookID == "" || strings.Contains(hookID, "/") {
		api.WriteError(w, r, s.log, errs.New(errs.NotFound, "not_found", "no such route: %s %s", r.Method, r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		api.MethodNotAllowed(w, r.Method, http.MethodPost)
		return
	}
	received := s.now()
	ctx := r.Context()
	hook, p, err := s.inbound.Authenticate(ctx, hookID, auth.ParseAuthorization(r.Header.Get("Authorization")))
	client := ratelimit.ClientKey(r.RemoteAddr)
	if inbound.IsCredentialFailure(err) {
		if limited := s.limit.Refuse(ctx, client, received); limited > 0 {
			err = &errs.Error{Kind: errs.RateLimited, Code: "rate_limited", RetryAfter: limited,
				Message: "too many failed authentications from this address; try again later"}
		}
	}
	var body []byte
	var bodyErr error
	if hook != nil || err == nil {
		// Read for the log even when refused; within the limit either way.
		body, bodyErr = api.ReadBody(w, r)
	}
	var eventID string
	if err == nil {
		err = bodyErr
	}
	if err == nil {
		err = api.Uncompressed(r)
	}
	if err == nil {
		var data json.RawMessage
		if data, err = decodeBody(r.Header.Get("Content-Type"), body); err == nil {
			var res event.Published
			res, err = s.inbound.Receive(ctx, hook, p, r.Header, body, data)
			eventID = res.ID
		}
	}
	status, msg := http.StatusAccepted, ""
	if err != nil {
		status, msg = api.WriteError(w, r, s.log, err, challenges...)
	} else {
		api.WriteJSON(w, http.StatusAccepted, api.Received{ID: eventID})
	}
	s.inbound.Record(hook, inbound.Entry{ReceivedAt: received, Status: status, Error: msg, EventID: eventID,
		RemoteAddr: ratelimit.ClientIP(r.RemoteAddr), Method: r.Method, Header: r.Header, Body: body})
}

// decodeBody turns a body into the event's data: JSON as it is, a form as
// an object of its fields (a string each; a repeated field, an array of
// strings). A missing Content-Type is taken as JSON.
func decodeBody(contentType string, body []byte) (json.RawMessage, error) {
	mt := "application/json"
	if contentType != "" {
		var params map[string]string
		var err error
		mt, params, err = mime.ParseMediaType(contentType)
		if err != nil {
			return nil, unsupported()
		}
		if err := api.UTF8Charset(params); err != nil {
			return nil, err
		}
	}
	if !utf8.Valid(body) {
		return nil, errs.New(errs.Malformed, "invalid_encoding", "the request body is not valid UTF-8")
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if len(strings.TrimSpace(string(body))) == 0 {
			return nil, errs.New(errs.Malformed, "malformed_json", "the request body is empty; send a JSON value")
		}
		if !json.Valid(body) {
			return nil, errs.New(errs.Malformed, "malformed_json", "the request body is not valid JSON")
		}
		return body, nil
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errs.New(errs.Malformed, "malformed_form", "the request body is not a valid form: %v", err)
		}
		fields := make(map[string]any, len(vals))
		for k, vs := range vals {
			for _, v := range append(vs, k) {
				if !utf8.ValidString(v) {
					return nil, errs.New(errs.Malformed, "invalid_encoding", "the form's fields are not valid UTF-8")
				}
			}
			if len(vs) == 1 {
				fields[k] = vs[0]
			} else {
				fields[k] = vs
			}
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(fields); err != nil {
			return nil, err
		}
		return json.RawMessage(strings.TrimSuffix(b.String(), "\n")), nil
	}
	return nil, unsupported()
}

func unsupported() error {
	return errs.New(errs.Unsupported, "unsupported_media_type", "send the body as application/json or application/x-www-form-urlencoded")
}
