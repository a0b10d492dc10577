package validate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/errs"
)

func TestText(t *testing.T) {
	tests := []struct {
		v    string
		max  int
		line bool // also valid as a Line
		ok   bool
	}{
		{"plain", 0, true, true},
		{"Grüße, 世界, 🚀", 0, true, true},
		{"tab\tinside", 0, true, true},
		{"", 0, true, true},
		{strings.Repeat("a", 10), 10, true, true},
		{strings.Repeat("a", 11), 10, false, false},
		{"a\x00b", 0, false, false},
		{"\xff", 0, false, false},
		{"\xc3", 0, false, false},         // cut multi-byte character
		{"\xed\xa0\x80", 0, false, false}, // a surrogate encoded as UTF-8
		{"\xc0\xaf", 0, false, false},     // overlong
		{"two\nlines", 0, false, true},
		{"cr\r", 0, false, true},
		{"del\x7f", 0, false, true},
		{"bell\a", 0, false, true},
		{"c1\u0085", 0, false, true},
		{"line\u2028separator", 0, false, true},
		{"para\u2029graph", 0, false, true},
	}
	for _, tt := range tests {
		if err := Text("f", tt.v, tt.max); (err == nil) != tt.ok {
			t.Errorf("Text(%q, %d) = %v, want ok %v", tt.v, tt.max, err, tt.ok)
		} else if err != nil {
			checkField(t, err, "f")
		}
		if err := Line("f", tt.v, tt.max); (err == nil) != tt.line {
			t.Errorf("Line(%q, %d) = %v, want ok %v", tt.v, tt.max, err, tt.line)
		}
	}
}

func checkField(t *testing.T, err error, field string) {
	t.Helper()
	if e, ok := errs.As(err); !ok || e.Kind != errs.Invalid || e.Field != field {
		t.Errorf("error %v does not name the field %q as invalid", err, field)
	}
}

func TestOptional(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tt := range []struct {
		v  *string
		ok bool
	}{{nil, true}, {s("user/1"), true}, {s(""), false}, {s("  "), false}, {s("a\x00"), false}, {s(strings.Repeat("a", 11)), false}} {
		if err := Optional("subject", tt.v, 10); (err == nil) != tt.ok {
			t.Errorf("Optional(%v) = %v, want ok %v", tt.v, err, tt.ok)
		}
	}
}

func TestEventTypeNameAndHeaderName(t *testing.T) {
	for name, ok := range map[string]bool{"invoice.paid": true, "a-b_c.1": true, "": false, "Invoice": false,
		"a b": false, "a/b": false, strings.Repeat("a", 100): true, strings.Repeat("a", 101): false, "é": false} {
		if err := EventTypeName("type", name); (err == nil) != ok {
			t.Errorf("EventTypeName(%q) = %v, want ok %v", name, err, ok)
		}
	}
	for name, ok := range map[string]bool{"X-Api-Key": true, "x_y!#$%&'*+-.^`|~": true, "": false, "X A": false,
		"X:A": false, "X\x00": false, "Ä": false, strings.Repeat("a", 100): true, strings.Repeat("a", 101): false} {
		if HeaderName(name) != ok {
			t.Errorf("HeaderName(%q) = %v, want %v", name, !ok, ok)
		}
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		raw string
		ok  bool
	}{
		{`{"a":1}`, true},
		{`"Grüße"`, true},
		{`{"a":"\\u0000 is a backslash and text"}`, true},
		{`{"a":"\\\\u0000"}`, true},
		{`{"a":"x\u0000"}`, false},
		{`{"\u0000":1}`, false},
		{`["ok", ["deep", {"k": "\u0000"}]]`, false},
		{`{"a":"\\\u0000"}`, false}, // an escaped backslash, then an escaped NUL
		{"{\"a\":\"\xff\"}", false},
		{"{\"a\":\"\x00\"}", false},
		{`[1e700, "\u0000"]`, false},
		{`[1e700, "ok"]`, true},
		{`"\ud83d\ude00"`, true}, // a pair: one character
		{`"\uD83D\uDE00"`, true},
		{`"\ud800"`, false},
		{`"\udc00\ud800"`, false}, // reversed
		{`"\ud800\u0041"`, false},
		{`"\ud800x"`, false},
		{`{"\udfff":1}`, false},
		{`"\\ud800"`, true}, // an escaped backslash, then text
	}
	for _, tt := range tests {
		if err := JSON("data", []byte(tt.raw)); (err == nil) != tt.ok {
			t.Errorf("JSON(%s) = %v, want ok %v", tt.raw, err, tt.ok)
		}
	}
}

// FuzzJSON: JSON refuses exactly the valid JSON documents that hold
// invalid UTF-8, a NUL character once decoded, or an unpaired surrogate;
// MarkLoneSurrogates keeps a document valid and its length, and marks
// exactly the unpaired surrogates.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":"\u0000"}`, `{"a":"\\u0000"}`, `["\\\u0000"]`, "\"\xff\"",
		`"\ud800"`, `"\ud83d\ude00"`, `"\udc00\ud800"`, `{"\ud800":"\\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		v, derr := decode(raw)
		if derr != nil {
			t.Fatalf("json.Valid but not decodable: %q: %v", raw, derr)
		}
		marked := MarkLoneSurrogates(raw)
		if len(marked) != len(raw) || !json.Valid(marked) {
			t.Fatalf("MarkLoneSurrogates(%q) = %q", raw, marked)
		}
		_, lone := scanEscapes(raw, nil)
		if lone == bytes.Equal(marked, raw) {
			t.Fatalf("MarkLoneSurrogates(%q) = %q, unpaired %v", raw, marked, lone)
		}
		if _, still := scanEscapes(marked, nil); still {
			t.Fatalf("MarkLoneSurrogates(%q) left an unpaired surrogate: %q", raw, marked)
		}
		err := JSON("data", raw)
		want := !utf8.Valid(raw) || hasNUL(v) || lone
		if (err != nil) != want {
			t.Fatalf("JSON(%q) = %v, want refused %v", raw, err, want)
		}
	})
}

// decode and hasNUL are the fuzz oracle: a real decoder (numbers kept as
// text, so any size reads) and a walk of what it read.
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
