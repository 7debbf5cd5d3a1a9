package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

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
		{"search=" + strings.Repeat("x", 201), "search"},
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
