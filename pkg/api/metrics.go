package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Server's Prometheus metrics, on a registry of its own
// (not prometheus.DefaultRegisterer): two Servers in one process, as in
// tests, must not collide or see each other's counts.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	h        http.Handler
}

// unmatchedRoute labels requests no route matched (404s, 405s, the mux's
// redirects): their paths are whatever clients send, so they share one
// series.
const unmatchedRoute = "unmatched"

func newMetrics(pool *pgxpool.Pool) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		// Labels are the route's pattern, never the raw path: one series
		// per route, not one per center, user or sample id.
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tenantctl", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tenantctl", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	m.reg.MustRegister(m.requests, m.duration, poolCollector{pool},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.h = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

// observe counts one answered request.
func (m *metrics) observe(route, method string, status int, d time.Duration) {
	if m == nil { // a Server built by hand in a unit test
		return
	}
	if route == "" {
		route = unmatchedRoute
	}
	method = metricMethod(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// metricMethod bounds the method label: unmatched requests may carry any
// token a client invents as a method.
func metricMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "OTHER"
}

// poolCollector reports pgxpool's statistics, read at scrape time with
// pool.Stat() rather than copied periodically, so they are never stale and
// nothing runs between scrapes.
type poolCollector struct{ pool *pgxpool.Pool }

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("tenantctl_db_pool_"+name, help, nil, nil)
}

var (
	poolAcquired      = poolDesc("acquired_conns", "Connections currently acquired from the pool.")
	poolIdle          = poolDesc("idle_conns", "Idle connections in the pool.")
	poolTotal         = poolDesc("total_conns", "Connections in the pool: acquired, idle and being opened.")
	poolMax           = poolDesc("max_conns", "Maximum size of the pool.")
	poolAcquires      = poolDesc("acquires_total", "Successful acquires from the pool.")
	poolAcquireTime   = poolDesc("acquire_duration_seconds_total", "Total time spent acquiring connections, successful acquires only.")
	poolEmptyAcquires = poolDesc("empty_acquires_total", "Acquires that had to wait for a connection because none was idle.")
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolAcquireTime, poolEmptyAcquires} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolAcquired, float64(st.AcquiredConns()))
	gauge(poolIdle, float64(st.IdleConns()))
	gauge(poolTotal, float64(st.TotalConns()))
	gauge(poolMax, float64(st.MaxConns()))
	counter(poolAcquires, float64(st.AcquireCount()))
	counter(poolAcquireTime, st.AcquireDuration().Seconds())
	counter(poolEmptyAcquires, float64(st.EmptyAcquireCount()))
}
