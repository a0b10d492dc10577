// Package errs holds the errors that services return: a kind (invalid
// field, not found, conflict, …), a stable snake_case code and a sentence
// for people. They know nothing of HTTP; each transport renders them its
// own way (the API as a status and a JSON body, the web UI as a form
// message), so a rule decided in a service reads the same everywhere.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind says what went wrong, in terms a transport can map once.
type Kind int

// The kinds of error a service returns.
const (
	Internal        Kind = iota // not a client's fault; never shown in detail
	Malformed                   // the request could not be read at all
	Invalid                     // a field holds a value the rules refuse
	Unauthenticated             // no valid credential
	Forbidden                   // a valid credential that may not do this
	NotFound                    // no such resource, or not one the caller may see
	Conflict                    // the resource's state forbids it
	TooLarge                    // over a size limit
	Unsupported                 // a media type or encoding not accepted
	RateLimited                 // too many requests
	Unavailable                 // a dependency (the store) cannot be reached
)

// Error is a service's refusal.
type Error struct {
	Kind    Kind
	Code    string // snake_case, stable: clients switch on it
	Field   string // the field at fault, for Invalid (and some others); may be empty
	Message string // a sentence, without the field
	// RetryAfter, when set, is how long a client should wait (RateLimited,
	// Unavailable).
	RetryAfter time.Duration
	// Err is the cause, kept for logs; never shown to a client.
	Err error
}

// Error reads "field: message", or the message alone.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind with code and a formatted message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is the usual refusal of one field's value: code invalid_field.
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: "invalid_field", Field: field, Message: fmt.Sprintf(format, args...)}
}

// InvalidCode is an Invalid error with a code of its own (unknown_event_type,
// private_target, …), for a refusal clients tell apart.
func InvalidCode(code, field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf says a resource does not exist for the caller: "what not found".
func NotFoundf(what string) *Error {
	return &Error{Kind: NotFound, Code: "not_found", Message: what + " not found"}
}

// Conflictf refuses a change the resource's state does not allow.
func Conflictf(code, format string, args ...any) *Error {
	return New(Conflict, code, format, args...)
}

// Forbiddenf refuses a caller who may not do this.
func Forbiddenf(format string, args ...any) *Error {
	return New(Forbidden, "forbidden", format, args...)
}

// Unauthenticatedf refuses a request without a valid credential.
func Unauthenticatedf(format string, args ...any) *Error {
	return New(Unauthenticated, "unauthenticated", format, args...)
}

// StoreUnavailable is the refusal while the database cannot be reached.
func StoreUnavailable(cause error) *Error {
	return &Error{Kind: Unavailable, Code: "store_unavailable",
		Message: "the database cannot be reached right now; try again shortly", RetryAfter: 5 * time.Second, Err: cause}
}

// As returns err as an *Error when it is (or wraps) one.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf is err's kind: Internal for anything that is not an *Error.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Prefix returns err with its field named inside an enclosing one: an error
// about "type" in the fourth event of a batch becomes "events[3].type".
// Errors without a field are returned as they are.
func Prefix(prefix string, err error) error {
	e, ok := As(err)
	if !ok || e.Field == "" || prefix == "" {
		return err
	}
	c := *e
	c.Field = prefix + "." + e.Field
	return &c
}
