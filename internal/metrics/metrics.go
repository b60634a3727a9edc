package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xftp/xftp/internal/h2guard"

	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
)

const namespace = "xftp"

// Metrics implements server.Metrics and observes requests and backends.
type Metrics struct {
	events   *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	requests *prometheus.HistogramVec
	backend  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	floods   *prometheus.CounterVec
}

var _ server.Metrics = (*Metrics)(nil)

// New registers the metrics with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_total",
			Help: "Chunk events: created, recipients (IDs added), uploaded, downloaded, acked, deleted, expired, blocked, orphans_removed, corrupt; moderation: reports_received, blocks_from_reports, appeals_granted.",
		}, []string{"event"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_bytes_total", Help: "Chunk bytes uploaded and downloaded.",
		}, []string{"event"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds", Help: "Request latency by protocol (native or xftp), operation and status (HTTP status, or the XFTP result).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"protocol", "op", "status"}),
		backend: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "backend_duration_seconds", Help: "Storage backend call latency.",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"backend", "op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "backend_errors_total", Help: "Storage backend calls that failed (not counting 'not found').",
		}, []string{"backend", "op"}),
		floods: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http2_floods_total",
			Help: "HTTP/2 connections closed for a frame flood, by what flooded: empty_frames, settings_ping, priority, window_update, resets (client resets plus those it made the server send: rapid reset, MadeYouReset).",
		}, []string{"flood"}),
	}
	for _, f := range h2guard.Floods() {
		m.floods.WithLabelValues(string(f))
	}
	for _, e := range []server.Event{server.EventCreated, server.EventRecipients, server.EventUploaded, server.EventDownloaded,
		server.EventAcked, server.EventDeleted, server.EventExpired, server.EventOrphans, server.EventCorrupt, server.EventBlocked,
		server.EventReported, server.EventBlockedFromReport, server.EventAppealGranted} {
		m.events.WithLabelValues(string(e))
	}
	reg.MustRegister(m.events, m.bytes, m.requests, m.backend, m.errors, m.floods)
	return m
}

// Count implements server.Metrics.
func (m *Metrics) Count(e server.Event, n int) { m.events.WithLabelValues(string(e)).Add(float64(n)) }

// Bytes implements server.Metrics.
func (m *Metrics) Bytes(e server.Event, n int64) { m.bytes.WithLabelValues(string(e)).Add(float64(n)) }

// CountHTTP2Flood counts an HTTP/2 connection closed for a flood
// (h2guard.Config.OnFlood).
func (m *Metrics) CountHTTP2Flood(f h2guard.Flood) { m.floods.WithLabelValues(string(f)).Inc() }

// ObserveRequest records one HTTP request. op is the route pattern (never
// the path, which holds IDs).
func (m *Metrics) ObserveRequest(op string, status int, d time.Duration) {
	m.requests.WithLabelValues("native", op, strconv.Itoa(status)).Observe(d.Seconds())
}

// ObserveXFTP records one XFTP request: its command and result ("OK" or
// the XFTP error code), under protocol "xftp".
func (m *Metrics) ObserveXFTP(command, result string, d time.Duration) {
	m.requests.WithLabelValues("xftp", command, result).Observe(d.Seconds())
}

func (m *Metrics) observeBackend(backend, op string, start time.Time, err error) {
	m.backend.WithLabelValues(backend, op).Observe(time.Since(start).Seconds())
	if err != nil && err != storage.ErrNotFound && !isNotFound(err) {
		m.errors.WithLabelValues(backend, op).Inc()
	}
}

// RegisterUsage exports stored chunks, stored bytes and the quota, read from
// usage at each scrape.
func RegisterUsage(reg prometheus.Registerer, quota int64, usage func(context.Context) (storage.Usage, error)) {
	read := func(pick func(storage.Usage) int64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			u, err := usage(ctx)
			if err != nil {
				return -1
			}
			return float64(pick(u))
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "stored_chunks", Help: "Chunks stored (created, uploaded or not); -1 if the record store is unreachable."},
			read(func(u storage.Usage) int64 { return u.Chunks })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "stored_bytes", Help: "Bytes of all created chunks (what the quota counts); -1 if unreachable."},
			read(func(u storage.Usage) int64 { return u.Bytes })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "quota_bytes", Help: "Storage quota; 0 means none."},
			func() float64 { return float64(quota) }),
	)
}
