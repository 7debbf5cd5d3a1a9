package admin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/internal/browser"
	"github.com/tenantctl/tenantctl/pkg/admin"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
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

// TestBrowserCenter: a superuser creates a center in the browser, lands on
// its page and sees its charts; the list and the center page look right at
// 1280 and 390 px.
func TestBrowserCenter(t *testing.T) {
	e, base := browserEnv(t)
	ctx := browser.New(t)
	signInBrowser(t, ctx, base, "admin")

	browser.Visit(t, ctx, base+"/admin/centers/")
	browser.Screenshot(t, ctx, "centers-1280")
	browser.SetWidth(t, ctx, 390)
	noOverflow(t, ctx, 390)
	browser.Screenshot(t, ctx, "centers-390")
	browser.SetWidth(t, ctx, 1280)

	browser.Visit(t, ctx, base+"/admin/centers/new/")
	browser.Fill(t, ctx, "#f-name", "Izmir Lab")
	browser.Fill(t, ctx, "#f-description", "Opened from the browser test.")
	browser.Fill(t, ctx, "#f-settings", `{"sample_types": ["blood", "dna"]}`)
	if st := browser.Submit(t, ctx, "main form button[type=submit]"); st != http.StatusOK {
		t.Fatalf("create center: status %d", st)
	}
	if h := browser.Text(t, ctx, "main h1"); !strings.Contains(h, "Izmir Lab") {
		t.Fatalf("after create: h1 %q at %s", h, browser.URL(t, ctx))
	}
	if _, err := e.st.Centers.GetByName(e.ctx, "Izmir Lab"); err != nil {
		t.Fatalf("the center is not in the registry: %v", err)
	}
	if n := browser.Count(t, ctx, "figure.chart"); n < 3 {
		t.Fatalf("new center's page: %d charts", n)
	}

	// A center with samples draws bars: Istanbul's page.
	browser.Visit(t, ctx, base+centerURL(e.ist.ID))
	if n := browser.Count(t, ctx, "figure.chart svg rect"); n == 0 {
		t.Fatal("Istanbul's page draws no chart bars")
	}
	// SVG has no innerText: its labels are read as textContent.
	if label := browser.Eval[string](t, ctx, `document.querySelector("figure.chart svg text.label").textContent`); label != "pending" {
		t.Fatalf("first bar of the status chart: label %q, want pending", label)
	}
	browser.Screenshot(t, ctx, "center-1280")
	browser.SetWidth(t, ctx, 390)
	noOverflow(t, ctx, 390)
	browser.Screenshot(t, ctx, "center-390")
}

// TestBrowserSample: a center's user opens a pending sample, sees only
// the legal transitions, processes it, and the page shows it processing.
func TestBrowserSample(t *testing.T) {
	e, base := browserEnv(t)
	pending, _, err := e.st.Samples.List(e.ctx, e.ist.ID, domain.SampleFilter{Status: domain.StatusPending, Limit: 1})
	if err != nil || len(pending) == 0 {
		t.Fatalf("no pending sample in Istanbul: %v", err)
	}
	s := pending[0]
	ctx := browser.New(t)
	signInBrowser(t, ctx, base, "istanbul_user")

	samples := base + samplesURL(e.ist)
	browser.Visit(t, ctx, samples)
	browser.Screenshot(t, ctx, "samples-1280")
	browser.SetWidth(t, ctx, 390)
	noOverflow(t, ctx, 390)
	browser.SetWidth(t, ctx, 1280)

	browser.Visit(t, ctx, samples+s.ID.String()+"/")
	// pending allows process and reject, nothing else.
	if n := browser.Count(t, ctx, `form[action$="/process/"] button`); n != 1 {
		t.Fatalf("process buttons: %d", n)
	}
	if n := browser.Count(t, ctx, `form[action$="/complete/"], form[action$="/archive/"]`); n != 0 {
		t.Fatalf("illegal transitions offered: %d", n)
	}
	browser.Screenshot(t, ctx, "sample-1280")
	if st := browser.Submit(t, ctx, `form[action$="/process/"] button`); st != http.StatusOK {
		t.Fatalf("process: status %d", st)
	}
	if badge := browser.Text(t, ctx, "main h1 .badge"); badge != "processing" {
		t.Fatalf("after process: badge %q", badge)
	}
	got, err := e.st.Samples.Get(e.ctx, e.ist.ID, s.ID)
	if err != nil || got.Status != domain.StatusProcessing || got.UpdatedBy == nil || *got.UpdatedBy != e.users["istanbul_user"].ID {
		t.Fatalf("in the database: %+v, %v", got, err)
	}
}

// TestBrowserBulkDeactivate: a center admin ticks two members in the
// users' list, deactivates them in one go, and reads the report; both are
// inactive in the database and their console sessions are gone.
func TestBrowserBulkDeactivate(t *testing.T) {
	e, base := browserEnv(t)
	victims := []domain.User{e.users["istanbul_user"], e.users["istanbul_viewer"]}
	ctx := browser.New(t)
	signInBrowser(t, ctx, base, "istanbul_admin")

	browser.Visit(t, ctx, base+"/admin/users/")
	browser.Screenshot(t, ctx, "users-1280")
	for _, u := range victims {
		browser.Click(t, ctx, `input[name="ids"][value="`+u.ID.String()+`"]`)
	}
	browser.Fill(t, ctx, "#f-action", "deactivate")
	if st := browser.Submit(t, ctx, `form[action="/admin/users/bulk/"] button[type=submit]`); st != http.StatusOK {
		t.Fatalf("bulk deactivate: status %d", st)
	}
	if msg := browser.Text(t, ctx, ".flash"); !strings.HasPrefix(msg, "2 changed") {
		t.Fatalf("bulk report: %q", msg)
	}
	browser.Screenshot(t, ctx, "users-bulk-1280")
	for _, u := range victims {
		got, err := e.st.Users.Get(e.ctx, u.ID)
		if err != nil || got.IsActive {
			t.Fatalf("%s after bulk deactivate: active %v, %v", u.Username, got.IsActive, err)
		}
	}
	browser.SetWidth(t, ctx, 390)
	noOverflow(t, ctx, 390)
	browser.Screenshot(t, ctx, "users-390")
}

// TestBrowserTour opens every kind of page as a superuser, at 1280 and at
// 390 px: each must load, have a heading, and fit the narrow viewport.
// Its screenshots are the ones to look at after a change of the pages
// (TENANTCTL_SCREENSHOTS=dir keeps them).
func TestBrowserTour(t *testing.T) {
	e, base := browserEnv(t)
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	samples, _, err := e.st.Samples.List(e.ctx, e.ist.ID, domain.SampleFilter{Limit: 1})
	if err != nil || len(samples) == 0 {
		t.Fatalf("no sample in Istanbul: %v", err)
	}
	ist, ank := centerURL(e.ist.ID), centerURL(e.ank.ID)
	user := userURL(e.users["istanbul_user"])
	pages := []struct{ name, path string }{
		{"dashboard", "/admin/"},
		{"centers", "/admin/centers/?active=all"},
		{"center-new", "/admin/centers/new/"},
		{"center-edit", ist + "edit/"},
		{"center-harddelete", ank + "hard_delete/"},
		{"samples", ist + "samples/"},
		{"sample", ist + "samples/" + samples[0].ID.String() + "/"},
		{"sample-new", ist + "samples/new/"},
		{"users", "/admin/users/"},
		{"user-new", "/admin/users/new/"},
		{"user", user},
		{"user-password", user + "password/"},
		{"tokens", user + "tokens/"},
		{"fleet", "/admin/fleet/"},
	}
	ctx := browser.New(t)
	signInBrowser(t, ctx, base, "admin")
	for _, p := range pages {
		for _, width := range []int{1280, 390} {
			browser.SetWidth(t, ctx, width)
			if st := browser.Visit(t, ctx, base+p.path); st != http.StatusOK {
				t.Fatalf("%s: status %d", p.path, st)
			}
			if h := browser.Text(t, ctx, "main h1"); h == "" {
				t.Errorf("%s: no heading", p.path)
			}
			if width == 390 {
				noOverflow(t, ctx, width)
			}
			browser.Screenshot(t, ctx, fmt.Sprintf("tour-%s-%d", p.name, width))
		}
	}
	// A form sent back with errors, as a person sees it.
	browser.SetWidth(t, ctx, 1280)
	browser.Visit(t, ctx, base+ist+"edit/")
	browser.Fill(t, ctx, "#f-name", " Istanbul")
	browser.Fill(t, ctx, "#f-settings", `{"sample_types": [}`)
	if st := browser.Submit(t, ctx, "main form button[type=submit]"); st != http.StatusBadRequest {
		t.Fatalf("bad edit: status %d", st)
	}
	if n := browser.Count(t, ctx, ".field.invalid"); n != 2 {
		t.Errorf("bad edit: %d fields marked invalid, want name and settings", n)
	}
	browser.Screenshot(t, ctx, "tour-center-edit-errors-1280")
}
