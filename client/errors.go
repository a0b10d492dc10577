// Error: an answer outside 2xx as a typed value, and the sentinels that
// errors.Is matches it against by status and code.
package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is an answer of the API outside 2xx: its HTTP status and the
// body's {"error":{"code","message"}}. RetryAfter is the answer's
// Retry-After, when it had one (429, 503).
type Error struct {
	Status     int           `json:"-"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	RetryAfter time.Duration `json:"-"`
}

// Error reads "postbode: 404 not_found: no such subscription".
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("postbode: %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("postbode: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is reports whether e is of the kind target names: target, one of this
// package's sentinels (or any *Error), matches when its Status (if not 0)
// and its Code (if not "") are e's.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Status == 0 && t.Code == "" {
		return false
	}
	return (t.Status == 0 || t.Status == e.Status) && (t.Code == "" || t.Code == e.Code)
}

// Sentinels for errors.Is. Those with only a status match any code of that
// status; those with a code match that code only.
var (
	ErrMalformed        = &Error{Status: http.StatusBadRequest, Message: "malformed request"}                          // 400
	ErrUnauthenticated  = &Error{Status: http.StatusUnauthorized, Message: "unauthenticated"}                          // 401
	ErrInvalidSignature = &Error{Status: http.StatusUnauthorized, Code: "invalid_signature", Message: "bad signature"} // 401, POST /in/{id}
	ErrForbidden        = &Error{Status: http.StatusForbidden, Message: "forbidden"}                                   // 403
	ErrInboundDisabled  = &Error{Status: http.StatusForbidden, Code: "inbound_disabled", Message: "inbound disabled"}  // 403, POST /in/{id}
	ErrNotFound         = &Error{Status: http.StatusNotFound, Message: "not found"}                                    // 404
	ErrMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed"}                   // 405
	ErrConflict         = &Error{Status: http.StatusConflict, Message: "conflict"}                                     // 409
	ErrLeaseLost        = &Error{Status: http.StatusConflict, Code: "lease_lost", Message: "lease lost"}               // 409, mailbox
	ErrUserHasTokens    = &Error{Status: http.StatusConflict, Code: "user_has_tokens", Message: "user has tokens"}     // 409
	ErrEventTypeExists  = &Error{Status: http.StatusConflict, Code: "event_type_exists", Message: "event type exists"} // 409
	ErrTooLarge         = &Error{Status: http.StatusRequestEntityTooLarge, Message: "payload too large"}               // 413
	ErrUnsupportedMedia = &Error{Status: http.StatusUnsupportedMediaType, Message: "unsupported media type"}           // 415
	ErrInvalid          = &Error{Status: http.StatusUnprocessableEntity, Message: "invalid field"}                     // 422
	ErrUnknownEventType = &Error{Status: http.StatusUnprocessableEntity, Code: "unknown_event_type", Message: "unknown event type"}
	ErrSchemaMismatch   = &Error{Status: http.StatusUnprocessableEntity, Code: "schema_mismatch", Message: "schema mismatch"}
	ErrPrivateTarget    = &Error{Status: http.StatusUnprocessableEntity, Code: "private_target", Message: "private target"}
	ErrRateLimited      = &Error{Status: http.StatusTooManyRequests, Message: "rate limited"}       // 429
	ErrUnavailable      = &Error{Status: http.StatusServiceUnavailable, Message: "unavailable"}     // 503
	ErrInternal         = &Error{Status: http.StatusInternalServerError, Message: "internal error"} // 500: a bug
)

// APIError returns the *Error in err's chain, if there is one.
func APIError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ErrorCode is the API's error code in err ("not_found", "lease_lost", …),
// or "" when err holds no *Error.
func ErrorCode(err error) string {
	if e, ok := APIError(err); ok {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is a 404.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is a 409 (lease_lost, user_has_tokens, …).
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalid reports whether err is a 422: a field was refused (the message
// names it).
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsUnauthenticated reports whether err is a 401.
func IsUnauthenticated(err error) bool { return errors.Is(err, ErrUnauthenticated) }

// IsRetryable reports whether err is a 429 or a 503: the same request may
// succeed later (after RetryAfter).
func IsRetryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}
