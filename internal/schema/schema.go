package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Limits on what an API user may store as a schema. They are far beyond
// what real event schemas need and small enough that compiling the worst
// schema they allow stays in the tens of milliseconds.
const (
	// MaxSchemaSize bounds the schema document in bytes.
	MaxSchemaSize = 64 << 10
	// MaxSchemaDepth bounds the JSON nesting of the schema document (an
	// object or array inside another adds one).
	MaxSchemaDepth = 128
	// MaxSchemaNumberLen and MaxSchemaExponent bound each number written
	// in a schema: the library turns them into exact rationals, whose cost
	// grows with digits and exponent.
	MaxSchemaNumberLen = 100
	MaxSchemaExponent  = 400
)

// Limits on the data, checked only where a schema applies to it.
const (
	// MaxNumberLen and MaxNumberExponent bound each number the schema looks
	// at, for the same reason as in schemas; past an exponent of a million
	// the library cannot represent a number at all.
	MaxNumberLen      = 1000
	MaxNumberExponent = 10000
	// MaxValidationCost bounds the work of one Validate call, in units of
	// roughly one subschema checked against one value (measured: 70 to 200
	// ns each), so about half a second of one core at worst. A 1 MiB
	// document of ordinary events under an ordinary schema costs about a
	// tenth of it.
	MaxValidationCost = 4 << 20
)

// base is where the schema document lives for the library. It is never
// fetched (.invalid cannot resolve, and no loader can fetch anyway); refs
// are resolved against it, so a ref that leaves the document names another
// URL and is refused.
const (
	baseDir = "https://postbode.invalid/"
	base    = baseDir + "schema.json"
)

var (
	// ErrTooComplex is wrapped by the *ValidationError Validate returns when
	// checking the document would cost more than MaxValidationCost.
	ErrTooComplex = errors.New("schema: data too complex to validate")
	// ErrInvalidJSON is wrapped by the *ValidationError Validate returns for
	// data that is not one JSON value.
	ErrInvalidJSON = errors.New("schema: data is not valid JSON")
)

// Schema is a compiled schema, safe for concurrent use. A nil *Schema
// accepts every document.
type Schema struct {
	sch *jsonschema.Schema
	g   *graph
}

// CompileError says why a schema was refused. Path is a JSON Pointer into
// the schema document ("" when the problem is not at one place).
type CompileError struct {
	Path    string
	Message string
}

func (e *CompileError) Error() string {
	if e.Path == "" {
		return "schema: " + e.Message
	}
	return "schema: at " + e.Path + ": " + e.Message
}

// ValidationError says why data does not match its schema: Path is a JSON
// Pointer into the data ("" for the whole document) and Message one
// sentence about the first failure found.
type ValidationError struct {
	Path    string
	Message string
	err     error
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return "data: " + e.Message
	}
	return "data: at " + e.Path + ": " + e.Message
}

// Unwrap gives ErrTooComplex or ErrInvalidJSON where they apply.
func (e *ValidationError) Unwrap() error { return e.err }

// Compile compiles one schema document. Empty bytes or JSON null mean "no
// schema" and give a nil *Schema and no error. Any other error is a
// *CompileError whose text can be shown to the API user as is.
func Compile(raw []byte) (*Schema, error) {
	if absent(raw) {
		return nil, nil
	}
	if len(raw) > MaxSchemaSize {
		return nil, &CompileError{Message: fmt.Sprintf("is larger than %d bytes", MaxSchemaSize)}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, &CompileError{Message: "is not valid JSON: " + jsonMessage(err)}
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, &CompileError{Message: "must be a JSON object"}
	}
	if err := checkDoc(doc, nil, 0); err != nil {
		return nil, err
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	c.AssertFormat()
	if err := c.AddResource(base, doc); err != nil {
		return nil, compileError(err, doc)
	}
	sch, err := c.Compile(base)
	if err != nil {
		return nil, compileError(err, doc)
	}
	g, err := analyze(sch)
	if err != nil {
		return nil, err
	}
	return &Schema{sch: sch, g: g}, nil
}

// Validate checks one JSON document against s. It returns nil when the
// document matches (always, for a nil s) and a *ValidationError otherwise.
func (s *Schema) Validate(data []byte) error {
	if s == nil {
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &ValidationError{Message: "is not valid JSON: " + jsonMessage(err), err: ErrInvalidJSON}
	}
	if err := s.g.check(v); err != nil {
		return err
	}
	err = s.sch.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &ValidationError{Message: "cannot be validated: " + err.Error()}
	}
	loc, msg := picker{v}.pick(verr, nil)
	return &ValidationError{Path: pointer(loc), Message: msg}
}

// refuseLoader is the library's only way to fetch a document: it never
// does. The standard meta-schemas are built into the library and never
// reach it.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, errRemote
}

var errRemote = errors.New("remote reference")

// checkDoc refuses nesting and numbers the library would spend too long
// on, before the library sees them.
func checkDoc(v any, path []string, depth int) error {
	switch v := v.(type) {
	case map[string]any:
		if depth >= MaxSchemaDepth {
			return &CompileError{Path: pointer(path), Message: fmt.Sprintf("is nested more than %d levels deep", MaxSchemaDepth)}
		}
		for k, e := range v {
			if err := checkDoc(e, append(path, k), depth+1); err != nil {
				return err
			}
		}
	case []any:
		if depth >= MaxSchemaDepth {
			return &CompileError{Path: pointer(path), Message: fmt.Sprintf("is nested more than %d levels deep", MaxSchemaDepth)}
		}
		for i, e := range v {
			if err := checkDoc(e, append(path, strconv.Itoa(i)), depth+1); err != nil {
				return err
			}
		}
	case json.Number:
		if !numberWithin(string(v), MaxSchemaNumberLen, MaxSchemaExponent) {
			return &CompileError{Path: pointer(path), Message: fmt.Sprintf(
				"number is too long or too large (at most %d characters and an exponent within ±%d)",
				MaxSchemaNumberLen, MaxSchemaExponent)}
		}
	}
	return nil
}

// numberWithin reports whether a JSON number literal has at most maxLen
// characters and an explicit exponent within ±maxExp.
func numberWithin(lit string, maxLen, maxExp int) bool {
	if len(lit) > maxLen {
		return false
	}
	return abs(exponent(lit)) <= maxExp
}

// exponent returns the explicit exponent of a JSON number literal, clamped
// to a million either side so that it cannot overflow.
func exponent(lit string) int {
	i := len(lit) - 1
	for i >= 0 && lit[i] != 'e' && lit[i] != 'E' {
		i--
	}
	if i < 0 {
		return 0
	}
	e := 0
	neg := false
	for _, c := range lit[i+1:] {
		switch {
		case c == '-':
			neg = true
		case c >= '0' && c <= '9':
			if e < 1e6 {
				e = e*10 + int(c-'0')
			}
		}
	}
	if neg {
		return -e
	}
	return e
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// pointer renders tokens as a JSON Pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// jsonMessage turns a decoding error into a sentence without Go type names.
func jsonMessage(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}
