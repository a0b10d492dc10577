// Error bodies and request decoding. Every error the API returns has the
// shape {"error":{"code":…,"message":…}}: a service's *errs.Error with the
// status its kind maps to, 503 store_unavailable while the database cannot
// be reached, and a logged 500 without details for anything else.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
)

// MaxBody caps every request body, of the API and of the other ways in
// (SPEC §6: over 1 MiB is 413).
const MaxBody = 1 << 20

// status maps each kind of service error to its HTTP status.
var status = map[errs.Kind]int{
	errs.Internal:        http.StatusInternalServerError,
	errs.Malformed:       http.StatusBadRequest,
	errs.Invalid:         http.StatusUnprocessableEntity,
	errs.Unauthenticated: http.StatusUnauthorized,
	errs.Forbidden:       http.StatusForbidden,
	errs.NotFound:        http.StatusNotFound,
	errs.Conflict:        http.StatusConflict,
	errs.TooLarge:        http.StatusRequestEntityTooLarge,
	errs.Unsupported:     http.StatusUnsupportedMediaType,
	errs.RateLimited:     http.StatusTooManyRequests,
	errs.Unavailable:     http.StatusServiceUnavailable,
}

// classify turns any error of r into the *errs.Error to show. A refused
// token is told apart from none sent: a user who pasted a wrong one should
// not be told to send one.
func classify(r *http.Request, err error) *errs.Error {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated) && r.Header.Get("Authorization") == "":
		return errs.Unauthenticatedf("send an integration token as Authorization: Bearer <token>")
	case errors.Is(err, auth.ErrUnauthenticated):
		return errs.Unauthenticatedf("the token was not accepted: it is unknown or revoked, not an integration token, " +
			"or its owner's account is inactive; send an integration token as Authorization: Bearer <token>")
	}
	e, _ := Classify(err)
	return e
}

// Classify turns any error into the *errs.Error to show and the HTTP status
// of its kind: the one mapping every transport answers with (the web UI
// renders it as a page). A store out of reach is store_unavailable; an
// error no service made is internal.
func Classify(err error) (*errs.Error, int) {
	e, ok := errs.As(err)
	switch {
	case errors.Is(err, store.ErrUnavailable):
		e = errs.StoreUnavailable(err)
	case !ok:
		e = &errs.Error{Kind: errs.Internal, Code: "internal_error", Err: err}
	}
	return e, status[e.Kind]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// fail writes err, met outside any route, as the JSON error body.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, s.Log, err)
}

// WriteError writes err as the API's JSON error body with the status its
// kind maps to, and returns that status and the message shown. Internal
// errors are logged and shown without their details; a 401 carries
// challenges as WWW-Authenticate headers. Other transports (the inbound
// receiver) render their errors with it, so every error reads the same.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, challenges ...string) (int, string) {
	e := classify(r, err)
	msg := e.Error()
	switch e.Kind {
	case errs.Internal:
		if r.Context().Err() != nil {
			// The client went away (a long poll given up, a consumer
			// stopping): nothing went wrong on our side.
			log.Debug("request abandoned by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		msg = "something went wrong on our side; it has been logged"
	case errs.Unavailable:
		log.Debug("request failed: store unavailable", "method", r.Method, "path", r.URL.Path)
	case errs.Unauthenticated:
		for _, c := range challenges {
			w.Header().Add("WWW-Authenticate", c)
		}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(e.RetryAfter.Seconds()))))
	}
	writeError(w, status[e.Kind], e.Code, msg)
	return status[e.Kind], msg
}

// WriteJSON writes v as a JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// MethodNotAllowed writes the API's 405, naming the methods allowed.
func MethodNotAllowed(w http.ResponseWriter, method string, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
		method+" is not allowed here; use "+strings.Join(allowed, " or "))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func malformed(format string, args ...any) error {
	return errs.New(errs.Malformed, "malformed_json", format, args...)
}

// Uncompressed refuses a body sent compressed: Postbode reads bodies as
// they come, and a gzip body would otherwise be refused as text that is
// not UTF-8, which misleads. Other transports (the inbound receiver) call
// it too.
func Uncompressed(r *http.Request) error {
	if ce := strings.TrimSpace(r.Header.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return errs.New(errs.Unsupported, "unsupported_media_type", "send the body uncompressed, without Content-Encoding %q", ce)
	}
	return nil
}

// ReadBody reads r's body, at most MaxBody bytes: a longer one is 413 and
// one that cannot be read 400. What was read is returned either way. With
// w, the connection of a body over the bound is closed after the answer.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return body, errs.New(errs.TooLarge, "payload_too_large", "the request body is larger than %d bytes", MaxBody)
		}
		return body, errs.New(errs.Malformed, "malformed_body", "the request body could not be read")
	}
	return body, nil
}

// UTF8Charset refuses a Content-Type's charset parameter other than UTF-8:
// bodies are read as UTF-8 text.
func UTF8Charset(params map[string]string) error {
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return errs.New(errs.Unsupported, "unsupported_media_type", "send the body as UTF-8 (charset=utf-8), not %q", cs)
	}
	return nil
}

// decode reads a JSON object body into v. An empty body is allowed when
// optional, and leaves v as it was.
func decode(r *http.Request, v any, optional bool) error {
	if err := Uncompressed(r); err != nil {
		return err
	}
	body, err := ReadBody(nil, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return malformed("the request body must be a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.New(errs.Unsupported, "unsupported_media_type", "send the body as application/json")
		}
		if err := UTF8Charset(params); err != nil {
			return err
		}
	}
	// The JSON decoder would quietly turn invalid UTF-8 in strings into
	// U+FFFD, and keep it as it is in raw values: refuse it instead. It
	// would do the same with unpaired surrogate escapes (\ud800): those are
	// marked, so that the service refuses the field that holds one.
	if !utf8.Valid(body) {
		return errs.New(errs.Malformed, "invalid_encoding", "the request body is not valid UTF-8")
	}
	return unmarshal(validate.MarkLoneSurrogates(body), v)
}

// unmarshal decodes one JSON object strictly: unknown fields and wrong
// types are 422s that name the field.
func unmarshal(body []byte, v any) error {
	return unmarshalAt("", body, v)
}

// unmarshalAt is unmarshal for an object inside a request, such as one
// event of a batch: the fields its errors name start with prefix ("events[3].").
func unmarshalAt(prefix string, body []byte, v any) error {
	// Only an object will do: null, arrays, strings and numbers would
	// otherwise decode as an empty object or fail without a clear message.
	if t := bytes.TrimLeft(body, " \t\r\n"); !bytes.HasPrefix(t, []byte("{")) {
		if prefix != "" {
			return errs.Invalidf(strings.TrimSuffix(prefix, "."), "must be a JSON object")
		}
		return malformed("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
			return malformed("the request body is not valid JSON: %v", err)
		case errors.As(err, &typ):
			if typ.Field == "" {
				return malformed("the request body must be a JSON object")
			}
			return errs.Invalidf(prefix+typ.Field, "must be %s", jsonKind(typ.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return errs.Invalidf(prefix+field, "is not a known field")
		default:
			// Errors from a field's own UnmarshalJSON: a service's, naming
			// the field, or another (a bad duration, say).
			if e, ok := errs.As(err); ok {
				return errs.Prefix(strings.TrimSuffix(prefix, "."), e)
			}
			return errs.New(errs.Invalid, "invalid_field", "%v", err)
		}
	}
	// Anything after the object, even a stray '}' (which dec.More misses), is malformed.
	if _, err := dec.Token(); err != io.EOF {
		return malformed("the request body must hold one JSON object and nothing after it")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64":
		return "a whole number"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}
