package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel/trace"
)

func TestOffIsTheNoopProvider(t *testing.T) {
	tp, shutdown, err := New(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if Tracer(tp) != nil {
		t.Error("tracing off: Tracer is not nil, so the parts that trace would make spans")
	}
	if err := shutdown(t.Context()); err != nil {
		t.Error(err)
	}
	if Tracer(nil) != nil {
		t.Error("Tracer(nil) is not nil")
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := ContextWithTraceParent(context.Background(), tp)
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsSampled() {
		t.Errorf("span context %+v", sc)
	}
	if got := TraceParent(ctx); got != tp {
		t.Errorf("TraceParent %q, want %q", got, tp)
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if ctx := ContextWithTraceParent(context.Background(), bad); trace.SpanContextFromContext(ctx).IsValid() {
			t.Errorf("%q: a valid span context", bad)
		}
		if got := TraceParent(context.Background()); got != "" {
			t.Errorf("no span: TraceParent %q", got)
		}
	}
}

// On, spans go to the collector the environment names, over OTLP/HTTP
// with protobuf, as service.name postbode unless OTEL_SERVICE_NAME says.
func TestExportsOverOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	var paths, types []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("the collector could not decode the export: %v", err)
		}
		mu.Lock()
		got = append(got, &req)
		paths, types = append(paths, r.URL.Path), append(types, r.Header.Get("Content-Type"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(nil)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")

	tp, shutdown, err := New(t.Context(), Options{Enabled: true, ServiceName: "postbode", Version: "v9.9.9",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tracer := Tracer(tp)
	if tracer == nil {
		t.Fatal("tracing on: Tracer is nil")
	}
	_, span := tracer.Start(t.Context(), "ingest")
	span.End()
	if err := shutdown(t.Context()); err != nil { // flushes
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || paths[0] != "/v1/traces" || types[0] != "application/x-protobuf" {
		t.Fatalf("exports %d to %v as %v; want one to /v1/traces as application/x-protobuf", len(got), paths, types)
	}
	rs := got[0].ResourceSpans
	if len(rs) != 1 || len(rs[0].ScopeSpans) != 1 || len(rs[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("export %v", got[0])
	}
	if name := rs[0].ScopeSpans[0].Spans[0].Name; name != "ingest" {
		t.Errorf("span %q, want ingest", name)
	}
	if scope := rs[0].ScopeSpans[0].Scope.GetName(); scope != ScopeName {
		t.Errorf("scope %q, want %q", scope, ScopeName)
	}
	attrs := map[string]string{}
	for _, kv := range rs[0].Resource.Attributes {
		attrs[kv.Key] = kv.Value.GetStringValue()
	}
	if attrs["service.name"] != "postbode" || attrs["service.version"] != "v9.9.9" || attrs["deployment.environment.name"] != "test" {
		t.Errorf("resource %v", attrs)
	}
}
