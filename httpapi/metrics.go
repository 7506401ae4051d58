package httpapi

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of one service: its own registry, so that tests and
// several servers in one process never collide.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	events    *prometheus.CounterVec
	anomalies prometheus.Counter
	runs      *prometheus.HistogramVec
	errors    prometheus.Counter
	phone     *prometheus.CounterVec
}

// NewMetrics registers credtrace's metrics and the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credtrace_http_requests_total",
		Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "credtrace_http_request_duration_seconds",
		Help: "HTTP request latency by route pattern and method.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route", "method"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credtrace_events_total",
		Help: "Tracking events by outcome: accepted, duplicate, rejected."}, []string{"outcome"})
	m.anomalies = prometheus.NewCounter(prometheus.CounterOpts{Name: "credtrace_anomalies_found_total", Help: "Anomalies found at ingestion."})
	m.runs = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "credtrace_scoring_run_duration_seconds",
		Help: "Scoring runs started through the API, by outcome.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"outcome"})
	m.errors = prometheus.NewCounter(prometheus.CounterOpts{Name: "credtrace_internal_errors_total",
		Help: "Requests that failed with an internal (store or unexpected) error."})
	m.phone = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credtrace_phone_checks_total",
		Help: "Checks of a recipient's phone digits by outcome: passed, wrong, locked (the waybill's check is locked after too many wrong answers), rate_limited (the address sent too many)."}, []string{"outcome"})
	m.reg.MustRegister(m.requests, m.latency, m.events, m.anomalies, m.runs, m.errors, m.phone,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
	if status >= 500 {
		m.errors.Inc()
	}
}

func (m *Metrics) ingested(accepted, duplicates, rejected, anomalies int) {
	if m == nil {
		return
	}
	m.events.WithLabelValues("accepted").Add(float64(accepted))
	m.events.WithLabelValues("duplicate").Add(float64(duplicates))
	m.events.WithLabelValues("rejected").Add(float64(rejected))
	m.anomalies.Add(float64(anomalies))
}

// PhoneCheck counts one check of a recipient's phone digits by outcome; tracking reports its
// outcomes here through tracking.Options.OnPhoneCheck.
func (m *Metrics) PhoneCheck(outcome string) {
	if m == nil {
		return
	}
	m.phone.WithLabelValues(outcome).Inc()
}

func (m *Metrics) run(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(outcome).Observe(d.Seconds())
}

// streams counts the messages live streams dropped for slow subscribers, and the streams open.
func (m *Metrics) streams(dropped, open func() int) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "credtrace_stream_messages_dropped_total",
		Help: "Server-sent event messages dropped because a subscriber read too slowly."}, func() float64 { return float64(dropped()) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "credtrace_streams_open",
		Help: "Server-sent event streams open (parcel and alert streams)."}, func() float64 { return float64(open()) }))
}

// handler serves the registry in the Prometheus text format.
func (m *Metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
