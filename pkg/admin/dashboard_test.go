package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestDashboard: a superuser sees the fleet's figures, and each tenant
// schema with a problem linked to its center; a center's member sees their
// center's figures and nothing of the fleet.
func TestDashboard(t *testing.T) {
	e := setup(t)
	o, err := e.st.Overview(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tile := func(n int, label string) string {
		return fmt.Sprintf(`<span class="n">%d</span><span class="l">%s</span>`, n, label)
	}
	super := e.signIn("super")
	super.get("/admin/").want(t, http.StatusOK,
		tile(o.ActiveCenters, "active centers"), tile(o.Users.Total, "active users"),
		tile(o.Samples.Total, fmt.Sprintf("samples in %d centers", o.CentersCounted)),
		"Samples by status", "Users by role", "All 2 tenant schemas are at the latest migration")

	// A soft-deleted center leaves the counts; a tenant behind is listed
	// with a link to its center.
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	e.rewind(e.ist.ID, false)
	p := super.get("/admin/")
	p.want(t, http.StatusOK, tile(1, "soft-deleted centers"), "samples in 1 center</span>",
		"1 of 2 tenant schemas need attention", `<span class="badge warn">behind</span>`,
		`href="/admin/centers/`+e.ist.ID.String()+`/">Istanbul Medical Center</a>`)

	member := e.signIn("istanbul_viewer")
	p = member.get("/admin/")
	p.want(t, http.StatusOK, "Istanbul Medical Center", "Samples by status", "Users by role")
	for _, fleet := range []string{"Tenant schemas", "active centers", "superusers"} {
		if strings.Contains(p.body, fleet) {
			t.Errorf("a viewer's dashboard shows %q", fleet)
		}
	}
}
