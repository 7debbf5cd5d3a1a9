package domain_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// TestCenterClone: a clone is a new center with the source's settings and
// a copy of its schema, its samples too when asked; a deleted or missing
// source and a name in use are refused, leaving no schema and no row.
func TestCenterClone(t *testing.T) {
	b := setup(t)
	root := b.user(t, "root", nil, domain.RoleAdmin)
	src := b.center(t, "Izmir Lab", `{"city": "Izmir", "sample_types": ["dna", "rna"]}`)
	member := b.user(t, "izmir", &src.ID, domain.RoleUser)
	b.sample(t, src, member, domain.SampleInput{Name: "first", SampleType: "dna", Barcode: "B-1"})
	b.sample(t, src, member, domain.SampleInput{Name: "second", SampleType: "rna", Barcode: "B-2"})

	c, err := b.st.Centers.Clone(b.ctx, domain.By(root.ID), src.ID, domain.CloneInput{Name: "Izmir Lab copy", Description: "a copy", WithData: true})
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if c.ID == src.ID || c.Name != "Izmir Lab copy" || c.Description != "a copy" || string(c.Settings) != string(src.Settings) ||
		!c.IsActive || c.CreatedBy == nil || *c.CreatedBy != root.ID {
		t.Fatalf("clone = %+v, want a new active center with the source's settings, created by root", c)
	}
	pool := b.db.Pool
	if a, z := tenancytest.DescribeSchema(t, pool, src.SchemaName), tenancytest.DescribeSchema(t, pool, c.SchemaName); !slices.Equal(a, z) {
		t.Fatalf("clone's schema differs:\n%v\n%v", a, z)
	}
	if a, z := tenancytest.DescribeData(t, pool, src.SchemaName), tenancytest.DescribeData(t, pool, c.SchemaName); !slices.Equal(a, z) {
		t.Fatalf("clone's samples differ: %v, %v", a, z)
	}
	got, n, err := b.st.Samples.List(b.ctx, c.ID, domain.SampleFilter{})
	if err != nil || n != 2 {
		t.Fatalf("clone's samples: %d, %v", n, err)
	}
	if got[0].UserID != member.ID {
		t.Errorf("copied sample's user = %s, want the source's member", got[0].UserID)
	}

	empty, err := b.st.Centers.Clone(b.ctx, domain.System, src.ID, domain.CloneInput{Name: "Izmir template"})
	if err != nil {
		t.Fatalf("Clone without data: %v", err)
	}
	if _, n, err := b.st.Samples.List(b.ctx, empty.ID, domain.SampleFilter{}); err != nil || n != 0 {
		t.Fatalf("structure-only clone has %d samples (%v)", n, err)
	}

	schemas := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'center\\_%'")
	centers := b.count(t, "SELECT count(*) FROM public.centers")
	_, err = b.st.Centers.Clone(b.ctx, domain.System, src.ID, domain.CloneInput{Name: "IZMIR LAB", WithData: true})
	wantConflict(t, err, "name")
	_, err = b.st.Centers.Clone(b.ctx, domain.System, src.ID, domain.CloneInput{Name: " "})
	wantFields(t, err, "name")
	if _, err := b.st.Centers.Clone(b.ctx, domain.System, member.ID, domain.CloneInput{Name: "nobody's"}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Clone of a missing center = %v, want ErrNotFound", err)
	}
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, src.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Centers.Clone(b.ctx, domain.System, src.ID, domain.CloneInput{Name: "too late"}); !errors.Is(err, domain.ErrDeleted) ||
		!errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Clone of a deleted center = %v, want ErrDeleted", err)
	}
	if n := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'center\\_%'"); n != schemas {
		t.Errorf("%d schemas after refused clones, want %d", n, schemas)
	}
	if n := b.count(t, "SELECT count(*) FROM public.centers"); n != centers {
		t.Errorf("%d centers after refused clones, want %d", n, centers)
	}
	if n := b.count(t, "SELECT count(*) FROM public.tenancy_tenants"); n != schemas {
		t.Errorf("%d ledger rows, want %d", n, schemas)
	}
}

// TestCenterCloneDeletedMeanwhile: a source soft-deleted while its copy is
// made (after the check before the copy) is refused too.
func TestCenterCloneDeletedMeanwhile(t *testing.T) {
	b := setup(t)
	src := b.center(t, "Izmir Lab", "")
	var err error
	b.db.Meanwhile(t, func() {
		_, err = b.st.Centers.Clone(b.ctx, domain.System, src.ID, domain.CloneInput{Name: "copy"})
	}, "UPDATE public.centers SET is_active = false WHERE id = $1", src.ID)
	if !errors.Is(err, domain.ErrDeleted) {
		t.Fatalf("Clone = %v, want ErrDeleted", err)
	}
	if n := b.count(t, "SELECT count(*) FROM public.centers"); n != 1 {
		t.Fatalf("%d centers, want the source alone", n)
	}
}
