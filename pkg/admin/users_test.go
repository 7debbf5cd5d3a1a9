package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// fieldError is how the "field" partial shows msg beside field name.
func fieldError(name, msg string) string { return `id="e-` + name + `"><li>` + msg }

func (e *env) user(key string) domain.User {
	e.t.Helper()
	u, err := e.st.Users.Get(e.ctx, e.users[key].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// mkUser creates a user directly in the domain.
func (e *env) mkUser(name string, center *uuid.UUID, role domain.Role, superuser bool) domain.User {
	e.t.Helper()
	pw := password
	u, err := e.st.Users.Create(e.ctx, domain.System, domain.UserInput{Username: name, Email: name + "@example.com",
		CenterID: center, Role: role, IsSuperuser: superuser, Password: &pw})
	if err != nil {
		e.t.Fatal(err)
	}
	e.users[name] = u
	return u
}

func (e *env) deactivate(key string) {
	e.t.Helper()
	if _, err := e.st.Users.SetActive(e.ctx, domain.System, false, e.users[key].ID); err != nil {
		e.t.Fatal(err)
	}
}

func userURL(u domain.User) string { return "/admin/users/" + u.ID.String() + "/" }

// TestUserList: a superuser lists everyone with their centers; anyone else
// their own center's members, the inactive ones only if an admin; the
// filters narrow the list, and bad ones come back beside their fields.
func TestUserList(t *testing.T) {
	e := setup(t)
	e.deactivate("istanbul_viewer")
	ist := e.ist.ID
	e.mkUser("ist_super", &ist, domain.RoleAdmin, true)

	super := e.signIn("super")
	p := super.get("/admin/users/")
	p.want(t, http.StatusOK, "istanbul_admin", "ankara_user", "Ankara Research Lab", `name="ids"`,
		`action="/admin/users/bulk/"`, `value="change_center"`, `name="back" value="/admin/users/?"`, "New user")
	if strings.Contains(p.body, ">istanbul_viewer<") {
		t.Fatal("the default list shows an inactive user")
	}
	super.get("/admin/users/?active=false").want(t, http.StatusOK, ">istanbul_viewer<")
	p = super.get("/admin/users/?active=all&role=viewer")
	p.want(t, http.StatusOK, ">istanbul_viewer<", ">ankara_viewer<")
	if strings.Contains(p.body, ">istanbul_user<") {
		t.Fatal("role=viewer lists a user")
	}
	p = super.get("/admin/users/?superuser=true")
	p.want(t, http.StatusOK, ">admin<", ">ist_super<")
	if strings.Contains(p.body, ">ankara_admin<") {
		t.Fatal("superuser=true lists a non-superuser")
	}
	p = super.get("/admin/users/?center=" + e.ank.ID.String() + "&search=ADMIN")
	p.want(t, http.StatusOK, ">ankara_admin<", `name="back" value="/admin/users/?center=`+e.ank.ID.String()+`&amp;search=ADMIN"`)
	if strings.Contains(p.body, ">istanbul_admin<") || strings.Contains(p.body, ">ankara_user<") {
		t.Fatal("center and search filters do not narrow the list")
	}
	p = super.get("/admin/users/?ordering=-username")
	if strings.Index(p.body, ">istanbul_admin<") > strings.Index(p.body, ">ankara_admin<") {
		t.Fatal("ordering=-username lists ankara before istanbul")
	}

	for _, q := range []struct{ query, field string }{
		{"active=maybe", "active"}, {"superuser=1", "superuser"}, {"center=nowhere", "center"},
		{"role=boss", "role"}, {"offset=-1", "offset"}, {"ordering=password", "ordering"},
		{"search=" + strings.Repeat("x", 201), "search"},
	} {
		p := super.get("/admin/users/?" + q.query)
		p.want(t, http.StatusBadRequest)
		if !strings.Contains(p.body, `id="e-`+q.field+`"`) && !strings.Contains(p.body, "<li>"+q.field+": ") {
			t.Fatalf("%s: no error beside %s\n%s", q.query, q.field, p.body)
		}
		if strings.Contains(p.body, ">istanbul_admin<") {
			t.Fatalf("%s: the list shows rows despite the error", q.query)
		}
	}
	for _, h := range hostile {
		super.get("/admin/users/?search="+url.QueryEscape(h)).want(t, http.StatusOK, "No users match.")
	}
	p = super.get("/admin/users/?search=" + url.QueryEscape(strings.Join(hostile, " ")))
	wantAllEscaped(t, p)

	// An admin: their center only, inactive members too, checkboxes but
	// none for a superuser, and no move to another center.
	p = e.signIn("istanbul_admin").get("/admin/users/?active=all")
	p.want(t, http.StatusOK, "of Istanbul Medical Center", ">istanbul_user<", ">istanbul_viewer<", `name="ids"`,
		`value="`+e.users["istanbul_user"].ID.String()+`"`)
	for _, absent := range []string{">ankara_admin<", ">admin</a>", `value="change_center"`,
		`value="` + e.users["ist_super"].ID.String() + `"`} {
		if strings.Contains(p.body, absent) {
			t.Fatalf("an admin's list has %q\n%s", absent, p.body)
		}
	}
	// A user or viewer: active members, no bulk form, no create.
	for _, key := range []string{"istanbul_user", "ankara_viewer"} {
		c := e.signIn(key)
		p := c.get("/admin/users/?active=false")
		p.want(t, http.StatusOK)
		for _, absent := range []string{">istanbul_viewer<", `name="ids"`, `name="action"`, "New user"} {
			if strings.Contains(p.body, absent) {
				t.Fatalf("%s's list has %q\n%s", key, absent, p.body)
			}
		}
	}
	p = e.signIn("ankara_viewer").get("/admin/users/")
	p.want(t, http.StatusOK, ">ankara_admin<")
	if strings.Contains(p.body, ">istanbul_admin<") {
		t.Fatal("a viewer lists another center's users")
	}
}

// TestUserPages: who may see a user's page, and its profile form, by the
// permission table: another center's user (and a superuser, for anyone but
// a superuser) does not exist; the inactive only for the privileged.
func TestUserPages(t *testing.T) {
	e := setup(t)
	e.deactivate("istanbul_viewer")
	cases := []struct {
		who, target string
		status      int
		form        bool // the profile form is shown
		rename      bool // with the username
	}{
		{"super", "ankara_user", 200, true, true},
		{"super", "istanbul_viewer", 200, true, true},
		{"super", "super", 200, true, true},
		{"istanbul_admin", "istanbul_user", 200, true, true},
		{"istanbul_admin", "istanbul_viewer", 200, true, true},
		{"istanbul_admin", "istanbul_admin", 200, true, true},
		{"istanbul_admin", "ankara_user", 404, false, false},
		{"istanbul_admin", "super", 404, false, false},
		{"istanbul_user", "istanbul_user", 200, true, false},
		{"istanbul_user", "istanbul_admin", 200, false, false},
		{"istanbul_user", "istanbul_viewer", 404, false, false},
		{"istanbul_user", "ankara_user", 404, false, false},
		{"ankara_viewer", "ankara_viewer", 200, true, false},
		{"ankara_viewer", "ankara_admin", 200, false, false},
		{"ankara_viewer", "istanbul_admin", 404, false, false},
	}
	clients := map[string]*client{}
	for _, tc := range cases {
		c := clients[tc.who]
		if c == nil {
			c = e.signIn(tc.who)
			clients[tc.who] = c
		}
		p := c.get(userURL(e.users[tc.target]))
		p.want(t, tc.status)
		if tc.status != 200 {
			continue
		}
		p.want(t, tc.status, e.users[tc.target].Email)
		if got := strings.Contains(p.body, `name="email"`); got != tc.form {
			t.Errorf("%s on %s: profile form %v, want %v", tc.who, tc.target, got, tc.form)
		}
		if got := strings.Contains(p.body, `name="username"`); got != tc.rename {
			t.Errorf("%s on %s: username field %v, want %v", tc.who, tc.target, got, tc.rename)
		}
		if got := strings.Contains(p.body, "/password/"); got != tc.form {
			t.Errorf("%s on %s: password link %v, want %v", tc.who, tc.target, got, tc.form)
		}
	}
	clients["super"].get("/admin/users/not-an-id/").want(t, http.StatusNotFound)
	clients["super"].get("/admin/users/"+uuid.NewString()+"/").want(t, http.StatusNotFound)
}

// TestUserSave: the profile form saves for whoever Manages the user or is
// the user; a self without management keeps their username; the refused
// change nothing; bad input comes back beside its field.
func TestUserSave(t *testing.T) {
	e := setup(t)
	profile := func(u domain.User, first string) url.Values {
		return url.Values{"username": {u.Username}, "email": {u.Email}, "first_name": {first},
			"last_name": {u.LastName}, "phone": {"+90 555"}}
	}
	cases := []struct {
		who, target string
		status      int
	}{
		{"super", "ankara_user", 303},
		{"istanbul_admin", "istanbul_user", 303},
		{"istanbul_admin", "istanbul_admin", 303},
		{"istanbul_admin", "ankara_user", 404},
		{"istanbul_admin", "super", 404},
		{"istanbul_user", "istanbul_user", 303},
		{"istanbul_user", "istanbul_viewer", 403},
		{"istanbul_user", "istanbul_admin", 403},
		{"istanbul_viewer", "istanbul_viewer", 303},
		{"istanbul_viewer", "istanbul_user", 403},
		{"ankara_viewer", "istanbul_user", 404},
	}
	for _, tc := range cases {
		c := e.signIn(tc.who)
		before := e.user(tc.target)
		p := c.post(userURL(before), profile(before, "Changed"))
		p.want(t, tc.status)
		after := e.user(tc.target)
		if tc.status == 303 {
			if p.location() != userURL(before) || after.FirstName != "Changed" || after.Phone != "+90 555" {
				t.Fatalf("%s on %s: Location %q, user %+v", tc.who, tc.target, p.location(), after)
			}
			c.get(p.location()).want(t, http.StatusOK, "User "+before.Username+" saved.")
		} else if after.FirstName != before.FirstName || after.Phone != before.Phone {
			t.Fatalf("%s on %s: refused with %d but changed: %+v", tc.who, tc.target, tc.status, after)
		}
	}

	// A user may not rename themselves, even by adding the field.
	c := e.signIn("istanbul_user")
	me := e.user("istanbul_user")
	v := profile(me, "Mehmet")
	v.Set("username", "renamed")
	c.post(userURL(me), v).want(t, http.StatusForbidden)
	if e.user("istanbul_user").Username != "istanbul_user" {
		t.Fatal("a user renamed themselves")
	}
	// An admin may rename a member.
	admin := e.signIn("istanbul_admin")
	viewer := e.user("istanbul_viewer")
	v = profile(viewer, viewer.FirstName)
	v.Set("username", "zeynep")
	admin.post(userURL(viewer), v).want(t, http.StatusSeeOther)
	if e.user("istanbul_viewer").Username != "zeynep" {
		t.Fatal("the admin's rename did not happen")
	}

	// Bad input: each error beside its field, nothing saved.
	for _, tc := range []struct{ field, value, msg string }{
		{"email", "not an email", "must be a valid email address"},
		{"email", "ankara_user@example.com", "a user with this email already exists"},
		{"username", "ankara_user", "a user with this username already exists"},
		{"username", "", "this field is required"},
		{"first_name", strings.Repeat("x", 151), "must be at most 150 characters"},
		{"phone", strings.Repeat("1", 33), "must be at most 32 characters"},
	} {
		before := e.user("istanbul_user")
		v := profile(before, "Nope")
		v.Set(tc.field, tc.value)
		admin.post(userURL(before), v).want(t, http.StatusBadRequest, fieldError(tc.field, tc.msg), `value="`+tc.value+`"`)
		if after := e.user("istanbul_user"); after.FirstName != before.FirstName || after.UpdatedAt != before.UpdatedAt {
			t.Fatalf("%s=%q: saved anyway", tc.field, tc.value)
		}
	}

	// Hostile names are stored as typed and shown escaped, on the user's
	// page and in the list.
	u := e.user("istanbul_user")
	v = profile(u, strings.Join(hostile, " "))
	v.Set("last_name", hostile[1])
	admin.post(userURL(u), v).want(t, http.StatusSeeOther)
	wantAllEscaped(t, admin.get(userURL(u)))
	wantAllEscaped(t, admin.get("/admin/users/"))
}

// TestUserCreate: a superuser creates anyone anywhere; an admin members of
// their own center, never superusers, never elsewhere; users and viewers
// not at all. Bad input changes nothing.
func TestUserCreate(t *testing.T) {
	e := setup(t)
	countUsers := func() int {
		_, n, err := e.st.Users.List(e.ctx, domain.ListOptions{IncludeInactive: true})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	form := func(name string, extra ...string) url.Values {
		v := url.Values{"username": {name}, "email": {name + "@example.com"}, "first_name": {"New"},
			"last_name": {"Person"}, "role": {"viewer"}, "password": {"long enough pw"}, "password2": {"long enough pw"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}

	super := e.signIn("super")
	super.get("/admin/users/new/").want(t, http.StatusOK, `name="center"`, `name="is_superuser"`, "Ankara Research Lab")
	p := super.post("/admin/users/new/", form("ank_new", "center", e.ank.ID.String()))
	p.want(t, http.StatusSeeOther)
	got, err := e.st.Users.GetByUsername(e.ctx, "ank_new")
	if err != nil || !got.MemberOf(e.ank.ID) || got.Role != domain.RoleViewer || p.location() != userURL(got) {
		t.Fatalf("created %+v, %v; Location %q", got, err, p.location())
	}
	super.get(p.location()).want(t, http.StatusOK, "User ank_new created.")
	if _, err := e.st.Users.Authenticate(e.ctx, "ank_new", "long enough pw"); err != nil {
		t.Fatalf("the new user cannot sign in: %v", err)
	}
	super.post("/admin/users/new/", form("op2", "is_superuser", "on", "password", "", "password2", "")).want(t, http.StatusSeeOther)
	if op, err := e.st.Users.GetByUsername(e.ctx, "op2"); err != nil || !op.IsSuperuser || op.CenterID != nil || op.HasPassword {
		t.Fatalf("superuser without center or password: %+v, %v", op, err)
	}

	admin := e.signIn("istanbul_admin")
	p = admin.get("/admin/users/new/")
	p.want(t, http.StatusOK, "Istanbul Medical Center")
	if strings.Contains(p.body, `name="center"`) || strings.Contains(p.body, `name="is_superuser"`) {
		t.Fatal("an admin is offered a center or superuser status")
	}
	admin.post("/admin/users/new/", form("ist_new")).want(t, http.StatusSeeOther)
	if u, err := e.st.Users.GetByUsername(e.ctx, "ist_new"); err != nil || !u.MemberOf(e.ist.ID) {
		t.Fatalf("admin's new user: %+v, %v", u, err)
	}
	n := countUsers()
	admin.post("/admin/users/new/", form("elsewhere", "center", e.ank.ID.String())).want(t, http.StatusForbidden)
	admin.post("/admin/users/new/", form("op3", "is_superuser", "on")).want(t, http.StatusForbidden)
	// A malformed center id is bad input, not a refusal: above the form
	// for an admin, who has no center field; beside it for a superuser.
	admin.post("/admin/users/new/", form("badcenter", "center", "not-an-id")).
		want(t, http.StatusBadRequest, "<li>center: choose a center from the list</li>")
	super.post("/admin/users/new/", form("badcenter", "center", "not-an-id")).
		want(t, http.StatusBadRequest, fieldError("center", "choose a center from the list"))
	for _, key := range []string{"istanbul_user", "istanbul_viewer"} {
		c := e.signIn(key)
		c.get("/admin/users/new/").want(t, http.StatusForbidden)
		c.post("/admin/users/new/", form("by_"+key)).want(t, http.StatusForbidden)
	}
	for _, tc := range []struct {
		v            url.Values
		field, msg   string
		keep, absent string
	}{
		{form("bad_email", "email", "nope"), "email", "must be a valid email address", `value="bad_email"`, ""},
		{form("shortpw", "password", "short", "password2", "short"), "password", "must be at least 10 characters", "", "short"},
		{form("mismatch", "password2", "other password"), "password2", "the two passwords do not match", "", "long enough pw"},
		{form("istanbul_user"), "username", "a user with this username already exists", `value="istanbul_user"`, ""},
		{form("bad name!"), "username", "may contain only letters, digits and @ . &#43; - _", "", ""},
		{form("norole", "role", "boss"), "role", `&#34;boss&#34; is not a valid role`, "", ""},
		{form("nocenter", "center", ""), "center", "this field is required", "", ""},
	} {
		c := admin
		if tc.field == "center" {
			c = super
		}
		p := c.post("/admin/users/new/", tc.v)
		p.want(t, http.StatusBadRequest, fieldError(tc.field, tc.msg), tc.keep)
		if tc.absent != "" && strings.Contains(p.body, `value="`+tc.absent+`"`) {
			t.Fatalf("the form sends a password back\n%s", p.body)
		}
	}
	if countUsers() != n {
		t.Fatal("refused or invalid creations created users")
	}

	v := form("hostile_names", "first_name", strings.Join(hostile, " "), "last_name", hostile[0])
	p = admin.post("/admin/users/new/", v)
	p.want(t, http.StatusSeeOther)
	wantAllEscaped(t, admin.get(p.location()))
	// Re-rendered with an error, the hostile values are escaped too.
	v = form("hostile_again", "first_name", strings.Join(hostile, " "), "email", "bad")
	wantAllEscaped(t, admin.post("/admin/users/new/", v))
}

// TestUserPassword: the users one Manages, and oneself; typed twice, at
// least 10 characters. The user's sessions end, except the one that set
// its own.
func TestUserPassword(t *testing.T) {
	e := setup(t)
	const newPW = "a brand new password"
	// pw is a fresh form each time: post adds the client's CSRF token to it.
	pw := func() url.Values { return url.Values{"password": {newPW}, "password2": {newPW}} }

	self := e.signIn("istanbul_user")
	me := e.users["istanbul_user"]
	self.get(userURL(me)+"password/").want(t, http.StatusOK, `name="password2"`, `autocomplete="new-password"`,
		`name="current_password"`)
	// One's own needs the current password: a stolen session is not
	// enough to take the account.
	for _, tc := range []struct{ current, msg string }{
		{"", "this field is required"},
		{"not the password", "Your current password was entered incorrectly."},
	} {
		v := pw()
		v.Set("current_password", tc.current)
		self.post(userURL(me)+"password/", v).want(t, http.StatusBadRequest, fieldError("current_password", tc.msg))
		if _, err := e.st.Users.Authenticate(e.ctx, "istanbul_user", password); err != nil {
			t.Fatalf("current password %q: the password changed anyway: %v", tc.current, err)
		}
	}
	v := pw()
	v.Set("current_password", password)
	p := self.post(userURL(me)+"password/", v)
	if p.status != http.StatusSeeOther || p.location() != userURL(me) {
		t.Fatalf("own password: %d %q\n%s", p.status, p.location(), p.body)
	}
	self.get(p.location()).want(t, http.StatusOK, "Password of istanbul_user changed")
	if _, err := e.st.Users.Authenticate(e.ctx, "istanbul_user", newPW); err != nil {
		t.Fatalf("new password refused: %v", err)
	}

	// An admin sets a member's: the member's session ends.
	member := e.signIn("istanbul_viewer")
	admin := e.signIn("istanbul_admin")
	if p := admin.get(userURL(e.users["istanbul_viewer"]) + "password/"); strings.Contains(p.body, "current_password") {
		t.Fatal("setting another's password asks for a current password")
	}
	admin.post(userURL(e.users["istanbul_viewer"])+"password/", pw()).want(t, http.StatusSeeOther)
	if p := member.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("the member's session survived a new password: %d", p.status)
	}
	if _, err := e.st.Users.Authenticate(e.ctx, "istanbul_viewer", newPW); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		who, target string
		status      int
	}{
		{"istanbul_admin", "ankara_user", 404},
		{"istanbul_admin", "super", 404},
		{"ankara_user", "ankara_viewer", 403},
		{"ankara_viewer", "ankara_admin", 403},
		{"ankara_viewer", "istanbul_admin", 404},
	} {
		c := e.signIn(tc.who)
		c.get(userURL(e.users[tc.target])+"password/").want(t, tc.status)
		c.post(userURL(e.users[tc.target])+"password/", pw()).want(t, tc.status)
		if _, err := e.st.Users.Authenticate(e.ctx, e.users[tc.target].Username, password); err != nil {
			t.Fatalf("%s on %s: refused with %d, yet the password changed", tc.who, tc.target, tc.status)
		}
	}
	super := e.signIn("super")
	super.post(userURL(e.users["ankara_user"])+"password/", pw()).want(t, http.StatusSeeOther)

	target := e.users["ankara_admin"]
	for _, tc := range []struct {
		v          url.Values
		field, msg string
	}{
		{url.Values{"password": {"short"}, "password2": {"short"}}, "password", "must be at least 10 characters"},
		{url.Values{"password": {newPW}, "password2": {newPW + "x"}}, "password2", "the two passwords do not match"},
		{url.Values{}, "password", "this field is required"},
	} {
		p := super.post(userURL(target)+"password/", tc.v)
		p.want(t, http.StatusBadRequest, fieldError(tc.field, tc.msg))
		if strings.Contains(p.body, newPW) {
			t.Fatal("the form sends the password back")
		}
	}
	if _, err := e.st.Users.Authenticate(e.ctx, "ankara_admin", password); err != nil {
		t.Fatal("invalid passwords changed the password")
	}
}

// bulk posts the list's bulk form as it comes from list (its back field).
func (c *client) bulk(back, action string, extra url.Values, users ...domain.User) page {
	c.t.Helper()
	v := url.Values{"action": {action}, "back": {back}}
	for k, vs := range extra {
		v[k] = vs
	}
	for _, u := range users {
		v.Add("ids", u.ID.String())
	}
	return c.post("/admin/users/bulk/", v)
}

// flash follows a bulk action's redirect and returns the page's message.
func (c *client) flash(p page) string {
	c.t.Helper()
	if p.status != http.StatusSeeOther {
		c.t.Fatalf("status %d, want 303\n%s", p.status, p.body)
	}
	body := c.get(p.location()).body
	i := strings.Index(body, `<p class="flash" role="status">`)
	if i < 0 {
		c.t.Fatalf("no flash on %s\n%s", p.location(), body)
	}
	rest := body[i+len(`<p class="flash" role="status">`):]
	return rest[:strings.Index(rest, "</p>")]
}

// TestUserBulkAdmin: an admin's bulk actions apply to the members they
// manage, in one call, and refuse the rest, each with its reason: another
// center's user, a superuser, themselves. The refused rows do not change.
func TestUserBulkAdmin(t *testing.T) {
	e := setup(t)
	ist := e.ist.ID
	istSuper := e.mkUser("ist_super", &ist, domain.RoleAdmin, true)
	admin := e.signIn("istanbul_admin")
	admin.get("/admin/users/?role=viewer")
	me, user, viewer, other := e.users["istanbul_admin"], e.users["istanbul_user"], e.users["istanbul_viewer"], e.users["ankara_user"]

	back := "/admin/users/?role=user&search=i"
	// Without the session's CSRF token: 403, nothing changed.
	admin.postForm("/admin/users/bulk/", url.Values{"action": {"deactivate"}, "ids": {user.ID.String()}}).
		want(t, http.StatusForbidden)
	if !e.user("istanbul_user").IsActive {
		t.Fatal("a bulk form without CSRF token applied")
	}
	p := admin.bulk(back, "deactivate", nil, user, viewer, me, other, istSuper)
	if p.location() != "/admin/users/?role=user&search=i" {
		t.Fatalf("back to %q", p.location())
	}
	want := "2 changed; 3 refused: istanbul_admin (you cannot deactivate yourself), " + other.ID.String() +
		" (not found, or not a member of your center), ist_super (a superuser: only a superuser may change one)."
	if got := admin.flash(p); got != want {
		t.Fatalf("report %q\nwant   %q", got, want)
	}
	if e.user("istanbul_user").IsActive || e.user("istanbul_viewer").IsActive {
		t.Fatal("allowed rows not deactivated")
	}
	for _, key := range []string{"istanbul_admin", "ankara_user", "ist_super"} {
		if !e.user(key).IsActive {
			t.Fatalf("refused %s was deactivated", key)
		}
	}

	// Inactive members are still theirs: activate them back, one already
	// active, and a duplicate id counted once.
	p = admin.bulk(back, "activate", nil, user, viewer, viewer, me)
	if got := admin.flash(p); got != "2 changed, 1 already so." {
		t.Fatalf("report %q", got)
	}
	if !e.user("istanbul_user").IsActive || !e.user("istanbul_viewer").IsActive {
		t.Fatal("activate did not apply")
	}

	// Roles: their own may not change (a self-demotion), others' may.
	p = admin.bulk(back, "change_role", url.Values{"new_role": {"viewer"}}, user, me, istSuper)
	if got := admin.flash(p); got != "1 changed; 2 refused: istanbul_admin (you cannot change your own role), ist_super (a superuser: only a superuser may change one)." {
		t.Fatalf("report %q", got)
	}
	if e.user("istanbul_user").Role != domain.RoleViewer || e.user("istanbul_admin").Role != domain.RoleAdmin ||
		e.user("ist_super").Role != domain.RoleAdmin {
		t.Fatal("change_role applied wrongly")
	}
	// Setting one's own role to what it is changes nothing and is allowed.
	if got := admin.flash(admin.bulk(back, "change_role", url.Values{"new_role": {"admin"}}, me)); got != "0 changed, 1 already so." {
		t.Fatalf("report %q", got)
	}

	// Moving users is a superuser's: 403, nothing moved.
	admin.bulk(back, "change_center", url.Values{"new_center": {e.ank.ID.String()}}, user).want(t, http.StatusForbidden)
	if !e.user("istanbul_user").MemberOf(e.ist.ID) {
		t.Fatal("an admin moved a user")
	}
	// The admin's own session survived all of it.
	admin.get("/admin/users/").want(t, http.StatusOK)
}

// TestUserBulkRefusedToUsers: users and viewers manage no one: every row
// is refused and nothing changes.
func TestUserBulkRefusedToUsers(t *testing.T) {
	e := setup(t)
	for _, key := range []string{"istanbul_user", "istanbul_viewer"} {
		c := e.signIn(key)
		target := e.users["istanbul_viewer"]
		if key == "istanbul_viewer" {
			target = e.users["istanbul_user"]
		}
		p := c.bulk("/admin/users/", "deactivate", nil, target)
		if got := c.flash(p); got != "0 changed; 1 refused: "+target.Username+" (only an admin or a superuser may change users)." {
			t.Fatalf("%s: report %q", key, got)
		}
		p = c.bulk("/admin/users/", "change_role", url.Values{"new_role": {"admin"}}, e.users[key])
		if got := c.flash(p); !strings.HasPrefix(got, "0 changed; 1 refused: "+key) {
			t.Fatalf("%s: report %q", key, got)
		}
		c.bulk("/admin/users/", "change_center", url.Values{"new_center": {e.ank.ID.String()}}, e.users[key]).want(t, http.StatusForbidden)
	}
	for _, key := range []string{"istanbul_user", "istanbul_viewer"} {
		if u := e.user(key); !u.IsActive || u.Role != e.users[key].Role || !u.MemberOf(e.ist.ID) {
			t.Fatalf("%s changed: %+v", key, u)
		}
	}
}

// TestUserBulkSuperuser: a superuser moves users between centers, all or
// none: a center that cannot take them changes nothing and says why. The
// form's own errors come back on the list, status 400.
func TestUserBulkSuperuser(t *testing.T) {
	e := setup(t)
	super := e.signIn("super")
	super.get("/admin/users/")
	user, viewer, me := e.users["istanbul_user"], e.users["istanbul_viewer"], e.users["super"]
	move := url.Values{"new_center": {e.ank.ID.String()}}

	p := super.bulk("/admin/users/?center="+e.ist.ID.String(), "change_center", move, user, viewer, me)
	if got := super.flash(p); got != "2 changed; 1 refused: admin (you cannot move yourself)." {
		t.Fatalf("report %q", got)
	}
	if !e.user("istanbul_user").MemberOf(e.ank.ID) || !e.user("istanbul_viewer").MemberOf(e.ank.ID) || e.user("super").CenterID != nil {
		t.Fatal("change_center applied wrongly")
	}
	// A superuser changes superusers' roles and deactivates other
	// superusers, but not themselves.
	op := e.mkUser("op2", nil, domain.RoleAdmin, true)
	if got := super.flash(super.bulk("/admin/users/", "deactivate", nil, op, me)); got != "1 changed; 1 refused: admin (you cannot deactivate yourself)." {
		t.Fatalf("report %q", got)
	}

	// A soft-deleted center takes no one: nothing moves, and the list says so.
	gone, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: "Closed Lab"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, gone.ID); err != nil {
		t.Fatal(err)
	}
	back := "/admin/users/?center=" + e.ank.ID.String()
	p = super.bulk(back, "change_center", url.Values{"new_center": {gone.ID.String()}},
		e.users["istanbul_user"], e.users["ankara_admin"])
	p.want(t, http.StatusBadRequest, "Nothing changed: center: center is not active.", `name="back" value="`+back+`"`,
		`value="`+e.users["ankara_admin"].ID.String()+`" checked`)
	if !e.user("istanbul_user").MemberOf(e.ank.ID) || !e.user("ankara_admin").MemberOf(e.ank.ID) {
		t.Fatal("a failed move moved someone")
	}

	// The form's errors.
	for _, tc := range []struct {
		action string
		extra  url.Values
		users  []domain.User
		msg    string
	}{
		{"deactivate", nil, nil, "Check at least one user."},
		{"", nil, []domain.User{user}, fieldError("action", "choose an action")},
		{"explode", nil, []domain.User{user}, fieldError("action", "choose an action")},
		{"change_role", url.Values{"new_role": {"boss"}}, []domain.User{user}, fieldError("new_role", "choose a role")},
		{"change_center", url.Values{"new_center": {"nowhere"}}, []domain.User{user}, fieldError("new_center", `center &#34;nowhere&#34; not found`)},
		{"activate", url.Values{"ids": {"not-an-id"}}, nil, "&#34;not-an-id&#34; is not a user&#39;s id."},
	} {
		super.bulk("/admin/users/", tc.action, tc.extra, tc.users...).want(t, http.StatusBadRequest, tc.msg)
	}
	if u := e.user("istanbul_user"); !u.IsActive || u.Role != domain.RoleUser {
		t.Fatal("an invalid bulk form changed a user")
	}

	// back goes nowhere but the users' list.
	for _, back := range []string{"https://evil.example/admin/users/", "//evil.example/admin/users/", "/admin/centers/",
		"/admin/users/../centers/", "/admin/users/..//evil.example/", "/admin/users/%2e%2e/%2e%2e/api/", "javascript:alert(1)", "/admin/users/?x=%zz", ""} {
		p := super.bulk(back, "activate", nil, user)
		if p.status != http.StatusSeeOther || p.location() != "/admin/users/" {
			t.Fatalf("back %q: %d to %q", back, p.status, p.location())
		}
	}
}

// TestUserBulkRace: the list shows an admin their members as theirs to
// change; before the form's write, another process moves one to another
// center, or makes one a superuser. The write is refused, as a whole, for
// the user as they now are, in the words a refused row gets, and nothing
// changes. (testdb.Meanwhile commits the change while the write waits for
// it: after the console's own read of the rows, so that only a decision
// on the rows the write locks can see it.)
func TestUserBulkRace(t *testing.T) {
	e := setup(t)
	admin := e.signIn("istanbul_admin")
	user, viewer := e.users["istanbul_user"], e.users["istanbul_viewer"]
	admin.get("/admin/users/").want(t, http.StatusOK, `name="ids" value="`+user.ID.String()+`"`,
		`name="ids" value="`+viewer.ID.String()+`"`)

	var p page
	e.db.Meanwhile(t, func() { p = admin.bulk("/admin/users/", "deactivate", nil, user, viewer) },
		"UPDATE public.users SET center_id = $1 WHERE id = $2", e.ank.ID, user.ID)
	p.want(t, http.StatusBadRequest, "Nothing changed: refused "+user.ID.String()+" (not found, or not a member of your center).")
	if u := e.user("istanbul_user"); !u.IsActive || !u.MemberOf(e.ank.ID) {
		t.Fatalf("istanbul_user after the refused write: %+v", u)
	}
	if !e.user("istanbul_viewer").IsActive {
		t.Fatal("a refused write deactivated istanbul_viewer")
	}

	e.db.Meanwhile(t, func() {
		p = admin.bulk("/admin/users/", "change_role", url.Values{"new_role": {"user"}}, viewer)
	}, "UPDATE public.users SET is_superuser = true WHERE id = $1", viewer.ID)
	p.want(t, http.StatusBadRequest, "Nothing changed: refused istanbul_viewer (a superuser: only a superuser may change one).")
	if u := e.user("istanbul_viewer"); u.Role != domain.RoleViewer {
		t.Fatalf("istanbul_viewer after the refused write: %+v", u)
	}
}
