package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestErrors covers every error status with problem+json bodies.
func TestErrors(t *testing.T) {
	e := setup(t)
	sp := samplesPath(e.ist)
	fieldsOf := func(r resp) map[string]any {
		t.Helper()
		f, ok := r.body["errors"].(map[string]any)
		if !ok {
			t.Fatalf("no errors object: %s", r.raw)
		}
		return f
	}

	// 400.
	e.expect(e.do("POST", "/api/centers/", "super", `{"name": `), 400, "truncated JSON")
	e.expect(e.do("POST", "/api/centers/", "super", `{"name": "a"} {"name": "b"}`), 400, "trailing data")
	e.expect(e.do("POST", "/api/centers/", "super", `{"name": "a"} x`), 400, "trailing garbage")
	e.expect(e.do("POST", "/api/centers/", "super", `["name"]`), 400, "not an object")
	e.expect(e.do("POST", "/api/centers/", "super", " "), 400, "empty body")
	r := e.expect(e.do("POST", "/api/centers/", "super", `{"name": "a", "colour": "red"}`), 400, "unknown field")
	if fieldsOf(r)["colour"] == nil {
		t.Errorf("unknown field: %s", r.raw)
	}
	r = e.expect(e.do("POST", "/api/centers/", "super", `{"name": 7, "settings": [1]}`), 400, "wrong types")
	if f := fieldsOf(r); f["name"] == nil {
		t.Errorf("wrong types: %s", r.raw)
	}
	r = e.expect(e.do("POST", "/api/centers/", "super", `{"name": "", "settings": [1]}`), 400, "invalid values")
	if f := fieldsOf(r); f["name"] == nil || f["settings"] == nil {
		t.Errorf("invalid values: %s", r.raw)
	}
	r = e.expect(e.do("POST", "/api/users/", "super", `{"username": "bad name", "email": "nope", "password": "short", "role": "boss", "center": "xyz"}`), 400, "invalid user")
	if f := fieldsOf(r); f["center"] == nil {
		t.Errorf("invalid user: %s", r.raw)
	}
	r = e.expect(e.do("POST", "/api/users/", "super", `{"username": "bad name", "email": "nope", "password": "short", "role": "boss"}`), 400, "invalid user")
	if f := fieldsOf(r); f["username"] == nil || f["email"] == nil || f["password"] == nil || f["role"] == nil || f["center"] == nil {
		t.Errorf("invalid user: %s", r.raw)
	}
	r = e.expect(e.do("POST", sp, "istanbul_user", `{"name": "n", "sample_type": "plutonium", "barcode": "B-1", "status": "completed"}`), 400, "invalid sample")
	if f := fieldsOf(r); f["sample_type"] == nil && f["status"] == nil {
		t.Errorf("invalid sample: %s", r.raw)
	}
	r = e.expect(e.do("PUT", centerPath(e.ist), "super", `{"description": "no name"}`), 400, "PUT without required field")
	if fieldsOf(r)["name"] == nil {
		t.Errorf("PUT missing name: %s", r.raw)
	}
	r = e.expect(e.do("PUT", samplePath(e.ist, e.newSample(e.ist)), "istanbul_user", `{"name": "x"}`), 400, "PUT sample missing fields")
	if f := fieldsOf(r); f["barcode"] == nil || f["sample_type"] == nil {
		t.Errorf("PUT sample: %s", r.raw)
	}
	e.expect(e.do("PATCH", samplePath(e.ist, e.newSample(e.ist)), "istanbul_user", `{"status": "completed"}`), 400, "status by PATCH")
	e.expect(e.do("POST", sp, "istanbul_user", `{"name": "n", "sample_type": "blood", "barcode": "B-2", "metadata": "text"}`), 400, "metadata not an object")

	// 401.
	for name, hdr := range map[string]string{"missing": "", "bad scheme": "Basic abc", "bad token": "Bearer tct_nope", "empty": "Bearer "} {
		var extra []string
		if hdr != "" {
			extra = []string{"Authorization", hdr}
		}
		r := e.expect(e.do("GET", "/api/centers/", "", "", extra...), 401, "401 "+name)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 %s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	_, expired, err := e.st.Tokens.Create(e.ctx, domain.System, e.users["istanbul_user"].ID, "short", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	e.expect(e.do("GET", "/api/centers/", expired, ""), 401, "expired token")
	e.expect(e.do("GET", sp, "", ""), 401, "samples without token")

	// 403 (own center, not allowed).
	e.expect(e.do("POST", sp, "istanbul_viewer", `{"name": "n", "sample_type": "blood", "barcode": "V-1"}`), 403, "viewer creates")

	// 404.
	e.expect(e.do("GET", "/api/centers/00000000-0000-0000-0000-000000000001/", "super", ""), 404, "unknown center")
	e.expect(e.do("GET", "/api/centers/not-a-uuid/", "super", ""), 404, "malformed center id")
	e.expect(e.do("GET", "/api/centers/not-a-uuid/samples/", "super", ""), 404, "malformed tenant id")
	e.expect(e.do("GET", "/api/users/12345/", "super", ""), 404, "malformed user id")
	e.expect(e.do("GET", sp+"zzz/", "super", ""), 404, "malformed sample id")
	e.expect(e.do("GET", sp+"00000000-0000-0000-0000-000000000001/", "super", ""), 404, "unknown sample")
	e.expect(e.do("GET", "/api/nothing/", "super", ""), 404, "unknown path")
	doomed := e.newCenter("Doomed")
	s := e.newSampleIn(doomed)
	e.expect(e.do("GET", samplePath(doomed, s), "super", ""), 200, "sample before delete")
	e.expect(e.do("DELETE", centerPath(doomed), "super", ""), 204, "soft-delete center")
	e.expect(e.do("GET", samplePath(doomed, s), "super", ""), 404, "soft-deleted center's sample")
	e.expect(e.do("GET", samplesPath(doomed), "super", ""), 404, "soft-deleted center's samples")

	// 405, with Allow.
	r = e.expect(e.do("PATCH", "/api/centers/", "super", `{}`), 405, "PATCH a collection")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow %q", allow)
	}
	r = e.expect(e.do("GET", samplePath(e.ist, e.newSample(e.ist))+"process/", "super", ""), 405, "GET an action")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}

	// 409.
	r = e.expect(e.do("POST", "/api/centers/", "super", `{"name": "ISTANBUL MEDICAL CENTER"}`), 409, "duplicate center name")
	if fieldsOf(r)["name"] == nil {
		t.Errorf("duplicate name: %s", r.raw)
	}
	e.expect(e.do("POST", sp, "istanbul_user", `{"name": "n", "sample_type": "blood", "barcode": "IST-0001"}`), 409, "duplicate barcode")
	e.expect(e.do("POST", samplePath(e.ist, e.newSample(e.ist))+"archive/", "istanbul_user", ""), 409, "illegal transition")
	e.expect(e.do("DELETE", centerPath(e.ank)+"hard_delete/", "super", ""), 409, "hard delete of an active center")
	e.expect(e.do("POST", "/api/users/", "super", `{"username": "istanbul_user", "email": "x@example.com", "center": "`+e.ist.ID.String()+`"}`), 409, "duplicate username")

	// 413 and 415.
	big := `{"name": "big", "description": "` + strings.Repeat("x", 1<<20) + `"}`
	e.expect(e.do("POST", "/api/centers/", "super", big), 413, "body over 1 MiB")
	e.expect(e.do("POST", "/api/centers/", "super", `{"name": "t"}`, "Content-Type", "text/plain"), 415, "text/plain")
	e.expect(e.do("POST", "/api/centers/", "super", `{"name": "t"}`, "Content-Type", ""), 415, "no content type")
	e.expect(e.do("POST", "/api/centers/", "super", `{"name": "Charset"}`, "Content-Type", "application/json; charset=utf-8"), 201, "json with charset")
}

func (e *env) newSampleIn(c domain.Center) domain.Sample {
	e.t.Helper()
	u := e.newUser(c, domain.RoleUser)
	s, err := e.st.Samples.Create(e.ctx, c.ID, domain.By(u.ID), domain.SampleInput{Name: "s", SampleType: "blood", Barcode: "D-1"})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestDatabaseDown answers 503 problems when the pool cannot reach the
// database, and /readyz says so while /healthz stays up.
func TestDatabaseDown(t *testing.T) {
	e := setup(t)
	cfg, err := pgxpool.ParseConfig(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: domain.New(pool, e.db.Tenancy), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
	for _, path := range []string{"/api/centers/", "/readyz"} {
		req, _ := http.NewRequestWithContext(e.ctx, "GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["super"])
		w := record(srv, req)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s with the database down: %d %s", path, w.Code, w.Body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "/healthz", nil)
	if w := record(srv, req); w.Code != http.StatusOK {
		t.Errorf("healthz: %d", w.Code)
	}
}

// TestReadyzMigrations: a public schema behind the binary is not ready.
func TestReadyzMigrations(t *testing.T) {
	e := setup(t)
	if _, err := e.db.Pool.Exec(e.ctx, "UPDATE public.schema_version SET version = version - 1"); err != nil {
		t.Fatal(err)
	}
	e.expect(e.do("GET", "/readyz", "", ""), 503, "readyz behind")
}

// TestRequestLog logs one line per request with the route pattern and the
// request id, and never the token.
func TestRequestLog(t *testing.T) {
	e := setup(t)
	r := e.do("GET", centerPath(e.ist), "istanbul_user", "", "X-Request-ID", "req-123")
	if r.header.Get("X-Request-ID") != "req-123" {
		t.Errorf("X-Request-ID not echoed: %q", r.header.Get("X-Request-ID"))
	}
	r = e.do("GET", "/healthz", "", "", "X-Request-ID", "bad id forged <x>")
	if id := r.header.Get("X-Request-ID"); id == "" || strings.Contains(id, "forged") {
		t.Errorf("insane X-Request-ID kept: %q", id)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"GET /api/centers/{id}/"`) || !strings.Contains(logs, `"request_id":"req-123"`) ||
		!strings.Contains(logs, `"status":200`) {
		t.Errorf("request log lacks fields:\n%s", logs)
	}
	if strings.Contains(logs, e.tokens["istanbul_user"]) || strings.Contains(logs, "Bearer") {
		t.Errorf("token in the log:\n%s", logs)
	}
}
