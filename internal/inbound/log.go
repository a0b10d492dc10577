// The request log: every request to an existing webhook, accepted or
// refused, is kept (the newest KeepRequests per webhook), with its
// credentials masked and its body cut. Entries are written in batches off
// the request path, so logging costs a request no database write.

package inbound

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/redact"
	"github.com/postbode/postbode/internal/store"
)

// Bounds of the log waiting to be written: past either, entries are
// dropped (and counted in the log) rather than memory grown.
const (
	logFlushEvery = 100 * time.Millisecond
	logBatch      = 100
	logMaxEntries = 10000
	logMaxBytes   = 16 << 20
)

// Entry is one request as the transport saw it and answered it.
type Entry struct {
	ReceivedAt time.Time
	Status     int
	Error      string // the answer's error message, if any
	EventID    string // the event made (or found again), if any
	RemoteAddr string
	Method     string
	Header     http.Header
	Body       []byte
}

type requestLog struct {
	mu      sync.Mutex
	pending []store.InboundRequest
	bytes   int
	dropped int
	wake    chan struct{}
}

func newRequestLog() *requestLog { return &requestLog{wake: make(chan struct{}, 1)} }

// Record queues e for hook's log. hook nil (no such webhook) is not logged.
func (s *Service) Record(hook *Hook, e Entry) {
	if hook == nil {
		return
	}
	r := store.InboundRequest{ID: id.New(id.InboundRequest), InboundID: hook.ID, WorkspaceID: hook.WorkspaceID,
		ReceivedAt: e.ReceivedAt.UTC().Truncate(time.Microsecond), Status: e.Status, Error: store.Text(e.Error),
		RemoteAddr: store.Text(e.RemoteAddr), Request: store.InboundRequestData{Method: store.Text(e.Method), Headers: headers(e.Header)}}
	if e.EventID != "" {
		ev := e.EventID
		r.EventID = &ev
	}
	body := e.Body
	if len(body) > store.ListBodyLimit {
		body, r.Request.BodyTruncated = body[:store.ListBodyLimit], true
	}
	r.Request.Body = store.Text(string(body))
	if len(r.Request.Body) > store.ListBodyLimit { // replacement characters take 3 bytes
		r.Request.Body, r.Request.BodyTruncated = store.TrimPartialRune(r.Request.Body[:store.ListBodyLimit]), true
	}
	size := len(r.Request.Body) + len(r.Error) + 512
	for k, v := range r.Request.Headers {
		size += len(k) + len(v)
	}
	l := s.log
	l.mu.Lock()
	if len(l.pending) >= logMaxEntries || l.bytes+size > logMaxBytes {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.pending = append(l.pending, r)
	l.bytes += size
	full := len(l.pending) >= logBatch
	l.mu.Unlock()
	if full {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// headers is h as the log shows it: one value per name (repeated ones
// joined), credentials masked, at most ListBodyLimit bytes in all.
func headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		k = store.Text(k)
		out[k] = store.Text(redact.Header(k, strings.Join(vs, ", ")))
	}
	store.CapHeaders(out, store.ListBodyLimit)
	return out
}

// Flush writes what is queued. Entries that cannot be written are put
// back (within the bounds) to be tried again.
func (s *Service) Flush(ctx context.Context) error {
	l := s.log
	l.mu.Lock()
	batch := l.pending
	l.pending, l.bytes = nil, 0
	l.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	batch = newest(batch, KeepRequests)
	err := s.opt.Store.InsertInboundRequests(ctx, batch, KeepRequests)
	if err != nil {
		l.mu.Lock()
		if len(batch)+len(l.pending) <= logMaxEntries {
			l.pending = append(batch, l.pending...)
			for range batch {
				l.bytes += 1024 // an estimate; the bound is a safety net
			}
		} else {
			l.dropped += len(batch)
		}
		l.mu.Unlock()
	}
	return err
}

// newest keeps, of each webhook's entries in batch (oldest first), the
// last keep: the store would delete the others in the same transaction,
// so a busy webhook costs at most keep rows per flush.
func newest(batch []store.InboundRequest, keep int) []store.InboundRequest {
	count := map[string]int{}
	for i := range batch {
		count[batch[i].InboundID]++
	}
	over := false
	for _, n := range count {
		over = over || n > keep
	}
	if !over {
		return batch
	}
	out := batch[:0:0]
	for i := range batch {
		id := batch[i].InboundID
		if count[id] > keep {
			count[id]--
			continue
		}
		out = append(out, batch[i])
	}
	return out
}

// Run writes the request log every logFlushEvery (sooner when a batch is
// full) until ctx ends, and once more then.
func (s *Service) Run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(logFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.Flush(flushCtx); err != nil {
				log.Warn("inbound request log: the last entries could not be written", "err", err)
			}
			cancel()
			s.reportDropped(log)
			return
		case <-t.C:
		case <-s.log.wake:
		}
		if err := s.Flush(ctx); err != nil {
			log.Warn("inbound request log: writing failed; will retry", "err", err)
		}
		s.reportDropped(log)
	}
}

func (s *Service) reportDropped(log *slog.Logger) {
	l := s.log
	l.mu.Lock()
	n := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if n > 0 {
		log.Warn("inbound request log: entries dropped, more arrived than could be written", "dropped", n)
	}
}
