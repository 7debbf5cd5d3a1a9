package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// The fuzz targets drive the real handler (every middleware, the mux, the
// domain) over a real database made once per fuzz process: testdb.New
// takes a *testing.F, and go test -fuzz runs each worker's setup once. The
// handler is called in process (no sockets), so an execution costs a few
// queries. The property everywhere: no 5xx, no panic, a well-formed body
// (JSON for 2xx, an RFC 9457 problem for 4xx), and a refused write
// changes nothing.

type fuzzEnv struct {
	ctx     context.Context
	db      *testdb.DB
	st      *domain.Store
	h       http.Handler
	super   string // the superuser's token
	ist     domain.Center
	spare   domain.Center // a center the center targets may change
	user    domain.User   // a user the user targets may change
	sample  domain.Sample // a sample the sample targets may change
	schema  string        // Istanbul's schema, quoted
	barcode string        // a barcode with a slash, a percent and an underscore
}

// fuzzBarcode is a real barcode that needs escaping in a path.
const fuzzBarcode = "FZ/1%_x"

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	ctx := f.Context()
	db := testdb.New(f)
	st := domain.New(db.Pool, db.Tenancy)
	if _, err := st.Seed(ctx, domain.SeedOptions{}); err != nil {
		f.Fatalf("seed: %v", err)
	}
	srv, err := api.New(api.Config{Store: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	e := &fuzzEnv{ctx: ctx, db: db, st: st, h: srv.Handler(), barcode: fuzzBarcode}
	if e.ist, err = st.Centers.GetByName(ctx, "Istanbul Medical Center"); err != nil {
		f.Fatal(err)
	}
	e.schema = pgx.Identifier{e.ist.SchemaName}.Sanitize()
	if e.spare, err = st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "fuzz spare"}); err != nil {
		f.Fatal(err)
	}
	users, _, err := st.Users.List(ctx, domain.ListOptions{})
	if err != nil {
		f.Fatal(err)
	}
	for _, u := range users {
		if u.IsSuperuser {
			_, e.super, err = st.Tokens.Create(ctx, domain.System, u.ID, "fuzz", 0)
			if err != nil {
				f.Fatal(err)
			}
		}
		if u.Username == "istanbul_user" {
			e.user = u
		}
	}
	e.sample, err = st.Samples.Create(ctx, e.ist.ID, domain.By(e.user.ID), domain.SampleInput{
		Name: "fuzz", SampleType: "blood", Barcode: fuzzBarcode})
	if err != nil {
		f.Fatal(err)
	}
	return e
}

// serve runs req through the handler as the superuser.
func (e *fuzzEnv) serve(req *http.Request) *httptest.ResponseRecorder {
	req.Header.Set("Authorization", "Bearer "+e.super)
	req.RemoteAddr = "192.0.2.1:1234"
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req.WithContext(e.ctx))
	return w
}

// fingerprint is a digest of every row a write could touch, and of the
// schemas (a center's creation makes one).
func (e *fuzzEnv) fingerprint(t *testing.T) string {
	t.Helper()
	var fp string
	err := e.db.Pool.QueryRow(e.ctx, `SELECT concat_ws('/',
		(SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY id), '')) FROM public.centers c),
		(SELECT md5(coalesce(string_agg(u::text, '|' ORDER BY id), '')) FROM public.users u),
		(SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY id), '')) FROM `+e.schema+`.samples s),
		(SELECT count(*) FROM pg_namespace))`).Scan(&fp)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

// checkResponse fails unless w is a 2xx with a JSON body (or none, for
// 204), a 3xx to a local path, or a 4xx problem of one of allowed.
func checkResponse(t *testing.T, what string, w *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	code, body := w.Code, w.Body.Bytes()
	if code >= 500 {
		t.Fatalf("%s: %d %s", what, code, body)
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == code
	}
	if !ok {
		t.Fatalf("%s: status %d, want one of %v; body %s", what, code, allowed, body)
	}
	ct := w.Header().Get("Content-Type")
	switch {
	case code == http.StatusNoContent:
	case code >= 300 && code < 400:
		loc := w.Header().Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Fatalf("%s: redirect to %q, which is not a local path", what, loc)
		}
	case code < 300:
		var v map[string]any
		if ct != "application/json" || json.Unmarshal(body, &v) != nil {
			t.Fatalf("%s: %d with Content-Type %q and body %q", what, code, ct, body)
		}
	default:
		var p api.Problem
		if ct != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Status != code || p.Title == "" {
			t.Fatalf("%s: %d with Content-Type %q and malformed problem %q", what, code, ct, body)
		}
	}
}

// bodyWrite is one write of a fuzzed body, with the statuses it may give.
type bodyWrite struct {
	method, path string
}

// fuzzBody sends body to the write op picks and checks the property.
func (e *fuzzEnv) fuzzBody(t *testing.T, ops []bodyWrite, op uint8, body string) {
	w := ops[int(op)%len(ops)]
	before := e.fingerprint(t)
	req, err := http.NewRequest(w.method, "http://api.test"+w.path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res := e.serve(req)
	what := fmt.Sprintf("%s %s %q", w.method, w.path, body)
	checkResponse(t, what, res, 200, 201, 400, 409, 413)
	if res.Code >= 400 {
		if after := e.fingerprint(t); after != before {
			t.Fatalf("%s: %d, but the database changed", what, res.Code)
		}
	}
}

// FuzzCenterBody: create, PUT and PATCH bodies of centers.
func FuzzCenterBody(f *testing.F) {
	e := newFuzzEnv(f)
	cp := "/api/centers/" + e.spare.ID.String() + "/"
	ops := []bodyWrite{{"POST", "/api/centers/"}, {"PUT", cp}, {"PATCH", cp}}
	for _, b := range []string{
		`{"name":"Izmir Lab"}`, `{"name":"Izmir Lab","description":"d","settings":{"sample_types":["blood"]}}`,
		`{"name":"Istanbul Medical Center"}`, `{"name":"ISTANBUL MEDICAL CENTER"}`, `{"name":""}`, `{"name":" x"}`,
		`{"name":"a\u0000b"}`, "{\"name\":\"\xff\"}", `{"name":1}`, `{"name":null}`, `{"settings":[]}`,
		`{"settings":{"sample_types":[]}}`, `{"settings":{"a":"\u0000"}}`, `{"settings":{"a":1e999}}`,
		`{"name":"x","schema_name":"public","id":"00000000-0000-0000-0000-000000000000"}`, `{"nope":1}`,
		`{"name":"x"} {}`, `[]`, ``, `{`, `{"name":"'; DROP SCHEMA public CASCADE; --"}`,
		`{"description":"` + strings.Repeat("x", 10000) + `"}`, `{"name":"` + strings.Repeat("x", 201) + `"}`,
	} {
		for op := range len(ops) {
			f.Add(uint8(op), b)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) { e.fuzzBody(t, ops, op, body) })
}

// FuzzUserBody: create, PUT, PATCH, change_center and change_role bodies.
func FuzzUserBody(f *testing.F) {
	e := newFuzzEnv(f)
	up := "/api/users/" + e.user.ID.String() + "/"
	ops := []bodyWrite{{"POST", "/api/users/"}, {"PUT", up}, {"PATCH", up}, {"POST", up + "change_center/"}, {"POST", up + "change_role/"}}
	ist := e.ist.ID.String()
	for _, b := range []string{
		`{"username":"fz1","email":"fz1@example.com","center":"` + ist + `","role":"viewer"}`,
		`{"username":"fz2","email":"fz2@example.com","is_superuser":true,"center":null}`,
		`{"username":"istanbul_user","email":"x@example.com","center":"` + ist + `"}`,
		`{"username":"fz3","email":"ISTANBUL_USER@EXAMPLE.COM","center":"` + ist + `"}`,
		`{"username":"a b","email":"not an email"}`, `{"username":"fz4","email":"\"x\"@example.com"}`,
		`{"username":"fz5","email":"fz5@example.com","password":"short"}`, `{"phone":"` + strings.Repeat("9", 33) + `"}`,
		`{"first_name":"a\nb"}`, `{"center":"` + strings.ToUpper(ist) + `"}`, `{"center":"{` + ist + `}"}`,
		`{"center":"00000000-0000-0000-0000-000000000000"}`, `{"center":null}`, `{"role":"root"}`, `{"role":"admin"}`,
		`{"is_superuser":"yes"}`, `{"username":"x","unknown":1}`, `{"email":"a@b.c\u0000"}`, `{"last_name":"O'Brien\"; --"}`,
	} {
		for op := range len(ops) {
			f.Add(uint8(op), b)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) { e.fuzzBody(t, ops, op, body) })
}

// FuzzSampleBody: create, PUT and PATCH bodies of samples.
func FuzzSampleBody(f *testing.F) {
	e := newFuzzEnv(f)
	sp := "/api/centers/" + e.ist.ID.String() + "/samples/"
	ops := []bodyWrite{{"POST", sp}, {"PUT", sp + e.sample.ID.String() + "/"}, {"PATCH", sp + e.sample.ID.String() + "/"}}
	uid := e.user.ID.String()
	for _, b := range []string{
		`{"name":"s","sample_type":"blood","barcode":"FZ-1"}`, `{"name":"s","sample_type":"blood","barcode":"` + fuzzBarcode + `"}`,
		`{"name":"s","sample_type":"lava","barcode":"FZ-2"}`, `{"name":"s","sample_type":"blood","barcode":"FZ-3","user_id":"` + uid + `"}`,
		`{"name":"s","sample_type":"blood","barcode":"FZ-4","user_id":"00000000-0000-0000-0000-000000000000"}`,
		`{"name":"s","sample_type":"blood","barcode":"FZ-5","status":"completed"}`, `{"status":"pending"}`,
		`{"metadata":{"a":[1,{"b":null}]}}`, `{"metadata":[]}`, `{"metadata":{"a":"\u0000"}}`, `{"metadata":{"a":"\ud800"}}`,
		`{"metadata":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`,
		`{"barcode":" FZ"}`, `{"barcode":"` + strings.Repeat("x", 65) + `"}`, `{"barcode":"a\tb"}`, `{"name":"%_\\"}`,
		`{"description":"'); DELETE FROM samples; --"}`, `{"user_id":null}`, `{"id":"x","created_at":5}`, `{"name":{}}`,
	} {
		for op := range len(ops) {
			f.Add(uint8(op), b)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) { e.fuzzBody(t, ops, op, body) })
}

// request parses target as net/http's server would read it from the
// wire, or returns nil if the server would refuse it before any handler.
func request(method, target string) *http.Request {
	if strings.ContainsAny(target, "\r\n") {
		return nil
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: api.test\r\n\r\n")))
	if err != nil {
		return nil
	}
	return req
}

// FuzzListQuery: any query string on the list endpoints is a 200 page or
// a 400, and a page's links are well formed (non-negative offsets).
func FuzzListQuery(f *testing.F) {
	e := newFuzzEnv(f)
	sp := "/api/centers/" + e.ist.ID.String() + "/samples/"
	paths := []string{sp, sp + "by_status/pending/", "/api/centers/", "/api/users/", "/api/users/by_center/" + e.ist.ID.String() + "/"}
	for _, q := range []string{
		"", "limit=2", "limit=0", "limit=-1", "limit=501", "limit=1e3", "limit=%20", "offset=5", "offset=-1",
		"offset=9223372036854775807", "limit=500&offset=9223372036854775807", "offset=99999999999999999999",
		"ordering=name,-barcode", "ordering=-", "ordering=password_hash", "ordering=name;DROP TABLE samples",
		"search=%25", "search=_", "search=%5C", "search=%00", "search=%FF", "search=" + strings.Repeat("x", 201),
		"status=pending", "status=PENDING", "status=", "sample_type=blood", "sample_type=%00", "user_id=" + e.user.ID.String(),
		"user_id=" + strings.ToUpper(e.user.ID.String()), "user_id=x", "include_inactive=true", "include_inactive=yes&limit=1",
		"limit=1&limit=2", "a=%zz", ";", "&&&", "search=a&search=b",
	} {
		for op := range len(paths) {
			f.Add(uint8(op), q)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, q string) {
		target := paths[int(op)%len(paths)] + "?" + q
		req := request("GET", target)
		if req == nil {
			return
		}
		before := e.fingerprint(t)
		w := e.serve(req)
		checkResponse(t, "GET "+target, w, 200, 400)
		if w.Code == 200 {
			var p struct {
				Count          int
				Next, Previous *string
				Results        []json.RawMessage
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("GET %s: page %s: %v", target, w.Body, err)
			}
			// A next link goes forward, and only when there is more.
			offset, _ := strconv.Atoi(req.URL.Query().Get("offset"))
			if p.Next != nil {
				u, _ := url.Parse(*p.Next)
				if n, _ := strconv.Atoi(u.Query().Get("offset")); n <= offset || n >= p.Count {
					t.Fatalf("GET %s: next link %q at offset %d of %d", target, *p.Next, offset, p.Count)
				}
			}
			for _, link := range []*string{p.Next, p.Previous} {
				if link == nil {
					continue
				}
				u, err := url.Parse(*link)
				if err != nil {
					t.Fatalf("GET %s: link %q: %v", target, *link, err)
				}
				for _, k := range []string{"limit", "offset"} {
					if v := u.Query().Get(k); v != "" {
						if n, err := strconv.Atoi(v); err != nil || n < 0 {
							t.Fatalf("GET %s: link %q has %s=%s", target, *link, k, v)
						}
					}
				}
			}
		}
		if after := e.fingerprint(t); after != before {
			t.Fatalf("GET %s changed the database", target)
		}
	})
}

// FuzzPathSegment: arbitrary segments, escaped and raw, where the paths
// take ids, barcodes and statuses. A GET answers 200, 400 (an unknown
// status), 404 or 405, or redirects to the clean path; a barcode found is
// exactly the one asked for.
func FuzzPathSegment(f *testing.F) {
	e := newFuzzEnv(f)
	sp := "/api/centers/" + e.ist.ID.String() + "/samples/"
	id := e.sample.ID.String()
	for _, s := range []string{
		fuzzBarcode, "FZ", "FZ%2F1%25_x", "pending", "PENDING", id, strings.ToUpper(id), "{" + id + "}", "urn:uuid:" + id,
		strings.ReplaceAll(id, "-", ""), e.ist.ID.String(), e.user.ID.String(), "..", ".", "", "/", "//", "%2e%2e", "a/../b",
		"\x00", "%00", "\xff", "%FF", "'; --", "%", "_", "*", " ", "?x=1", "#frag", strings.Repeat("B", 65), "by_barcode",
	} {
		for op := range 8 {
			f.Add(uint8(op), s)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, seg string) {
		esc := url.PathEscape(seg)
		var target string
		switch op % 8 {
		case 0:
			target = sp + "by_barcode/" + esc + "/"
		case 1:
			target = sp + "by_status/" + esc + "/"
		case 2:
			target = sp + esc + "/"
		case 3:
			target = "/api/centers/" + esc + "/samples/"
		case 4:
			target = "/api/centers/" + esc + "/"
		case 5:
			target = "/api/users/" + esc + "/"
		case 6:
			target = sp + "by_barcode/" + seg + "/"
		case 7:
			target = "/api/centers/" + seg
		}
		req := request("GET", target)
		if req == nil {
			return
		}
		before := e.fingerprint(t)
		w := e.serve(req)
		checkResponse(t, "GET "+target, w, 200, 301, 307, 308, 400, 404, 405)
		if w.Code == 200 && op%8 == 0 {
			var s domain.Sample
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || s.Barcode != seg {
				t.Fatalf("GET %s: barcode %q, want %q (%v)", target, s.Barcode, seg, err)
			}
		}
		if after := e.fingerprint(t); after != before {
			t.Fatalf("GET %s changed the database", target)
		}
	})
}
