package ingest

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/postbode/postbode/internal/telemetry"
)

// With a tracer, a publish is a span, a child of the request's, whose
// traceparent every event of the publish is stored with (and handed to the
// dispatcher with); without one, nothing is stored.
func TestPublishTraceParent(t *testing.T) {
	const ws = "ws_1"
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	t.Run("off", func(t *testing.T) {
		st, d, in := oneRoute(ws, 1)
		start(t, in)
		ctx := telemetry.ContextWithTraceParent(context.Background(), caller)
		if _, err := in.Publish(ctx, Publish{WorkspaceID: ws, Type: "a", Data: data(`1`)}); err != nil {
			t.Fatal(err)
		}
		for _, ne := range st.written() {
			if ne.Event.TraceParent != "" {
				t.Errorf("tracing off: stored TraceParent %q", ne.Event.TraceParent)
			}
		}
		if len(d.state().handoffs) != 1 {
			t.Errorf("%d handed over, want 1", len(d.state().handoffs))
		}
		for _, cd := range d.state().handoffs {
			if cd.Event.TraceParent != "" {
				t.Errorf("tracing off: handed over with TraceParent %q", cd.Event.TraceParent)
			}
		}
	})

	t.Run("on", func(t *testing.T) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())
		st, d, in := oneRoute(ws, 1)
		in.Tracer = telemetry.Tracer(tp)
		start(t, in)
		ctx := telemetry.ContextWithTraceParent(context.Background(), caller)
		res, err := in.PublishBatch(ctx, []Publish{{WorkspaceID: ws, Type: "a", Data: data(`1`)},
			{WorkspaceID: ws, Type: "a", Data: data(`2`)}})
		if err != nil {
			t.Fatal(err)
		}
		spans := exp.GetSpans()
		if len(spans) != 1 || spans[0].Name != "ingest" || spans[0].Parent.SpanID().String() != "00f067aa0ba902b7" {
			t.Fatalf("spans %v: want one ingest span, a child of the caller's", spans)
		}
		want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + spans[0].SpanContext.SpanID().String() + "-01"
		written := st.written()
		if len(written) != 2 || len(res) != 2 {
			t.Fatalf("%d events written, %d results", len(written), len(res))
		}
		for _, ne := range written {
			if ne.Event.TraceParent != want {
				t.Errorf("stored TraceParent %q, want the ingest span's %q", ne.Event.TraceParent, want)
			}
		}
		if len(d.state().handoffs) != 2 {
			t.Errorf("%d handed over, want 2", len(d.state().handoffs))
		}
		for _, cd := range d.state().handoffs {
			if cd.Event.TraceParent != want {
				t.Errorf("handed over with TraceParent %q, want %q", cd.Event.TraceParent, want)
			}
		}
		if spans[0].SpanKind != trace.SpanKindInternal {
			t.Errorf("span kind %v", spans[0].SpanKind)
		}
	})
}
