// Package validate holds the text rules that every service applies to what
// a client sends, whichever way it came in. Both store engines must see the
// same text: PostgreSQL refuses NUL characters and invalid UTF-8 that SQLite
// would store and later serve as invalid JSON, so both are refused here,
// before the store, with an error naming the field.
package validate

import (
	"bytes"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/errs"
)

// MaxName bounds names and labels.
const MaxName = 200

// noNUL is the refusal of a NUL character, or of an unpaired surrogate
// escape, which MarkLoneSurrogates turns into one.
const noNUL = `must not contain NUL characters (\u0000) or unpaired surrogates (such as \ud800)`

// Text refuses v unless it is valid UTF-8 without NUL characters and at most
// maxLen bytes long (maxLen 0: no length rule).
func Text(field, v string, maxLen int) error {
	if !utf8.ValidString(v) {
		return errs.Invalidf(field, "must be valid UTF-8 text")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return errs.Invalidf(field, noNUL)
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
		// C0 and C1 controls but tab, DEL, and the Unicode line and
		// paragraph separators, which break a line as well as \n does.
		if c != '\t' && unicode.IsControl(c) || c == '\u2028' || c == '\u2029' {
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
// since a receiver storing it in PostgreSQL's jsonb would fail on it, and
// no unpaired surrogate escape such as \ud800, which stands for no text and
// which strict parsers refuse.
func JSON(field string, raw []byte) error {
	if !utf8.Valid(raw) {
		return errs.Invalidf(field, "must be valid UTF-8")
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return errs.Invalidf(field, noNUL)
	}
	if nul, lone := scanEscapes(raw, nil); nul || lone {
		return errs.Invalidf(field, noNUL)
	}
	return nil
}

// MarkLoneSurrogates returns body with every unpaired surrogate escape in
// its strings (\ud800 without its low half, or a low half alone) replaced
// by \u0000, in place in a copy (both are six bytes). A JSON decoder would
// otherwise quietly read them as U+FFFD; so marked, the field that holds one
// is refused by Text or JSON as holding a NUL, and named. body must be
// valid JSON; body itself is returned when it holds none.
func MarkLoneSurrogates(body []byte) []byte {
	var marks []int
	scanEscapes(body, func(at int) { marks = append(marks, at) })
	if len(marks) == 0 {
		return body
	}
	out := bytes.Clone(body)
	for _, at := range marks {
		copy(out[at:], `\u0000`)
	}
	return out
}

// scanEscapes walks the strings of a JSON document for \u escapes: it
// reports whether one is \u0000 and whether one is an unpaired surrogate,
// calling lone, when set, with the offset of each unpaired one.
func scanEscapes(raw []byte, lone func(at int)) (nul, unpaired bool) {
	if !bytes.Contains(raw, []byte(`\u`)) {
		return false, false
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				r, ok := hex4(raw, i+2)
				switch {
				case !ok:
				case r == 0:
					nul = true
				case r >= 0xd800 && r < 0xdc00:
					if low, ok := hex4(raw, i+8); ok && raw[i+6] == '\\' && raw[i+7] == 'u' && low >= 0xdc00 && low < 0xe000 {
						i += 6 // the pair's low half
						break
					}
					unpaired = true
					if lone != nil {
						lone(i)
					}
				case r >= 0xdc00 && r < 0xe000:
					unpaired = true
					if lone != nil {
						lone(i)
					}
				}
				i += 5
				continue
			}
			i++ // the escaped character
		}
	}
	return nul, unpaired
}

// hex4 reads the four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
