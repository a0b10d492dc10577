// Rules for what an attempt keeps of a receiver's answer, shared by the
// sender that records it and the service that lists it.
package store

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Text is s as every store engine can keep it as text: valid UTF-8 (invalid
// bytes, and a character cut in two, become U+FFFD) without NUL characters.
// A peer may send anything; bytes from one must not keep a batch of
// records from being written.
func Text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// HeadersCutHeader is the entry response headers gain when some were left
// out; its value says how many and why.
const HeadersCutHeader = "Postbode-Headers-Truncated"

// CapHeaders leaves out of h the headers that do not fit in limit bytes of
// names and values, in name order so that the same answer keeps the same
// headers, skipping a large one rather than stopping at it so that the small
// ones still fit, and adds HeadersCutHeader saying how much was left out.
// It reports whether it cut anything.
func CapHeaders(h map[string]string, limit int) bool {
	size := 0
	for k, v := range h {
		size += len(k) + len(v)
	}
	if size <= limit {
		return false
	}
	const noteRoom = 200 // for HeadersCutHeader itself
	room := max(limit-noteRoom, 0)
	total, dropped, droppedSize := len(h), 0, 0
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if n := len(k) + len(h[k]); n <= room {
			room -= n
		} else {
			delete(h, k)
			dropped++
			droppedSize += n
		}
	}
	h[HeadersCutHeader] = fmt.Sprintf("%d of %d headers (%d of %d bytes) left out: at most %d bytes of response headers are kept here",
		dropped, total, droppedSize, size, limit)
	return true
}
