package domain_test

import (
	"fmt"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestOverview: the fleet's figures, over centers read in several chunks;
// a soft-deleted center's samples and an inactive user leave the active
// counts, and soft-deleted samples are not counted.
func TestOverview(t *testing.T) {
	b := setup(t)
	defer domain.SetOverviewChunk(2)()
	var centers []domain.Center
	for i := range 5 {
		c := b.center(t, fmt.Sprintf("Lab %d", i), `{"sample_types": ["blood", "dna"]}`)
		centers = append(centers, c)
		u := b.user(t, fmt.Sprintf("user%d", i), &c.ID, domain.RoleUser)
		for j := range i + 1 {
			typ := "blood"
			if j%2 == 1 {
				typ = "dna"
			}
			b.sample(t, c, u, domain.SampleInput{Barcode: fmt.Sprintf("B-%d", j), SampleType: typ})
		}
	}
	admin := b.user(t, "lab0_admin", &centers[0].ID, domain.RoleAdmin)
	b.user(t, "operator", nil, domain.RoleAdmin)
	// One processing sample in Lab 4, one soft-deleted sample in Lab 3.
	s4, _, err := b.st.Samples.List(b.ctx, centers[4].ID, domain.SampleFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.setStatus(t, centers[4], s4[0].ID, domain.StatusProcessing)
	s3, _, err := b.st.Samples.List(b.ctx, centers[3].ID, domain.SampleFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Samples.SoftDelete(b.ctx, centers[3].ID, domain.System, s3[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, centers[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, admin.ID); err != nil {
		t.Fatal(err)
	}

	o, err := b.st.Overview(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Samples: 1+2+3+4+5 = 15, less Lab 1's 2 (center soft-deleted) and
	// Lab 3's soft-deleted one: 12, of which one processing.
	want := domain.Overview{ActiveCenters: 4, InactiveCenters: 1, Superusers: 1, InactiveUsers: 1, CentersCounted: 4}
	if o.ActiveCenters != want.ActiveCenters || o.InactiveCenters != want.InactiveCenters ||
		o.Superusers != want.Superusers || o.InactiveUsers != want.InactiveUsers || o.CentersCounted != want.CentersCounted {
		t.Errorf("overview %+v, want %+v", o, want)
	}
	if o.Users.Total != 6 || o.Users.ByRole[domain.RoleUser] != 5 || o.Users.ByRole[domain.RoleAdmin] != 1 || o.Users.ByRole[domain.RoleViewer] != 0 {
		t.Errorf("users %+v: want 6 active (5 users, the operator as admin)", o.Users)
	}
	if o.Samples.Total != 12 || o.Samples.ByStatus[domain.StatusProcessing] != 1 ||
		o.Samples.ByStatus[domain.StatusPending] != 11 || o.Samples.ByStatus[domain.StatusArchived] != 0 {
		t.Errorf("samples %+v: want 12, 11 pending and 1 processing", o.Samples)
	}
	if o.Samples.ByType["blood"]+o.Samples.ByType["dna"] != 12 {
		t.Errorf("samples by type %v do not add up to 12", o.Samples.ByType)
	}
}
