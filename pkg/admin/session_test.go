package admin_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/pkg/admin"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// TestSignInAndOut: a page without a session sends to the sign-in form
// with the way back; signing in returns there with an HttpOnly, SameSite
// cookie; signing out ends the session in the database, so the same
// cookie is refused afterwards.
func TestSignInAndOut(t *testing.T) {
	e := setup(t)
	c := e.anonymous()
	p := c.get("/admin/centers/?search=lab")
	if p.status != http.StatusSeeOther || p.location() != "/admin/login/?next="+url.QueryEscape("/admin/centers/?search=lab") {
		t.Fatalf("anonymous: status %d, Location %q", p.status, p.location())
	}
	c.get("/admin/login/").want(t, http.StatusOK, `name="username"`, `name="password"`)
	p = c.postForm("/admin/login/", url.Values{"username": {"istanbul_admin"}, "password": {password},
		"next": {"/admin/centers/?search=lab"}})
	if p.status != http.StatusSeeOther || p.location() != "/admin/centers/?search=lab" {
		t.Fatalf("sign in: status %d, Location %q\n%s", p.status, p.location(), p.body)
	}
	ck := p.header.Get("Set-Cookie")
	for _, want := range []string{"tenantctl_session=tcs_", "Path=/admin/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("cookie over plain HTTP is Secure without SecureCookie: %q", ck)
	}
	c.get("/admin/").want(t, http.StatusOK, "istanbul_admin", "Sign out")
	cookies := c.http.Jar.Cookies(mustURL(t, e.ts.URL+"/admin/"))

	// Signing in again, as someone else, ends the first session.
	c.postForm("/admin/login/", url.Values{"username": {"istanbul_user"}, "password": {password}})
	first := e.anonymous()
	first.http.Jar.SetCookies(mustURL(t, e.ts.URL+"/admin/"), cookies)
	if p := first.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("first session after a second sign-in: status %d", p.status)
	}
	c.get("/admin/").want(t, http.StatusOK, "istanbul_user")
	cookies = c.http.Jar.Cookies(mustURL(t, e.ts.URL+"/admin/"))

	c.post("/admin/logout/", nil)
	if p := c.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("after sign-out: status %d", p.status)
	}
	// The old cookie, replayed, is dead too: the session is gone.
	replay := e.anonymous()
	replay.http.Jar.SetCookies(mustURL(t, e.ts.URL+"/admin/"), cookies)
	if p := replay.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("replayed cookie after sign-out: status %d", p.status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSignInErrors: empty fields and wrong credentials come back as the
// form with one message, no session; an unsafe next goes to the dashboard.
func TestSignInErrors(t *testing.T) {
	e := setup(t)
	c := e.anonymous()
	c.postForm("/admin/login/", url.Values{"username": {""}, "password": {""}}).
		want(t, http.StatusBadRequest, "this field is required")
	p := c.postForm("/admin/login/", url.Values{"username": {"istanbul_admin"}, "password": {"wrong password"}})
	p.want(t, http.StatusBadRequest, "Please enter a correct username and password.")
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("failed sign-in set a cookie: %q", p.header.Get("Set-Cookie"))
	}
	p = c.postForm("/admin/login/", url.Values{"username": {"<b>x</b>"}, "password": {"x"}})
	if strings.Contains(p.body, "<b>x</b>") || !strings.Contains(p.body, "&lt;b&gt;x&lt;/b&gt;") {
		t.Fatalf("username not escaped on the form:\n%s", p.body)
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/admin/", "/admin/\\evil", "/api/centers/",
		// Dot segments resolve out of the console: to another host, or to the API.
		"/admin/..//evil.example/", "/admin/../api/centers/", "/admin/%2e%2e/api/", "/admin/./../login/"} {
		p := c.postForm("/admin/login/", url.Values{"username": {"istanbul_user"}, "password": {password}, "next": {next}})
		if p.status != http.StatusSeeOther || p.location() != "/admin/" {
			t.Errorf("next %q: status %d, Location %q", next, p.status, p.location())
		}
	}
}

// TestSignInThrottleShared: failures on the console count in the throttle
// given to it, the API's: past the limit even the right password is
// refused with 429.
func TestSignInThrottleShared(t *testing.T) {
	th := throttle.New(throttle.Config{MaxUserFailures: 2})
	e := setup(t, func(c *admin.Config) { c.Throttle = th })
	c := e.anonymous()
	for range 2 {
		c.postForm("/admin/login/", url.Values{"username": {"ankara_user"}, "password": {"nope nope nope"}})
	}
	p := c.postForm("/admin/login/", url.Values{"username": {"ankara_user"}, "password": {password}})
	p.want(t, http.StatusTooManyRequests, "Too many failed sign-ins")
	if p.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// The same throttle refuses the API's login for that user too.
	req, err := http.NewRequest(http.MethodPost, "/api/auth/token/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	retry, err := th.Do(req, "ankara_user", func() error { t.Fatal("auth called while locked"); return nil })
	if retry <= 0 || err != nil {
		t.Fatalf("throttle after console failures: retry %v, err %v", retry, err)
	}
}

// TestCSRF: a POST that changes something needs the session's own token:
// without one, with another session's, or from another origin it is a 403
// and changes nothing.
func TestCSRF(t *testing.T) {
	e := setup(t)
	a := e.signIn("istanbul_admin")
	b := e.signIn("super")
	for name, token := range map[string]string{"missing": "", "other session's": b.csrf, "garbage": "x"} {
		p := a.post("/admin/logout/", url.Values{"csrf": {token}})
		p.want(t, http.StatusForbidden, "another session")
		if a.get("/admin/").status != http.StatusOK {
			t.Fatalf("%s token: the session ended", name)
		}
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.ts.URL+"/admin/logout/",
		strings.NewReader(url.Values{"csrf": {a.csrf}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	a.do(req).want(t, http.StatusForbidden, "another site")
	if a.get("/admin/").status != http.StatusOK {
		t.Fatal("cross-site POST ended the session")
	}
}

// TestSessionEnds: a session ends when its user is deactivated, changes
// role, center or password, whichever process does it, and after its idle
// and absolute expiry; a profile change keeps it.
func TestSessionEnds(t *testing.T) {
	e := setup(t, func(c *admin.Config) { c.IdleTimeout = 10 * time.Minute })
	sys := domain.System
	cases := []struct {
		name   string
		user   string
		change func(id string)
		ends   bool
	}{
		{"profile change", "istanbul_user", func(id string) {
			u := e.users["istanbul_user"]
			if _, err := e.st.Users.Update(e.ctx, sys, u.ID, domain.UserProfile{Username: u.Username, Email: u.Email,
				FirstName: "Renamed", LastName: u.LastName, Phone: u.Phone}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"deactivated", "istanbul_viewer", func(id string) {
			if _, err := e.st.Users.SetActive(e.ctx, sys, false, e.users["istanbul_viewer"].ID); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"demoted", "istanbul_admin", func(id string) {
			if _, err := e.st.Users.ChangeRole(e.ctx, sys, domain.RoleViewer, e.users["istanbul_admin"].ID); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"moved", "ankara_user", func(id string) {
			if _, err := e.st.Users.ChangeCenter(e.ctx, sys, e.ist.ID, e.users["ankara_user"].ID); err != nil {
				t.Fatal(err)
			}
		}, true},
		// By SQL: the trigger ends the sessions whoever changes the hash.
		{"password by SQL", "ankara_viewer", func(id string) {
			e.exec("UPDATE public.users SET password_hash = password_hash || 'x' WHERE id = $1", id)
		}, true},
		{"idle", "ankara_admin", func(id string) {
			e.exec("UPDATE public.admin_sessions SET last_seen_at = now() - interval '11 minutes' WHERE user_id = $1", id)
		}, true},
		{"expired", "super", func(id string) {
			e.exec("UPDATE public.admin_sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1", id)
		}, true},
	}
	for _, tc := range cases {
		c := e.signIn(tc.user)
		tc.change(e.users[tc.user].ID.String())
		p := c.get("/admin/")
		if ended := p.status == http.StatusSeeOther; ended != tc.ends {
			t.Errorf("%s: status %d, want the session ended: %v", tc.name, p.status, tc.ends)
		}
	}
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.db.Pool.Exec(e.ctx, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// TestHeaders: every page carries the strict policy, data pages are not
// cached, and the stylesheet is served from the console itself.
func TestHeaders(t *testing.T) {
	e := setup(t)
	c := e.signIn("super")
	for _, path := range []string{"/admin/login/", "/admin/", "/admin/no-such-page/"} {
		p := c.get(path)
		if path == "/admin/login/" {
			p = e.anonymous().get(path)
		}
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "style-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows unsafe-inline: %q", path, csp)
		}
		if p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, p.header.Get("Cache-Control"))
		}
	}
	c.get("/admin/no-such-page/").want(t, http.StatusNotFound, "Not Found")
	dash := c.get("/admin/")
	i := strings.Index(dash.body, `href="/admin/static/admin.css?v=`)
	if i < 0 {
		t.Fatalf("no stylesheet link:\n%s", dash.body)
	}
	link := dash.body[i+len(`href="`):]
	link = link[:strings.IndexByte(link, '"')]
	css := c.get(link)
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		!strings.Contains(css.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("stylesheet: %d %q %q", css.status, css.header.Get("Content-Type"), css.header.Get("Cache-Control"))
	}
	// A page's path without its slash is sent to the page.
	if p := c.get("/admin/login?next=/admin/"); p.status != http.StatusTemporaryRedirect || p.location() != "/admin/login/?next=/admin/" {
		t.Fatalf("/admin/login: %d %q", p.status, p.location())
	}
	// Strangers learn nothing about which pages exist.
	if p := e.anonymous().get("/admin/no-such-page/"); p.status != http.StatusSeeOther {
		t.Fatalf("anonymous unknown page: %d", p.status)
	}
}

// TestSecureCookie: behind a proxy that terminates TLS, SecureCookie marks
// the session and flash cookies Secure though the request came over HTTP;
// a request over TLS gets a Secure cookie without it.
func TestSecureCookie(t *testing.T) {
	signIn := func(t *testing.T, client *http.Client, base string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/admin/login/",
			strings.NewReader(url.Values{"username": {"istanbul_user"}, "password": {password}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "; Secure") {
			t.Fatalf("sign-in: %d, Set-Cookie %q, want a Secure cookie", res.StatusCode, res.Header.Get("Set-Cookie"))
		}
	}
	t.Run("configured", func(t *testing.T) {
		e := setup(t, func(c *admin.Config) { c.SecureCookie = true })
		signIn(t, &http.Client{}, e.ts.URL)
	})
	t.Run("TLS", func(t *testing.T) {
		e := setup(t)
		ts := httptest.NewTLSServer(e.console)
		t.Cleanup(ts.Close)
		signIn(t, ts.Client(), ts.URL)
	})
}
