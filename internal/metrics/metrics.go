// Package metrics holds Postbode's Prometheus collectors. Each running
// instance has its own registry, so several can live in one process (tests,
// `postbode bench`).
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors the rest of Postbode updates.
type Metrics struct {
	Registry        *prometheus.Registry
	Deliveries      *prometheus.CounterVec // by outcome: succeeded, retried, failed, held
	AttemptDuration prometheus.Histogram
	EventsAccepted  prometheus.Counter
}

// New registers the collectors. depth reports the queue depth; it is cached
// for a second so that frequent scrapes do not each count the queue.
func New(depth func(context.Context) (int64, error)) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postbode_deliveries_total",
			Help: "Delivery attempts by outcome (succeeded, retried, failed, held).",
		}, []string{"outcome"}),
		AttemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "postbode_attempt_duration_seconds",
			Help:    "Time from sending a webhook request to its response or error.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		EventsAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "postbode_events_accepted_total",
			Help: "Events durably stored.",
		}),
	}
	var mu sync.Mutex
	var last time.Time
	var cached float64
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "postbode_queue_depth",
		Help: "Deliveries waiting to be sent (pending or being sent).",
	}, func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) > time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if n, err := depth(ctx); err == nil {
				cached, last = float64(n), time.Now()
			}
		}
		return cached
	})
	m.Registry.MustRegister(m.Deliveries, m.AttemptDuration, m.EventsAccepted, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{"succeeded", "retried", "failed", "held"} {
		m.Deliveries.WithLabelValues(o)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
