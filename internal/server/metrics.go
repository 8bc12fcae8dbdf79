package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, served at /metrics. Labels
// carry operation names, statuses and algorithms, never object names.
type metrics struct {
	handler       http.Handler
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	crypto        *prometheus.CounterVec
	storage       *prometheus.HistogramVec
	auditFailures prometheus.Counter
	throttled     prometheus.Counter
	sealed        prometheus.Gauge
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyvault_requests_total", Help: "Requests served, by audit operation name and HTTP status.",
		}, []string{"operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyvault_request_duration_seconds", Help: "Time to serve a request, by operation.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}, []string{"operation"}),
		crypto: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyvault_crypto_operations_total", Help: "Key operations performed, by operation and algorithm.",
		}, []string{"operation", "algorithm"}),
		storage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyvault_storage_duration_seconds", Help: "Time of store transactions, by kind (view or update).",
			Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1},
		}, []string{"kind"}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyvault_audit_sink_failures_total", Help: "Audit records or syncs that failed.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyvault_throttled_requests_total", Help: "Requests refused with 429 by throttling.",
		}),
		sealed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyvault_sealed", Help: "1 while the server is sealed (its root key is not loaded), else 0.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.crypto, m.storage, m.auditFailures, m.throttled, m.sealed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(operation string, status int, d time.Duration) {
	if operation == "" {
		operation = "Unknown"
	}
	m.requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(operation).Observe(d.Seconds())
}
