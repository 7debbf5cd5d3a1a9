package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestFormErrorWithoutField: a refusal the database files under no field
// of the page (a CHECK the domain does not map, so non_field_errors) is
// shown at the top of the form, not dropped, and nothing changes. The
// constraints are added here with SQL: no domain input produces one.
func TestFormErrorWithoutField(t *testing.T) {
	e := setup(t)
	for _, stmt := range []string{
		`ALTER TABLE public.centers ADD CONSTRAINT centers_test_refusal CHECK (description <> 'refused by the database')`,
		`ALTER TABLE public.users ADD CONSTRAINT users_test_refusal CHECK (first_name <> 'Refused')`,
	} {
		if _, err := e.db.Pool.Exec(e.ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	su := e.signIn("super")
	su.post(centerURL(e.ist.ID)+"edit/", url.Values{"name": {e.ist.Name}, "description": {"refused by the database"},
		"settings": {"{}"}}).want(t, http.StatusBadRequest, `<div class="errors-box" role="alert"><ul><li>is invalid</li>`)
	if got := e.mustCenter(e.ist.ID); got.Description == "refused by the database" {
		t.Fatalf("the refused edit changed the center: %+v", got)
	}

	self := e.signIn("istanbul_user")
	me := e.users["istanbul_user"]
	self.post(userURL(me), url.Values{"email": {me.Email}, "first_name": {"Refused"}}).
		want(t, http.StatusBadRequest, `<div class="errors-box" role="alert"><ul><li>is invalid</li>`)
}

// TestListOffsetBound: an offset past maxOffset, up to the int's limit
// where offset+pageSize wraps, is refused beside the field on every list;
// the largest allowed one is an empty page.
func TestListOffsetBound(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	for _, list := range []string{"/admin/centers/", "/admin/users/", samplesURL(e.ist), "/admin/fleet/"} {
		for _, off := range []string{"9223372036854775807", "9223372036854775757", "1000000001"} {
			su.get(list+"?offset="+off).want(t, http.StatusBadRequest, "must be a whole number from 0 to 1000000000")
		}
		if p := su.get(list + "?offset=1000000000"); p.status != http.StatusOK || strings.Contains(p.body, `rel="next"`) {
			t.Fatalf("%s at the largest offset: %d\n%s", list, p.status, p.body)
		}
	}
}

// TestCenterChoicesAtScale: with a few centers the users' pages offer
// them in selects; with more than a select should hold, a center is typed
// by name (or id), found however many centers there are, and a misspelt
// one is an error beside the field with the closest name. The centers are
// rows only, inserted with SQL: these pages read no schema.
func TestCenterChoicesAtScale(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	istanbul := `<option value="` + e.ist.ID.String() + `">` + e.ist.Name + `</option>`
	if p := su.get("/admin/users/"); strings.Count(p.body, istanbul) != 2 {
		t.Fatalf("the users' list offers Istanbul %d times, want 2 (filter and bulk target)", strings.Count(p.body, istanbul))
	}
	su.get("/admin/users/new/").want(t, http.StatusOK, istanbul)

	if _, err := e.db.Pool.Exec(e.ctx, `INSERT INTO public.centers (name)
		SELECT 'Bulk ' || lpad(g::text, 4, '0') FROM generate_series(1, 510) g`); err != nil {
		t.Fatal(err)
	}
	p := su.get("/admin/users/")
	p.want(t, http.StatusOK, `<input type="text" id="f-center" name="center"`, `<input type="text" id="f-new_center" name="new_center"`)
	if strings.Contains(p.body, istanbul) {
		t.Fatal("a select of centers past maxCenterChoices")
	}
	p = su.get("/admin/users/?center=" + url.QueryEscape("istanbul medical center"))
	p.want(t, http.StatusOK, ">istanbul_admin<")
	if strings.Contains(p.body, ">ankara_admin<") {
		t.Fatal("the center filter by name let another center's users through")
	}
	su.get("/admin/users/?center="+e.ist.ID.String()).want(t, http.StatusOK, ">istanbul_admin<")
	su.get("/admin/users/?center="+url.QueryEscape("Istanbul Medical Centre")).want(t, http.StatusBadRequest,
		fieldError("center", `center &#34;Istanbul Medical Centre&#34; not found; did you mean &#34;Istanbul Medical Center&#34;?`))
	su.get("/admin/users/new/").want(t, http.StatusOK, `<input type="text" id="f-center" name="center"`)

	// Moving a user to a center typed by name.
	u := e.users["istanbul_user"]
	su.bulk("/admin/users/", "change_center", url.Values{"new_center": {"Bulk 0510"}}, u).want(t, http.StatusSeeOther)
	moved, err := e.st.Users.Get(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	bulk510, err := e.st.Centers.GetByName(e.ctx, "Bulk 0510")
	if err != nil || !moved.MemberOf(bulk510.ID) {
		t.Fatalf("moved to %v, want Bulk 0510 (%v)", moved.CenterID, err)
	}
}

// TestBreadcrumbs: every page below the top level has the one trail, from
// the menu's section to the page's parent; the top-level pages none.
func TestBreadcrumbs(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	sm := e.sampleIn(e.ist, domain.StatusPending)
	u := e.users["istanbul_user"]
	const nav = `<nav class="crumbs" aria-label="Breadcrumb">`
	li := func(href, label string) string { return `<li><a href="` + href + `">` + label + `</a></li>` }
	centers, ist := li("/admin/centers/", "Centers"), li(centerURL(e.ist.ID), e.ist.Name)
	samples, users := li(samplesURL(e.ist), "Samples"), li("/admin/users/", "Users")
	for path, want := range map[string]string{
		centerURL(e.ist.ID):               centers + "</ol>",
		centerURL(e.ist.ID) + "edit/":     centers + ist + "</ol>",
		"/admin/centers/new/":             centers + "</ol>",
		samplesURL(e.ist):                 centers + ist + "</ol>",
		sampleURL(e.ist, sm.ID):           centers + ist + samples + "</ol>",
		sampleURL(e.ist, sm.ID) + "edit/": centers + ist + samples + li(sampleURL(e.ist, sm.ID), sm.Name) + "</ol>",
		samplesURL(e.ist) + "new/":        centers + ist + samples + "</ol>",
		userURL(u):                        users + "</ol>",
		"/admin/users/new/":               users + "</ol>",
		userURL(u) + "password/":          users + li(userURL(u), u.Username) + "</ol>",
		userURL(u) + "tokens/":            users + li(userURL(u), u.Username) + "</ol>",
	} {
		su.get(path).want(t, http.StatusOK, nav+"<ol>"+want)
	}
	for _, path := range []string{"/admin/", "/admin/centers/", "/admin/users/", "/admin/fleet/"} {
		if p := su.get(path); strings.Contains(p.body, nav) {
			t.Errorf("%s, a top-level page, has breadcrumbs", path)
		}
	}
}

// TestFlashSurvivesErrorPage: the result of a change is left for the next
// page that renders, not taken by an error page on the way.
func TestFlashSurvivesErrorPage(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	p := su.post(centerURL(e.ank.ID)+"edit/", url.Values{"name": {"Ankara Lab"}, "settings": {"{}"}})
	p.want(t, http.StatusSeeOther)
	if p := su.get("/admin/no-such-page/"); p.status != http.StatusNotFound || strings.Contains(p.body, "Center Ankara Lab saved.") {
		t.Fatalf("the 404 page: %d, or it took the flash\n%s", p.status, p.body)
	}
	su.get(p.location()).want(t, http.StatusOK, `<p class="flash" role="status">Center Ankara Lab saved.</p>`)
}
