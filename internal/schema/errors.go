package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// compileError turns the library's compile errors into sentences about
// the user's document: locations as JSON Pointers into it, never the
// internal base URL, never Go type names.
func compileError(err error, rootDoc any) error {
	var (
		sve  *jsonschema.SchemaValidationError
		load *jsonschema.LoadURLError
		ptr  *jsonschema.JSONPointerNotFoundError
		anc  *jsonschema.AnchorNotFoundError
		re   *jsonschema.InvalidRegexError
		drft *jsonschema.UnsupportedDraftError
		verr *jsonschema.ValidationError
	)
	switch {
	case errors.As(err, &sve) && errors.As(sve.Err, &verr):
		var doc any
		if fragment(sve.URL) == "" {
			doc = rootDoc
		}
		loc, msg := picker{doc}.pick(verr, nil)
		return &CompileError{Path: fragment(sve.URL) + pointer(loc), Message: msg}
	case errors.As(err, &load):
		if strings.HasPrefix(load.URL, "http://json-schema.org/") || strings.HasPrefix(load.URL, "https://json-schema.org/") {
			return &CompileError{Message: fmt.Sprintf("%q is not a known JSON Schema draft or meta-schema", load.URL)}
		}
		return &CompileError{Message: fmt.Sprintf(
			"refers to %q, outside the schema: only references inside the schema document are allowed", display(load.URL))}
	case errors.As(err, &ptr):
		return &CompileError{Message: fmt.Sprintf("$ref %q points to nothing in the schema", display(ptr.URL))}
	case errors.As(err, &anc):
		return &CompileError{Message: fmt.Sprintf("$ref %q names an anchor that the schema does not define", display(anc.Reference))}
	case errors.As(err, &re):
		detail := strings.TrimPrefix(re.Err.Error(), "error parsing regexp: ")
		return &CompileError{Path: fragment(re.URL), Message: fmt.Sprintf("%q is not a valid regular expression: %s", re.Regex, detail)}
	case errors.As(err, &drft):
		return &CompileError{Message: fmt.Sprintf("$schema %q is not a supported draft", display(drft.URL))}
	}
	return &CompileError{Message: strings.ReplaceAll(err.Error(), base, "")}
}

// display shortens a URL inside the schema document to its fragment, and
// one relative to it to what the user wrote.
func display(url string) string {
	if strings.HasPrefix(url, base) {
		if s := url[len(base):]; s != "" {
			return s
		}
		return "#"
	}
	if s, ok := strings.CutPrefix(url, baseDir); ok {
		return s
	}
	return url
}

// fragment gives the JSON Pointer of a location inside the schema document
// ("" for its root or for a location elsewhere).
func fragment(url string) string {
	if !strings.HasPrefix(url, base+"#") {
		return ""
	}
	return url[len(base)+1:]
}

// picker chooses the one failure to report from the library's tree of
// failures, and says it in a sentence. doc is the document validated, or
// nil.
type picker struct{ doc any }

// pick reports e. The tree's order depends on Go map iteration, so ties
// are broken by instance location to stay deterministic; shallower
// locations win, so "missing property" on an object comes before failures
// inside its members. good is the location of the nearest ancestor whose
// location is trustworthy (see repair).
func (p picker) pick(e *jsonschema.ValidationError, good []string) ([]string, string) {
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf:
		return p.pickAlternative(e, "must match at least one of the anyOf schemas")
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return p.pickAlternative(e, "must match exactly one of the oneOf schemas")
		}
		return e.InstanceLocation, fmt.Sprintf("must match exactly one of the oneOf schemas, but matches schemas %d and %d", k.Subschemas[0], k.Subschemas[1])
	case *kind.PropertyNames:
		msg := "is not allowed"
		if len(e.Causes) > 0 {
			_, msg = picker{}.pickAmong(e.Causes, nil) // locations inside a name mean nothing
		}
		return p.repair(good, e.InstanceLocation, k.Property), fmt.Sprintf("property name %q %s", k.Property, msg)
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		if len(e.Causes) > 0 {
			return p.pickAmong(e.Causes, e.InstanceLocation)
		}
	}
	return e.InstanceLocation, describe(e.ErrorKind)
}

func (p picker) pickAmong(causes []*jsonschema.ValidationError, good []string) ([]string, string) {
	var bestLoc []string
	var bestMsg string
	for i, c := range causes {
		loc, msg := p.pick(c, good)
		if i == 0 || lessLoc(loc, bestLoc) || (equalLoc(loc, bestLoc) && msg < bestMsg) {
			bestLoc, bestMsg = loc, msg
		}
	}
	return bestLoc, bestMsg
}

// pickAlternative reports a failed anyOf/oneOf. When every alternative
// failed on the type of the value itself, one sentence lists the types
// wanted; otherwise the alternative that got deepest into the data is the
// likely intended one, and its failure is reported.
func (p picker) pickAlternative(e *jsonschema.ValidationError, fallback string) ([]string, string) {
	if len(e.Causes) == 0 {
		return e.InstanceLocation, fallback
	}
	var want []string
	got := ""
	allTypes := true
	bestLoc, bestMsg := []string(nil), ""
	for i, c := range e.Causes {
		if t, ok := typeError(c); ok && equalLoc(c.InstanceLocation, e.InstanceLocation) {
			got = t.Got
			want = append(want, t.Want...)
		} else {
			allTypes = false
		}
		loc, msg := p.pick(c, e.InstanceLocation)
		if i == 0 || len(loc) > len(bestLoc) {
			bestLoc, bestMsg = loc, msg
		}
	}
	if allTypes {
		return e.InstanceLocation, describe(&kind.Type{Got: got, Want: dedupe(want)})
	}
	return bestLoc, bestMsg
}

// repair finds where a propertyNames failure happened. The library (v6.0.3)
// records that location without copying it, so later checks of siblings
// can overwrite its tokens; its length stays right. The failing object is
// an object below good at that depth with a member named key; of several,
// the one agreeing most with the recorded tokens, then the first in order.
func (p picker) repair(good, recorded []string, key string) []string {
	if p.doc == nil || len(recorded) < len(good) {
		return slices.Clone(recorded)
	}
	v := p.doc
	for _, tok := range good {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return slices.Clone(recorded)
			}
			v = x[i]
		default:
			return slices.Clone(recorded)
		}
	}
	best, bestScore := []string(nil), -1
	budget := 100000 // values looked at; the data is already in memory, but stay bounded
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		if budget--; budget < 0 {
			return
		}
		if len(path) == len(recorded) {
			if obj, ok := v.(map[string]any); ok {
				if _, ok := obj[key]; ok {
					score := 0
					for i := range path {
						if path[i] == recorded[i] {
							score++
						}
					}
					if score > bestScore {
						best, bestScore = slices.Clone(path), score
					}
				}
			}
			return
		}
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(x[k], append(path, k))
			}
		case []any:
			for i, e := range x {
				walk(e, append(path, strconv.Itoa(i)))
			}
		}
	}
	walk(v, slices.Clone(good))
	if best == nil {
		return slices.Clone(recorded)
	}
	return best
}

// typeError finds a lone type failure, looking through the wrappers the
// library adds around a single failure.
func typeError(e *jsonschema.ValidationError) (*kind.Type, bool) {
	for {
		switch k := e.ErrorKind.(type) {
		case *kind.Type:
			return k, true
		case *kind.Reference, *kind.Group, *kind.Schema, *kind.AllOf:
			if len(e.Causes) != 1 {
				return nil, false
			}
			e = e.Causes[0]
		default:
			return nil, false
		}
	}
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		found := false
		for _, y := range out {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// lessLoc orders instance locations: a prefix first, then token by token,
// array indexes numerically.
func lessLoc(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		ai, aerr := strconv.Atoi(a[i])
		bi, berr := strconv.Atoi(b[i])
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}

func equalLoc(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// describe says what a single failure means, in words an API user reads.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		return fmt.Sprintf("must be %s, got %s", strings.Join(want, " or "), k.Got)
	case *kind.Required:
		if len(k.Missing) == 1 {
			return fmt.Sprintf("missing property %q", k.Missing[0])
		}
		return "missing properties " + quoteList(k.Missing)
	case *kind.AdditionalProperties:
		if len(k.Properties) == 1 {
			return fmt.Sprintf("property %q is not allowed", k.Properties[0])
		}
		return "properties " + quoteList(k.Properties) + " are not allowed"
	case *kind.Const:
		return "must be " + jsonText(k.Want)
	case *kind.Enum:
		if len(k.Want) == 1 {
			return "must be " + jsonText(k.Want[0])
		}
		const shown = 10
		var parts []string
		for i, w := range k.Want {
			if i == shown {
				parts = append(parts, fmt.Sprintf("(%d more)", len(k.Want)-shown))
				break
			}
			parts = append(parts, jsonText(w))
		}
		return "must be one of " + strings.Join(parts, ", ")
	case *kind.Format:
		if k.Want == "regex" {
			return "must be a valid regular expression"
		}
		return fmt.Sprintf("must be a valid %s", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %q", k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %s long, got %d", plural(k.Want, "character"), k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %s long, got %d", plural(k.Want, "character"), k.Got)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be greater than %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be less than %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("must be a multiple of %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %s, got %d", plural(k.Want, "item"), k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %s, got %d", plural(k.Want, "item"), k.Got)
	case *kind.AdditionalItems:
		return fmt.Sprintf("has %s more than allowed", plural(k.Count, "item"))
	case *kind.UniqueItems:
		return fmt.Sprintf("must have unique items, but items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %s, got %d", plural(k.Want, "property"), k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %s, got %d", plural(k.Want, "property"), k.Got)
	case *kind.Dependency:
		return fmt.Sprintf("must have %s when %q is present", quoteList(k.Missing), k.Prop)
	case *kind.DependentRequired:
		return fmt.Sprintf("must have %s when %q is present", quoteList(k.Missing), k.Prop)
	case *kind.Contains:
		return "must contain an item matching the contains schema"
	case *kind.MinContains:
		return fmt.Sprintf("must contain at least %s matching the contains schema, got %d", plural(k.Want, "item"), len(k.Got))
	case *kind.MaxContains:
		return fmt.Sprintf("must contain at most %s matching the contains schema, got %d", plural(k.Want, "item"), len(k.Got))
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "must not match the schema in not"
	case *kind.AnyOf:
		return "must match at least one of the anyOf schemas"
	case *kind.OneOf:
		return "must match exactly one of the oneOf schemas"
	case *kind.RefCycle:
		return "cannot be checked: the schema refers to itself in a loop"
	}
	// A kind this package does not know (from a newer library): name the
	// keyword rather than show the library's wording.
	if kw := k.KeywordPath(); len(kw) > 0 {
		return fmt.Sprintf("does not match the schema's %q", strings.Join(kw, "/"))
	}
	return "does not match the schema"
}

func article(t string) string {
	switch t {
	case "null":
		return "null"
	case "integer", "object", "array":
		return "an " + t
	}
	return "a " + t
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, word[:len(word)-1])
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// jsonText shows a schema value as JSON, cut short if long.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "the value in the schema"
	}
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// rat shows a number the validator computed with.
func rat(r *big.Rat) string {
	if r == nil {
		return "a number"
	}
	if r.IsInt() && r.Num().BitLen() <= 64 {
		return r.Num().String()
	}
	f, _ := r.Float64()
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.Contains(s, "Inf") {
		return "a number of huge magnitude"
	}
	return s
}
