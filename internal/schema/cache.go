package schema

import (
	"bytes"
	"container/list"
	"sync"
)

// Default bounds of a Cache. Real event schemas of a few KiB compile to a
// few tens of KiB, so the byte bound rarely binds; it is there for
// schemas built to be big (64 KiB of "anyOf":[true,true,...] compiles to
// about 14 MiB).
const (
	DefaultCacheEntries = 4096
	DefaultCacheBytes   = 64 << 20
)

// nodeBytes estimates the memory of one compiled subschema (measured: the
// library's Schema struct and its maps come to about 1 KiB).
const nodeBytes = 1024

// Size estimates the memory s takes, in bytes.
func (s *Schema) Size() int {
	if s == nil {
		return 0
	}
	return len(s.g.nodes) * nodeBytes
}

// Cache keeps compiled schemas so that each is compiled once. It is keyed by
// the caller's key (say, workspace and event type name) and remembers the
// schema bytes it compiled for that key: a changed schema is compiled anew
// and replaces the old one. It holds a bounded number of entries and of
// bytes (schema text plus the estimated Size of the compiled form),
// dropping the least recently used. Safe for concurrent use; concurrent
// misses on one key compile once.
type Cache struct {
	maxEntries int
	maxBytes   int

	mu      sync.Mutex
	bytes   int
	entries map[string]*list.Element // of *entry
	lru     list.List                // front: most recently used
}

type entry struct {
	key   string
	raw   []byte
	size  int           // counted in Cache.bytes
	ready chan struct{} // closed once sch and err are set
	sch   *Schema
	err   error
}

// NewCache returns a cache bounded to maxEntries schemas and about maxBytes
// of memory; a bound <= 0 takes the default.
func NewCache(maxEntries, maxBytes int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	return &Cache{maxEntries: maxEntries, maxBytes: maxBytes, entries: map[string]*list.Element{}}
}

// Get returns the compiled schema for key whose document is raw, compiling
// it on first use or when raw differs from what key had. Like Compile, empty
// or null raw gives a nil *Schema and no error, without touching the cache.
// Compile errors are remembered as well, for the same key and bytes.
func (c *Cache) Get(key string, raw []byte) (*Schema, error) {
	if absent(raw) {
		return nil, nil
	}
	if len(raw) > MaxSchemaSize {
		return Compile(raw) // refused at once; not worth a slot
	}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry)
		if bytes.Equal(e.raw, raw) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			<-e.ready
			return e.sch, e.err
		}
		c.removeLocked(el)
	}
	e := &entry{key: key, raw: bytes.Clone(raw), size: len(raw), ready: make(chan struct{})}
	el := c.lru.PushFront(e)
	c.entries[key] = el
	c.bytes += e.size
	c.evictLocked()
	c.mu.Unlock()

	e.sch, e.err = Compile(raw)
	close(e.ready)

	// Now that the compiled size is known, count it.
	c.mu.Lock()
	if c.entries[key] == el {
		extra := e.sch.Size()
		e.size += extra
		c.bytes += extra
		c.evictLocked()
	}
	c.mu.Unlock()
	return e.sch, e.err
}

// evictLocked drops the least recently used entries until the bounds hold,
// keeping at least the newest.
func (c *Cache) evictLocked() {
	for c.lru.Len() > c.maxEntries || (c.bytes > c.maxBytes && c.lru.Len() > 1) {
		c.removeLocked(c.lru.Back())
	}
}

// Delete forgets key, for an event type that is gone.
func (c *Cache) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.removeLocked(el)
	}
}

// Len reports the number of schemas held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// absent reports whether raw stands for "no schema".
func absent(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
