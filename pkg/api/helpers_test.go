package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestMain fails the package if a test leaves a goroutine behind: an
// httptest server or pool not closed, a handler still running after its
// request, a LISTEN loop or throttle that outlives its context.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a test's server over a fresh database loaded with the demo data
// (Store.Seed) and a token for each seeded user.
type env struct {
	t      *testing.T
	ctx    context.Context
	db     *testdb.DB
	st     *domain.Store
	srv    *api.Server
	ts     *httptest.Server
	logs   *syncBuffer
	ist    domain.Center // Istanbul: the callers' own center
	ank    domain.Center // Ankara: the other center
	users  map[string]domain.User
	tokens map[string]string // by username; "super" for the superuser "admin"
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setup seeds a fresh database and serves the API on it; configure may
// adjust the server's Config (a short RequestTimeout, say) before New.
func setup(t *testing.T, configure ...func(*api.Config)) *env {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	db := testdb.New(t)
	st := domain.New(db.Pool, db.Tenancy)
	if _, err := st.Seed(ctx, domain.SeedOptions{}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	logs := &syncBuffer{}
	cfg := api.Config{Store: st,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, ctx: ctx, db: db, st: st, srv: srv, ts: ts, logs: logs,
		users: map[string]domain.User{}, tokens: map[string]string{}}
	if e.ist, err = st.Centers.GetByName(ctx, "Istanbul Medical Center"); err != nil {
		t.Fatal(err)
	}
	if e.ank, err = st.Centers.GetByName(ctx, "Ankara Research Lab"); err != nil {
		t.Fatal(err)
	}
	users, _, err := st.Users.List(ctx, domain.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		name := u.Username
		if u.IsSuperuser {
			name = "super"
		}
		e.users[name] = u
		e.tokens[name] = e.token(u.ID)
	}
	return e
}

func (e *env) token(user uuid.UUID) string {
	e.t.Helper()
	_, tok, err := e.st.Tokens.Create(e.ctx, domain.System, user, "test", time.Hour)
	if err != nil {
		e.t.Fatalf("token: %v", err)
	}
	return tok
}

// resp is a response with its body decoded (if JSON).
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

func (r resp) results() []map[string]any {
	var out []map[string]any
	for _, v := range r.body["results"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// do sends a request with a JSON body (unless body is empty) and the
// token of as ("" for none).
func (e *env) do(method, path, as, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if as != "" {
		tok, ok := e.tokens[as]
		if !ok {
			tok = as
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// expect fails unless r has status; a problem body is checked for shape.
func (e *env) expect(r resp, status int, what string) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.raw)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			e.t.Fatalf("%s: Content-Type %q, want application/problem+json", what, ct)
		}
		if int(r.body["status"].(float64)) != status || r.str("title") == "" {
			e.t.Fatalf("%s: malformed problem %s", what, r.raw)
		}
	}
	return r
}

// hasKeys fails unless m has exactly keys.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Errorf("%s: keys %v, want %v", what, mapKeys(m), keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: missing key %q in %v", what, k, mapKeys(m))
		}
	}
}

func mapKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

var (
	centerKeys = []string{"id", "name", "schema_name", "description", "settings", "is_active", "created_at", "updated_at", "created_by", "updated_by"}
	userKeys   = []string{"id", "username", "email", "first_name", "last_name", "phone", "center", "role", "is_superuser", "is_active", "created_at", "updated_at", "created_by", "updated_by"}
	sampleKeys = []string{"id", "name", "description", "sample_type", "status", "barcode", "user_id", "metadata", "is_active", "created_at", "updated_at", "created_by", "updated_by"}
	pageKeys   = []string{"count", "next", "previous", "results"}
)

// Fresh records for tests that change or destroy them.

func (e *env) newCenter(name string) domain.Center {
	e.t.Helper()
	c, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) newUser(c domain.Center, role domain.Role) domain.User {
	e.t.Helper()
	name := "u" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	u, err := e.st.Users.Create(e.ctx, domain.System, domain.UserInput{Username: name, Email: name + "@example.com", CenterID: &c.ID, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) newSample(c domain.Center) domain.Sample {
	e.t.Helper()
	owner := e.users["istanbul_user"].ID
	if c.ID == e.ank.ID {
		owner = e.users["ankara_user"].ID
	}
	s, err := e.st.Samples.Create(e.ctx, c.ID, domain.By(owner), domain.SampleInput{
		Name: "fresh", SampleType: "blood", Barcode: "B-" + uuid.NewString()[:13]})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func centerPath(c domain.Center) string { return "/api/centers/" + c.ID.String() + "/" }
func userPath(u domain.User) string     { return "/api/users/" + u.ID.String() + "/" }
func samplesPath(c domain.Center) string {
	return "/api/centers/" + c.ID.String() + "/samples/"
}
func samplePath(c domain.Center, s domain.Sample) string { return samplesPath(c) + s.ID.String() + "/" }
