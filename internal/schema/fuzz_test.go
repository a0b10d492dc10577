package schema

import (
	"errors"
	"testing"
	"time"
)

// FuzzCompileValidate feeds arbitrary schemas and data: nothing may panic,
// every failure must come back as this package's error types, and no
// single call may take long.
func FuzzCompileValidate(f *testing.F) {
	seeds := [][2]string{
		{benchSchema, benchDoc},
		{payment, `{"amount":1,"currency":"EUR","items":[{"amount":5}],"meta":{"a":1}}`},
		{`{"type":"nope"}`, `1`},
		{`{"items":{"allOf":[{"$ref":"#"},{"$ref":"#"}]}}`, `[[[[[[[[]]]]]]]]`},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, `{}`},
		{`{"$ref":"https://example.com/x.json"}`, `{}`},
		{`{"patternProperties":{"^a":{"type":"number"}},"additionalProperties":false}`, `{"ab":1,"b":2}`},
		{`{"propertyNames":{"maxLength":2},"properties":{"x":{"propertyNames":{"pattern":"^a"}}}}`, `{"x":{"b":1},"yyy":2}`},
		{`{"$schema":"http://json-schema.org/draft-04/schema#","items":[{"type":"string"}],"additionalItems":{"type":"number"}}`, `["a",1,"b"]`},
		{`{"uniqueItems":true,"items":{"minimum":1e300,"multipleOf":0.1}}`, `[1e301,1e301,1e9999999]`},
		{`{"anyOf":[{"const":{"a":[1]}},{"enum":[null,true,"x"]}],"format":"regex"}`, `"(("`},
		{`{"unevaluatedProperties":false,"allOf":[{"properties":{"a":true}}],"dependentSchemas":{"a":{"required":["b"]}}}`, `{"a":1,"c":2}`},
		{`{"if":{"type":"string"},"then":{"format":"date-time"},"else":{"not":{"type":"null"}}}`, `null`},
		{`{"prefixItems":[true,false],"contains":{"type":"string"},"minContains":2,"maxContains":3}`, `["a",1]`},
		{`true`, `1`},
		{``, `{`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, schema, data []byte) {
		start := time.Now()
		sch, err := Compile(schema)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile error of type %T: %v", err, err)
			}
			return
		}
		err = sch.Validate(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate error of type %T: %v", err, err)
			}
		}
		if d := time.Since(start); d > slowdown*5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}
