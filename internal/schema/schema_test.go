package schema

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCompile(t *testing.T) {
	deep := strings.Repeat(`{"items":`, MaxSchemaDepth) + `{}` + strings.Repeat(`}`, MaxSchemaDepth)
	var diamond strings.Builder // each level refers to the next twice: 2^40 checks
	diamond.WriteString(`{"$ref":"#/$defs/d0","$defs":{`)
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&diamond, `"d%d":{"allOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"}]},`, i, i+1, i+1)
	}
	diamond.WriteString(`"d40":{"type":"string"}}}`)

	tests := []struct {
		name    string
		schema  string
		nilSch  bool   // no schema at all
		wantErr string // substring of the error; "" for success
		path    string // CompileError.Path when wantErr is set
	}{
		{name: "object", schema: `{"type":"object","properties":{"amount":{"type":"number"}},"required":["amount"]}`},
		{name: "empty object accepts all", schema: `{}`},
		{name: "no bytes", schema: ``, nilSch: true},
		{name: "json null", schema: ` null `, nilSch: true},
		{name: "boolean true", schema: `true`, wantErr: "schema: must be a JSON object"},
		{name: "boolean false", schema: `false`, wantErr: "schema: must be a JSON object"},
		{name: "array", schema: `[]`, wantErr: "must be a JSON object"},
		{name: "not json", schema: `{"type":`, wantErr: "schema: is not valid JSON: unexpected end of input"},
		{name: "unknown type", schema: `{"type":"nope"}`, wantErr: `schema: at /type: must be one of "array", "boolean"`, path: "/type"},
		{name: "nested unknown type", schema: `{"properties":{"amount":{"type":"nope"}}}`, wantErr: "schema: at /properties/amount/type: ", path: "/properties/amount/type"},
		{name: "required not array", schema: `{"required":"amount"}`, wantErr: "schema: at /required: must be an array, got string", path: "/required"},
		{name: "negative minLength", schema: `{"minLength":-1}`, wantErr: "at /minLength: must be at least 0, got -1", path: "/minLength"},
		{name: "bad pattern", schema: `{"pattern":"("}`, wantErr: "at /pattern: must be a valid regular expression", path: "/pattern"},
		{name: "bad patternProperties key", schema: `{"properties":{"a":{"type":"string"},"b":{"patternProperties":{"(":{}}}}}`, wantErr: `at /properties/b/patternProperties: property name "(" must be a valid regular expression`, path: "/properties/b/patternProperties"},
		{name: "ref inside", schema: `{"$defs":{"money":{"type":"number"}},"properties":{"amount":{"$ref":"#/$defs/money"}}}`},
		{name: "ref by anchor", schema: `{"$defs":{"money":{"$anchor":"money","type":"number"}},"properties":{"amount":{"$ref":"#money"}}}`},
		{name: "ref to sibling property", schema: `{"properties":{"a":{"$ref":"#/properties/b"},"b":{"type":"string"}}}`},
		{name: "recursive through data", schema: `{"$defs":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`},
		{name: "embedded id", schema: `{"$defs":{"x":{"$id":"https://example.com/x.json","type":"string"}},"properties":{"a":{"$ref":"https://example.com/x.json"}}}`},
		{name: "draft-07", schema: `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"a":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/a"}}}`},
		{name: "missing pointer", schema: `{"$ref":"#/$defs/missing"}`, wantErr: `schema: $ref "#/$defs/missing" points to nothing in the schema`},
		{name: "missing anchor", schema: `{"$ref":"#nope"}`, wantErr: `$ref "#nope" names an anchor that the schema does not define`},
		{name: "remote https ref", schema: `{"$ref":"https://example.com/schema.json"}`, wantErr: `schema: refers to "https://example.com/schema.json", outside the schema: only references inside the schema document are allowed`},
		{name: "relative ref", schema: `{"properties":{"a":{"$ref":"other.json#/x"}}}`, wantErr: `refers to "other.json", outside the schema`},
		{name: "file ref", schema: `{"$ref":"file:///etc/passwd"}`, wantErr: `refers to "file:///etc/passwd", outside the schema`},
		{name: "id moves base elsewhere", schema: `{"$id":"https://evil.example/a.json","$ref":"b.json"}`, wantErr: `refers to "https://evil.example/b.json", outside the schema`},
		{name: "custom meta-schema", schema: `{"$schema":"https://example.com/meta.json"}`, wantErr: `refers to "https://example.com/meta.json", outside the schema`},
		{name: "unknown draft", schema: `{"$schema":"https://json-schema.org/draft/2099/schema"}`, wantErr: "is not a known JSON Schema draft"},
		{name: "dynamic ref", schema: `{"$dynamicAnchor":"node","$dynamicRef":"#node"}`, wantErr: "$dynamicRef and $recursiveRef are not supported"},
		{name: "ref to 2020-12 meta-schema", schema: `{"$ref":"https://json-schema.org/draft/2020-12/schema"}`, wantErr: "standard meta-schema that uses $dynamicRef"},
		{name: "in-place ref cycle", schema: `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`, wantErr: "$ref cycle that never moves into the data", path: "/$defs/a"},
		{name: "self ref at root", schema: `{"$ref":"#"}`, wantErr: "$ref cycle"},
		{name: "exponential references", schema: diamond.String(), wantErr: "is too complex"},
		{name: "oversize", schema: `{"description":"` + strings.Repeat("x", MaxSchemaSize) + `"}`, wantErr: "schema: is larger than 65536 bytes"},
		{name: "too deep", schema: deep, wantErr: "is nested more than 128 levels deep"},
		{name: "huge exponent", schema: `{"maximum":1e999999}`, wantErr: "at /maximum: number is too long or too large", path: "/maximum"},
		{name: "long number", schema: `{"enum":[1.` + strings.Repeat("1", MaxSchemaNumberLen) + `]}`, wantErr: "at /enum/0: number is too long"},
		{name: "boolean subschemas", schema: `{"properties":{"legacy":false,"any":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sch, err := Compile([]byte(tt.schema))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				if (sch == nil) != tt.nilSch {
					t.Fatalf("schema nil = %v, want %v", sch == nil, tt.nilSch)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *CompileError", err)
			}
			if tt.path != "" && ce.Path != tt.path {
				t.Fatalf("path %q, want %q", ce.Path, tt.path)
			}
			for _, leak := range []string{"postbode.invalid", "jsonschema", "*kind.", "%!"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error %q leaks %q", err, leak)
				}
			}
		})
	}
}

const payment = `{
	"type": "object",
	"required": ["amount", "currency"],
	"properties": {
		"amount": {"type": "number", "minimum": 0},
		"currency": {"enum": ["EUR", "USD"]},
		"reference": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[A-Z]+$"},
		"paid_at": {"type": "string", "format": "date-time"},
		"items": {
			"type": "array",
			"maxItems": 3,
			"uniqueItems": true,
			"items": {
				"type": "object",
				"required": ["amount"],
				"properties": {"amount": {"type": "integer", "multipleOf": 5}},
				"additionalProperties": false
			}
		},
		"note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
		"payer": {"oneOf": [{"type": "object", "required": ["id"]}, {"type": "string"}]},
		"legacy": false,
		"labels": {"type": "object", "propertyNames": {"maxLength": 3}},
		"meta": {"$ref": "#/$defs/meta"}
	},
	"$defs": {"meta": {"type": "object", "maxProperties": 1, "propertyNames": {"pattern": "^[a-z]+$"}}}
}`

func TestValidate(t *testing.T) {
	sch, err := Compile([]byte(payment))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data string
		path, msg  string // want; msg "" means valid
	}{
		{name: "valid minimal", data: `{"amount":12.5,"currency":"EUR"}`},
		{name: "valid full", data: `{"amount":0,"currency":"USD","reference":"ABC","paid_at":"2024-05-01T10:00:00Z","items":[{"amount":5},{"amount":10}],"note":null,"payer":"p_1","meta":{"k":1}}`},
		{name: "root not object", data: `[1]`, msg: "must be an object, got array"},
		{name: "missing one", data: `{"amount":1}`, msg: `missing property "currency"`},
		{name: "missing two", data: `{}`, msg: `missing properties "amount", "currency"`},
		{name: "wrong type", data: `{"amount":"12","currency":"EUR"}`, path: "/amount", msg: "must be a number, got string"},
		{name: "below minimum", data: `{"amount":-1,"currency":"EUR"}`, path: "/amount", msg: "must be at least 0, got -1"},
		{name: "enum", data: `{"amount":1,"currency":"GBP"}`, path: "/currency", msg: `must be one of "EUR", "USD"`},
		{name: "too short", data: `{"amount":1,"currency":"EUR","reference":"AB"}`, path: "/reference", msg: "must be at least 3 characters long, got 2"},
		{name: "too long", data: `{"amount":1,"currency":"EUR","reference":"ABCDEF"}`, path: "/reference", msg: "must be at most 5 characters long, got 6"},
		{name: "pattern", data: `{"amount":1,"currency":"EUR","reference":"abc"}`, path: "/reference", msg: `must match the pattern "^[A-Z]+$"`},
		{name: "format asserted", data: `{"amount":1,"currency":"EUR","paid_at":"yesterday"}`, path: "/paid_at", msg: "must be a valid date-time"},
		{name: "item type", data: `{"amount":1,"currency":"EUR","items":[{"amount":5},{"amount":"x"}]}`, path: "/items/1/amount", msg: "must be an integer, got string"},
		{name: "integer", data: `{"amount":1,"currency":"EUR","items":[{"amount":5.5}]}`, path: "/items/0/amount", msg: "must be an integer, got number"},
		{name: "multipleOf", data: `{"amount":1,"currency":"EUR","items":[{"amount":7}]}`, path: "/items/0/amount", msg: "must be a multiple of 5, got 7"},
		{name: "additional property", data: `{"amount":1,"currency":"EUR","items":[{"amount":5,"sku":"x"}]}`, path: "/items/0", msg: `property "sku" is not allowed`},
		{name: "item missing", data: `{"amount":1,"currency":"EUR","items":[{}]}`, path: "/items/0", msg: `missing property "amount"`},
		{name: "max items", data: `{"amount":1,"currency":"EUR","items":[{"amount":5},{"amount":10},{"amount":15},{"amount":20}]}`, path: "/items", msg: "must have at most 3 items, got 4"},
		{name: "unique", data: `{"amount":1,"currency":"EUR","items":[{"amount":5},{"amount":5}]}`, path: "/items", msg: "must have unique items, but items 0 and 1 are equal"},
		{name: "anyOf types", data: `{"amount":1,"currency":"EUR","note":5}`, path: "/note", msg: "must be a string or null, got number"},
		{name: "oneOf deepest", data: `{"amount":1,"currency":"EUR","payer":{}}`, path: "/payer", msg: `missing property "id"`},
		{name: "oneOf types", data: `{"amount":1,"currency":"EUR","payer":true}`, path: "/payer", msg: "must be an object or a string, got boolean"},
		{name: "false schema", data: `{"amount":1,"currency":"EUR","legacy":1}`, path: "/legacy", msg: "is not allowed"},
		{name: "ref", data: `{"amount":1,"currency":"EUR","meta":[]}`, path: "/meta", msg: "must be an object, got array"},
		{name: "max properties", data: `{"amount":1,"currency":"EUR","meta":{"a":1,"b":2}}`, path: "/meta", msg: "must have at most 1 property, got 2"},
		{name: "property names", data: `{"amount":1,"currency":"EUR","meta":{"A":1}}`, path: "/meta", msg: `property name "A" must match the pattern "^[a-z]+$"`},
		{name: "property names without ref", data: `{"amount":1,"currency":"EUR","labels":{"abcd":1},"reference":"ABC","note":"x","payer":"p"}`, path: "/labels", msg: `property name "abcd" must be at most 3 characters long, got 4`},
		{name: "property names nested", data: `{"amount":1,"currency":"EUR","items":[{"amount":5}],"meta":{"a":1},"payer":{"id":1,"x":{"A":2}},"labels":{"ab":{"abcd":1},"abcd":2}}`, path: "/labels", msg: `property name "abcd" must be at most 3 characters long, got 4`},
		{name: "escaped pointer", data: `{"amount":1,"currency":"EUR","items":[{"amount":5,"a/b~c":1}]}`, path: "/items/0", msg: `property "a/b~c" is not allowed`},
		{name: "first of several, by place", data: `{"amount":"x","currency":"GBP","reference":"a"}`, path: "/amount", msg: "must be a number, got string"},
		{name: "huge number", data: `{"amount":1e99999,"currency":"EUR"}`, path: "/amount", msg: "number is too long or too large to check (at most 1000 characters and an exponent within ±10000)"},
		{name: "number beyond the library", data: `{"amount":1e9999999,"currency":"EUR"}`, path: "/amount", msg: "number is too long or too large to check (at most 1000 characters and an exponent within ±10000)"},
		{name: "huge number where no schema looks", data: `{"amount":1,"currency":"EUR","other":1e9999999}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 { // map order must not change the answer
				err := sch.Validate([]byte(tt.data))
				if tt.msg == "" {
					if err != nil {
						t.Fatalf("Validate: %v", err)
					}
					continue
				}
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Validate = %v, want a *ValidationError", err)
				}
				if ve.Path != tt.path || ve.Message != tt.msg {
					t.Fatalf("got (%q, %q), want (%q, %q)", ve.Path, ve.Message, tt.path, tt.msg)
				}
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  ValidationError
		want string
	}{
		{ValidationError{Path: "", Message: "must be an object, got array"}, "data: must be an object, got array"},
		{ValidationError{Path: "/items/0/amount", Message: "must be a number, got string"}, "data: at /items/0/amount: must be a number, got string"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestNilSchema(t *testing.T) {
	var s *Schema
	if err := s.Validate([]byte(`not even json`)); err != nil {
		t.Fatalf("nil schema: %v", err)
	}
	s, err := Compile(nil)
	if s != nil || err != nil {
		t.Fatalf("Compile(nil) = %v, %v", s, err)
	}
}

func TestInvalidJSONData(t *testing.T) {
	sch, err := Compile([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{``, `{`, `{} {}`, `nope`} {
		err := sch.Validate([]byte(d))
		if !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidJSON", d, err)
		}
	}
}

func TestDrafts(t *testing.T) {
	// Older drafts keep their own semantics: here draft-04's boolean
	// exclusiveMaximum.
	sch, err := Compile([]byte(`{"$schema":"http://json-schema.org/draft-04/schema#","maximum":10,"exclusiveMaximum":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate([]byte(`10`)); err == nil || !strings.Contains(err.Error(), "must be less than 10") {
		t.Fatalf("Validate(10) = %v", err)
	}
	// Without $schema, 2020-12: prefixItems exists.
	sch, err = Compile([]byte(`{"prefixItems":[{"type":"string"}],"items":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate([]byte(`["a",1]`)); err == nil || !strings.Contains(err.Error(), "at /1: is not allowed") {
		t.Fatalf("Validate = %v", err)
	}
}

// TestHostile checks that schemas and data built to make the validator
// work exponentially, or for long, are refused quickly.
func TestHostile(t *testing.T) {
	nest := func(d int, leaf string) string {
		return strings.Repeat("[", d) + leaf + strings.Repeat("]", d)
	}
	var chain strings.Builder // 2000 references in a row, applied to every item
	chain.WriteString(`{"items":{"$ref":"#/$defs/d0"},"$defs":{`)
	for i := range 2000 {
		fmt.Fprintf(&chain, `"d%d":{"$ref":"#/$defs/d%d"},`, i, i+1)
	}
	chain.WriteString(`"d2000":{"type":"number"}}}`)
	tests := []struct {
		name, schema, data string
		tooComplex         bool // else it may pass, but in time
	}{
		{"doubling per level of data", `{"items":{"allOf":[{"$ref":"#"},{"$ref":"#"}]}}`, nest(60, ""), true},
		{"anyOf doubling per level", `{"type":["array","number"],"items":{"anyOf":[{"$ref":"#"},{"$ref":"#"}]}}`, nest(60, "1"), true},
		{"long reference chain", chain.String(), "[" + strings.Repeat("1,", 200) + "1]", true},
		{"big pattern over a long string", `{"pattern":"` + strings.Repeat("[a-z]x?", 8000) + `"}`, `"` + strings.Repeat("a", 1<<20) + `"`, true},
		{"regex format on a long string", `{"format":"regex"}`, `"` + strings.Repeat("(a|b)", 200000) + `"`, false},
		{"regex format on longer strings", `{"items":{"format":"regex"}}`, `["` + strings.Repeat("(a|b)", 200000) + `","` + strings.Repeat("(a|b)", 200000) + `"]`, true},
		{"many big numbers", `{"items":{"minimum":0,"multipleOf":3}}`, "[" + strings.Repeat("1e9999,", 100000) + "1]", true},
		{"unevaluated properties copied per check", `{"allOf":[{},{},{},{},{},{},{},{}],"anyOf":[{},{},{},{},{},{},{},{}],"unevaluatedProperties":{"type":"number"}}`,
			"{" + strings.Repeat(`"k":1,`, 0) + manyKeys(50000) + "}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sch, err := Compile([]byte(tt.schema))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			start := time.Now()
			err = sch.Validate([]byte(tt.data))
			if tt.tooComplex != errors.Is(err, ErrTooComplex) {
				t.Fatalf("Validate = %v, want ErrTooComplex: %v", err, tt.tooComplex)
			}
			if d := time.Since(start); d > slowdown*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"key%d":%d`, i, i)
	}
	return b.String()
}

// TestOrdinaryLargeData checks that the work bound leaves room for big
// ordinary documents: about 1 MiB of payments.
func TestOrdinaryLargeData(t *testing.T) {
	sch, err := Compile([]byte(`{"type":"array","items":` + benchSchema + `}`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("[")
	for i := 0; b.Len() < 1<<20-len(benchDoc); i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(benchDoc)
	}
	b.WriteString("]")
	if err := sch.Validate([]byte(b.String())); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
