package inbound

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// TestLogIsBounded: past its bound in entries or bytes, the queue drops
// entries and says so in the log rather than grow.
func TestLogIsBounded(t *testing.T) {
	s := New(Options{Now: time.Now})
	hook := &Hook{Inbound: &store.Inbound{ID: "inb_1", WorkspaceID: "ws_1"}}
	for range logMaxEntries + 5 {
		s.Record(hook, Entry{Status: 401})
	}
	if len(s.log.pending) != logMaxEntries || s.log.dropped != 5 {
		t.Fatalf("%d pending, %d dropped", len(s.log.pending), s.log.dropped)
	}
	var buf bytes.Buffer
	s.reportDropped(slog.New(slog.NewTextHandler(&buf, nil)))
	if !strings.Contains(buf.String(), "dropped=5") || s.log.dropped != 0 {
		t.Errorf("logged %q", buf.String())
	}

	s = New(Options{Now: time.Now})
	big := make([]byte, 1<<20)
	for range 100 {
		s.Record(hook, Entry{Status: 202, Body: big}) // cut to 4 KiB each
	}
	if len(s.log.pending) != 100 || s.log.bytes > 100*(store.ListBodyLimit+1024) {
		t.Fatalf("%d pending, %d bytes", len(s.log.pending), s.log.bytes)
	}
	for range logMaxEntries {
		s.Record(hook, Entry{Status: 202, Body: big, Header: map[string][]string{"X-Big": {strings.Repeat("h", 100000)}}})
	}
	if s.log.bytes > logMaxBytes {
		t.Fatalf("%d bytes queued, bound %d", s.log.bytes, logMaxBytes)
	}
}

func TestNewest(t *testing.T) {
	var batch []store.InboundRequest
	for i := range 250 {
		hook := "a"
		if i%5 == 0 {
			hook = "b" // 50 of them
		}
		batch = append(batch, store.InboundRequest{ID: string(rune('0' + i)), InboundID: hook})
	}
	out := newest(batch, 100)
	n := map[string]int{}
	for _, r := range out {
		n[r.InboundID]++
	}
	if n["a"] != 100 || n["b"] != 50 || out[len(out)-1].ID != batch[len(batch)-1].ID {
		t.Fatalf("kept %v", n)
	}
	if got := newest(batch[:10], 100); len(got) != 10 {
		t.Fatalf("a small batch lost entries")
	}
}
