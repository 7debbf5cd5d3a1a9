package api_test

import (
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestFreshness: a change made by another process (here, SQL on the test
// database, beside the server's pool and its cache of principals) is seen
// by the server's next request, with no wait: a token revoked or expired,
// a user deactivated, demoted or moved, a center soft-deleted.
func TestFreshness(t *testing.T) {
	checkFreshness(t, setup(t))
}

// checkFreshness is TestFreshness on e, whose server may be direct or
// behind PgBouncer.
func checkFreshness(t *testing.T, e *env) {
	t.Helper()
	sql := func(stmt string, args ...any) {
		t.Helper()
		if _, err := e.db.Pool.Exec(e.ctx, stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	create := func(as, barcode string) resp {
		return e.do("POST", samplesPath(e.ist), as, `{"name": "fresh", "sample_type": "blood", "barcode": "`+barcode+`"}`)
	}

	// Demoted to viewer, then back to admin: the cached principal is
	// refused by the guard and the request runs again as the user is now,
	// body included.
	admin := e.newUser(e.ist, domain.RoleAdmin)
	e.tokens["fresh_admin"] = e.token(admin.ID)
	e.expect(e.do("GET", samplesPath(e.ist), "fresh_admin", ""), 200, "admin lists")
	sql("UPDATE public.users SET role = 'viewer' WHERE id = $1", admin.ID)
	e.expect(create("fresh_admin", "FRESH-1"), 403, "demoted to viewer, creates")
	sql("UPDATE public.users SET role = 'admin' WHERE id = $1", admin.ID)
	r := e.expect(create("fresh_admin", "FRESH-2"), 201, "admin again, creates")
	if r.str("barcode") != "FRESH-2" || r.str("name") != "fresh" {
		t.Errorf("the request run again lost its body: %s", r.raw)
	}

	// The same for a write of a user, decided on the row it locks: a
	// demoted admin may no longer rename a member, an admin again may.
	renamed := e.newUser(e.ist, domain.RoleUser)
	rename := func(name string) resp {
		return e.do("PATCH", "/api/users/"+renamed.ID.String()+"/", "fresh_admin", `{"first_name": "`+name+`"}`)
	}
	e.expect(rename("Ada"), 200, "admin renames a member")
	sql("UPDATE public.users SET role = 'user' WHERE id = $1", admin.ID)
	e.expect(rename("Bea"), 403, "demoted to user, renames a member")
	sql("UPDATE public.users SET role = 'admin' WHERE id = $1", admin.ID)
	if r := e.expect(rename("Cleo"), 200, "admin again, renames a member"); r.str("first_name") != "Cleo" {
		t.Errorf("the rename run again lost its body: %s", r.raw)
	}

	// Moved to another center: the old one's samples are another center's.
	sql("UPDATE public.users SET center_id = $2 WHERE id = $1", admin.ID, e.ank.ID)
	e.expect(e.do("GET", samplesPath(e.ist), "fresh_admin", ""), 404, "moved away, lists the old center")
	e.expect(e.do("GET", samplesPath(e.ank), "fresh_admin", ""), 200, "moved, lists the new center")

	// Deactivated; a token revoked; a token expired: 401 on every route
	// that needs a token, cached or not.
	sql("UPDATE public.users SET is_active = false WHERE id = $1", admin.ID)
	e.expect(e.do("GET", samplesPath(e.ank), "fresh_admin", ""), 401, "deactivated")
	for _, how := range []string{"is_active = false", "expires_at = now() - interval '1 second'"} {
		u := e.newUser(e.ist, domain.RoleUser)
		tok := e.token(u.ID)
		e.tokens[u.Username] = tok
		e.expect(e.do("GET", "/api/centers/", u.Username, ""), 200, "a new token")
		sql("UPDATE public.api_tokens SET "+how+" WHERE user_id = $1", u.ID)
		sm := e.newSample(e.ist)
		n := countSamples(t, e)
		for _, rt := range e.srv.Routes() {
			if !needsToken(rt.Path) {
				continue
			}
			path := fillPath(e, sm, rt.Path)
			body := ""
			if rt.Method != "GET" && rt.Method != "DELETE" {
				body = "{}"
			}
			e.expect(e.do(rt.Method, path, u.Username, body), 401, how+": "+rt.Method+" "+path)
		}
		if m := countSamples(t, e); m != n {
			t.Errorf("%s: requests with the token changed the samples: %d, then %d", how, n, m)
		}
	}

	// A center soft-deleted: its samples are gone for a superuser too, and
	// its members' tokens are refused.
	c := e.newCenter("Fresh center")
	member := e.newUser(c, domain.RoleUser)
	e.tokens["fresh_member"] = e.token(member.ID)
	e.expect(e.do("GET", samplesPath(c), "super", ""), 200, "superuser lists")
	e.expect(e.do("GET", samplesPath(c), "fresh_member", ""), 200, "member lists")
	sql("UPDATE public.centers SET is_active = false WHERE id = $1", c.ID)
	e.expect(e.do("GET", samplesPath(c), "super", ""), 404, "soft-deleted center, superuser lists")
	e.expect(e.do("GET", samplesPath(c), "fresh_member", ""), 401, "soft-deleted center, member lists")
}

// needsToken reports whether the route of path answers only with a token.
func needsToken(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/api/openapi.json", "/api/auth/token/", "/metrics":
		return false
	}
	return true
}

// fillPath puts ids of e's rows, sample sm of Istanbul among them, into a
// route's path parameters.
func fillPath(e *env, sm domain.Sample, path string) string {
	id := e.ist.ID.String()
	if strings.HasPrefix(path, "/api/users/") {
		id = e.users["istanbul_user"].ID.String()
	}
	if strings.Contains(path, "/samples/") {
		id = sm.ID.String()
	}
	return strings.NewReplacer("{center_id}", e.ist.ID.String(), "{id}", id, "{barcode}", sm.Barcode, "{status}", "pending").Replace(path)
}

func countSamples(t *testing.T, e *env) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(e.ctx, "SELECT count(*) FROM "+e.ist.SchemaName+".samples").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
