package schema

import (
	"testing"
)

// benchSchema is a typical small event schema: five typed properties, all
// required.
const benchSchema = `{
	"type": "object",
	"required": ["id", "amount", "currency", "customer", "paid"],
	"properties": {
		"id": {"type": "string", "minLength": 1},
		"amount": {"type": "integer", "minimum": 0},
		"currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
		"customer": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}},
		"paid": {"type": "boolean"}
	}
}`

// benchDoc is 256 bytes of data matching benchSchema.
const benchDoc = `{"id":"evt_01J2X3Y4Z5A6B7C8D9E0F1G2H3","amount":129900,"currency":"EUR","customer":{"id":"cus_01J2X3Y4Z5A6B7C8D9","email":"jane.doe@example.com","name":"Jane Doe","country":"NL"},"paid":true,"note":"Invoice 2024-0042 for annual plan, paid by card 4242 ok"}`

func TestBenchDoc(t *testing.T) {
	if len(benchDoc) != 256 {
		t.Fatalf("benchDoc is %d bytes", len(benchDoc))
	}
}

func BenchmarkValidate(b *testing.B) {
	sch, err := Compile([]byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(benchDoc)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := sch.Validate(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateInvalid(b *testing.B) {
	sch, err := Compile([]byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"id":"evt_1","amount":"12","currency":"EUR","customer":{"id":"c"},"paid":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if sch.Validate(data) == nil {
			b.Fatal("valid")
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	raw := []byte(benchSchema)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(0, 0)
	raw := []byte(benchSchema)
	if _, err := c.Get("ws_1/payment.succeeded", raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s, err := c.Get("ws_1/payment.succeeded", raw); s == nil || err != nil {
				b.Fatal(s, err)
			}
		}
	})
}

func BenchmarkCacheNoSchema(b *testing.B) {
	c := NewCache(0, 0)
	data := []byte(benchDoc)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := c.Get("ws_1/untyped", nil)
		if err := s.Validate(data); err != nil {
			b.Fatal(err)
		}
	}
}
