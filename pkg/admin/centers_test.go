package admin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// The pages' paths, to which a test appends the rest ("edit/"): one way
// for every kind of page.
func centerURL(id uuid.UUID) string { return "/admin/centers/" + id.String() + "/" }

// mustCenter returns center id from the database.
func (e *env) mustCenter(id uuid.UUID) domain.Center {
	e.t.Helper()
	ct, err := e.st.Centers.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("center %s: %v", id, err)
	}
	return ct
}

func (e *env) countCenters() int {
	e.t.Helper()
	_, n, err := e.st.Centers.List(e.ctx, domain.ListOptions{IncludeInactive: true, Limit: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestCenterList: a superuser lists every center and filters, searches and
// sorts them; everyone else sees one row, their own center; bad query
// parameters are the page with the error beside its field and a 400.
func TestCenterList(t *testing.T) {
	e := setup(t)
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	su := e.signIn("super")
	p := su.get("/admin/centers/")
	p.want(t, http.StatusOK, e.ist.Name, e.ank.Name, "soft-deleted", `href="/admin/centers/new/"`)
	if strings.Index(p.body, e.ank.Name) > strings.Index(p.body, e.ist.Name) {
		t.Fatal("default ordering is not by name")
	}
	p = su.get("/admin/centers/?ordering=-name")
	p.want(t, http.StatusOK, e.ist.Name, e.ank.Name, `aria-sort="descending"`)
	if strings.Index(p.body, e.ist.Name) > strings.Index(p.body, e.ank.Name) {
		t.Fatal("ordering=-name did not reverse the list")
	}
	p = su.get("/admin/centers/?active=false")
	p.want(t, http.StatusOK, e.ank.Name)
	if strings.Contains(p.body, e.ist.Name) {
		t.Fatal("active=false lists an active center")
	}
	p = su.get("/admin/centers/?active=true&ordering=created_at")
	p.want(t, http.StatusOK, e.ist.Name)
	if strings.Contains(p.body, e.ank.Name) {
		t.Fatal("active=true lists a soft-deleted center")
	}
	p = su.get("/admin/centers/?search=MEDICAL&active=all")
	p.want(t, http.StatusOK, e.ist.Name)
	if strings.Contains(p.body, e.ank.Name) {
		t.Fatal("search did not filter")
	}
	// Search reaches descriptions too, and % is no wildcard.
	su.get("/admin/centers/?search="+url.QueryEscape(e.ank.Description[:10])).want(t, http.StatusOK, e.ank.Name)
	su.get("/admin/centers/?search=%25").want(t, http.StatusOK, "No center matches.")

	for _, bad := range []struct{ query, text string }{
		{"active=maybe", "must be true, false or all"},
		{"ordering=schema_name", "cannot order by"},
		{"offset=-1", "must be a whole number from 0"},
		{"search=" + strings.Repeat("x", 201), `id="e-search"`},
	} {
		p := su.get("/admin/centers/?" + bad.query)
		p.want(t, http.StatusBadRequest, bad.text)
		if strings.Contains(p.body, `href="/admin/centers/`+e.ist.ID.String()) {
			t.Fatalf("%s: the page lists centers despite the error", bad.query)
		}
	}
	for _, h := range hostile {
		wantEscaped(t, su.get("/admin/centers/?search="+url.QueryEscape(h)), h)
	}

	for _, role := range []string{"istanbul_admin", "istanbul_user", "istanbul_viewer"} {
		c := e.signIn(role)
		p := c.get("/admin/centers/")
		p.want(t, http.StatusOK, e.ist.Name, "1 in all.")
		for _, hidden := range []string{e.ank.Name, "/admin/centers/new/"} {
			if strings.Contains(p.body, hidden) {
				t.Fatalf("%s: list shows %q", role, hidden)
			}
		}
		// Searching for another center finds nothing, not it.
		c.get("/admin/centers/?search=ankara&active=all").want(t, http.StatusOK, "No center matches.")
	}
}

// TestCenterListPagination: 50 rows a page, and the pager's and the
// headings' links keep the search, the filter and the ordering.
func TestCenterListPagination(t *testing.T) {
	e := setup(t)
	for i := range 60 {
		if _, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: fmt.Sprintf("Paged lab %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	su := e.signIn("super")
	p := su.get("/admin/centers/?search=paged&active=true&ordering=-name")
	p.want(t, http.StatusOK, "1–50 of 60", "Paged lab 59", "Paged lab 10")
	if strings.Contains(p.body, "Paged lab 09") || strings.Contains(p.body, e.ist.Name) {
		t.Fatal("the first page shows a row of the second, or one the search excludes")
	}
	next := `href="?active=true&amp;offset=50&amp;ordering=-name&amp;search=paged"`
	p.want(t, http.StatusOK, next)
	// Sorting by another column keeps the filters and goes back to page 1.
	p.want(t, http.StatusOK, `href="?active=true&amp;ordering=created_at&amp;search=paged"`)
	p = su.get("/admin/centers/?active=true&offset=50&ordering=-name&search=paged")
	p.want(t, http.StatusOK, "51–60 of 60", "Paged lab 09", "Paged lab 00",
		`href="?active=true&amp;ordering=-name&amp;search=paged" rel="prev"`)
	if strings.Contains(p.body, "Paged lab 10") || strings.Contains(p.body, `rel="next"`) {
		t.Fatal("the last page shows a row of the first, or a next link")
	}
	// Past the end: no rows, still the count.
	su.get("/admin/centers/?search=paged&offset=500").want(t, http.StatusOK, "No center matches.")
}

// TestCenterPage: the center's props, charts, schema and members, with the
// links to its samples and users; the actions only for a superuser; another
// center or a soft-deleted one is a 404 for anyone else.
func TestCenterPage(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	for _, ct := range []domain.Center{e.ist, e.ank} {
		p := su.get(centerURL(ct.ID))
		p.want(t, http.StatusOK, ct.Name, ct.SchemaName, "schema version", "Samples by status", "Samples by type",
			"Users by role", "<svg", `href="/admin/centers/`+ct.ID.String()+`/samples/"`,
			`href="/admin/users/?center=`+ct.ID.String()+`"`, centerURL(ct.ID)+"edit/", centerURL(ct.ID)+"delete/")
	}
	st, err := e.st.Stats(e.ctx, e.ist.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"istanbul_admin", "istanbul_user", "istanbul_viewer"} {
		c := e.signIn(role)
		p := c.get(centerURL(e.ist.ID))
		p.want(t, http.StatusOK, e.ist.Name, st.Schema.Name, fmt.Sprintf(`<span class="n">%d</span><span class="l">schema version`,
			st.Schema.MigrationVersion), "istanbul_admin", "istanbul_user", "istanbul_viewer",
			fmt.Sprintf(`<span class="n">%d</span><span class="l">samples`, st.Samples.Total))
		for _, hidden := range []string{"/edit/", "/delete/", "/restore/", "/hard_delete/", "ankara_"} {
			if strings.Contains(p.body, hidden) {
				t.Fatalf("%s: center page shows %q", role, hidden)
			}
		}
		c.get(centerURL(e.ank.ID)).want(t, http.StatusNotFound)
		c.get("/admin/centers/not-a-uuid/").want(t, http.StatusNotFound)
		c.get(centerURL(uuid.New())).want(t, http.StatusNotFound)
	}
	// A soft-deleted center: a superuser still sees it, with Restore and
	// the hard delete; its members no longer get in.
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	su.get(centerURL(e.ank.ID)).want(t, http.StatusOK, "soft-deleted", centerURL(e.ank.ID)+"restore/",
		centerURL(e.ank.ID)+"hard_delete/")
	e.signIn("istanbul_admin").get(centerURL(e.ank.ID)).want(t, http.StatusNotFound)
}

// TestCenterPermissions: everyone but a superuser is refused every change,
// 403 on their own center, 404 on another, and nothing changes.
func TestCenterPermissions(t *testing.T) {
	e := setup(t)
	before := e.countCenters()
	for _, role := range []string{"istanbul_admin", "istanbul_user", "istanbul_viewer",
		"ankara_admin", "ankara_user", "ankara_viewer"} {
		c := e.signIn(role)
		own, other := e.ist, e.ank
		if strings.HasPrefix(role, "ankara") {
			own, other = e.ank, e.ist
		}
		c.get("/admin/centers/new/").want(t, http.StatusForbidden, "Only a superuser")
		c.post("/admin/centers/new/", url.Values{"name": {"Sneaky " + role}}).want(t, http.StatusForbidden)
		for _, tc := range []struct {
			ct     domain.Center
			status int
		}{{own, http.StatusForbidden}, {other, http.StatusNotFound}} {
			c.get(centerURL(tc.ct.ID)+"edit/").want(t, tc.status)
			c.post(centerURL(tc.ct.ID)+"edit/", url.Values{"name": {"Renamed"}, "settings": {"{}"}}).want(t, tc.status)
			c.post(centerURL(tc.ct.ID)+"delete/", nil).want(t, tc.status)
			c.post(centerURL(tc.ct.ID)+"restore/", nil).want(t, tc.status)
			c.get(centerURL(tc.ct.ID)+"hard_delete/").want(t, tc.status)
			c.post(centerURL(tc.ct.ID)+"hard_delete/", url.Values{"confirm": {tc.ct.Name}}).want(t, tc.status)
			if got := e.mustCenter(tc.ct.ID); got.Name != tc.ct.Name || !got.IsActive || !got.UpdatedAt.Equal(tc.ct.UpdatedAt) {
				t.Fatalf("%s: refused actions changed %s: %+v", role, tc.ct.Name, got)
			}
		}
	}
	// The same refusals for a center that is soft-deleted: a non-superuser
	// cannot even hard-delete what a superuser already soft-deleted.
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	c := e.signIn("istanbul_admin")
	c.post(centerURL(e.ank.ID)+"restore/", nil).want(t, http.StatusNotFound)
	c.post(centerURL(e.ank.ID)+"hard_delete/", url.Values{"confirm": {e.ank.Name}}).want(t, http.StatusNotFound)
	if e.mustCenter(e.ank.ID).IsActive {
		t.Fatal("a refused restore restored")
	}
	if n := e.countCenters(); n != before {
		t.Fatalf("%d centers after refused actions, want %d", n, before)
	}
	// A form without the CSRF token changes nothing, even a superuser's.
	su := e.signIn("super")
	su.post(centerURL(e.ist.ID)+"delete/", url.Values{"csrf": {"forged"}}).want(t, http.StatusForbidden)
	if !e.mustCenter(e.ist.ID).IsActive {
		t.Fatal("a POST without the CSRF token soft-deleted the center")
	}
}

// TestCenterCreate: the form, a center created with its schema, and bad
// input back beside its field with nothing created.
func TestCenterCreate(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	su.get("/admin/centers/new/").want(t, http.StatusOK, `name="name"`, `name="description"`, `name="settings"`, "{}")
	p := su.post("/admin/centers/new/", url.Values{"name": {"Izmir Genome Lab"}, "description": {"Sequencing."},
		"settings": {`{"sample_types": ["blood", "saliva"]}`}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/admin/centers/") {
		t.Fatalf("create: status %d, Location %q\n%s", p.status, p.location(), p.body)
	}
	ct, err := e.st.Centers.GetByName(e.ctx, "Izmir Genome Lab")
	if err != nil {
		t.Fatal(err)
	}
	if p.location() != centerURL(ct.ID) || ct.Description != "Sequencing." ||
		strings.Join(ct.SampleTypes(), ",") != "blood,saliva" || ct.CreatedBy == nil || *ct.CreatedBy != e.users["super"].ID {
		t.Fatalf("created %+v, redirected to %q", ct, p.location())
	}
	su.get(p.location()).want(t, http.StatusOK, "Center Izmir Genome Lab created", ct.SchemaName, "blood, saliva")
	if _, err := e.st.Stats(e.ctx, ct.ID); err != nil {
		t.Fatalf("the new center's schema: %v", err)
	}

	before := e.countCenters()
	for _, bad := range []struct {
		name, settings, field, text string
	}{
		{"", "{}", "name", ""},
		{"  Padded  ", "{}", "name", ""},
		{"istanbul medical center", "{}", "name", "already exists"},
		{"Bad JSON", "{nope", "settings", "must be valid JSON"},
		{"Not an object", "[1, 2]", "settings", "must be a JSON object"},
		{"Bad types", `{"sample_types": []}`, "settings", "sample_types must be a non-empty list"},
	} {
		p := su.post("/admin/centers/new/", url.Values{"name": {bad.name}, "settings": {bad.settings}})
		p.want(t, http.StatusBadRequest, `id="e-`+bad.field+`"`, bad.text)
		// The form comes back with what was typed.
		p.want(t, http.StatusBadRequest, strings.NewReplacer(`"`, "&#34;").Replace(bad.settings))
	}
	if n := e.countCenters(); n != before {
		t.Fatalf("%d centers after bad input, want %d", n, before)
	}

	// Hostile text is stored as typed and shown escaped everywhere.
	for i, h := range hostile {
		settings, err := json.Marshal(map[string]string{"note": h})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("Hostile %d %s", i, h)
		p := su.post("/admin/centers/new/", url.Values{"name": {name}, "description": {h}, "settings": {string(settings)}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("create %q: status %d\n%s", name, p.status, p.body)
		}
		page := su.get(p.location())
		page.want(t, http.StatusOK)
		wantEscaped(t, page, name)
		wantEscaped(t, page, h)
		wantEscaped(t, su.get("/admin/centers/?search="+url.QueryEscape(fmt.Sprintf("Hostile %d", i))), name)
		// And on a form sent back with an error.
		p = su.post("/admin/centers/new/", url.Values{"name": {h}, "description": {h}, "settings": {h}})
		p.want(t, http.StatusBadRequest, `id="e-settings"`)
		wantEscaped(t, p, h)
	}
}

// TestCenterEdit: the form filled in, a change saved, bad input refused
// with nothing changed.
func TestCenterEdit(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	su.get(centerURL(e.ist.ID)+"edit/").want(t, http.StatusOK, `value="`+e.ist.Name+`"`, `&#34;timezone&#34;: &#34;Europe/Istanbul&#34;`)
	p := su.post(centerURL(e.ist.ID)+"edit/", url.Values{"name": {"Istanbul Clinic"}, "description": {"Renamed."},
		"settings": {`{"sample_types": ["tissue"]}`}})
	if p.status != http.StatusSeeOther || p.location() != centerURL(e.ist.ID) {
		t.Fatalf("edit: status %d, Location %q\n%s", p.status, p.location(), p.body)
	}
	ct := e.mustCenter(e.ist.ID)
	if ct.Name != "Istanbul Clinic" || ct.Description != "Renamed." || strings.Join(ct.SampleTypes(), ",") != "tissue" ||
		ct.UpdatedBy == nil || *ct.UpdatedBy != e.users["super"].ID {
		t.Fatalf("after edit: %+v", ct)
	}
	su.get(p.location()).want(t, http.StatusOK, "Center Istanbul Clinic saved.")

	for _, bad := range []struct{ name, settings, field, text string }{
		{"", "{}", "name", ""},
		{e.ank.Name, "{}", "name", "already exists"},
		{"Fine", `{"a": `, "settings", "must be valid JSON"},
		{"Fine", `"text"`, "settings", "must be a JSON object"},
	} {
		su.post(centerURL(e.ist.ID)+"edit/", url.Values{"name": {bad.name}, "settings": {bad.settings}}).
			want(t, http.StatusBadRequest, `id="e-`+bad.field+`"`, bad.text)
		if got := e.mustCenter(e.ist.ID); !got.UpdatedAt.Equal(ct.UpdatedAt) || got.Name != ct.Name {
			t.Fatalf("bad input changed the center: %+v", got)
		}
	}
	for _, h := range hostile {
		p := su.post(centerURL(e.ist.ID)+"edit/", url.Values{"name": {"Istanbul " + h}, "description": {h}, "settings": {"{}"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("edit to %q: status %d\n%s", h, p.status, p.body)
		}
		form := su.get(centerURL(e.ist.ID) + "edit/")
		wantEscaped(t, form, "Istanbul "+h)
		wantEscaped(t, su.get(centerURL(e.ist.ID)), h)
	}
	su.get(centerURL(uuid.New())+"edit/").want(t, http.StatusNotFound)
}

// TestCenterDeleteRestoreHardDelete: soft delete and restore; the hard
// delete refused for an active center and for a wrong name, both leaving
// the schema, and done for the right name.
func TestCenterDeleteRestoreHardDelete(t *testing.T) {
	e := setup(t)
	su := e.signIn("super")
	id := e.ank.ID

	// Active: the hard delete is refused, form and action alike.
	su.get(centerURL(id)+"hard_delete/").want(t, http.StatusConflict, "soft-delete it")
	su.post(centerURL(id)+"hard_delete/", url.Values{"confirm": {e.ank.Name}}).want(t, http.StatusConflict)
	if _, err := e.st.Stats(e.ctx, id); err != nil {
		t.Fatalf("an active center's schema after a refused hard delete: %v", err)
	}

	p := su.post(centerURL(id)+"delete/", nil)
	if p.status != http.StatusSeeOther || p.location() != centerURL(id) {
		t.Fatalf("soft delete: status %d, Location %q", p.status, p.location())
	}
	if e.mustCenter(id).IsActive {
		t.Fatal("soft delete left the center active")
	}
	deleted := su.get(p.location())
	deleted.want(t, http.StatusOK, "soft-deleted:", centerURL(id)+"restore/")
	// Its samples are a 404 for everyone: no link leads there.
	if strings.Contains(deleted.body, centerURL(id)+"samples/") {
		t.Fatalf("a soft-deleted center's page links to its samples\n%s", deleted.body)
	}
	su.get(centerURL(id)+"samples/").want(t, http.StatusNotFound)
	su.get("/admin/centers/?active=false").want(t, http.StatusOK, e.ank.Name)

	p = su.post(centerURL(id)+"restore/", nil)
	if p.status != http.StatusSeeOther || !e.mustCenter(id).IsActive {
		t.Fatalf("restore: status %d, active %v", p.status, e.mustCenter(id).IsActive)
	}
	su.get(p.location()).want(t, http.StatusOK, "restored.", centerURL(id)+"delete/")

	su.post(centerURL(id)+"delete/", nil)
	st, err := e.st.Stats(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	su.get(centerURL(id)+"hard_delete/").want(t, http.StatusOK, `name="confirm"`, st.Schema.Name,
		fmt.Sprintf("its %d samples", st.Samples.Total))
	for _, wrong := range []string{"", strings.ToLower(e.ank.Name), e.ank.Name + " ", e.ist.Name} {
		su.post(centerURL(id)+"hard_delete/", url.Values{"confirm": {wrong}}).
			want(t, http.StatusBadRequest, `id="e-confirm"`, "nothing was deleted")
		if _, err := e.st.Stats(e.ctx, id); err != nil {
			t.Fatalf("schema after a hard delete with %q typed: %v", wrong, err)
		}
	}
	p = su.post(centerURL(id)+"hard_delete/", url.Values{"confirm": {e.ank.Name}})
	if p.status != http.StatusSeeOther || p.location() != "/admin/centers/" {
		t.Fatalf("hard delete: status %d, Location %q\n%s", p.status, p.location(), p.body)
	}
	if _, err := e.st.Centers.Get(e.ctx, id); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("center after hard delete: %v", err)
	}
	if _, err := e.st.Stats(e.ctx, id); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("stats after hard delete: %v", err)
	}
	p = su.get("/admin/centers/")
	p.want(t, http.StatusOK, "deleted for good", st.Schema.Name)
	if strings.Contains(p.body, `href="/admin/centers/`+id.String()) {
		t.Fatal("the list still links the hard-deleted center")
	}
	su.get(centerURL(id)).want(t, http.StatusNotFound)
}
