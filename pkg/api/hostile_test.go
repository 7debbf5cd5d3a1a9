package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// Hostile input through the real handler and database. Every refused write
// is checked against the database: a 4xx must leave it as it was.

// sqlMeta are strings that break a query built by concatenation, and LIKE
// patterns: stored and returned verbatim, or refused by validation.
var sqlMeta = []string{`'`, `"`, `;`, `--`, `/*`, `*/`, `\`, `' OR '1'='1`, `'); DROP TABLE samples; --`,
	`%`, `_`, `\%`, `$1`, `E'\x41'`, "`"}

// rowsDigest digests the tables a write could touch, and the schemas.
func (e *env) rowsDigest() string {
	e.t.Helper()
	var d string
	err := e.db.Pool.QueryRow(e.ctx, `SELECT concat_ws('/',
		(SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY id), '')) FROM public.centers c),
		(SELECT md5(coalesce(string_agg(u::text, '|' ORDER BY id), '')) FROM public.users u),
		-- last_used_at left out: authenticating a request touches it.
		(SELECT md5(coalesce(string_agg(concat_ws(',', id, name, is_active, expires_at), '|' ORDER BY id), '')) FROM public.api_tokens t),
		(SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY id), '')) FROM `+pgx.Identifier{e.ist.SchemaName}.Sanitize()+`.samples s),
		(SELECT count(*) FROM pg_namespace))`).Scan(&d)
	if err != nil {
		e.t.Fatalf("digest: %v", err)
	}
	return d
}

// refused sends a write that must be refused with status and change
// nothing, and returns the problem.
func (e *env) refused(method, path, as, body string, status int, what string) resp {
	e.t.Helper()
	before := e.rowsDigest()
	r := e.expect(e.do(method, path, as, body), status, what)
	if e.rowsDigest() != before {
		e.t.Fatalf("%s: refused with %d but the database changed", what, status)
	}
	return r
}

func jsonStr(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestHostileSQLMetacharacters: every string field of centers, users and
// samples, and every list parameter, with SQL metacharacters. Stored
// values come back byte for byte; refusals are 400s with the field named.
func TestHostileSQLMetacharacters(t *testing.T) {
	e := setup(t)
	spare := e.newCenter("meta spare")
	u := e.newUser(e.ist, domain.RoleUser)
	sm := e.newSample(e.ist)
	tried := 0
	for i, m := range sqlMeta {
		v := "x" + m + "y" // single-line fields refuse surrounding space only
		for _, f := range []string{"name", "description"} {
			r := e.expect(e.do("PATCH", centerPath(spare), "super", fmt.Sprintf(`{%q: %s}`, f, jsonStr(v))), 200, "center "+f+" "+m)
			if r.str(f) != v {
				t.Errorf("center %s %q stored as %q", f, v, r.str(f))
			}
			tried++
		}
		for _, f := range []string{"first_name", "last_name", "phone"} {
			r := e.expect(e.do("PATCH", userPath(u), "super", fmt.Sprintf(`{%q: %s}`, f, jsonStr(v))), 200, "user "+f+" "+m)
			if r.str(f) != v {
				t.Errorf("user %s %q stored as %q", f, v, r.str(f))
			}
			tried++
		}
		// username and email have patterns: metacharacters outside them are
		// a 400 naming the field, inside them they are stored.
		for _, f := range []string{"username", "email"} {
			val := v
			if f == "email" {
				val = "a" + m + "b@example.com"
			}
			r := e.do("PATCH", userPath(u), "super", fmt.Sprintf(`{%q: %s}`, f, jsonStr(val)))
			switch r.status {
			case 200:
				if r.str(f) != val {
					t.Errorf("user %s %q stored as %q", f, val, r.str(f))
				}
			case 400:
				e.expect(r, 400, "user "+f)
				if _, ok := r.body["errors"].(map[string]any)[f]; !ok {
					t.Errorf("user %s %q: 400 without errors.%s: %s", f, val, f, r.raw)
				}
			default:
				t.Fatalf("user %s %q: %d %s", f, val, r.status, r.raw)
			}
			tried++
		}
		for _, f := range []string{"name", "description", "barcode"} {
			val := v
			if f == "barcode" {
				val = fmt.Sprintf("%d%s", i, v) // unique
			}
			r := e.expect(e.do("PATCH", samplePath(e.ist, sm), "istanbul_user", fmt.Sprintf(`{%q: %s}`, f, jsonStr(val))), 200, "sample "+f+" "+m)
			if r.str(f) != val {
				t.Errorf("sample %s %q stored as %q", f, val, r.str(f))
			}
			tried++
		}
		// sample_type is checked against the center's list: a 400, nothing written.
		e.refused("PATCH", samplePath(e.ist, sm), "istanbul_user", fmt.Sprintf(`{"sample_type": %s}`, jsonStr(v)), 400, "sample_type "+m)
		// and the password of a login.
		e.expect(e.do("POST", "/api/auth/token/", "", fmt.Sprintf(`{"username": %s, "password": %s}`, jsonStr(v), jsonStr(v))), 401, "login "+m)
		tried += 2
		// Every list parameter: 200 or 400, never more.
		q := url.QueryEscape(m)
		for _, p := range []string{"search", "sample_type", "status", "ordering", "user_id", "limit", "offset", "include_inactive"} {
			r := e.do("GET", samplesPath(e.ist)+"?"+p+"="+q, "super", "")
			if r.status != 200 && r.status != 400 {
				t.Fatalf("?%s=%s: %d %s", p, q, r.status, r.raw)
			}
			e.expect(r, r.status, "?"+p+"="+q)
			tried++
		}
		for _, p := range []string{"/api/centers/", "/api/users/", "/api/users/by_center/" + e.ist.ID.String() + "/"} {
			e.expect(e.do("GET", p+"?limit=1&offset=0&include_inactive="+q, "super", ""), 200, p)
			tried++
		}
	}
	t.Logf("%d metacharacter inputs tried", tried)
}

// TestSearchWildcardsAreLiteral: % and _ (and \) in ?search= match only
// themselves.
func TestSearchWildcardsAreLiteral(t *testing.T) {
	e := setup(t)
	for _, n := range []string{"zq% one", "zqX two", "zq_a", "zqba", `zq\c`, "zqc"} {
		e.expect(e.do("POST", samplesPath(e.ist), "istanbul_user",
			fmt.Sprintf(`{"name": %s, "sample_type": "blood", "barcode": %s}`, jsonStr(n), jsonStr("W-"+n))), 201, "sample "+n)
	}
	for search, want := range map[string][]string{
		"zq%": {"zq% one"}, "zq_": {"zq_a"}, `zq\`: {`zq\c`}, "%": {"zq% one"}, "_": {"zq_a"},
		"zq": {"zq% one", "zqX two", "zq_a", "zqba", `zq\c`, "zqc"}, "ZQ%": {"zq% one"}, "%%": nil, "q_%": nil,
	} {
		r := e.expect(e.do("GET", samplesPath(e.ist)+"?limit=500&search="+url.QueryEscape(search), "istanbul_user", ""), 200, "search "+search)
		var got []string
		for _, s := range r.results() {
			got = append(got, s["name"].(string))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("search %q: %q, want %q", search, got, want)
		}
	}
}

// TestHostileNUL: NUL in any string field is a 400 naming it; %00 in a
// query is a 400 and in a path a 404.
func TestHostileNUL(t *testing.T) {
	e := setup(t)
	u := e.newUser(e.ist, domain.RoleUser)
	sm := e.newSample(e.ist)
	ist := e.ist.ID.String()
	for _, c := range []struct{ method, path, as, body, field string }{
		{"POST", "/api/centers/", "super", `{"name": "a\u0000b"}`, "name"},
		{"PATCH", centerPath(e.ist), "super", `{"description": "a\u0000b"}`, "description"},
		{"PATCH", centerPath(e.ist), "super", `{"settings": {"k": "a\u0000b"}}`, "settings"},
		{"PATCH", centerPath(e.ist), "super", `{"settings": {"a\u0000b": 1}}`, "settings"},
		{"POST", "/api/users/", "super", `{"username": "nul\u0000", "email": "nul@example.com", "center": "` + ist + `"}`, "username"},
		{"PATCH", userPath(u), "super", `{"email": "a\u0000@example.com"}`, "email"},
		{"PATCH", userPath(u), "super", `{"first_name": "a\u0000"}`, "first_name"},
		{"PATCH", userPath(u), "super", `{"last_name": "a\u0000"}`, "last_name"},
		{"PATCH", userPath(u), "super", `{"phone": "1\u00002"}`, "phone"},
		{"PATCH", userPath(u), "super", `{"password": "0123456789\u0000"}`, "password"},
		{"POST", samplesPath(e.ist), "istanbul_user", `{"name": "a\u0000", "sample_type": "blood", "barcode": "N1"}`, "name"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", `{"description": "a\u0000"}`, "description"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", `{"barcode": "a\u0000"}`, "barcode"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", `{"sample_type": "blood\u0000"}`, "sample_type"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", `{"metadata": {"k": "\u0000"}}`, "metadata"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", `{"user_id": "` + u.ID.String()[:35] + `\u0000"}`, "user_id"},
	} {
		r := e.refused(c.method, c.path, c.as, c.body, 400, c.method+" "+c.body)
		if _, ok := r.body["errors"].(map[string]any)[c.field]; !ok {
			t.Errorf("%s %s: no errors.%s in %s", c.method, c.body, c.field, r.raw)
		}
	}
	for _, q := range []string{"search=a%00", "sample_type=%00", "status=pending%00", "ordering=name%00", "user_id=%00", "limit=1%00", "offset=%00"} {
		e.expect(e.do("GET", samplesPath(e.ist)+"?"+q, "super", ""), 400, "?"+q)
	}
	for _, p := range []string{samplesPath(e.ist) + "by_barcode/" + url.PathEscape(sm.Barcode) + "%00/", samplesPath(e.ist) + "%00/",
		"/api/centers/%00/", "/api/users/%00/", "/api/centers/" + ist + "%00/samples/"} {
		e.expect(e.do("GET", p, "super", ""), 404, p)
	}
	e.expect(e.do("GET", samplesPath(e.ist)+"by_status/pending%00/", "super", ""), 400, "by_status NUL")
}

// TestHostileInvalidUTF8: raw invalid bytes in a body are a 400 (not
// silently replaced by U+FFFD and stored); in a query a 400; in a path a
// 404.
func TestHostileInvalidUTF8(t *testing.T) {
	e := setup(t)
	sm := e.newSample(e.ist)
	for _, b := range []string{"{\"name\": \"a\xffb\", \"sample_type\": \"blood\", \"barcode\": \"U1\"}",
		"{\"name\": \"s\", \"sample_type\": \"blood\", \"barcode\": \"\xed\xa0\x80\"}", // a UTF-16 surrogate in UTF-8
		"{\"name\": \"s\", \"sample_type\": \"blood\", \"barcode\": \"U2\", \"metadata\": {\"\xc0\xaf\": 1}}"} {
		e.refused("POST", samplesPath(e.ist), "istanbul_user", b, 400, fmt.Sprintf("body %q", b))
	}
	e.refused("PATCH", centerPath(e.ist), "super", "{\"description\": \"\xff\"}", 400, "center description")
	e.refused("POST", "/api/users/", "super", "{\"username\": \"u\xff\", \"email\": \"u@example.com\"}", 400, "username")
	for _, q := range []string{"search=%FF", "sample_type=%C0%AF", "status=%FF", "ordering=%FF", "user_id=%FF"} {
		e.expect(e.do("GET", samplesPath(e.ist)+"?"+q, "super", ""), 400, "?"+q)
	}
	e.expect(e.do("GET", samplesPath(e.ist)+"by_barcode/"+url.PathEscape(sm.Barcode)+"%FF/", "super", ""), 404, "barcode %FF")
	e.expect(e.do("GET", samplesPath(e.ist)+"by_status/%FF/", "super", ""), 400, "status %FF")
	e.expect(e.do("GET", "/api/centers/%FF/", "super", ""), 404, "center %FF")
}

// TestHostileHugeValues: a body over 1 MiB is a 413; 10,000 characters in
// a bounded field a 400; nothing is written. description is unbounded by
// design (text, "may be empty") and takes 10,000 characters.
func TestHostileHugeValues(t *testing.T) {
	e := setup(t)
	sm := e.newSample(e.ist)
	u := e.newUser(e.ist, domain.RoleUser)
	big := strings.Repeat("x", 10000)
	e.refused("POST", samplesPath(e.ist), "istanbul_user",
		`{"name": "s", "sample_type": "blood", "barcode": "H1", "description": "`+strings.Repeat("x", api.MaxBodyBytes)+`"}`, 413, "1 MiB body")
	e.refused("POST", "/api/auth/token/", "", `{"username": "`+strings.Repeat("x", 2*api.MaxBodyBytes)+`", "password": "p"}`, 413, "2 MiB login")
	for _, c := range []struct{ method, path, as, field string }{
		{"POST", "/api/centers/", "super", "name"},
		{"PATCH", userPath(u), "super", "username"}, {"PATCH", userPath(u), "super", "email"},
		{"PATCH", userPath(u), "super", "first_name"}, {"PATCH", userPath(u), "super", "last_name"},
		{"PATCH", userPath(u), "super", "phone"}, {"PATCH", userPath(u), "super", "password"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", "name"}, {"PATCH", samplePath(e.ist, sm), "istanbul_user", "barcode"},
		{"PATCH", samplePath(e.ist, sm), "istanbul_user", "sample_type"},
	} {
		v := big
		if c.field == "email" {
			v = big + "@example.com"
		}
		if c.field == "password" {
			v = strings.Repeat("x", domain.MaxPasswordLen+1)
		}
		r := e.refused(c.method, c.path, c.as, fmt.Sprintf(`{%q: %q}`, c.field, v), 400, c.field+" 10k")
		if _, ok := r.body["errors"].(map[string]any)[c.field]; !ok {
			t.Errorf("%s: no errors.%s in %.200s", c.field, c.field, r.raw)
		}
	}
	e.refused("PATCH", samplePath(e.ist, sm), "istanbul_user", `{"metadata": {"k": "`+strings.Repeat("x", 70000)+`"}}`, 400, "metadata 70 KB")
	e.expect(e.do("GET", samplesPath(e.ist)+"?search="+big, "super", ""), 400, "search 10k")
	e.expect(e.do("GET", samplesPath(e.ist)+"by_barcode/"+big+"/", "super", ""), 404, "barcode 10k")
	r := e.expect(e.do("PATCH", samplePath(e.ist, sm), "istanbul_user", `{"description": "`+big+`"}`), 200, "description 10k")
	if r.str("description") != big {
		t.Error("10k description not stored whole")
	}
}

// TestHostileDeepJSON: deep nesting is a 400 at once, from the body
// decoder's own limit (10,000) or the domain's (64), without exhausting
// the stack; nothing is written.
func TestHostileDeepJSON(t *testing.T) {
	e := setup(t)
	sm := e.newSample(e.ist)
	for _, depth := range []int{65, 1000, 10000, 100000} {
		meta := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		start := time.Now()
		e.refused("PATCH", samplePath(e.ist, sm), "istanbul_user", `{"metadata": `+meta+`}`, 400, fmt.Sprintf("metadata depth %d", depth))
		e.refused("PATCH", centerPath(e.ist), "super", `{"settings": `+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`, 400,
			fmt.Sprintf("settings depth %d", depth))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("depth %d took %v", depth, d)
		}
	}
	// 64 levels is the documented limit and is accepted.
	meta := strings.Repeat(`{"a":`, 64) + "1" + strings.Repeat("}", 64)
	e.expect(e.do("PATCH", samplePath(e.ist, sm), "istanbul_user", `{"metadata": `+meta+`}`), 200, "metadata depth 64")
}

// rawGet sends target as it stands (no client-side cleaning) through the
// real handler, with the superuser's token.
func (e *env) rawGet(target string) *httptest.ResponseRecorder {
	e.t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: api.test\r\n\r\n")))
	if err != nil {
		e.t.Fatalf("%s: %v", target, err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens["super"])
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req.WithContext(e.ctx))
	return w
}

// TestHostilePaths: encoded slashes, dot segments, doubled slashes and
// non-canonical UUIDs. Upper-case canonical UUIDs are accepted (RFC 9562:
// hex digits are case-insensitive on input; responses are lower case);
// braces, urn:uuid: and hyphen-less forms name nothing (404).
func TestHostilePaths(t *testing.T) {
	e := setup(t)
	sp := samplesPath(e.ist)
	r := e.expect(e.do("POST", sp, "istanbul_user", `{"name": "slash", "sample_type": "blood", "barcode": "a/b/../c"}`), 201, "slash barcode")
	slash := r.str("id")
	r = e.expect(e.do("GET", sp+"by_barcode/"+url.PathEscape("a/b/../c")+"/", "istanbul_user", ""), 200, "barcode %2F")
	if r.str("id") != slash {
		t.Errorf("barcode a/b/../c found %s", r.raw)
	}
	e.expect(e.do("GET", sp+"by_barcode/a%2Fb/", "istanbul_user", ""), 404, "barcode a/b")
	e.expect(e.do("GET", sp+"by_barcode/..%2F..%2F/", "istanbul_user", ""), 404, "barcode ../../")

	// Dot segments and doubled slashes: the mux redirects to the clean path
	// (on this host, never //elsewhere) or finds nothing.
	for _, p := range []string{sp + "../", sp + "./", "/api/centers/" + e.ank.ID.String() + "/samples/../../" + e.ist.ID.String() + "/samples/",
		"//api/centers/", "//evil.example/api/", "/api//centers/", sp + "by_barcode/../", "/api/centers/%2e%2e/", "/api/centers/..%2F..%2F/"} {
		w := e.rawGet(p)
		switch {
		case w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect || w.Code == http.StatusPermanentRedirect:
			loc := w.Header().Get("Location")
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Errorf("%s: redirect to %q", p, loc)
			}
		case w.Code == 404 || w.Code == 405:
			if w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %d not a problem", p, w.Code)
			}
		default:
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}

	sm := e.newSample(e.ist)
	forms := func(id string) []string {
		return []string{"{" + id + "}", "urn:uuid:" + id, strings.ReplaceAll(id, "-", ""), id + "0", id[1:], " " + id, id + "%20", "%7B" + id + "%7D"}
	}
	u := e.users["istanbul_user"]
	for _, c := range []struct{ prefix, id, suffix string }{
		{"/api/centers/", e.ist.ID.String(), "/"},
		{"/api/centers/", e.ist.ID.String(), "/samples/"},
		{"/api/users/", u.ID.String(), "/"},
		{"/api/users/by_center/", e.ist.ID.String(), "/"},
		{sp, sm.ID.String(), "/"},
	} {
		for _, f := range forms(c.id) {
			e.expect(e.do("GET", c.prefix+f+c.suffix, "super", ""), 404, c.prefix+f+c.suffix)
		}
		r := e.expect(e.do("GET", c.prefix+strings.ToUpper(c.id)+c.suffix, "super", ""), 200, "upper-case "+c.prefix)
		if id, _ := r.body["id"].(string); id != "" && id != c.id {
			t.Errorf("upper-case id answered %s, want %s", id, c.id)
		}
	}
	// A write through a non-canonical id changes nothing either.
	e.refused("PATCH", sp+"{"+sm.ID.String()+"}/", "istanbul_user", `{"name": "x"}`, 404, "PATCH braces")
	e.refused("DELETE", "/api/centers/urn:uuid:"+e.ank.ID.String()+"/", "super", "", 404, "DELETE urn")
}

// serveReal serves the API's handler through api.Serve on a loopback port,
// with opts, until the test ends.
func (e *env) serveReal(opts api.ServeOptions) string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(e.ctx)
	go func() { done <- api.Serve(ctx, ln, e.srv.Handler(), opts) }()
	e.t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestHostileSlowBody: headers sent promptly, then a body that never
// comes: ReadTimeout ends the request (a 4xx or a closed connection, never
// a held one or a 5xx) and nothing is written. serve_test.go covers slow
// headers (ReadHeaderTimeout).
func TestHostileSlowBody(t *testing.T) {
	e := setup(t)
	addr := e.serveReal(api.ServeOptions{ReadTimeout: 300 * time.Millisecond})
	before := e.rowsDigest()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\": ",
		samplesPath(e.ist), e.tokens["istanbul_user"])
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // bounds the test only
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		defer res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("slow body answered %d", res.StatusCode)
		}
		_, err = io.Copy(io.Discard, res.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("slow body held the connection %v (err %v)", d, err)
	}
	if e.rowsDigest() != before {
		t.Error("a request whose body never arrived wrote something")
	}
}

// TestHostileHugeHeaders: headers past net/http's 1 MiB limit are a 431,
// answered by net/http itself before any handler (so plain text, not a
// problem).
func TestHostileHugeHeaders(t *testing.T) {
	e := setup(t)
	addr := e.serveReal(api.ServeOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 2<<20))
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("2 MiB header: %d, want 431", res.StatusCode)
	}
}

// TestTokensStoredOnlyHashed: api_tokens holds the SHA-256 of each token
// and nothing from which the token could be read; users hold argon2id
// hashes only. Tokens are found by that hash through a unique index, so
// no secret is compared in Go; the comparison in the index is of
// SHA-256(attacker's guess) with stored digests, and its timing can reveal
// at most a prefix of a digest of the attacker's own guess, which says
// nothing about any token (preimage resistance). Passwords are compared
// by argon2id with subtle.ConstantTimeCompare.
func TestTokensStoredOnlyHashed(t *testing.T) {
	e := setup(t)
	pw := "hashed-only password"
	if err := e.st.Users.SetPassword(e.ctx, domain.System, e.users["istanbul_user"].ID, &pw); err != nil {
		t.Fatal(err)
	}
	r := e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "istanbul_user", "password": "`+pw+`"}`), 200, "login")
	tok := r.str("token")
	sum := sha256.Sum256([]byte(tok))
	secret := strings.TrimPrefix(tok, domain.TokenPrefix)
	raw, _ := base64.RawURLEncoding.DecodeString(secret)
	var n int
	if err := e.db.Pool.QueryRow(e.ctx, "SELECT count(*) FROM public.api_tokens WHERE token_hash = $1", sum[:]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("tokens with the token's SHA-256: %d (%v), want 1", n, err)
	}
	rows, err := e.db.Pool.Query(e.ctx, "SELECT row_to_json(t)::text, encode(t.token_hash, 'escape') FROM public.api_tokens t")
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var j, esc string
		err := r.Scan(&j, &esc)
		return j + esc, err
	})
	if err != nil || len(all) == 0 {
		t.Fatal(err)
	}
	for _, row := range all {
		for _, leak := range []string{tok, secret, hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
			if strings.Contains(row, leak) {
				t.Fatalf("api_tokens holds the token (%q) in %s", leak, row)
			}
		}
	}
	var hash string
	if err := e.db.Pool.QueryRow(e.ctx, "SELECT password_hash FROM public.users WHERE username = 'istanbul_user'").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, pw) {
		t.Fatalf("password stored as %q", hash)
	}
	// One character off is refused like any other token.
	last := "A"
	if strings.HasSuffix(tok, "A") {
		last = "B"
	}
	off := tok[:len(tok)-1] + last
	e.expect(e.do("GET", "/api/centers/", off, ""), 401, "token one character off")
}

// TestSecretsNeverLogged: logins (right, wrong, throttled), token
// requests, a user created with a password, refused requests: at debug
// level, no log line holds a password, a token, or its hash.
func TestSecretsNeverLogged(t *testing.T) {
	logs := &syncBuffer{}
	clock := &testClock{t: time.Now()}
	e := setup(t, func(c *api.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.LoginThrottle = throttle.New(throttle.Config{MaxUserFailures: 2, Now: clock.now})
	})
	pw, newPW, wrong := "Log-Secret-Password-1", "Log-Secret-Password-2", "Log-Wrong-Password-3"
	ist := e.ist.ID.String()
	e.expect(e.do("POST", "/api/users/", "super", `{"username": "logged", "email": "logged@example.com", "center": "`+ist+`", "password": "`+pw+`"}`), 201, "create with password")
	e.expect(e.do("POST", "/api/users/", "super", `{"username": "logged2", "email": "bad", "password": "`+newPW+`"}`), 400, "refused create with password")
	e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "logged", "password": "`+wrong+`"}`), 401, "wrong password")
	tok := e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "logged", "password": "`+pw+`"}`), 200, "login").str("token")
	e.expect(e.do("GET", "/api/centers/", tok, ""), 200, "token request")
	e.expect(e.do("PATCH", "/api/users/"+e.users["istanbul_user"].ID.String()+"/", tok, `{"password": "`+newPW+`"}`), 403, "refused password change")
	e.expect(e.do("GET", "/api/centers/00000000-0000-0000-0000-000000000000/", tok, ""), 404, "failing request")
	e.expect(e.do("GET", "/api/centers/", tok+"x", ""), 401, "bad token")
	e.expect(e.do("GET", "/api/centers/", "", "", "Authorization", "Bearer "+wrong), 401, "password as token")
	e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "logged", "password": "`+wrong+`"}`), 401, "wrong again")
	e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "logged", "password": "`+wrong+`"}`), 401, "wrong twice")
	e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "logged", "password": "`+pw+`"}`), 429, "throttled")
	e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "logged", "password": `), 400, "malformed login")
	sum := sha256.Sum256([]byte(tok))
	out := logs.String()
	if !strings.Contains(out, `"status":429`) || strings.Count(out, `"msg":"request"`) < 12 {
		t.Fatalf("the log does not show the requests: %s", out)
	}
	secret := strings.TrimPrefix(tok, domain.TokenPrefix)
	for name, s := range map[string]string{"password": pw, "new password": newPW, "wrong password": wrong, "token": tok,
		"token secret": secret, "token SHA-256": hex.EncodeToString(sum[:]), "token SHA-256 base64": base64.StdEncoding.EncodeToString(sum[:])} {
		if strings.Contains(out, s) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestLoginThrottle: after N failures for a username the next login is a
// 429 with Retry-After even with the right password, until the lockout
// passes; a success clears the count; other users are not affected.
func TestLoginThrottle(t *testing.T) {
	clock := &testClock{t: time.Now()}
	e := setup(t, func(c *api.Config) {
		c.LoginThrottle = throttle.New(throttle.Config{Window: 10 * time.Minute, MaxUserFailures: 3, Now: clock.now})
	})
	pw := "throttle password"
	for _, u := range []string{"istanbul_user", "istanbul_viewer"} {
		if err := e.st.Users.SetPassword(e.ctx, domain.System, e.users[u].ID, &pw); err != nil {
			t.Fatal(err)
		}
	}
	login := func(user, pass string) resp {
		return e.do("POST", "/api/auth/token/", "", fmt.Sprintf(`{"username": %q, "password": %q}`, user, pass))
	}
	for i := range 3 {
		e.expect(login("istanbul_user", "wrong password"), 401, fmt.Sprintf("failure %d", i+1))
	}
	r := e.expect(login("istanbul_user", pw), 429, "right password after 3 failures")
	if ra := r.header.Get("Retry-After"); ra != "600" {
		t.Errorf("Retry-After %q, want 600", ra)
	}
	e.expect(login("istanbul_viewer", pw), 200, "another user from the same address")
	clock.add(9 * time.Minute)
	r = e.expect(login("istanbul_user", pw), 429, "still locked")
	if ra := r.header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After %q, want 60", ra)
	}
	clock.add(time.Minute)
	e.expect(login("istanbul_user", pw), 200, "lockout over")
	// A success resets the count: two more failures do not lock.
	e.expect(login("istanbul_user", "wrong password"), 401, "failure after success")
	e.expect(login("istanbul_user", "wrong password"), 401, "second failure after success")
	e.expect(login("istanbul_user", pw), 200, "success resets")
	e.expect(login("istanbul_user", "wrong password"), 401, "failure 1 of a new count")
	e.expect(login("istanbul_user", "wrong password"), 401, "failure 2 of a new count")
	e.expect(login("istanbul_user", "wrong password"), 401, "failure 3 of a new count")
	e.expect(login("istanbul_user", pw), 429, "locked again")
	// Malformed requests are no guesses and are not counted.
	e.expect(login("istanbul_viewer", "x"), 401, "viewer failure 1")
	for range 5 {
		e.expect(e.do("POST", "/api/auth/token/", "", `{"username": "istanbul_viewer"}`), 400, "no password")
	}
	e.expect(login("istanbul_viewer", pw), 200, "viewer after malformed attempts")
}
