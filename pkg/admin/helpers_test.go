package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/admin"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestMain fails the package if a test leaves a goroutine behind (a
// server not closed, a fleet migration still running).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// password is every seeded user's password in these tests.
const password = "correct horse battery"

// env is a test's console over a fresh database with the demo data.
// Users are keyed by username; "super" is the superuser "admin".
type env struct {
	t       *testing.T
	ctx     context.Context
	db      *testdb.DB
	st      *domain.Store
	ts      *httptest.Server
	console *admin.Console
	ist     domain.Center // Istanbul: the callers' own center
	ank     domain.Center // Ankara: the other center
	users   map[string]domain.User
}

// setup seeds a fresh database and serves the console on it; configure may
// adjust the Config before New.
func setup(t *testing.T, configure ...func(*admin.Config)) *env {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	db := testdb.New(t)
	st := domain.New(db.Pool, db.Tenancy)
	if _, err := st.Seed(ctx, domain.SeedOptions{AdminPassword: password, UserPassword: password}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	cfg := admin.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, c := range configure {
		c(&cfg)
	}
	console, err := admin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(console.Close)
	ts := httptest.NewServer(console)
	t.Cleanup(ts.Close)
	e := &env{t: t, ctx: ctx, db: db, st: st, ts: ts, console: console, users: map[string]domain.User{}}
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
	}
	return e
}

// client is a browser without a browser: a cookie jar, redirects not
// followed (tests check them), and the CSRF token of the last page seen.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	csrf string
}

func (e *env) anonymous() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{t: e.t, e: e, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn returns a client signed in as key (a key of env.users), holding
// the CSRF token of its dashboard.
func (e *env) signIn(key string) *client {
	e.t.Helper()
	c := e.anonymous()
	username := e.users[key].Username
	if username == "" {
		e.t.Fatalf("no user %q", key)
	}
	r := c.postForm("/admin/login/", url.Values{"username": {username}, "password": {password}})
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: status %d\n%s", username, r.status, r.body)
	}
	c.get("/admin/")
	if c.csrf == "" {
		e.t.Fatalf("sign in as %s: no CSRF token on the dashboard", username)
	}
	return c
}

// page is a response with its body.
type page struct {
	status int
	header http.Header
	body   string
}

// location is where a redirect points.
func (p page) location() string { return p.header.Get("Location") }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.e.ctx, http.MethodGet, c.e.ts.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form with the client's CSRF token, as a page would.
func (c *client) post(path string, v url.Values) page {
	c.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if _, set := v["csrf"]; !set {
		v.Set("csrf", c.csrf)
	}
	return c.postForm(path, v)
}

// postForm sends v exactly as given.
func (c *client) postForm(path string, v url.Values) page {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.e.ctx, http.MethodPost, c.e.ts.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// want fails the test unless p has status and its body contains every one
// of texts.
func (p page) want(t *testing.T, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d\n%s", p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page lacks %q\n%s", s, p.body)
		}
	}
}

// hostile are texts that would run or break the page if rendered raw.
var hostile = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `{{.}}`}

// wantEscaped fails unless p shows s escaped and never raw (a text without
// markup, like {{.}}, must simply come back as it is).
func wantEscaped(t *testing.T, p page, s string) {
	t.Helper()
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
	if esc != s && strings.Contains(p.body, s) {
		t.Fatalf("page shows %q raw\n%s", s, p.body)
	}
	if !strings.Contains(p.body, esc) {
		t.Fatalf("page lacks %q escaped as %q\n%s", s, esc, p.body)
	}
}

// wantAllEscaped fails unless p shows every hostile payload, escaped.
func wantAllEscaped(t *testing.T, p page) {
	t.Helper()
	for _, s := range hostile {
		wantEscaped(t, p, s)
	}
}
