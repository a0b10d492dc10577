// Package telemetry sets up OpenTelemetry tracing: traces from a publish
// through ingest to every delivery attempt, exported over OTLP (HTTP,
// protobuf) when the environment names a collector, and nothing at all
// otherwise.
//
// Off is the default, and off costs nothing: New then returns the no-op
// provider, and the parts that trace (app's server spans, ingest, the
// delivery sender) take a nil Tracer from Tracer, so that they skip their
// spans, their trace context and their traceparent header entirely rather
// than make no-op spans.
//
// A delivery is sent later than its publish, possibly by another node after
// a restart, so the trace context travels with the event: ingest stores the
// W3C traceparent of its span with the event (TraceParent), and the sender's
// span continues that trace (ContextWithTraceParent), in which the receiver
// gets it in its own traceparent header.
package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName names Postbode's tracer (the instrumentation scope).
const ScopeName = "github.com/postbode/postbode"

// Options say whether to trace and as what.
type Options struct {
	// Enabled turns tracing on; config sets it when an OTLP endpoint is
	// configured (OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_TRACES_EXPORTER is not none.
	Enabled     bool
	ServiceName string // service.name; OTEL_SERVICE_NAME, "postbode" by default
	Version     string // service.version
	// Log gets the SDK's own errors, such as a collector that cannot be
	// reached; nil leaves them to the SDK's default.
	Log *slog.Logger
}

// New returns the tracer provider Postbode traces with, and the function
// that flushes its last spans and stops it. When tracing is off, that is the
// no-op provider and a shutdown that does nothing.
//
// When on, the OTLP exporter reads the rest of its configuration from the
// environment as every OpenTelemetry SDK does (the endpoint, headers,
// timeout, certificates; OTEL_EXPORTER_OTLP_* and
// OTEL_EXPORTER_OTLP_TRACES_*), and so does the sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; parent-based, always on by
// default) and the resource (OTEL_RESOURCE_ATTRIBUTES). Spans are exported
// in batches, off the request path.
func New(ctx context.Context, o Options) (trace.TracerProvider, func(context.Context) error, error) {
	if !o.Enabled {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	if o.Log != nil {
		log := o.Log
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("tracing", "err", err)
		}))
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	name := o.ServiceName
	if name == "" {
		name = "postbode"
	}
	// The environment's attributes come last, so they win.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(attribute.String("service.name", name), attribute.String("service.version", o.Version)),
		resource.WithFromEnv())
	if err != nil {
		// A partial resource is still usable (a detector failed): keep it.
		if res == nil {
			res = resource.Default()
		}
		if o.Log != nil {
			o.Log.Warn("tracing: describing this process", "err", err)
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// Tracer returns Postbode's tracer from tp, or nil when tp does not
// record (the no-op provider): the parts that trace check for nil and then
// do nothing at all.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	if _, ok := tp.(noop.TracerProvider); ok {
		return nil
	}
	return tp.Tracer(ScopeName)
}

// propagator reads and writes W3C trace context (traceparent, tracestate).
var propagator = propagation.TraceContext{}

// Extract returns ctx with the remote span context of an incoming request's
// traceparent (and tracestate) header, if it has a valid one.
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagator.Extract(ctx, carrier)
}

// TraceParent returns the W3C traceparent of the span in ctx, or "" when
// there is no valid span.
func TraceParent(ctx context.Context) string {
	var c one
	propagator.Inject(ctx, &c)
	return c.value
}

// ContextWithTraceParent returns ctx with the remote span context that
// traceparent describes; ctx as it is when traceparent is empty or not
// valid.
func ContextWithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, &one{value: traceparent})
}

// one is a carrier of the traceparent header only: tracestate is not
// stored with events.
type one struct{ value string }

const header = "traceparent"

func (c *one) Get(key string) string {
	if key == header {
		return c.value
	}
	return ""
}

func (c *one) Set(key, value string) {
	if key == header {
		c.value = value
	}
}

func (c *one) Keys() []string { return []string{header} }
