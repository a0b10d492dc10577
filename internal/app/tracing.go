// Server spans for the requests that publish: the start of a trace that
// goes on through ingest to every delivery attempt. Only these requests are
// traced, and only while tracing is on: the handler is not wrapped at all
// otherwise.
package app

import (
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/postbode/postbode/internal/receiver"
	"github.com/postbode/postbode/internal/telemetry"
)

// Option changes how New builds a node.
type Option func(*options)

type options struct {
	tracerProvider trace.TracerProvider
}

// WithTracerProvider traces with tp instead of the provider the
// configuration describes (for tests: an in-memory exporter). The caller
// shuts tp down.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// traceRequests wraps next so that each publishing request gets a server
// span, continuing the caller's trace when it sends a traceparent header.
func traceRequests(next http.Handler, tracer trace.Tracer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := publishRoute(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		ctx := telemetry.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		ctx, span := tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("http.route", route),
				attribute.String("url.path", r.URL.Path),
				attribute.String("url.scheme", scheme),
			))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		// A server span fails with the server only: a 4xx is the caller's.
		if status >= 500 {
			span.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
			span.SetStatus(codes.Error, "")
		}
	})
}

// publishRoute returns the route of a request that publishes events: an
// event or a batch through the API, or a post to an inbound webhook.
func publishRoute(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	if _, ok := strings.CutPrefix(r.URL.Path, receiver.Prefix); ok {
		return receiver.Prefix + "{id}", true
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/workspaces/")
	if !ok {
		return "", false
	}
	ws, rest, ok := strings.Cut(rest, "/")
	if !ok || ws == "" {
		return "", false
	}
	switch rest {
	case "events":
		return "/api/v1/workspaces/{ws}/events", true
	case "events/batch":
		return "/api/v1/workspaces/{ws}/events/batch", true
	}
	return "", false
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
