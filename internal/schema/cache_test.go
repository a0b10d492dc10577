package schema

import (
	"strings"
	"sync"
	"testing"
)

func TestCacheHitAndChange(t *testing.T) {
	c := NewCache(0, 0)
	a, err := c.Get("ws/payment", []byte(`{"type":"object"}`))
	if err != nil || a == nil {
		t.Fatalf("Get = %v, %v", a, err)
	}
	b, _ := c.Get("ws/payment", []byte(`{"type":"object"}`))
	if a != b {
		t.Fatal("same key and bytes compiled twice")
	}
	d, _ := c.Get("ws/payment", []byte(`{"type":"array"}`))
	if d == a {
		t.Fatal("changed schema not recompiled")
	}
	if err := d.Validate([]byte(`{}`)); err == nil {
		t.Fatal("old schema still used")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1: a changed schema replaces the old", c.Len())
	}
	e, _ := c.Get("other/payment", []byte(`{"type":"object"}`))
	if e == a {
		t.Fatal("keys share entries")
	}
	c.Delete("ws/payment")
	if c.Len() != 1 {
		t.Fatalf("Len after Delete = %d", c.Len())
	}
}

func TestCacheNoSchema(t *testing.T) {
	c := NewCache(0, 0)
	for _, raw := range [][]byte{nil, {}, []byte("null")} {
		s, err := c.Get("ws/untyped", raw)
		if s != nil || err != nil {
			t.Fatalf("Get(%q) = %v, %v", raw, s, err)
		}
	}
	if c.Len() != 0 {
		t.Fatalf("no schema took %d entries", c.Len())
	}
}

func TestCacheErrors(t *testing.T) {
	c := NewCache(0, 0)
	_, err1 := c.Get("ws/bad", []byte(`{"type":"nope"}`))
	_, err2 := c.Get("ws/bad", []byte(`{"type":"nope"}`))
	if err1 == nil || err1 != err2 {
		t.Fatalf("errors %v, %v: want the same remembered error", err1, err2)
	}
	big := []byte(`{"description":"` + strings.Repeat("x", MaxSchemaSize) + `"}`)
	if _, err := c.Get("ws/big", big); err == nil {
		t.Fatal("oversize schema accepted")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d: an oversize schema must not take a slot", c.Len())
	}
}

func TestCacheBounds(t *testing.T) {
	c := NewCache(3, 0)
	for _, k := range []string{"a", "b", "c"} {
		c.Get(k, []byte(`{}`))
	}
	c.Get("a", []byte(`{}`)) // a is now the most recent
	c.Get("d", []byte(`{}`)) // evicts b
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	c.mu.Lock()
	_, hasA := c.entries["a"]
	_, hasB := c.entries["b"]
	c.mu.Unlock()
	if !hasA || hasB {
		t.Fatalf("LRU order wrong: a=%v b=%v", hasA, hasB)
	}

	raw := []byte(`{"description":"` + strings.Repeat("x", 1000) + `"}`) // one node
	per := len(raw) + nodeBytes
	c = NewCache(100, 2*per+per/2)
	for _, k := range []string{"a", "b", "c", "d"} {
		c.Get(k, raw)
	}
	if c.Len() != 2 || c.bytes != 2*per {
		t.Fatalf("Len = %d, bytes = %d; want 2 entries of %d bytes", c.Len(), c.bytes, per)
	}
	c.Delete("c")
	c.Delete("d")
	if c.Len() != 0 || c.bytes != 0 {
		t.Fatalf("after deleting all: Len = %d, bytes = %d", c.Len(), c.bytes)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(8, 0)
	raw := []byte(benchSchema)
	var wg sync.WaitGroup
	got := make([]*Schema, 32)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Get("ws/payment", raw)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
			// churn other keys meanwhile
			c.Get("ws/other"+string(rune('a'+i%16)), []byte(`{"type":"string"}`))
			if err := s.Validate([]byte(benchDoc)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, s := range got {
		if s == nil {
			t.Fatal("nil schema")
		}
	}
}
