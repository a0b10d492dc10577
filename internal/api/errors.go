// Error bodies and request decoding. Every error the API returns has the
// shape {"error":{"code":…,"message":…}}; bad input always gets a 4xx whose
// message names the offending field, never a 500.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// maxBody caps every request body.
const maxBody = 1 << 20

// Error is an API error: an HTTP status, a snake_case code and a sentence.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid is a 422 for one field.
func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_field",
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return errorf(http.StatusNotFound, "not_found", "%s not found", what)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError writes err as the JSON error body; anything that is not an
// *Error is an internal failure, logged and reported without its details.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "internal_error", "something went wrong on our side; it has been logged")
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="postbode"`)
	}
	writeJSON(w, e.Status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
}

// decode reads a JSON object body into v. An empty body is allowed when
// optional, and leaves v as it was.
func decode(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "the request body is larger than %d bytes", maxBody)
		}
		return errorf(http.StatusBadRequest, "malformed_body", "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, "malformed_json", "the request body must be a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		}
	}
	return unmarshal(body, v)
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
			return invalid(strings.TrimSuffix(prefix, "."), "must be a JSON object")
		}
		return errorf(http.StatusBadRequest, "malformed_json", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON: %v", err)
		case errors.As(err, &typ):
			if typ.Field == "" {
				return errorf(http.StatusBadRequest, "malformed_json", "the request body must be a JSON object")
			}
			return invalid(prefix+typ.Field, "must be %s", jsonKind(typ.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(prefix+field, "is not a known field")
		default:
			// Errors from a field's own UnmarshalJSON (a bad duration, say).
			return errorf(http.StatusUnprocessableEntity, "invalid_field", "%v", err)
		}
	}
	// Anything after the object, even a stray '}' (which dec.More misses), is malformed.
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "malformed_json", "the request body must hold one JSON object and nothing after it")
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
