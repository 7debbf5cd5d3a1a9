package domain_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestPermissions walks the design's permission table (DESIGN.md,
// "Authorization"): every role, as a member of center A, against its own
// center and another, and against the kinds of target user whose rules
// differ. Pure functions: no database.
func TestPermissions(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	member := func(center uuid.UUID, role domain.Role, super, active bool) domain.User {
		return domain.User{ID: uuid.New(), CenterID: &center, Role: role, IsSuperuser: super, IsActive: active}
	}
	// The targets, in the order of the rows' sees and manages.
	targets := []struct {
		name string
		u    domain.User
	}{
		{"member of own center", member(a, domain.RoleUser, false, true)},
		{"member of other center", member(b, domain.RoleUser, false, true)},
		{"superuser in own center", member(a, domain.RoleAdmin, true, true)},
		{"superuser without a center", domain.User{ID: uuid.New(), Role: domain.RoleAdmin, IsSuperuser: true, IsActive: true}},
		{"inactive member of own center", member(a, domain.RoleViewer, false, false)},
	}
	type want struct {
		seesOwn, seesOther, privileged, writes, deletes, centers bool
		sees, manages                                            [5]bool
	}
	for _, row := range []struct {
		name string
		u    domain.User
		want want
	}{
		// A superuser's role does not limit it: viewer here on purpose.
		{"superuser", member(a, domain.RoleViewer, true, true), want{true, true, true, true, true, true,
			[5]bool{true, true, true, true, true}, [5]bool{true, true, true, true, true}}},
		{"admin", member(a, domain.RoleAdmin, false, true), want{true, false, true, true, true, false,
			[5]bool{true, false, true, false, true}, [5]bool{true, false, false, false, true}}},
		{"user", member(a, domain.RoleUser, false, true), want{true, false, false, true, false, false,
			[5]bool{true, false, true, false, false}, [5]bool{}}},
		{"viewer", member(a, domain.RoleViewer, false, true), want{true, false, false, false, false, false,
			[5]bool{true, false, true, false, false}, [5]bool{}}},
	} {
		u, w := row.u, row.want
		for _, c := range []struct {
			what      string
			got, want bool
		}{
			{"SeesCenter(own)", u.SeesCenter(a), w.seesOwn},
			{"SeesCenter(other)", u.SeesCenter(b), w.seesOther},
			{"Privileged", u.Privileged(), w.privileged},
			{"WritesSamples", u.WritesSamples(), w.writes},
			{"DeletesSamples", u.DeletesSamples(), w.deletes},
			{"ManagesCenters", u.ManagesCenters(), w.centers},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s = %v, want %v", row.name, c.what, c.got, c.want)
			}
		}
		for i, tg := range targets {
			if got := u.SeesUser(tg.u); got != w.sees[i] {
				t.Errorf("%s: SeesUser(%s) = %v, want %v", row.name, tg.name, got, w.sees[i])
			}
			if got := u.Manages(tg.u); got != w.manages[i] {
				t.Errorf("%s: Manages(%s) = %v, want %v", row.name, tg.name, got, w.manages[i])
			}
			if got := u.ChangesRoleOf(tg.u); got != w.manages[i] {
				t.Errorf("%s: ChangesRoleOf(%s) = %v, want %v", row.name, tg.name, got, w.manages[i])
			}
		}
	}
}
