package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/postbode/postbode/internal/app"
	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// The caller's trace, as a client of the API would send it.
const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// post sends body to path with the admin token and the extra headers.
func post(t *testing.T, srv *apptest.Server, path, token string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", srv.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// startTraced runs a node that records its spans in memory.
func startTraced(t *testing.T, engine func(*config.Config)) (*apptest.Server, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	cfg := apptest.Config(t)
	engine(&cfg)
	return apptest.StartLogged(t, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.WithTracerProvider(tp)), exp
}

// spansOf waits until the trace has want spans of kind client and returns
// all its spans.
func spansOf(t *testing.T, exp *tracetest.InMemoryExporter, traceID string, clients int) tracetest.SpanStubs {
	t.Helper()
	var got tracetest.SpanStubs
	eventually(t, "the trace's spans", func() (bool, string) {
		got = got[:0]
		n := 0
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID().String() == traceID {
				got = append(got, s)
				if s.SpanKind == trace.SpanKindClient {
					n++
				}
			}
		}
		return n >= clients, fmt.Sprintf("%d spans, %d of them attempts, want %d attempts", len(got), n, clients)
	})
	return got
}

func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// One trace from the publishing request through ingest to each delivery
// attempt, the first handed over in memory, the retry claimed from the
// store (where the event's traceparent was kept); the receiver gets the
// attempt's traceparent.
func TestTracingFromPublishToEachAttempt(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv, exp := startTraced(t, engine)
		var calls atomic.Int32
		rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		ws := srv.Workspace(t, "order.created")
		// Credentials in the URL are masked in the span, as in the attempt log.
		sub := createSubscription(t, srv, ws, strings.Replace(rc.URL, "http://", "http://user:s3cr3t@", 1)+"/hook", nil)

		status, body := post(t, srv, "/api/v1/workspaces/"+ws+"/events", apptest.Token,
			map[string]any{"type": "order.created", "data": map[string]int{"order": 1}},
			map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"})
		if status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", status, body)
		}
		var ev struct{ ID string }
		json.Unmarshal(body, &ev)
		got := rc.Wait(t, 2, eventuallyTimeout)

		spans := spansOf(t, exp, callerTrace, 2)
		var server, ingest tracetest.SpanStub
		var attempts []tracetest.SpanStub
		for _, s := range spans {
			switch {
			case s.SpanKind == trace.SpanKindServer:
				server = s
			case s.Name == "ingest":
				ingest = s
			case s.SpanKind == trace.SpanKindClient:
				attempts = append(attempts, s)
			}
		}
		if server.Name != "POST /api/v1/workspaces/{ws}/events" || server.Parent.SpanID().String() != callerSpan ||
			attr(server, "http.response.status_code").AsInt64() != http.StatusAccepted {
			t.Errorf("server span %q, parent %s, status %d: want the route, the caller's span, 202", server.Name,
				server.Parent.SpanID(), attr(server, "http.response.status_code").AsInt64())
		}
		if ingest.Parent.SpanID() != server.SpanContext.SpanID() || attr(ingest, "postbode.event_id").AsString() != ev.ID {
			t.Errorf("ingest span: parent %s (want the server span %s), event %q (want %s)", ingest.Parent.SpanID(),
				server.SpanContext.SpanID(), attr(ingest, "postbode.event_id").AsString(), ev.ID)
		}
		if len(attempts) != 2 {
			t.Fatalf("%d attempt spans, want 2", len(attempts))
		}
		for _, a := range attempts {
			n := attr(a, "postbode.attempt").AsInt64()
			if a.Parent.SpanID() != ingest.SpanContext.SpanID() {
				t.Errorf("attempt %d: parent %s, want the ingest span %s", n, a.Parent.SpanID(), ingest.SpanContext.SpanID())
			}
			if u, want := attr(a, "url.full").AsString(), strings.Replace(rc.URL, "http://", "http://user:***@", 1)+"/hook"; u != want {
				t.Errorf("attempt %d: url.full %q, want %q", n, u, want)
			}
			if attr(a, "http.request.method").AsString() != "POST" || attr(a, "postbode.subscription_id").AsString() != sub.ID ||
				attr(a, "postbode.event_id").AsString() != ev.ID || !strings.HasPrefix(attr(a, "postbode.delivery_id").AsString(), "dlv_") {
				t.Errorf("attempt %d: attributes %v", n, a.Attributes)
			}
			// The receiver got this attempt's own span as its parent.
			want := "00-" + callerTrace + "-" + a.SpanContext.SpanID().String() + "-01"
			if h := got[n-1].Header.Get("traceparent"); h != want {
				t.Errorf("attempt %d: the receiver got traceparent %q, want %q", n, h, want)
			}
			switch n {
			case 1:
				if attr(a, "http.response.status_code").AsInt64() != 503 || a.Status.Code != codes.Error {
					t.Errorf("attempt 1: status %d, span status %v; want 503, Error", attr(a, "http.response.status_code").AsInt64(), a.Status)
				}
			case 2:
				if attr(a, "http.response.status_code").AsInt64() != 200 || a.Status.Code == codes.Error {
					t.Errorf("attempt 2: status %d, span status %v; want 200, not Error", attr(a, "http.response.status_code").AsInt64(), a.Status)
				}
			default:
				t.Errorf("attempt number %d", n)
			}
		}
		// The attempt log shows the header as it was sent.
		eventually(t, "the attempts logged", func() (bool, string) {
			as := listAttempts(t, srv, ws, sub.ID)
			for _, a := range as {
				if !strings.HasPrefix(a.Request.Headers["traceparent"], "00-"+callerTrace+"-") {
					return false, fmt.Sprintf("attempt headers %v", a.Request.Headers)
				}
			}
			return len(as) == 2, fmt.Sprintf("%d attempts", len(as))
		})
	})
}

// A post to an inbound webhook starts the trace the same way, and a
// publish without a traceparent starts a trace of its own.
func TestTracingInboundAndNewTraces(t *testing.T) {
	srv, exp := startTraced(t, func(*config.Config) {})
	rc := apptest.NewReceiver(t, nil)
	ws := srv.Workspace(t, "lead.created")
	createSubscription(t, srv, ws, rc.URL, nil)
	h := createHook(t, srv, ws, nil)
	if status, body := post(t, srv, "/in/"+h.ID, h.Token, map[string]string{"lead": "1"},
		map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"}); status != http.StatusAccepted {
		t.Fatalf("inbound post: %d %s", status, body)
	}
	srv.Publish(t, ws, "lead.created", 2) // no traceparent
	got := rc.Wait(t, 2, eventuallyTimeout)
	spans := spansOf(t, exp, callerTrace, 1)
	names := map[string]bool{}
	for _, s := range spans {
		names[s.Name] = true
	}
	if !names["POST /in/{id}"] || !names["ingest"] || !names["POST"] {
		t.Errorf("spans of the inbound post's trace: %v", names)
	}
	traces := map[string]bool{}
	for _, r := range got {
		tp := r.Header.Get("traceparent")
		parts := strings.Split(tp, "-")
		if len(parts) != 4 {
			t.Fatalf("traceparent %q", tp)
		}
		traces[parts[1]] = true
	}
	if len(traces) != 2 || !traces[callerTrace] {
		t.Errorf("the deliveries' traces %v: want the caller's and a new one", traces)
	}
}

// Off (the default): no traceparent reaches the receiver, even when the
// publisher sent one, and none is stored or logged.
func TestTracingOffSendsNoTraceparent(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		rc := apptest.NewReceiver(t, nil)
		ws := srv.Workspace(t, "order.created")
		sub := createSubscription(t, srv, ws, rc.URL, nil)
		if status, body := post(t, srv, "/api/v1/workspaces/"+ws+"/events", apptest.Token,
			map[string]any{"type": "order.created", "data": 1},
			map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"}); status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", status, body)
		}
		got := rc.Wait(t, 1, eventuallyTimeout)
		if h := got[0].Header.Get("traceparent"); h != "" {
			t.Errorf("tracing off: the receiver got traceparent %q", h)
		}
		eventually(t, "the attempt logged", func() (bool, string) {
			as := listAttempts(t, srv, ws, sub.ID)
			if len(as) == 1 {
				if _, ok := as[0].Request.Headers["traceparent"]; ok {
					t.Errorf("tracing off: the attempt logged headers %v", as[0].Request.Headers)
				}
			}
			return len(as) == 1, fmt.Sprintf("%d attempts", len(as))
		})
	})
}

// A debug line per delivery attempt, at debug level only; a line when the
// node begins to shut down and one when it is done, at info.
func TestDeliveryDebugLogAndShutdownLines(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			var logs syncBuffer
			srv := apptest.StartLogged(t, apptest.Config(t), slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: level})))
			rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				w.WriteHeader(http.StatusTeapot)
			})
			ws := srv.Workspace(t, "order.created")
			sub := createSubscription(t, srv, ws, rc.URL, map[string]any{"retry_schedule": []string{}})
			evID := srv.Publish(t, ws, "order.created", 1)
			rc.Wait(t, 1, eventuallyTimeout)
			eventually(t, "the attempt logged", func() (bool, string) {
				as := listAttempts(t, srv, ws, sub.ID)
				return len(as) == 1, fmt.Sprintf("%d attempts", len(as))
			})
			srv.Stop()

			var attempts, shuttingDown, complete []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				switch m["msg"] {
				case "delivery attempt":
					attempts = append(attempts, m)
				case "shutting down":
					shuttingDown = append(shuttingDown, m)
				case "shutdown complete":
					complete = append(complete, m)
				}
			}
			if len(shuttingDown) != 1 || len(complete) != 1 || complete[0]["level"] != "INFO" {
				t.Errorf("shutdown lines: %v, %v; want one of each, at INFO", shuttingDown, complete)
			}
			if level == slog.LevelInfo {
				if len(attempts) != 0 {
					t.Errorf("at info level: %v", attempts)
				}
				return
			}
			if len(attempts) != 1 {
				t.Fatalf("at debug level: %d delivery attempt lines, want 1:\n%s", len(attempts), logs.String())
			}
			a := attempts[0]
			if a["level"] != "DEBUG" || a["subscription_id"] != sub.ID || a["event_id"] != evID ||
				!strings.HasPrefix(fmt.Sprint(a["delivery_id"]), "dlv_") || a["status"] != float64(http.StatusTeapot) ||
				a["outcome"] != "failed" || a["error"] != "unexpected status 418" || a["attempt"] != float64(1) {
				t.Errorf("delivery attempt line %v", a)
			}
			if _, ok := a["duration_ms"]; !ok {
				t.Errorf("delivery attempt line without duration_ms: %v", a)
			}
		})
	}
}
