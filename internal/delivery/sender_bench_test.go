//go:build linux || darwin

// Benchmarks of the send path against a loopback receiver that answers 200
// with an empty body, like the bench's, beside a plain net/http client
// posting a body of the same size with the same headers: the difference is
// what Sender adds per webhook. Besides ns/op they report cpu-ns/op, the
// process's CPU time (user and system) per request: that is the cost the
// Sender is about, and sequential ns/op is mostly loopback latency. The
// receiver runs in the process, so its cost is in every figure alike.

package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
)

// benchPayload is the padding in the event data, as the bench's --payload.
const benchPayload = 256

// BenchmarkSend sends webhooks with Sender and, as the reference, with the
// bench's plain client. Errors are reported with Error, not Fatal:
// RunParallel's goroutines may not call FailNow.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	now := time.Now()
	sub := &store.Subscription{
		ID: "sub_0123456789abcdef0123456789abcdef", WorkspaceID: "ws_0123456789abcdef0123456789abcdef",
		URL: srv.URL + "/s/0", Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
		Headers: map[string]string{}, SignatureScheme: "standard", Secret: signing.NewSecret(), TimeoutSeconds: 10,
	}
	data := json.RawMessage(`{"seq":1000000,"pad":"` + strings.Repeat("x", benchPayload) + `"}`)
	event := func(n int64) *store.Event {
		return &store.Event{ID: "evt_0123456789abcdef" + strconv.FormatInt(n, 10), WorkspaceID: sub.WorkspaceID,
			Type: "bench.event", Label: "Bench event", Data: data, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	}
	body, err := Body(sub, event(1<<40))
	if err != nil {
		b.Fatal(err)
	}

	// sender+headers adds what subscriptions often configure: an
	// identifier and a credential, which the attempt records redacted.
	withHeaders := *sub
	withHeaders.Headers = map[string]string{"X-Tenant": "acme", "Authorization": "Bearer 0123456789abcdef"}
	// sender+tracing traces every attempt (sampled, exported in batches
	// to an exporter that drops them): what tracing on costs per webhook.
	// The others run with tracing off, as by default.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	for _, c := range []struct {
		name   string
		sub    *store.Subscription
		tracer trace.Tracer
	}{{"sender", sub, nil}, {"sender+headers", &withHeaders, nil}, {"sender+tracing", sub, tp.Tracer("bench")}} {
		b.Run(c.name, func(b *testing.B) {
			s := NewSender(true, "bench")
			s.Tracer = c.tracer
			defer s.Close()
			t, err := newTarget(c.sub, nil, now)
			if err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			one := func(b *testing.B) {
				r := s.send(context.Background(), t, event(seq.Add(1)), "dlv_1", 1, now)
				if !r.ok {
					b.Errorf("send failed: %s", r.attempt.Error)
				}
			}
			runBoth(b, one)
		})
	}

	// As internal/bench's baseline does it.
	b.Run("plain", func(b *testing.B) {
		tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		ts := strconv.FormatInt(now.Unix(), 10)
		sig := "v1," + strings.Repeat("A", 43) + "="
		var seq atomic.Int64
		one := func(b *testing.B) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/raw", bytes.NewReader(body))
			req.Header["Content-Type"] = []string{"application/json"}
			req.Header["User-Agent"] = []string{"Postbode/bench"}
			req.Header["webhook-id"] = []string{"evt_raw_" + strconv.FormatInt(seq.Add(1), 10)}
			req.Header["webhook-timestamp"] = []string{ts}
			req.Header["webhook-signature"] = []string{sig}
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
		runBoth(b, one)
	})
}

// discard is a span exporter that drops what it gets.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// runBoth runs one request at a time, then GOMAXPROCS at once.
func runBoth(b *testing.B, one func(*testing.B)) {
	b.Run("sequential", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			one(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one(b)
			}
		})
	})
}

// reportCPU reports allocations and, when the returned func is called,
// the process's CPU time per op.
func reportCPU(b *testing.B) func() {
	b.ReportAllocs()
	start := cpuTime(b)
	return func() { b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
