package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/internal/browser"
	"github.com/tenantctl/tenantctl/pkg/admin"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// browserEnv serves the API with the console mounted, as apiserver does,
// so that the browser goes through the whole request path.
func browserEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := setup(t)
	th := throttle.New(throttle.Config{})
	console, err := admin.New(admin.Config{Store: e.st, Throttle: th})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: e.st, LoginThrottle: th, Console: console, DisableMetrics: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return e, ts.URL
}

// signInBrowser fills the sign-in form as a person would.
func signInBrowser(t *testing.T, ctx context.Context, base, username string) {
	t.Helper()
	if st := browser.Visit(t, ctx, base+"/admin/"); st != http.StatusOK {
		t.Fatalf("sign-in page: status %d", st)
	}
	if u := browser.URL(t, ctx); !strings.Contains(u, "/admin/login/?next=") {
		t.Fatalf("not sent to sign in: %s", u)
	}
	browser.Fill(t, ctx, "#f-username", username)
	browser.Fill(t, ctx, "#f-password", password)
	if st := browser.Submit(t, ctx, "main form button[type=submit]"); st != http.StatusOK {
		t.Fatalf("sign in as %s: status %d", username, st)
	}
}

// noOverflow fails the test if the page is wider than the viewport: at
// 390 px nothing may need sideways scrolling but a wide table's own box.
func noOverflow(t *testing.T, ctx context.Context, width int) {
	t.Helper()
	if w := browser.Eval[int](t, ctx, "document.documentElement.scrollWidth"); w > width {
		t.Errorf("%s at %d px is %d px wide", browser.URL(t, ctx), width, w)
	}
}

// TestBrowserSignInOut: in a real browser, a superuser signs in, sees the
// dashboard with its charts, and signs out; the dashboard then sends back
// to the sign-in page.
func TestBrowserSignInOut(t *testing.T) {
	_, base := browserEnv(t)
	ctx := browser.New(t)
	signInBrowser(t, ctx, base, "admin")
	if h := browser.Text(t, ctx, "main h1"); h != "Dashboard" {
		t.Fatalf("after sign-in: h1 %q", h)
	}
	if browser.Count(t, ctx, "figure.chart svg rect") == 0 {
		t.Fatal("the dashboard draws no chart bars")
	}
	browser.Screenshot(t, ctx, "dashboard-1280")
	browser.SetWidth(t, ctx, 390)
	browser.Screenshot(t, ctx, "dashboard-390")
	noOverflow(t, ctx, 390)
	browser.SetWidth(t, ctx, 1280)
	browser.Submit(t, ctx, "form.signout button")
	if u := browser.URL(t, ctx); !strings.HasSuffix(u, "/admin/login/") {
		t.Fatalf("after sign-out: %s", u)
	}
	browser.Screenshot(t, ctx, "login")
	browser.Visit(t, ctx, base+"/admin/")
	if u := browser.URL(t, ctx); !strings.Contains(u, "/admin/login/") {
		t.Fatalf("signed out, /admin/ shows %s", u)
	}
}
