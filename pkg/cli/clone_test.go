package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

func TestCenterClone(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	src := d.center(t, ankara)

	r := d.run(t, "center", "clone", ankara, "Ankara copy", "--data", "--description", "frozen", "-o", "json")
	r.wantCode(t, ExitOK)
	c := decodeJSON[centerDoc](t, r.stdout)
	if c.Name != "Ankara copy" || c.Description != "frozen" || c.ID == src.ID || !slices.Equal(c.SampleTypes(), src.SampleTypes()) {
		t.Fatalf("cloned center %+v", c)
	}
	if a, z := tenancytest.DescribeData(t, d.Pool, src.SchemaName), tenancytest.DescribeData(t, d.Pool, c.SchemaName); !slices.Equal(a, z) {
		t.Fatalf("clone's rows %v, want the source's %v", z, a)
	}

	// By id, structure only, as a table.
	r = d.run(t, "center", "clone", src.ID.String(), "Ankara template")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stdout, "NAME          Ankara template") {
		t.Errorf("clone table:\n%s", r.stdout)
	}
	tmpl := d.center(t, "Ankara template")
	if _, n, err := d.st.Samples.List(t.Context(), tmpl.ID, domain.SampleFilter{}); err != nil || n != 0 {
		t.Errorf("structure-only clone has %d samples (%v)", n, err)
	}

	before := d.countCenters(t)
	r = d.run(t, "center", "clone", ankara, "ankara COPY")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "conflict: name: a center with this name already exists")
	r = d.run(t, "center", "clone", "Ankara Reserch Lab", "x")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `did you mean "Ankara Research Lab"?`)
	r = d.run(t, "center", "delete", ankara, "--yes")
	r.wantCode(t, ExitOK)
	r = d.run(t, "center", "clone", ankara, "after delete")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "is deleted; restore it first")
	r = d.run(t, "center", "clone", ankara)
	r.wantCode(t, ExitUsage)
	if n := d.countCenters(t); n != before {
		t.Errorf("%d centers after refused clones, want %d", n, before)
	}
}
