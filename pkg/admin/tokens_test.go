package admin_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

var tokenPattern = regexp.MustCompile(`tct_[A-Za-z0-9_-]{43}`)

// TestTokens: a token is shown once, on the page that issued it, and
// nowhere else; it authenticates until revoked; the list shows what it is.
func TestTokens(t *testing.T) {
	e := setup(t)
	c := e.signIn("istanbul_viewer")
	me := e.users["istanbul_viewer"]
	c.get(userURL(me)+"tokens/").want(t, http.StatusOK, "No tokens yet.", `name="ttl"`, `value="30d" selected`)

	p := c.post(userURL(me)+"tokens/", url.Values{"name": {"laptop"}, "ttl": {"1d"}})
	p.want(t, http.StatusOK, "New token “laptop”", "shown this once")
	plain := tokenPattern.FindString(p.body)
	if plain == "" {
		t.Fatalf("no token on the page\n%s", p.body)
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", p.header.Get("Cache-Control"))
	}
	for _, ck := range p.header.Values("Set-Cookie") {
		if strings.Contains(ck, plain) {
			t.Fatal("the token is in a cookie")
		}
	}
	u, err := e.st.Tokens.Authenticate(e.ctx, plain)
	if err != nil || u.ID != me.ID {
		t.Fatalf("the token authenticates %v, %v", u.Username, err)
	}
	toks, err := e.st.Tokens.List(e.ctx, me.ID)
	if err != nil || len(toks) != 1 || toks[0].ExpiresAt == nil || time.Until(*toks[0].ExpiresAt) > 25*time.Hour {
		t.Fatalf("tokens %+v, %v", toks, err)
	}

	again := c.get(userURL(me) + "tokens/")
	again.want(t, http.StatusOK, "laptop", `<span class="badge on">active</span>`, "Revoke")
	if strings.Contains(again.body, plain) || strings.Contains(again.body, "New token") {
		t.Fatal("a second look shows the token again")
	}

	p = c.post(userURL(me)+"tokens/"+toks[0].ID.String()+"/revoke/", nil)
	if p.status != http.StatusSeeOther || p.location() != userURL(me)+"tokens/" {
		t.Fatalf("revoke: %d %q", p.status, p.location())
	}
	c.get(p.location()).want(t, http.StatusOK, "Token “laptop” of istanbul_viewer revoked.", `<span class="badge off">revoked</span>`)
	if _, err := e.st.Tokens.Authenticate(e.ctx, plain); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("a revoked token authenticates: %v", err)
	}

	// Never expiring, unnamed; a hostile name shown escaped.
	c.post(userURL(me)+"tokens/", url.Values{"ttl": {"never"}}).want(t, http.StatusOK, "New token</h2>")
	p = c.post(userURL(me)+"tokens/", url.Values{"name": {strings.Join(hostile, " ")}, "ttl": {"90d"}})
	p.want(t, http.StatusOK)
	wantAllEscaped(t, p)
	wantAllEscaped(t, c.get(userURL(me)+"tokens/"))
	p = c.get(userURL(me) + "tokens/")
	p.want(t, http.StatusOK, "never", "no name")

	// Bad input: beside its field, nothing issued.
	n := len(mustTokens(t, e, me))
	for _, tc := range []struct {
		v          url.Values
		field, msg string
	}{
		{url.Values{"name": {"x"}, "ttl": {"forever"}}, "ttl", "choose how long the token is valid"},
		{url.Values{"name": {"x"}}, "ttl", "choose how long the token is valid"},
		{url.Values{"name": {strings.Repeat("n", 101)}, "ttl": {"1d"}}, "name", "must be at most 100 characters"},
		{url.Values{"name": {"two\nlines"}, "ttl": {"1d"}}, "name", "must not contain control characters"},
	} {
		p := c.post(userURL(me)+"tokens/", tc.v)
		p.want(t, http.StatusBadRequest, fieldError(tc.field, tc.msg))
		if tokenPattern.MatchString(p.body) {
			t.Fatal("an invalid form issued a token")
		}
	}
	if got := len(mustTokens(t, e, me)); got != n {
		t.Fatalf("%d tokens after invalid forms, want %d", got, n)
	}
}

func mustTokens(t *testing.T, e *env, u domain.User) []domain.Token {
	t.Helper()
	toks, err := e.st.Tokens.List(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// TestTokenPermissions: a user's tokens are theirs and their managers':
// anyone else of the center gets 403, another center 404; a token revoked
// through another user's path is not found. Refused revocations leave the
// token working.
func TestTokenPermissions(t *testing.T) {
	e := setup(t)
	issue := func(key string) (domain.Token, string) {
		tk, plain, err := e.st.Tokens.Create(e.ctx, domain.System, e.users[key].ID, "k", 0)
		if err != nil {
			t.Fatal(err)
		}
		return tk, plain
	}
	for _, tc := range []struct {
		who, target string
		status      int
	}{
		{"super", "ankara_user", 200},
		{"super", "super", 200},
		{"istanbul_admin", "istanbul_user", 200},
		{"istanbul_admin", "istanbul_admin", 200},
		{"istanbul_admin", "ankara_user", 404},
		{"istanbul_admin", "super", 404},
		{"istanbul_user", "istanbul_user", 200},
		{"istanbul_user", "istanbul_viewer", 403},
		{"istanbul_user", "istanbul_admin", 403},
		{"istanbul_viewer", "istanbul_user", 403},
		{"ankara_viewer", "istanbul_user", 404},
	} {
		c := e.signIn(tc.who)
		target := e.users[tc.target]
		tk, plain := issue(tc.target)
		c.get(userURL(target)+"tokens/").want(t, tc.status)
		before := len(mustTokens(t, e, target))
		p := c.post(userURL(target)+"tokens/", url.Values{"name": {"by " + tc.who}, "ttl": {"1d"}})
		p.want(t, tc.status)
		issued := len(mustTokens(t, e, target)) - before
		p = c.post(userURL(target)+"tokens/"+tk.ID.String()+"/revoke/", nil)
		_, err := e.st.Tokens.Authenticate(e.ctx, plain)
		if tc.status == 200 {
			if issued != 1 || p.status != http.StatusSeeOther || !errors.Is(err, domain.ErrInvalidCredentials) {
				t.Fatalf("%s on %s: issued %d, revoke %d, token %v", tc.who, tc.target, issued, p.status, err)
			}
			continue
		}
		if issued != 0 || p.status != tc.status || err != nil {
			t.Fatalf("%s on %s: refused (%d) yet issued %d, revoke %d, token %v", tc.who, tc.target, tc.status, issued, p.status, err)
		}
	}

	// A token revoked through another user's path: not found, still valid.
	admin := e.signIn("istanbul_admin")
	tk, plain := issue("istanbul_viewer")
	admin.post(userURL(e.users["istanbul_user"])+"tokens/"+tk.ID.String()+"/revoke/", nil).want(t, http.StatusNotFound)
	admin.post(userURL(e.users["istanbul_user"])+"tokens/not-an-id/revoke/", nil).want(t, http.StatusNotFound)
	if _, err := e.st.Tokens.Authenticate(e.ctx, plain); err != nil {
		t.Fatalf("a refused revocation revoked: %v", err)
	}

	// An inactive user gets no token: the page has no form, but says why,
	// and the action is refused.
	e.deactivate("istanbul_user")
	p := admin.get(userURL(e.users["istanbul_user"]) + "tokens/")
	p.want(t, http.StatusOK, "An inactive user cannot get tokens")
	if strings.Contains(p.body, "Issue token</button>") {
		t.Fatalf("an inactive user's page offers to issue a token\n%s", p.body)
	}
	admin.post(userURL(e.users["istanbul_user"])+"tokens/", url.Values{"name": {"x"}, "ttl": {"1d"}}).
		want(t, http.StatusBadRequest, "An inactive user cannot get tokens")
}
