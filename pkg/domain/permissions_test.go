package domain_test

import (
	"context"
	"errors"
	"fmt"
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
			{"SeesSample(active)", u.SeesSample(domain.Sample{IsActive: true}), true},
			{"SeesSample(soft-deleted)", u.SeesSample(domain.Sample{}), w.privileged},
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

// TestVisible walks the Store's Visible methods over real rows: every
// role, as a member of center A and of a soft-deleted center D, against
// their own center, another (B) and the soft-deleted one; users of their
// own center, of another, inactive ones and a superuser; and live and
// soft-deleted samples of each center.
func TestVisible(t *testing.T) {
	b := setup(t)
	a, other, gone := b.center(t, "Visible A", "{}"), b.center(t, "Visible B", "{}"), b.center(t, "Visible D", "{}")
	super := b.user(t, "super", nil, domain.RoleAdmin)
	of := func(c domain.Center) map[domain.Role]domain.User {
		m := map[domain.Role]domain.User{}
		for _, r := range []domain.Role{domain.RoleAdmin, domain.RoleUser, domain.RoleViewer} {
			m[r] = b.user(t, string(r)+"-"+c.Name[len(c.Name)-1:], &c.ID, r)
		}
		return m
	}
	inA, inD := of(a), of(gone)
	peer := b.user(t, "peer", &a.ID, domain.RoleUser)
	outsider := b.user(t, "outsider", &other.ID, domain.RoleUser)
	inactive := b.user(t, "inactive", &a.ID, domain.RoleUser)
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, inactive.ID); err != nil {
		t.Fatal(err)
	}
	live := b.sample(t, a, peer, domain.SampleInput{Barcode: "A-1"})
	deleted := b.sample(t, a, peer, domain.SampleInput{Barcode: "A-2"})
	if _, err := b.st.Samples.SoftDelete(b.ctx, a.ID, domain.System, deleted.ID); err != nil {
		t.Fatal(err)
	}
	others := b.sample(t, other, outsider, domain.SampleInput{Barcode: "B-1"})
	gones := b.sample(t, gone, inD[domain.RoleUser], domain.SampleInput{Barcode: "D-1"})
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, gone.ID); err != nil {
		t.Fatal(err)
	}

	centers := []domain.Center{a, other, gone}
	users := []domain.User{peer, outsider, inactive, super}
	samples := []struct {
		center uuid.UUID
		id     uuid.UUID
	}{{a.ID, live.ID}, {a.ID, deleted.ID}, {other.ID, others.ID}, {gone.ID, gones.ID}}
	// Every caller of center D sees nothing: their own center is
	// soft-deleted, and the others are not theirs.
	none := [3][]bool{{false, false, false}, {false, false, false, false}, {false, false, false, false}}
	for _, row := range []struct {
		name string
		u    domain.User
		// In the order of centers, users and samples.
		want [3][]bool
	}{
		{"superuser", super, [3][]bool{{true, true, true}, {true, true, true, true}, {true, true, true, false}}},
		{"admin of A", inA[domain.RoleAdmin], [3][]bool{{true, false, false}, {true, false, true, false}, {true, true, false, false}}},
		{"user of A", inA[domain.RoleUser], [3][]bool{{true, false, false}, {true, false, false, false}, {true, false, false, false}}},
		{"viewer of A", inA[domain.RoleViewer], [3][]bool{{true, false, false}, {true, false, false, false}, {true, false, false, false}}},
		{"admin of D", inD[domain.RoleAdmin], none},
		{"user of D", inD[domain.RoleUser], none},
		{"viewer of D", inD[domain.RoleViewer], none},
	} {
		check := func(what string, got uuid.UUID, err error, want bool, id uuid.UUID) {
			t.Helper()
			switch {
			case want && (err != nil || got != id):
				t.Errorf("%s: %s = %v, %v; want it", row.name, what, got, err)
			case !want && !errors.Is(err, domain.ErrNotFound):
				t.Errorf("%s: %s = %v, %v; want ErrNotFound", row.name, what, got, err)
			}
		}
		for i, c := range centers {
			got, err := b.st.VisibleCenter(b.ctx, row.u, c.ID)
			check("VisibleCenter("+c.Name+")", got.ID, err, row.want[0][i], c.ID)
		}
		for i, tg := range users {
			got, err := b.st.VisibleUser(b.ctx, row.u, tg.ID)
			check("VisibleUser("+tg.Username+")", got.ID, err, row.want[1][i], tg.ID)
		}
		for i, s := range samples {
			got, err := b.st.VisibleSample(b.ctx, row.u, s.center, s.id)
			check(fmt.Sprintf("VisibleSample(#%d)", i), got.ID, err, row.want[2][i], s.id)
		}
	}

	// Unknown ids, and a sample asked for under another center than its
	// own, are not found for a superuser too.
	_, err := b.st.VisibleCenter(b.ctx, super, uuid.New())
	wantNotFound(t, err)
	_, err = b.st.VisibleUser(b.ctx, super, uuid.New())
	wantNotFound(t, err)
	_, err = b.st.VisibleSample(b.ctx, super, a.ID, uuid.New())
	wantNotFound(t, err)
	_, err = b.st.VisibleSample(b.ctx, super, uuid.New(), live.ID)
	wantNotFound(t, err)
	_, err = b.st.VisibleSample(b.ctx, super, other.ID, live.ID)
	wantNotFound(t, err)

	// Another center's probe is answered before any query: with a context
	// already cancelled it is still not found, where a query would fail.
	cancelled, cancel := context.WithCancel(b.ctx)
	cancel()
	if _, err := b.st.VisibleCenter(cancelled, super, other.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("superuser's VisibleCenter on a cancelled context = %v, want context.Canceled (a query)", err)
	}
	user := inA[domain.RoleUser]
	_, err = b.st.VisibleCenter(cancelled, user, other.ID)
	wantHidden(t, err, "center", other.ID)
	_, err = b.st.VisibleSample(cancelled, user, other.ID, others.ID)
	wantHidden(t, err, "center", other.ID)
	// And what is hidden after the query reads as what is missing.
	_, err = b.st.VisibleCenter(b.ctx, inD[domain.RoleAdmin], gone.ID)
	wantHidden(t, err, "center", gone.ID)
	_, err = b.st.VisibleUser(b.ctx, user, outsider.ID)
	wantHidden(t, err, "user", outsider.ID)
	_, err = b.st.VisibleSample(b.ctx, user, a.ID, deleted.ID)
	wantHidden(t, err, "sample", deleted.ID)
}

// wantHidden fails unless err is the *NotFoundError a missing kind id
// gets, so that a hidden row and a missing one cannot be told apart.
func wantHidden(t *testing.T, err error, kind string, id uuid.UUID) {
	t.Helper()
	var nf *domain.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != kind || nf.Key != id.String() || err.Error() != nf.Error() {
		t.Fatalf("error = %v (%T), want %s %s not found", err, err, kind, id)
	}
}
