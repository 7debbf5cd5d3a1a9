package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestPermissions walks the design's permission table: every role ×
// every action × own and other center. A center the caller does not
// belong to answers 404, never 403 and never its data. Records an action
// may destroy are made fresh for each row.
func TestPermissions(t *testing.T) {
	e := setup(t)
	roles := []string{"super", "istanbul_admin", "istanbul_user", "istanbul_viewer"}

	type action struct {
		name string
		// req returns method, path and body against center c.
		req func(c domain.Center, as string) (string, string, string)
		// want is the status per role (super, admin, user, viewer) for the
		// own center; for the other center non-superusers get 404 unless
		// otherOverride is set.
		want          [4]int
		other         *[4]int
		otherOverride bool
	}
	const (
		OK = http.StatusOK
		CR = http.StatusCreated
		NC = http.StatusNoContent
		FB = http.StatusForbidden
		NF = http.StatusNotFound
	)
	fixed := func(m, p string) func(domain.Center, string) (string, string, string) {
		return func(c domain.Center, _ string) (string, string, string) { return m, fmt.Sprintf(p, c.ID), "" }
	}
	member := func(c domain.Center) domain.User {
		if c.ID == e.ist.ID {
			return e.users["istanbul_user"]
		}
		return e.users["ankara_user"]
	}
	actions := []action{
		{name: "center get", req: fixed("GET", "/api/centers/%s/"), want: [4]int{OK, OK, OK, OK}},
		{name: "center stats", req: fixed("GET", "/api/centers/%s/stats/"), want: [4]int{OK, OK, OK, OK}},
		{name: "center create", req: func(c domain.Center, as string) (string, string, string) {
			return "POST", "/api/centers/", fmt.Sprintf(`{"name": "New %s %s"}`, c.Name, as)
		}, want: [4]int{CR, FB, FB, FB}, other: &[4]int{CR, FB, FB, FB}, otherOverride: true},
		{name: "center patch", req: func(c domain.Center, _ string) (string, string, string) {
			return "PATCH", centerPath(c), `{"description": "changed"}`
		}, want: [4]int{OK, FB, FB, FB}},
		{name: "center delete", req: func(c domain.Center, as string) (string, string, string) {
			if as == "super" {
				c = e.newCenter("doomed " + c.Name)
			}
			return "DELETE", centerPath(c), ""
		}, want: [4]int{NC, FB, FB, FB}},
		{name: "center restore", req: func(c domain.Center, as string) (string, string, string) {
			if as == "super" {
				c = e.newCenter("restored " + c.Name)
				e.st.Centers.SoftDelete(e.ctx, domain.System, c.ID)
			}
			return "POST", centerPath(c) + "restore/", ""
		}, want: [4]int{OK, FB, FB, FB}},
		{name: "center clone", req: func(c domain.Center, as string) (string, string, string) {
			return "POST", centerPath(c) + "clone/", fmt.Sprintf(`{"name": "Clone of %s by %s"}`, c.Name, as)
		}, want: [4]int{CR, FB, FB, FB}},
		{name: "center hard_delete", req: func(c domain.Center, as string) (string, string, string) {
			if as == "super" {
				c = e.newCenter("gone " + c.Name)
				e.st.Centers.SoftDelete(e.ctx, domain.System, c.ID)
			}
			return "DELETE", centerPath(c) + "hard_delete/", ""
		}, want: [4]int{NC, FB, FB, FB}},
		{name: "cluster", req: func(domain.Center, string) (string, string, string) { return "GET", "/api/cluster/", "" },
			want: [4]int{OK, FB, FB, FB}, other: &[4]int{OK, FB, FB, FB}, otherOverride: true},
		{name: "users by_center", req: fixed("GET", "/api/users/by_center/%s/"), want: [4]int{OK, OK, OK, OK}},
		{name: "user get", req: func(c domain.Center, _ string) (string, string, string) {
			return "GET", userPath(member(c)), ""
		}, want: [4]int{OK, OK, OK, OK}},
		{name: "user create", req: func(c domain.Center, as string) (string, string, string) {
			n := fmt.Sprintf("new_%s_%s", as, c.ID.String()[:8])
			return "POST", "/api/users/", fmt.Sprintf(`{"username": %q, "email": "%s@example.com", "center": %q, "role": "viewer"}`, n, n, c.ID)
		}, want: [4]int{CR, CR, FB, FB}, other: &[4]int{CR, FB, FB, FB}, otherOverride: true},
		{name: "user patch other", req: func(c domain.Center, _ string) (string, string, string) {
			return "PATCH", userPath(e.newUser(c, domain.RoleUser)), `{"first_name": "Changed"}`
		}, want: [4]int{OK, OK, FB, FB}},
		{name: "user patch self", req: func(c domain.Center, as string) (string, string, string) {
			return "PATCH", userPath(e.users[as]), `{"first_name": "Me", "phone": "+90 555"}`
		}, want: [4]int{OK, OK, OK, OK}, other: &[4]int{OK, OK, OK, OK}, otherOverride: true},
		{name: "user delete", req: func(c domain.Center, _ string) (string, string, string) {
			return "DELETE", userPath(e.newUser(c, domain.RoleUser)), ""
		}, want: [4]int{NC, NC, FB, FB}},
		{name: "user change_center", req: func(c domain.Center, _ string) (string, string, string) {
			to := e.ank
			if c.ID == e.ank.ID {
				to = e.ist
			}
			return "POST", userPath(e.newUser(c, domain.RoleUser)) + "change_center/", fmt.Sprintf(`{"center": %q}`, to.ID)
		}, want: [4]int{OK, FB, FB, FB}},
		{name: "user change_role", req: func(c domain.Center, _ string) (string, string, string) {
			return "POST", userPath(e.newUser(c, domain.RoleUser)) + "change_role/", `{"role": "viewer"}`
		}, want: [4]int{OK, OK, FB, FB}},
		{name: "samples list", req: fixed("GET", "/api/centers/%s/samples/"), want: [4]int{OK, OK, OK, OK}},
		{name: "sample get", req: func(c domain.Center, _ string) (string, string, string) {
			return "GET", samplePath(c, e.newSample(c)), ""
		}, want: [4]int{OK, OK, OK, OK}},
		{name: "sample by_barcode", req: func(c domain.Center, _ string) (string, string, string) {
			return "GET", samplesPath(c) + "by_barcode/" + e.newSample(c).Barcode + "/", ""
		}, want: [4]int{OK, OK, OK, OK}},
		{name: "sample by_status", req: func(c domain.Center, _ string) (string, string, string) {
			return "GET", samplesPath(c) + "by_status/pending/", ""
		}, want: [4]int{OK, OK, OK, OK}},
		{name: "sample create", req: func(c domain.Center, as string) (string, string, string) {
			return "POST", samplesPath(c), fmt.Sprintf(`{"name": "n", "sample_type": "blood", "barcode": "C-%s", "user_id": %q}`, as, member(c).ID)
		}, want: [4]int{CR, CR, CR, FB}},
		{name: "sample patch", req: func(c domain.Center, _ string) (string, string, string) {
			return "PATCH", samplePath(c, e.newSample(c)), `{"description": "changed"}`
		}, want: [4]int{OK, OK, OK, FB}},
		{name: "sample process", req: func(c domain.Center, _ string) (string, string, string) {
			return "POST", samplePath(c, e.newSample(c)) + "process/", ""
		}, want: [4]int{OK, OK, OK, FB}},
		{name: "sample reject", req: func(c domain.Center, _ string) (string, string, string) {
			return "POST", samplePath(c, e.newSample(c)) + "reject/", ""
		}, want: [4]int{OK, OK, OK, FB}},
		{name: "sample delete", req: func(c domain.Center, _ string) (string, string, string) {
			return "DELETE", samplePath(c, e.newSample(c)), ""
		}, want: [4]int{NC, NC, FB, FB}},
	}
	for _, a := range actions {
		for i, as := range roles {
			for _, own := range []bool{true, false} {
				c, where := e.ist, "own"
				want := a.want[i]
				if !own {
					c, where = e.ank, "other"
					switch {
					case a.otherOverride:
						want = a.other[i]
					case as != "super":
						want = NF
					}
				}
				method, path, body := a.req(c, as)
				r := e.do(method, path, as, body)
				if r.status != want {
					t.Errorf("%s as %s on %s center: %s %s = %d, want %d (%s)", a.name, as, where, method, path, r.status, want, r.raw)
				}
				if want == NF && r.str("detail") != "not found" {
					t.Errorf("%s as %s on %s center: 404 leaks %s", a.name, as, where, r.raw)
				}
			}
		}
	}
}

// TestListsAreScoped checks that lists show a non-superuser only their own
// center's rows, and honour include_inactive for superusers and admins only.
func TestListsAreScoped(t *testing.T) {
	e := setup(t)
	for as, n := range map[string]float64{"super": 2, "istanbul_admin": 1, "istanbul_user": 1, "istanbul_viewer": 1} {
		r := e.expect(e.do("GET", "/api/centers/", as, ""), 200, "centers as "+as)
		if r.body["count"] != n {
			t.Errorf("centers as %s: count %v, want %v", as, r.body["count"], n)
		}
	}
	for as, n := range map[string]float64{"super": 7, "istanbul_admin": 3, "istanbul_viewer": 3} {
		r := e.expect(e.do("GET", "/api/users/", as, ""), 200, "users as "+as)
		if r.body["count"] != n {
			t.Errorf("users as %s: count %v, want %v", as, r.body["count"], n)
		}
	}
	// A soft-deleted user and sample: hidden by default; include_inactive
	// shows them to an admin but not to a user.
	gone := e.newUser(e.ist, domain.RoleViewer)
	e.expect(e.do("DELETE", userPath(gone), "istanbul_admin", ""), 204, "delete user")
	s := e.newSample(e.ist)
	e.expect(e.do("DELETE", samplePath(e.ist, s), "istanbul_admin", ""), 204, "delete sample")
	for as, want := range map[string]float64{"istanbul_admin": 4, "istanbul_user": 3} {
		r := e.expect(e.do("GET", "/api/users/?include_inactive=true", as, ""), 200, "users include_inactive")
		if r.body["count"] != want {
			t.Errorf("users?include_inactive as %s: count %v, want %v", as, r.body["count"], want)
		}
	}
	for as, want := range map[string]float64{"istanbul_admin": 9, "istanbul_user": 8} {
		r := e.expect(e.do("GET", samplesPath(e.ist)+"?include_inactive=true", as, ""), 200, "samples include_inactive")
		if r.body["count"] != want {
			t.Errorf("samples?include_inactive as %s: count %v, want %v", as, r.body["count"], want)
		}
	}
	// By id, too: a deleted sample is 404 to a user, visible to an admin.
	e.expect(e.do("GET", samplePath(e.ist, s), "istanbul_user", ""), 404, "deleted sample as user")
	e.expect(e.do("GET", samplePath(e.ist, s), "istanbul_admin", ""), 200, "deleted sample as admin")
	e.expect(e.do("GET", userPath(gone), "istanbul_viewer", ""), 404, "deleted user as viewer")
	// And to a transition: 404 to a user and a viewer (not 403: it does
	// not exist for them), without a change; an admin moves it.
	e.expect(e.do("POST", samplePath(e.ist, s)+"process/", "istanbul_user", ""), 404, "process a deleted sample as user")
	e.expect(e.do("POST", samplePath(e.ist, s)+"process/", "istanbul_viewer", ""), 404, "process a deleted sample as viewer")
	if r := e.expect(e.do("POST", samplePath(e.ist, s)+"process/", "istanbul_admin", ""), 200, "process a deleted sample as admin"); r.str("status") != "processing" {
		t.Errorf("process as admin: status %q, want processing (the user's 404 must not have moved it)", r.str("status"))
	}
}

// TestUserRules covers the finer user rules: admins cannot touch
// superusers or make them; self-service cannot change username; managed
// fields go through their endpoints.
func TestUserRules(t *testing.T) {
	e := setup(t)
	// An admin creating a superuser, or a user elsewhere.
	e.expect(e.do("POST", "/api/users/", "istanbul_admin", `{"username": "sneaky", "email": "s@example.com", "is_superuser": true}`), 403, "admin creates superuser")
	e.expect(e.do("POST", "/api/users/", "istanbul_admin", `{"username": "sneaky", "email": "s@example.com", "center": null}`), 403, "admin creates centerless user")
	// Without a center, an admin's new user joins the admin's center.
	r := e.expect(e.do("POST", "/api/users/", "istanbul_admin", `{"username": "newbie", "email": "n@example.com", "password": "long enough pw"}`), 201, "admin creates user")
	if r.str("center") != e.ist.ID.String() || r.str("role") != "user" {
		t.Errorf("created user: %s", r.raw)
	}
	if _, ok := r.body["password"]; ok {
		t.Errorf("password returned: %s", r.raw)
	}
	// A superuser placed in Istanbul is beyond its admin.
	su, err := e.st.Users.Create(e.ctx, domain.System, domain.UserInput{Username: "su2", Email: "su2@example.com", CenterID: &e.ist.ID, IsSuperuser: true})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(e.do("PATCH", userPath(su), "istanbul_admin", `{"first_name": "x"}`), 403, "admin patches superuser")
	e.expect(e.do("POST", userPath(su)+"change_role/", "istanbul_admin", `{"role": "viewer"}`), 403, "admin changes superuser's role")
	e.expect(e.do("DELETE", userPath(su), "istanbul_admin", ""), 403, "admin deletes superuser")
	// Self-service: profile yes, username no, managed fields no.
	me := userPath(e.users["istanbul_user"])
	e.expect(e.do("PATCH", me, "istanbul_user", `{"username": "renamed"}`), 403, "user renames self")
	e.expect(e.do("PATCH", me, "istanbul_user", `{"email": "mine@example.com", "password": "a new password"}`), 200, "user edits own profile")
	r = e.expect(e.do("PATCH", me, "istanbul_user", `{"role": "admin"}`), 400, "user promotes self")
	if r.body["errors"].(map[string]any)["role"] == nil {
		t.Errorf("promote: %s", r.raw)
	}
	e.expect(e.do("PATCH", me, "istanbul_user", `{"role": "user", "center": "`+e.ist.ID.String()+`", "is_superuser": false}`), 200, "managed fields sent back unchanged")
	e.expect(e.do("PATCH", me, "istanbul_admin", `{"center": "`+e.ank.ID.String()+`"}`), 400, "admin moves user by PATCH")
	// change_role takes only the three roles.
	r = e.expect(e.do("POST", me+"change_role/", "istanbul_admin", `{"role": "superuser"}`), 400, "change_role to superuser")
	if r.body["errors"].(map[string]any)["role"] == nil {
		t.Errorf("change_role: %s", r.raw)
	}
	r = e.expect(e.do("POST", me+"change_role/", "istanbul_admin", `{"role": "viewer"}`), 200, "change_role")
	if r.str("role") != "viewer" || r.str("updated_by") != e.users["istanbul_admin"].ID.String() {
		t.Errorf("change_role: %s", r.raw)
	}
	r = e.expect(e.do("POST", me+"change_center/", "super", `{"center": "`+e.ank.ID.String()+`"}`), 200, "change_center")
	if r.str("center") != e.ank.ID.String() {
		t.Errorf("change_center: %s", r.raw)
	}
	e.expect(e.do("POST", me+"change_center/", "super", `{"center": "`+"00000000-0000-0000-0000-000000000000"+`"}`), 400, "change_center to nowhere")
}

// TestUserWriteRace: between the API's read of a user and its write,
// another process moves the user to another center, or makes them a
// superuser. The write decides on the user as they now are: one the
// caller no longer sees is a 404, one they see but may no longer change a
// 403, and nothing changes. (testdb.Meanwhile commits the change while
// the write waits for it, after any read the handler made first.)
func TestUserWriteRace(t *testing.T) { userWriteRace(t, setup(t)) }

// TestUserWriteRaceBehindPgBouncer: the same through PgBouncer, whose
// transaction pooling must keep a write's two round trips, BEGIN's and
// COMMIT's, on one server connection.
func TestUserWriteRaceBehindPgBouncer(t *testing.T) {
	e, _ := setupBehindPgBouncer(t)
	userWriteRace(t, e)
}

func userWriteRace(t *testing.T, e *env) {
	user, viewer := e.users["istanbul_user"], e.users["istanbul_viewer"]

	var r resp
	e.db.Meanwhile(t, func() { r = e.do("DELETE", userPath(user), "istanbul_admin", "") },
		"UPDATE public.users SET center_id = $1 WHERE id = $2", e.ank.ID, user.ID)
	e.expect(r, http.StatusNotFound, "delete a user moved meanwhile")
	if r.str("detail") != "not found" {
		t.Errorf("delete a user moved meanwhile: %s", r.raw)
	}
	if u, err := e.st.Users.Get(e.ctx, user.ID); err != nil || !u.IsActive || !u.MemberOf(e.ank.ID) {
		t.Fatalf("istanbul_user after the refused delete: %+v, %v", u, err)
	}

	e.db.Meanwhile(t, func() { r = e.do("POST", userPath(viewer)+"change_role/", "istanbul_admin", `{"role": "user"}`) },
		"UPDATE public.users SET is_superuser = true WHERE id = $1", viewer.ID)
	e.expect(r, http.StatusForbidden, "change the role of a user made a superuser meanwhile")
	if u, err := e.st.Users.Get(e.ctx, viewer.ID); err != nil || u.Role != domain.RoleViewer {
		t.Fatalf("istanbul_viewer after the refused change_role: %+v, %v", u, err)
	}
}
