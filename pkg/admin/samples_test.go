package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func samplesURL(ct domain.Center) string { return centerURL(ct.ID) + "samples/" }

func sampleURL(ct domain.Center, id uuid.UUID) string { return samplesURL(ct) + id.String() + "/" }

// sampleIn returns a sample of ct in status st (the seed has one of each).
func (e *env) sampleIn(ct domain.Center, st domain.Status) domain.Sample {
	e.t.Helper()
	items, _, err := e.st.Samples.List(e.ctx, ct.ID, domain.SampleFilter{Status: st, Limit: 1, Ordering: "barcode"})
	if err != nil || len(items) == 0 {
		e.t.Fatalf("a %s sample of %s: %v", st, ct.Name, err)
	}
	return items[0]
}

func (e *env) sample(ct domain.Center, id uuid.UUID) domain.Sample {
	e.t.Helper()
	s, err := e.st.Samples.Get(e.ctx, ct.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) sampleCount(ct domain.Center) int {
	e.t.Helper()
	_, n, err := e.st.Samples.List(e.ctx, ct.ID, domain.SampleFilter{IncludeInactive: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// activeSamples counts ct's samples a list shows by default.
func (e *env) activeSamples(ct domain.Center) int {
	e.t.Helper()
	_, n, err := e.st.Samples.List(e.ctx, ct.ID, domain.SampleFilter{Limit: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func sampleForm(name, barcode, typ, user, meta string) url.Values {
	return url.Values{"name": {name}, "barcode": {barcode}, "sample_type": {typ}, "user_id": {user},
		"description": {"made by a test"}, "metadata": {meta}}
}

// TestSampleList: the list shows the center's samples and honours the
// API's filters, search, ordering and paging; invalid parameters come back
// beside their fields with 400.
func TestSampleList(t *testing.T) {
	e := setup(t)
	c := e.signIn("istanbul_user")
	p := c.get(samplesURL(e.ist))
	p.want(t, http.StatusOK, "Istanbul Medical Center", "IST-0001", "IST-0008", "New sample",
		fmt.Sprintf("%d in all.", e.activeSamples(e.ist)))
	if strings.Contains(p.body, "ANK-0001") || strings.Contains(p.body, "Include soft-deleted") {
		t.Fatal("the list shows another center's samples, or include inactive to a user")
	}
	p = c.get(samplesURL(e.ist) + "?status=pending")
	p.want(t, http.StatusOK, "Urinalysis", "Serum lipid panel", "Allergy panel", "3 in all.")
	if strings.Contains(p.body, "Liver biopsy") {
		t.Fatal("status filter lets a processing sample through")
	}
	c.get(samplesURL(e.ist)+"?sample_type=blood&ordering=name").want(t, http.StatusOK, "Allergy panel", "Complete blood count", "2 in all.")
	p = c.get(samplesURL(e.ist) + "?search=BIOPSY")
	p.want(t, http.StatusOK, "Liver biopsy", "1 in all.")
	p = c.get(samplesURL(e.ist) + "?search=" + url.QueryEscape("%"))
	p.want(t, http.StatusOK, "0 in all.", "No samples match.")
	u := e.users["istanbul_admin"]
	c.get(samplesURL(e.ist)+"?user_id="+u.ID.String()).want(t, http.StatusOK, "Liver biopsy", "Serum lipid panel", "2 in all.")
	// Ordering: barcode descending puts IST-0008 before IST-0001.
	p = c.get(samplesURL(e.ist) + "?ordering=-barcode")
	if i, j := strings.Index(p.body, "IST-0008"), strings.Index(p.body, "IST-0001"); i < 0 || j < i {
		t.Fatalf("-barcode: IST-0008 at %d, IST-0001 at %d", i, j)
	}

	for q, want := range map[string]string{
		"status=bogus":                       `&#34;bogus&#34; is not a status`,
		"ordering=nope":                      `cannot order by &#34;nope&#34;`,
		"user_id=not-an-id":                  "is not a user id",
		"offset=-1":                          "must be a whole number from 0",
		"include_inactive=maybe":             "must be true, false or all",
		"search=" + strings.Repeat("x", 201): `id="e-search"`,
	} {
		p := c.get(samplesURL(e.ist) + "?" + q)
		p.want(t, http.StatusBadRequest, want, `class="errors`)
		if strings.Contains(p.body, "IST-0001") {
			t.Errorf("%s: rows listed despite the error", q)
		}
	}
}

// TestSampleListPagingAndInactive: past a page there is a next link;
// soft-deleted samples show only to Privileged users who ask.
func TestSampleListPagingAndInactive(t *testing.T) {
	e := setup(t)
	for i := range 50 {
		if _, err := e.st.Samples.Create(e.ctx, e.ist.ID, domain.By(e.users["istanbul_user"].ID), domain.SampleInput{
			Name: "bulk", SampleType: "blood", Barcode: "BULK-" + string(rune('A'+i/26)) + string(rune('a'+i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn("istanbul_admin")
	n := e.activeSamples(e.ist)
	p := c.get(samplesURL(e.ist) + "?ordering=barcode")
	p.want(t, http.StatusOK, fmt.Sprintf("1–50 of %d", n), `rel="next"`, "offset=50")
	c.get(samplesURL(e.ist)+"?ordering=barcode&offset=50").want(t, http.StatusOK, fmt.Sprintf("51–%d of %d", n, n), "IST-0008", `rel="prev"`)

	gone := e.sampleIn(e.ist, domain.StatusPending)
	if _, err := e.st.Samples.SoftDelete(e.ctx, e.ist.ID, domain.System, gone.ID); err != nil {
		t.Fatal(err)
	}
	if p := c.get(samplesURL(e.ist) + "?search=" + gone.Barcode); strings.Contains(p.body, gone.Name) {
		t.Fatal("a soft-deleted sample is listed by default")
	}
	c.get(samplesURL(e.ist)+"?include_inactive=true&search="+gone.Barcode).want(t, http.StatusOK, gone.Name, `<span class="badge off">soft-deleted</span>`, "Include soft-deleted")
	// A user asking is ignored, as by the API.
	u := e.signIn("istanbul_user")
	if p := u.get(samplesURL(e.ist) + "?include_inactive=true&search=" + gone.Barcode); p.status != http.StatusOK || strings.Contains(p.body, gone.Name) {
		t.Fatalf("a user sees a soft-deleted sample: %d", p.status)
	}
	u.get(sampleURL(e.ist, gone.ID)).want(t, http.StatusNotFound)
	c.get(sampleURL(e.ist, gone.ID)).want(t, http.StatusOK, "soft-deleted")
}

// TestSampleDetail: every field, metadata pretty-printed, the audit
// fields as usernames ("system" for none), and only the legal transitions.
func TestSampleDetail(t *testing.T) {
	e := setup(t)
	s := e.sampleIn(e.ist, domain.StatusPending)
	c := e.signIn("istanbul_user")
	p := c.get(sampleURL(e.ist, s.ID))
	p.want(t, http.StatusOK, s.Name, s.Barcode, s.SampleType, "by system", "Edit",
		"/"+s.ID.String()+"/process/", "/"+s.ID.String()+"/reject/", "process → processing")
	for _, a := range []string{"complete", "archive"} {
		if strings.Contains(p.body, "/"+a+"/") {
			t.Errorf("a pending sample offers %s", a)
		}
	}
	if strings.Contains(p.body, "/delete/") {
		t.Error("a user is offered delete")
	}
	// After an edit, updated_by is the editor's username.
	c.post(sampleURL(e.ist, s.ID)+"edit/", sampleForm(s.Name, s.Barcode, s.SampleType, "", `{"b": 1, "a": {"c": [1, 2]}}`)).
		want(t, http.StatusSeeOther)
	p = c.get(sampleURL(e.ist, s.ID))
	p.want(t, http.StatusOK, `by <a href="`+userURL(e.users["istanbul_user"])+`">istanbul_user</a>`,
		"Sample "+s.Name+" saved.", "{\n  &#34;a&#34;: {\n    &#34;c&#34;: [\n      1,")
	// The owner shows by username, linked, in the User row (the name
	// alone could be the signed-in user's in the top bar).
	owner := e.users[ownerKey(e, s.UserID)]
	p.want(t, http.StatusOK, `<dt>User</dt><dd><a href="`+userURL(owner)+`">`+owner.Username+`</a></dd>`)

	// A processing sample offers complete and reject; a rejected one archive.
	for st, want := range map[domain.Status][]string{
		domain.StatusProcessing: {"complete", "reject"},
		domain.StatusRejected:   {"archive"},
		domain.StatusArchived:   {},
	} {
		s := e.sampleIn(e.ist, st)
		p := c.get(sampleURL(e.ist, s.ID))
		for _, a := range domain.Actions {
			offered := strings.Contains(p.body, "/"+s.ID.String()+"/"+string(a)+"/")
			if offered != slices.Contains(want, string(a)) {
				t.Errorf("%s sample: %s offered %v", st, a, offered)
			}
		}
	}
	c.get(samplesURL(e.ist)+uuid.NewString()+"/").want(t, http.StatusNotFound)
	c.get(samplesURL(e.ist)+"not-a-uuid/").want(t, http.StatusNotFound)
}

func ownerKey(e *env, id uuid.UUID) string {
	for k, u := range e.users {
		if u.ID == id {
			return k
		}
	}
	e.t.Fatalf("no user %s", id)
	return ""
}

// TestSampleTransitions: each legal action moves the sample and says so;
// an illegal one is a 409 page and changes nothing.
func TestSampleTransitions(t *testing.T) {
	e := setup(t)
	s := e.sampleIn(e.ist, domain.StatusPending)
	c := e.signIn("istanbul_user")
	for _, a := range []string{"complete", "archive"} {
		p := c.post(sampleURL(e.ist, s.ID)+a+"/", nil)
		p.want(t, http.StatusConflict, "cannot "+a+" a sample that is pending")
		if got := e.sample(e.ist, s.ID); got.Status != domain.StatusPending || !got.UpdatedAt.Equal(s.UpdatedAt) {
			t.Fatalf("illegal %s changed the sample: %s", a, got.Status)
		}
	}
	for _, step := range []struct {
		action string
		to     domain.Status
	}{{"process", domain.StatusProcessing}, {"complete", domain.StatusCompleted}, {"archive", domain.StatusArchived}} {
		p := c.post(sampleURL(e.ist, s.ID)+step.action+"/", nil)
		if p.status != http.StatusSeeOther || p.location() != sampleURL(e.ist, s.ID) {
			t.Fatalf("%s: %d %q\n%s", step.action, p.status, p.location(), p.body)
		}
		if got := e.sample(e.ist, s.ID); got.Status != step.to || got.UpdatedBy == nil || *got.UpdatedBy != e.users["istanbul_user"].ID {
			t.Fatalf("after %s: %s by %v", step.action, got.Status, got.UpdatedBy)
		}
		c.get(p.location()).want(t, http.StatusOK, "now "+string(step.to))
	}
	c.post(sampleURL(e.ist, s.ID)+"reject/", nil).want(t, http.StatusConflict, "cannot reject a sample that is archived")
	c.post(sampleURL(e.ist, s.ID)+"explode/", nil).want(t, http.StatusNotFound)
	c.post(samplesURL(e.ist)+uuid.NewString()+"/process/", nil).want(t, http.StatusNotFound)
}

// TestSampleCreateEdit: the forms create and change a sample; bad input
// comes back beside its field with 400 and changes nothing.
func TestSampleCreateEdit(t *testing.T) {
	e := setup(t)
	c := e.signIn("istanbul_user")
	me := e.users["istanbul_user"]
	// The form defaults to the caller, offers the center's types and
	// active members only.
	p := c.get(samplesURL(e.ist) + "new/")
	p.want(t, http.StatusOK, `<option value="`+me.ID.String()+`" selected>`, `<option value="swab">`, "istanbul_viewer", "{}")
	if strings.Contains(p.body, "ankara_user") {
		t.Fatal("the user select offers another center's member")
	}
	p = c.post(samplesURL(e.ist)+"new/", sampleForm("Fresh", "NEW-1", "urine", me.ID.String(), `{"k": "v"}`))
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	created, err := e.st.Samples.GetByBarcode(e.ctx, e.ist.ID, "NEW-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.location() != sampleURL(e.ist, created.ID) || created.Status != domain.StatusPending || created.UserID != me.ID ||
		created.CreatedBy == nil || *created.CreatedBy != me.ID || string(created.Metadata) != `{"k": "v"}` {
		t.Fatalf("created %+v at %q", created, p.location())
	}
	c.get(p.location()).want(t, http.StatusOK, "Sample Fresh created.", "made by a test", "by <a href=")

	// The edit form is prefilled; saving changes every field.
	c.get(sampleURL(e.ist, created.ID)+"edit/").want(t, http.StatusOK, `value="Fresh"`, `value="NEW-1"`,
		`<option value="urine" selected>`)
	viewer := e.users["istanbul_viewer"]
	c.post(sampleURL(e.ist, created.ID)+"edit/", sampleForm("Renamed", "NEW-2", "serum", viewer.ID.String(), `{}`)).
		want(t, http.StatusSeeOther)
	if got := e.sample(e.ist, created.ID); got.Name != "Renamed" || got.Barcode != "NEW-2" || got.SampleType != "serum" || got.UserID != viewer.ID {
		t.Fatalf("after edit: %+v", got)
	}

	before := e.sampleCount(e.ist)
	taken := e.sampleIn(e.ist, domain.StatusCompleted).Barcode
	bad := []struct {
		name string
		form url.Values
		want []string
	}{
		{"duplicate barcode", sampleForm("x", taken, "blood", "", "{}"), []string{`id="e-barcode"`, "a sample with this barcode already exists"}},
		{"bad type", sampleForm("x", "B-1", "dna", "", "{}"), []string{`id="e-sample_type"`, "is not a sample type of this center"}},
		{"bad JSON", sampleForm("x", "B-2", "blood", "", `{"a":`), []string{`id="e-metadata"`, "must be valid JSON"}},
		{"not an object", sampleForm("x", "B-3", "blood", "", `[1]`), []string{`id="e-metadata"`, "must be a JSON object"}},
		{"empty name", sampleForm("", "B-4", "blood", "", "{}"), []string{`id="e-name"`}},
		{"other center's user", sampleForm("x", "B-5", "blood", e.users["ankara_user"].ID.String(), "{}"), []string{`id="e-user_id"`, "not a member of this center"}},
		{"user not an id", sampleForm("x", "B-6", "blood", "nope", "{}"), []string{`id="e-user_id"`, "is not a user id"}},
	}
	for _, tc := range bad {
		p := c.post(samplesURL(e.ist)+"new/", tc.form)
		p.want(t, http.StatusBadRequest, tc.want...)
		if !strings.Contains(p.body, `value="`+tc.form.Get("barcode")+`"`) {
			t.Errorf("%s: the form lost its values", tc.name)
		}
		// The same on edit, which changes nothing either.
		c.post(sampleURL(e.ist, created.ID)+"edit/", tc.form).want(t, http.StatusBadRequest, tc.want...)
	}
	if n := e.sampleCount(e.ist); n != before {
		t.Fatalf("bad input created samples: %d, want %d", n, before)
	}
	if got := e.sample(e.ist, created.ID); got.Name != "Renamed" || got.Barcode != "NEW-2" {
		t.Fatalf("bad edits changed the sample: %+v", got)
	}

	// A superuser, no member, must pick a user: the form says so.
	s := e.signIn("super")
	s.get(samplesURL(e.ist)+"new/").want(t, http.StatusOK, `<option value="" selected>— choose —</option>`)
	s.post(samplesURL(e.ist)+"new/", sampleForm("x", "S-1", "blood", "", "{}")).want(t, http.StatusBadRequest, `id="e-user_id"`)
	s.post(samplesURL(e.ist)+"new/", sampleForm("x", "S-1", "blood", me.ID.String(), "{}")).want(t, http.StatusSeeOther)
}

// TestSampleDelete: admins soft-delete; the sample then hides from the
// default list and shows, marked, to admins.
func TestSampleDelete(t *testing.T) {
	e := setup(t)
	s := e.sampleIn(e.ist, domain.StatusCompleted)
	c := e.signIn("istanbul_admin")
	c.get(sampleURL(e.ist, s.ID)).want(t, http.StatusOK, "/"+s.ID.String()+"/delete/")
	p := c.post(sampleURL(e.ist, s.ID)+"delete/", nil)
	if p.status != http.StatusSeeOther || p.location() != samplesURL(e.ist) {
		t.Fatalf("delete: %d %q", p.status, p.location())
	}
	got := e.sample(e.ist, s.ID)
	if got.IsActive || got.UpdatedBy == nil || *got.UpdatedBy != e.users["istanbul_admin"].ID {
		t.Fatalf("after delete: %+v", got)
	}
	c.get(samplesURL(e.ist)).want(t, http.StatusOK, "Sample "+s.Name+" soft-deleted")
	if p := c.get(sampleURL(e.ist, s.ID)); strings.Contains(p.body, "/delete/") {
		t.Fatal("a deleted sample offers delete again")
	}
}

// TestSamplePermissions: each role against each page and action, in its
// own center and the other: exactly the API's table, and a refused action
// changes nothing.
func TestSamplePermissions(t *testing.T) {
	e := setup(t)
	type want struct{ read, write, delete int }
	const ok, forbidden, notFound = http.StatusOK, http.StatusForbidden, http.StatusNotFound
	cases := []struct {
		user   string
		center domain.Center
		want   want
	}{
		{"super", e.ist, want{ok, ok, ok}},
		{"super", e.ank, want{ok, ok, ok}},
		{"istanbul_admin", e.ist, want{ok, ok, ok}},
		{"istanbul_admin", e.ank, want{notFound, notFound, notFound}},
		{"istanbul_user", e.ist, want{ok, ok, forbidden}},
		{"istanbul_user", e.ank, want{notFound, notFound, notFound}},
		{"istanbul_viewer", e.ist, want{ok, forbidden, forbidden}},
		{"istanbul_viewer", e.ank, want{notFound, notFound, notFound}},
		{"ankara_viewer", e.ist, want{notFound, notFound, notFound}},
	}
	// A POST that is allowed redirects.
	posted := func(status int) int {
		if status == ok {
			return http.StatusSeeOther
		}
		return status
	}
	for _, tc := range cases {
		c := e.signIn(tc.user)
		ct := tc.center
		s := e.sampleIn(ct, domain.StatusPending)
		owner := e.sampleIn(ct, domain.StatusCompleted).UserID
		name := tc.user + " in " + ct.Name
		check := func(what string, p page, status int) {
			t.Helper()
			if p.status != status {
				t.Errorf("%s: %s: status %d, want %d", name, what, p.status, status)
			}
		}
		list := c.get(samplesURL(ct))
		check("list", list, tc.want.read)
		detail := c.get(sampleURL(ct, s.ID))
		check("detail", detail, tc.want.read)
		if tc.want.read == ok {
			if hasNew := strings.Contains(list.body, "New sample"); hasNew != (tc.want.write == ok) {
				t.Errorf("%s: New sample link shown: %v", name, hasNew)
			}
			for link, allowed := range map[string]bool{"/edit/": tc.want.write == ok, "/process/": tc.want.write == ok, "/delete/": tc.want.delete == ok} {
				if shown := strings.Contains(detail.body, "/"+s.ID.String()+link); shown != allowed {
					t.Errorf("%s: %s shown: %v", name, link, shown)
				}
			}
		}
		check("new form", c.get(samplesURL(ct)+"new/"), tc.want.write)
		check("edit form", c.get(sampleURL(ct, s.ID)+"edit/"), tc.want.write)

		before := e.sampleCount(ct)
		barcode := "P-" + strings.ReplaceAll(name, " ", "-")[:20]
		check("create", c.post(samplesURL(ct)+"new/", sampleForm("perm", barcode, "blood", owner.String(), "{}")), posted(tc.want.write))
		if n := e.sampleCount(ct); (n != before) != (tc.want.write == ok) {
			t.Errorf("%s: create: %d samples, before %d", name, n, before)
		}
		check("edit", c.post(sampleURL(ct, s.ID)+"edit/", sampleForm("edited", s.Barcode, s.SampleType, "", "{}")), posted(tc.want.write))
		check("process", c.post(sampleURL(ct, s.ID)+"process/", nil), posted(tc.want.write))
		got := e.sample(ct, s.ID)
		if changed := got.Name == "edited" && got.Status == domain.StatusProcessing; changed != (tc.want.write == ok) {
			t.Errorf("%s: edit and process changed the sample: %v (%s, %s)", name, changed, got.Name, got.Status)
		}
		check("delete", c.post(sampleURL(ct, s.ID)+"delete/", nil), posted(tc.want.delete))
		if deleted := !e.sample(ct, s.ID).IsActive; deleted != (tc.want.delete == ok) {
			t.Errorf("%s: delete: deleted %v", name, deleted)
		}
		// Put the sample back for the next case.
		if _, err := e.st.Samples.Restore(e.ctx, ct.ID, domain.System, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Samples.Patch(e.ctx, ct.ID, domain.System, s.ID, domain.SamplePatch{Name: &s.Name}); err != nil {
			t.Fatal(err)
		}
		// No action leads back to pending: only SQL puts it there.
		e.exec("UPDATE "+pgx.Identifier{ct.SchemaName, "samples"}.Sanitize()+" SET status = 'pending' WHERE id = $1", s.ID)
	}
	// A soft-deleted center's samples are not found, by a superuser too.
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	s := e.signIn("super")
	s.get(samplesURL(e.ank)).want(t, http.StatusNotFound)
	s.get(samplesURL(e.ank)+"new/").want(t, http.StatusNotFound)
	s.get("/admin/centers/not-a-uuid/samples/").want(t, http.StatusNotFound)
}

// TestSampleHostile: what users type comes back escaped on every page that
// shows it, and a template action in it is text, not a template.
func TestSampleHostile(t *testing.T) {
	e := setup(t)
	c := e.signIn("istanbul_admin")
	for _, h := range hostile {
		meta, err := json.Marshal(map[string]string{h: h})
		if err != nil {
			t.Fatal(err)
		}
		p := c.post(samplesURL(e.ist)+"new/", sampleForm(h, h, "blood", "", string(meta)))
		if p.status != http.StatusSeeOther {
			t.Fatalf("create %q: %d\n%s", h, p.status, p.body)
		}
		// Descriptions too.
		f := sampleForm(h, h, "blood", "", string(meta))
		f.Set("description", h)
		detail := p.location()
		c.post(detail+"edit/", f).want(t, http.StatusSeeOther)
		pages := map[string]page{
			"detail": c.get(detail),
			"edit":   c.get(detail + "edit/"),
			"list":   c.get(samplesURL(e.ist) + "?search=" + url.QueryEscape(h)),
			// Bad input echoes the value back in the form.
			"bad form": c.post(samplesURL(e.ist)+"new/", sampleForm(h, h, "blood", "", string(meta))),
		}
		if pages["bad form"].status != http.StatusBadRequest {
			t.Fatalf("duplicate hostile barcode: %d", pages["bad form"].status)
		}
		for name, p := range pages {
			t.Run(name, func(t *testing.T) { wantEscaped(t, p, h) })
		}
	}
	// A hostile filter value is escaped beside its field.
	p := c.get(samplesURL(e.ist) + "?status=" + url.QueryEscape(hostile[0]) + "&ordering=" + url.QueryEscape(hostile[1]))
	p.want(t, http.StatusBadRequest, "&lt;script&gt;")
	if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
		t.Fatalf("hostile filter raw:\n%s", p.body)
	}
}

// TestSampleUserMoved: a sample's user moved to another center is no
// longer one the center's admin may see (SeesUser): the sample's page, its
// edit form and the list say "another user" and never the username.
func TestSampleUserMoved(t *testing.T) {
	e := setup(t)
	moved := e.users["istanbul_user"]
	items, _, err := e.st.Samples.List(e.ctx, e.ist.ID, domain.SampleFilter{UserID: &moved.ID, Limit: 1})
	if err != nil || len(items) == 0 {
		t.Fatalf("a sample of istanbul_user: %v", err)
	}
	sm := items[0]
	if _, err := e.st.Users.ChangeCenter(e.ctx, domain.By(e.users["super"].ID), e.ank.ID, moved.ID); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn("istanbul_admin")
	for _, path := range []string{sampleURL(e.ist, sm.ID), sampleURL(e.ist, sm.ID) + "edit/",
		samplesURL(e.ist) + "?user_id=" + moved.ID.String()} {
		p := admin.get(path)
		p.want(t, http.StatusOK, "another user", sm.Name)
		if strings.Contains(p.body, moved.Username) {
			t.Fatalf("%s names the moved user %s\n%s", path, moved.Username, p.body)
		}
	}
	// A superuser sees the user and gets the name.
	e.signIn("super").get(sampleURL(e.ist, sm.ID)).want(t, http.StatusOK, `">`+moved.Username+`</a>`)
}
