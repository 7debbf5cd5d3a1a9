package api_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/api"
)

// scrape returns /metrics as series → value, series written as in the text
// exposition format (labels sorted by name), with the raw text.
func (e *env) scrape() (map[string]float64, string) {
	e.t.Helper()
	r := e.do("GET", "/metrics", "", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		e.t.Fatalf("/metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(r.raw)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("/metrics: bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out, string(r.raw)
}

var anyUUID = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// TestMetrics counts requests by route pattern (never the raw path, so no
// center id becomes a label), method and status, times them by route, and
// exposes the pool's and the runtime's statistics.
func TestMetrics(t *testing.T) {
	e := setup(t)
	e.expect(e.do("GET", centerPath(e.ist), "istanbul_user", ""), 200, "own center")
	e.expect(e.do("GET", strings.TrimSuffix(centerPath(e.ist), "/"), "istanbul_user", ""), 200, "own center, no slash")
	e.expect(e.do("GET", centerPath(e.ank), "istanbul_user", ""), 404, "other center")
	e.expect(e.do("GET", samplesPath(e.ist), "istanbul_viewer", ""), 200, "samples")
	e.expect(e.do("POST", samplesPath(e.ist), "istanbul_viewer", `{"name": "x", "sample_type": "blood", "barcode": "M-1"}`), 403, "viewer creates")
	e.expect(e.do("GET", "/api/nope/"+e.ist.ID.String()+"/", "", ""), 404, "unknown path")
	e.expect(e.do("BREW", "/api/nope/", "", ""), 404, "unknown method and path")

	m, raw := e.scrape()
	for series, want := range map[string]float64{
		`tenantctl_http_requests_total{code="200",method="GET",route="/api/centers/{id}/"}`:                      2,
		`tenantctl_http_requests_total{code="404",method="GET",route="/api/centers/{id}/"}`:                      1,
		`tenantctl_http_requests_total{code="200",method="GET",route="/api/centers/{center_id}/samples/"}`:       1,
		`tenantctl_http_requests_total{code="403",method="POST",route="/api/centers/{center_id}/samples/"}`:      1,
		`tenantctl_http_requests_total{code="404",method="GET",route="unmatched"}`:                               1,
		`tenantctl_http_requests_total{code="404",method="OTHER",route="unmatched"}`:                             1,
		`tenantctl_http_request_duration_seconds_count{method="GET",route="/api/centers/{id}/"}`:                 3,
		`tenantctl_http_request_duration_seconds_count{method="POST",route="/api/centers/{center_id}/samples/"}`: 1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if m[`tenantctl_http_request_duration_seconds_bucket{method="GET",route="/api/centers/{id}/",le="+Inf"}`] != 3 {
		t.Errorf("histogram +Inf bucket of GET /api/centers/{id}/ is not 3")
	}
	for _, g := range []string{"acquired_conns", "idle_conns", "total_conns", "max_conns", "acquires_total",
		"acquire_duration_seconds_total", "empty_acquires_total"} {
		if _, ok := m["tenantctl_db_pool_"+g]; !ok {
			t.Errorf("pool metric tenantctl_db_pool_%s missing", g)
		}
	}
	if m["tenantctl_db_pool_max_conns"] < 1 || m["tenantctl_db_pool_acquires_total"] < 1 {
		t.Errorf("pool metrics not read from the pool: max %v, acquires %v", m["tenantctl_db_pool_max_conns"], m["tenantctl_db_pool_acquires_total"])
	}
	for _, s := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := m[s]; !ok {
			t.Errorf("runtime/process metric %s missing", s)
		}
	}
	if id := anyUUID.FindString(raw); id != "" {
		t.Errorf("a UUID (%s) appears in /metrics: labels must be route patterns", id)
	}

	// The scrape itself is counted, by the next scrape.
	if m, _ = e.scrape(); m[`tenantctl_http_requests_total{code="200",method="GET",route="/metrics"}`] != 1 {
		t.Errorf("the first scrape was not counted")
	}
}

// TestMetricsDisabled: Config.DisableMetrics leaves /metrics out.
func TestMetricsDisabled(t *testing.T) {
	e := setup(t)
	srv, err := api.New(api.Config{Store: e.st, Logger: discard(), DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(e.ctx, "GET", "/metrics", nil)
	if w := record(srv, req); w.Code != http.StatusNotFound {
		t.Errorf("/metrics with metrics disabled: %d", w.Code)
	}
}
