package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestEndpoints walks every endpoint's success path: status and body shape.
func TestEndpoints(t *testing.T) {
	e := setup(t)
	// Centers.
	r := e.expect(e.do("GET", "/api/centers/", "super", ""), 200, "list centers")
	hasKeys(t, "center page", r.body, pageKeys...)
	hasKeys(t, "center", r.results()[0], centerKeys...)
	r = e.expect(e.do("POST", "/api/centers/", "super", `{"name": "Izmir Lab", "description": "d", "settings": {"sample_types": ["dna"]}}`), 201, "create center")
	hasKeys(t, "created center", r.body, centerKeys...)
	cid := r.str("id")
	if r.str("schema_name") != "center_"+strings.ReplaceAll(cid, "-", "") || r.str("created_by") != e.users["super"].ID.String() {
		t.Errorf("created center: %s", r.raw)
	}
	if loc := r.header.Get("Location"); loc != "/api/centers/"+cid+"/" {
		t.Errorf("Location %q", loc)
	}
	cp := "/api/centers/" + cid + "/"
	r = e.expect(e.do("GET", cp, "super", ""), 200, "get center")
	// PUT what GET returned, with a change: read-only fields are ignored.
	r.body["description"] = "replaced"
	put, _ := json.Marshal(r.body)
	r = e.expect(e.do("PUT", cp, "super", string(put)), 200, "put center")
	if r.str("description") != "replaced" {
		t.Errorf("put center: %s", r.raw)
	}
	r = e.expect(e.do("PATCH", cp, "super", `{"name": "Izmir Laboratory"}`), 200, "patch center")
	if r.str("name") != "Izmir Laboratory" || r.str("description") != "replaced" {
		t.Errorf("patch center: %s", r.raw)
	}
	r = e.expect(e.do("POST", cp+"clone/", "super", `{"name": "Izmir copy", "description": "c", "with_data": true}`), 201, "clone center")
	hasKeys(t, "cloned center", r.body, centerKeys...)
	if r.str("name") != "Izmir copy" || r.str("description") != "c" || r.str("id") == cid ||
		r.header.Get("Location") != "/api/centers/"+r.str("id")+"/" {
		t.Errorf("cloned center: %s (Location %q)", r.raw, r.header.Get("Location"))
	}
	for _, body := range []string{`{}`, `{"name": "x", "colour": "red"}`, `{"name": "x", "with_data": "yes"}`, `{"name": null}`, `{"name": `, `[]`} {
		e.expect(e.do("POST", cp+"clone/", "super", body), 400, "clone with "+body)
	}
	e.expect(e.do("POST", cp+"clone/", "super", `{"name": "izmir COPY"}`), 409, "clone onto a name in use")
	e.expect(e.do("POST", "/api/centers/"+e.users["super"].ID.String()+"/clone/", "super", `{"name": "y"}`), 404, "clone of no center")
	r = e.expect(e.do("GET", cp+"stats/", "super", ""), 200, "stats")
	hasKeys(t, "stats", r.body, "center", "samples", "users", "schema")
	hasKeys(t, "stats.samples", r.body["samples"].(map[string]any), "total", "by_status", "by_type")
	hasKeys(t, "stats.users", r.body["users"].(map[string]any), "total", "by_role")
	hasKeys(t, "stats.schema", r.body["schema"].(map[string]any), "name", "migration_version", "size_bytes")
	r = e.expect(e.do("GET", "/api/cluster/", "super", ""), 200, "cluster")
	hasKeys(t, "cluster", r.body, "citus", "nodes")
	hasKeys(t, "cluster node", r.body["nodes"].([]any)[0].(map[string]any), "host", "port", "tenants", "size_bytes")
	e.expect(e.do("DELETE", cp, "super", ""), 204, "delete center")
	r = e.expect(e.do("GET", cp, "super", ""), 200, "get deleted center")
	if r.body["is_active"] != false {
		t.Errorf("deleted center: %s", r.raw)
	}
	e.expect(e.do("POST", cp+"clone/", "super", `{"name": "from deleted"}`), 409, "clone of a deleted center")
	r = e.expect(e.do("POST", cp+"restore/", "super", ""), 200, "restore center")
	if r.body["is_active"] != true {
		t.Errorf("restored center: %s", r.raw)
	}
	e.expect(e.do("DELETE", cp, "super", ""), 204, "delete center again")
	e.expect(e.do("DELETE", cp+"hard_delete/", "super", ""), 204, "hard delete")
	e.expect(e.do("GET", cp, "super", ""), 404, "hard-deleted center")

	// Users.
	r = e.expect(e.do("GET", "/api/users/", "istanbul_admin", ""), 200, "list users")
	hasKeys(t, "user page", r.body, pageKeys...)
	hasKeys(t, "user", r.results()[0], userKeys...)
	r = e.expect(e.do("POST", "/api/users/", "super", `{"username": "op2", "email": "op2@example.com", "is_superuser": true, "center": null, "password": "0123456789"}`), 201, "create superuser")
	hasKeys(t, "created user", r.body, userKeys...)
	if r.body["center"] != nil || r.body["is_superuser"] != true {
		t.Errorf("created superuser: %s", r.raw)
	}
	r = e.expect(e.do("POST", "/api/users/", "super", `{"username": "nina", "email": "nina@example.com", "first_name": "Nina", "phone": "+90 1", "center": "`+e.ist.ID.String()+`", "role": "admin"}`), 201, "create user")
	up := "/api/users/" + r.str("id") + "/"
	r = e.expect(e.do("GET", up, "istanbul_viewer", ""), 200, "get user")
	r.body["last_name"] = "Nilsson"
	put, _ = json.Marshal(r.body)
	r = e.expect(e.do("PUT", up, "istanbul_admin", string(put)), 200, "put user")
	if r.str("last_name") != "Nilsson" || r.str("phone") != "+90 1" {
		t.Errorf("put user: %s", r.raw)
	}
	r = e.expect(e.do("PATCH", up, "istanbul_admin", `{"phone": null}`), 200, "patch user")
	if r.str("phone") != "" {
		t.Errorf("patch user phone null: %s", r.raw)
	}
	e.expect(e.do("POST", up+"change_role/", "istanbul_admin", `{"role": "viewer"}`), 200, "change role")
	e.expect(e.do("POST", up+"change_center/", "super", `{"center": "`+e.ank.ID.String()+`"}`), 200, "change center")
	r = e.expect(e.do("GET", "/api/users/by_center/"+e.ank.ID.String()+"/", "super", ""), 200, "by_center")
	if r.body["count"] != 4.0 {
		t.Errorf("by_center: %s", r.raw)
	}
	e.expect(e.do("DELETE", up, "super", ""), 204, "delete user")

	// Samples.
	sp := samplesPath(e.ist)
	r = e.expect(e.do("GET", sp, "istanbul_viewer", ""), 200, "list samples")
	hasKeys(t, "sample page", r.body, pageKeys...)
	hasKeys(t, "sample", r.results()[0], sampleKeys...)
	r = e.expect(e.do("POST", sp, "istanbul_user", `{"name": "Blood", "sample_type": "blood", "barcode": "X-1", "metadata": {"k": 1}}`), 201, "create sample")
	hasKeys(t, "created sample", r.body, sampleKeys...)
	if r.str("user_id") != e.users["istanbul_user"].ID.String() || r.str("status") != "pending" || r.str("created_by") != e.users["istanbul_user"].ID.String() {
		t.Errorf("created sample: %s", r.raw)
	}
	one := sp + r.str("id") + "/"
	r = e.expect(e.do("GET", one, "istanbul_viewer", ""), 200, "get sample")
	r.body["description"] = "put"
	put, _ = json.Marshal(r.body)
	r = e.expect(e.do("PUT", one, "istanbul_user", string(put)), 200, "put sample")
	if r.str("description") != "put" {
		t.Errorf("put sample: %s", r.raw)
	}
	e.expect(e.do("PATCH", one, "istanbul_user", `{"sample_type": "urine"}`), 200, "patch sample")
	for _, a := range []string{"process", "complete", "archive"} {
		r = e.expect(e.do("POST", one+a+"/", "istanbul_user", ""), 200, a)
	}
	if r.str("status") != "archived" {
		t.Errorf("after archive: %s", r.raw)
	}
	s2 := e.newSample(e.ist)
	r = e.expect(e.do("POST", samplePath(e.ist, s2)+"reject/", "istanbul_user", ""), 200, "reject")
	if r.str("status") != "rejected" {
		t.Errorf("reject: %s", r.raw)
	}
	r = e.expect(e.do("GET", sp+"by_barcode/X-1/", "istanbul_viewer", ""), 200, "by_barcode")
	if r.str("barcode") != "X-1" {
		t.Errorf("by_barcode: %s", r.raw)
	}
	e.expect(e.do("GET", sp+"by_barcode/nope/", "istanbul_viewer", ""), 404, "by_barcode none")
	r = e.expect(e.do("GET", sp+"by_status/rejected/", "istanbul_viewer", ""), 200, "by_status")
	for _, s := range r.results() {
		if s["status"] != "rejected" {
			t.Errorf("by_status: %v", s)
		}
	}
	if r.body["count"] != 2.0 { // the seed's and s2
		t.Errorf("by_status count: %s", r.raw)
	}
	e.expect(e.do("GET", sp+"by_status/lost/", "istanbul_viewer", ""), 400, "by_status unknown")
	e.expect(e.do("DELETE", one, "istanbul_admin", ""), 204, "delete sample")
	e.expect(e.do("GET", one, "istanbul_user", ""), 404, "deleted sample")

	// Health and the description of the API.
	e.expect(e.do("GET", "/healthz", "", ""), 200, "healthz")
	e.expect(e.do("GET", "/readyz", "", ""), 200, "readyz")
	r = e.expect(e.do("GET", "/api/openapi.json", "", ""), 200, "openapi")
	if _, ok := r.body["paths"].(map[string]any)["/api/centers/{center_id}/samples/{id}/process/"]; !ok {
		t.Errorf("openapi lacks a path: %s", r.raw)
	}
}

// TestTrailingSlash serves every path with and without its slash.
func TestTrailingSlash(t *testing.T) {
	e := setup(t)
	for _, p := range []string{"/api/centers/", "/api/centers", centerPath(e.ist), strings.TrimSuffix(centerPath(e.ist), "/"),
		samplesPath(e.ist) + "by_status/pending", "/api/users/by_center/" + e.ist.ID.String()} {
		e.expect(e.do("GET", p, "istanbul_admin", ""), 200, "GET "+p)
	}
	e.expect(e.do("POST", "/api/centers", "super", `{"name": "No Slash"}`), 201, "POST without slash")
	e.expect(e.do("POST", strings.TrimSuffix(samplesPath(e.ist), "/"), "istanbul_user", `{"name": "n", "sample_type": "blood", "barcode": "NS-1"}`), 201, "POST sample without slash")
	// A longer path under a route is not that route.
	e.expect(e.do("GET", centerPath(e.ist)+"nothing/", "istanbul_admin", ""), 404, "subtree")
}

// TestAuthToken exchanges a password for a token.
func TestAuthToken(t *testing.T) {
	e := setup(t)
	pw := "correct horse battery"
	if err := e.st.Users.SetPassword(e.ctx, domain.System, e.users["istanbul_user"].ID, &pw); err != nil {
		t.Fatal(err)
	}
	r := e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "istanbul_user", "password": "correct horse battery"}`), 200, "token")
	tok := r.str("token")
	if !strings.HasPrefix(tok, domain.TokenPrefix) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %s", r.raw)
	}
	if exp, err := time.Parse(time.RFC3339, r.str("expires_at")); err != nil || time.Until(exp) < 23*time.Hour {
		t.Errorf("expires_at %q", r.str("expires_at"))
	}
	e.tokens["fresh"] = tok
	e.expect(e.do("GET", "/api/centers/", "fresh", ""), 200, "with fresh token")
	// DRF's "Token" keyword works as well as Bearer.
	e.expect(e.do("GET", "/api/centers/", "", "", "Authorization", "Token "+tok), 200, "Token keyword")
	wrong := e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "istanbul_user", "password": "wrong password"}`), 401, "wrong password")
	unknown := e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "nobody", "password": "wrong password"}`), 401, "unknown user")
	if wrong.str("detail") != unknown.str("detail") {
		t.Errorf("401 bodies differ: %s vs %s", wrong.raw, unknown.raw)
	}
	e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "istanbul_user"}`), 400, "no password")
}

// TestPagination checks DRF's LimitOffsetPagination links, filters,
// ordering and search.
func TestPagination(t *testing.T) {
	e := setup(t)
	sp := samplesPath(e.ist)
	r := e.expect(e.do("GET", sp+"?limit=3&ordering=barcode&sample_type=", "istanbul_user", ""), 200, "page 1")
	if r.body["count"] != 8.0 || len(r.results()) != 3 || r.body["previous"] != nil {
		t.Fatalf("page 1: %s", r.raw)
	}
	if !strings.Contains(string(r.raw), "&offset=3") {
		t.Errorf("next link is not written plainly (HTML-escaped?): %s", r.raw)
	}
	next, _ := url.Parse(r.str("next"))
	if next.Host != strings.TrimPrefix(e.ts.URL, "http://") || next.Path != sp ||
		next.Query().Get("offset") != "3" || next.Query().Get("limit") != "3" || next.Query().Get("ordering") != "barcode" {
		t.Fatalf("next: %s", r.str("next"))
	}
	if r.results()[0]["barcode"] != "IST-0001" {
		t.Errorf("ordering: %v", r.results()[0]["barcode"])
	}
	r = e.expect(e.do("GET", next.RequestURI(), "istanbul_user", ""), 200, "page 2")
	prev, _ := url.Parse(r.str("previous"))
	if prev.Query().Has("offset") || prev.Query().Get("limit") != "3" {
		t.Errorf("previous of page 2: %s", r.str("previous"))
	}
	r = e.expect(e.do("GET", sp+"?limit=3&offset=6", "istanbul_user", ""), 200, "page 3")
	prev, _ = url.Parse(r.str("previous"))
	if r.body["next"] != nil || prev.Query().Get("offset") != "3" || len(r.results()) != 2 {
		t.Errorf("page 3: %s", r.raw)
	}
	r = e.expect(e.do("GET", sp+"?limit=100000", "istanbul_user", ""), 200, "limit capped")
	if len(r.results()) != 8 {
		t.Errorf("limit capped: %d", len(r.results()))
	}
	for _, q := range []string{"limit=0", "limit=x", "limit=-1", "offset=-1", "offset=y", "ordering=password", "status=lost", "user_id=nope"} {
		r := e.expect(e.do("GET", sp+"?"+q, "istanbul_user", ""), 400, q)
		if r.body["errors"] == nil {
			t.Errorf("%s: no errors object: %s", q, r.raw)
		}
	}
	// Filters.
	check := func(q string, n float64) {
		t.Helper()
		r := e.expect(e.do("GET", sp+"?"+q, "istanbul_user", ""), 200, q)
		if r.body["count"] != n {
			t.Errorf("?%s: count %v, want %v", q, r.body["count"], n)
		}
	}
	check("status=pending", 3)
	check("sample_type=blood", 2)
	check("user_id="+e.users["istanbul_admin"].ID.String(), 2)
	check("status=pending&user_id="+e.users["istanbul_admin"].ID.String(), 1)
	check("search=biopsy", 1)
	check("search=IST-000", 8)
	// % in search is a literal.
	e.expect(e.do("POST", sp, "istanbul_user", `{"name": "100% pure", "sample_type": "blood", "barcode": "P-1"}`), 201, "percent sample")
	e.expect(e.do("POST", sp, "istanbul_user", `{"name": "100 pure", "sample_type": "blood", "barcode": "P-2"}`), 201, "plain sample")
	check("search="+url.QueryEscape("100%"), 1)
	check("search="+url.QueryEscape("100"), 2)
	check("search=_", 0)
	// Users and centers paginate alike.
	r = e.expect(e.do("GET", "/api/users/?limit=2", "super", ""), 200, "users page")
	if r.body["count"] != 7.0 || len(r.results()) != 2 || r.body["next"] == nil {
		t.Errorf("users page: %s", r.raw)
	}
}
