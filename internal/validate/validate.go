// Package validate holds the text rules that every service applies to what
// a client sends, whichever way it came in. Both store engines must see the
// same text: PostgreSQL refuses NUL characters and invalid UTF-8 that SQLite
// would store and later serve as invalid JSON, so both are refused here,
// before the store, with an error naming the field.
package validate

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/errs"
)

// MaxName bounds names and labels.
const MaxName = 200

// Text refuses v unless it is valid UTF-8 without NUL characters and at most
// maxLen bytes long (maxLen 0: no length rule).
func Text(field, v string, maxLen int) error {
	if !utf8.ValidString(v) {
		return errs.Invalidf(field, "must be valid UTF-8 text")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return errs.Invalidf(field, "must not contain NUL characters")
	}
	if maxLen > 0 && len(v) > maxLen {
		return errs.Invalidf(field, "must be at most %d characters", maxLen)
	}
	return nil
}

// Line is Text without any control character: names, labels, header
// values and the like are shown on one line.
func Line(field, v string, maxLen int) error {
	if err := Text(field, v, maxLen); err != nil {
		return err
	}
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return errs.Invalidf(field, "must not contain line breaks or other control characters")
		}
	}
	return nil
}

// Name checks a required name or label, already trimmed.
func Name(field, v string) error {
	if v == "" {
		return errs.Invalidf(field, "is required")
	}
	return Line(field, v, MaxName)
}

// Optional checks a text that may be absent but, when given, is not blank.
func Optional(field string, v *string, maxLen int) error {
	if v == nil {
		return nil
	}
	if err := Line(field, *v, maxLen); err != nil {
		return err
	}
	if strings.TrimSpace(*v) == "" {
		return errs.Invalidf(field, "must not be empty; leave it out instead")
	}
	return nil
}

// ID checks an id taken from a path or a query. An id that cannot exist is
// not refused here (it is simply not found); only text no engine can
// compare is.
func ID(field, v string) error {
	return Text(field, v, 255)
}

var eventTypeName = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// EventTypeName checks an event type's name: 1 to 100 of a-z, 0-9, _ . -.
func EventTypeName(field, name string) error {
	if name == "" {
		return errs.Invalidf(field, "is required")
	}
	if len(name) > 100 || !eventTypeName.MatchString(name) {
		return errs.Invalidf(field, "must be 1 to 100 characters of a-z, 0-9, '_', '.' and '-'")
	}
	return nil
}

// HeaderName reports whether name is a valid HTTP header name of at most
// 100 characters.
func HeaderName(name string) bool {
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

// JSON checks a JSON value kept byte for byte (an event's data): it must be
// valid UTF-8 and hold no NUL character, not even as the escape \u0000,
// since a receiver storing it in PostgreSQL's jsonb would fail on it.
func JSON(field string, raw []byte) error {
	if !utf8.Valid(raw) {
		return errs.Invalidf(field, "must be valid UTF-8")
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return errs.Invalidf(field, "must not contain NUL characters")
	}
	// The common case costs one scan; only a document that holds the
	// sequence is decoded, to tell an escaped NUL from an escaped
	// backslash followed by "u0000".
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return nil
	}
	v, err := decode(raw)
	if err != nil {
		return errs.Invalidf(field, "must be valid JSON")
	}
	if hasNUL(v) {
		return errs.Invalidf(field, `must not contain NUL characters (\u0000)`)
	}
	return nil
}

// decode reads a JSON document with numbers kept as text, so that no
// number is too large to read.
func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}
