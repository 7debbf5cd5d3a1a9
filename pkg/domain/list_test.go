package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func centerNames(cs []domain.Center) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func usernames(us []domain.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

func TestCenterListFilters(t *testing.T) {
	b := setup(t)
	alpha := b.center(t, "alpha Lab", "")
	time.Sleep(2 * time.Millisecond) // distinct created_at
	b.center(t, "Beta_Clinic", "")
	time.Sleep(2 * time.Millisecond)
	// alpha is updated after Beta_Clinic, before Gamma's deletion.
	if _, err := b.st.Centers.Patch(b.ctx, domain.System, alpha.ID, domain.CenterPatch{Description: ptr("Genomics 100% of the time")}); err != nil {
		t.Fatal(err)
	}
	gamma := b.center(t, "Gamma", "")
	time.Sleep(2 * time.Millisecond)
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, gamma.ID); err != nil {
		t.Fatal(err)
	}
	list := func(opts domain.ListOptions) ([]string, int) {
		t.Helper()
		cs, total, err := b.st.Centers.List(b.ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		return centerNames(cs), total
	}
	for _, c := range []struct {
		name string
		opts domain.ListOptions
		want []string
	}{
		{"default: active by lower(name)", domain.ListOptions{}, []string{"alpha Lab", "Beta_Clinic"}},
		{"include inactive", domain.ListOptions{IncludeInactive: true}, []string{"alpha Lab", "Beta_Clinic", "Gamma"}},
		{"active only", domain.ListOptions{Active: ptr(true), IncludeInactive: true}, []string{"alpha Lab", "Beta_Clinic"}},
		{"deleted only", domain.ListOptions{Active: ptr(false)}, []string{"Gamma"}},
		{"search name, any case", domain.ListOptions{Search: "LAB"}, []string{"alpha Lab"}},
		{"search description", domain.ListOptions{Search: "genomics"}, []string{"alpha Lab"}},
		{"search % literally", domain.ListOptions{Search: "100%"}, []string{"alpha Lab"}},
		{"search _ literally", domain.ListOptions{Search: "a_c"}, []string{"Beta_Clinic"}},
		{"search _ is no wildcard", domain.ListOptions{Search: "a_L"}, nil},
		{"search and deleted", domain.ListOptions{Search: "gam", Active: ptr(false)}, []string{"Gamma"}},
		{"-name", domain.ListOptions{Ordering: "-name", IncludeInactive: true}, []string{"Gamma", "Beta_Clinic", "alpha Lab"}},
		{"created_at", domain.ListOptions{Ordering: "created_at", IncludeInactive: true}, []string{"alpha Lab", "Beta_Clinic", "Gamma"}},
		{"-created_at", domain.ListOptions{Ordering: "-created_at", IncludeInactive: true}, []string{"Gamma", "Beta_Clinic", "alpha Lab"}},
		{"-updated_at", domain.ListOptions{Ordering: "-updated_at", IncludeInactive: true}, []string{"Gamma", "alpha Lab", "Beta_Clinic"}},
		{"ids", domain.ListOptions{IDs: []uuid.UUID{alpha.ID, gamma.ID}}, []string{"alpha Lab"}},
	} {
		got, total := list(c.opts)
		if !slices.Equal(got, c.want) || total != len(c.want) {
			t.Errorf("%s: %v (count %d), want %v", c.name, got, total, c.want)
		}
	}
	// The count is of every match, beyond the page and past its end.
	if got, total := list(domain.ListOptions{Limit: 1, Offset: 1, IncludeInactive: true}); !slices.Equal(got, []string{"Beta_Clinic"}) || total != 3 {
		t.Errorf("page 2 of 1: %v, %d", got, total)
	}
	if got, total := list(domain.ListOptions{Offset: 10, Search: "a"}); len(got) != 0 || total != 3-1 {
		t.Errorf("past the end: %v, %d; want none of 2", got, total)
	}

	_, _, err := b.st.Centers.List(b.ctx, domain.ListOptions{Ordering: "schema_name"})
	ve := wantFields(t, err, "ordering")
	if msg := ve.Fields["ordering"][0]; !strings.Contains(msg, "name, created_at, updated_at") {
		t.Errorf("ordering error %q does not list the keys", msg)
	}
	_, _, err = b.st.Centers.List(b.ctx, domain.ListOptions{Search: strings.Repeat("x", 201), Ordering: "-", Limit: -1})
	wantFields(t, err, "search", "ordering", "limit")
	_, _, err = b.st.Centers.List(b.ctx, domain.ListOptions{Search: "a\x00"})
	wantFields(t, err, "search")
	if got := domain.CenterOrderings(); !slices.Equal(got, []string{"name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"}) {
		t.Errorf("CenterOrderings = %v", got)
	}
}

func TestUserListFilters(t *testing.T) {
	b := setup(t)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	mk := func(username, email, first, last string, center *uuid.UUID, role domain.Role) domain.User {
		t.Helper()
		u, err := b.st.Users.Create(b.ctx, domain.System, domain.UserInput{Username: username, Email: email,
			FirstName: first, LastName: last, CenterID: center, Role: role, IsSuperuser: center == nil})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct created_at
		return u
	}
	mk("carol", "Zed@example.com", "Carol", "Young", &c1.ID, domain.RoleViewer)
	mk("alice", "bob@example.com", "Alice", "Xu", &c1.ID, domain.RoleAdmin)
	bob := mk("bob", "Alice@example.org", "Bob", "Zhang", &c2.ID, domain.RoleUser)
	mk("root", "root@example.com", "", "Adams", nil, domain.RoleAdmin)
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, bob.ID); err != nil {
		t.Fatal(err)
	}
	list := func(opts domain.ListOptions) ([]string, int) {
		t.Helper()
		us, total, err := b.st.Users.List(b.ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		return usernames(us), total
	}
	all := domain.ListOptions{IncludeInactive: true}
	with := func(f func(o *domain.ListOptions)) domain.ListOptions { o := all; f(&o); return o }
	for _, c := range []struct {
		name string
		opts domain.ListOptions
		want []string
	}{
		{"default: active by username", domain.ListOptions{}, []string{"alice", "carol", "root"}},
		{"include inactive", all, []string{"alice", "bob", "carol", "root"}},
		{"active only", with(func(o *domain.ListOptions) { o.Active = ptr(true) }), []string{"alice", "carol", "root"}},
		{"deactivated only", domain.ListOptions{Active: ptr(false)}, []string{"bob"}},
		{"role", with(func(o *domain.ListOptions) { o.Role = ptr(domain.RoleAdmin) }), []string{"alice", "root"}},
		{"superusers", with(func(o *domain.ListOptions) { o.Superuser = ptr(true) }), []string{"root"}},
		{"not superusers", with(func(o *domain.ListOptions) { o.Superuser = ptr(false) }), []string{"alice", "bob", "carol"}},
		{"center and role", with(func(o *domain.ListOptions) { o.CenterID = &c1.ID; o.Role = ptr(domain.RoleViewer) }), []string{"carol"}},
		{"search username", with(func(o *domain.ListOptions) { o.Search = "ROO" }), []string{"root"}},
		{"search email", with(func(o *domain.ListOptions) { o.Search = "example.org" }), []string{"bob"}},
		{"search first_name", with(func(o *domain.ListOptions) { o.Search = "caro" }), []string{"carol"}},
		{"search last_name", with(func(o *domain.ListOptions) { o.Search = "zhan" }), []string{"bob"}},
		{"search any field", with(func(o *domain.ListOptions) { o.Search = "alice" }), []string{"alice", "bob"}},
		{"search % literally", with(func(o *domain.ListOptions) { o.Search = "%" }), nil},
		{"email, case-insensitive", with(func(o *domain.ListOptions) { o.Ordering = "email" }), []string{"bob", "alice", "root", "carol"}},
		{"-username", with(func(o *domain.ListOptions) { o.Ordering = "-username" }), []string{"root", "carol", "bob", "alice"}},
		{"date_joined", with(func(o *domain.ListOptions) { o.Ordering = "date_joined" }), []string{"carol", "alice", "bob", "root"}},
		{"-date_joined", with(func(o *domain.ListOptions) { o.Ordering = "-date_joined" }), []string{"root", "bob", "alice", "carol"}},
		{"last_name", with(func(o *domain.ListOptions) { o.Ordering = "last_name" }), []string{"root", "alice", "carol", "bob"}},
		{"role, then -username", with(func(o *domain.ListOptions) { o.Ordering = "role,-username" }), []string{"root", "alice", "bob", "carol"}},
	} {
		got, total := list(c.opts)
		if !slices.Equal(got, c.want) || total != len(c.want) {
			t.Errorf("%s: %v (count %d), want %v", c.name, got, total, c.want)
		}
	}
	if got, total := list(domain.ListOptions{Limit: 2, Offset: 2, IncludeInactive: true}); !slices.Equal(got, []string{"carol", "root"}) || total != 4 {
		t.Errorf("page 2 of 2: %v, %d", got, total)
	}

	_, _, err := b.st.Users.List(b.ctx, domain.ListOptions{Ordering: "created_at"})
	ve := wantFields(t, err, "ordering")
	if msg := ve.Fields["ordering"][0]; !strings.Contains(msg, "username, email, date_joined, last_name, role") {
		t.Errorf("ordering error %q does not list the keys", msg)
	}
	_, _, err = b.st.Users.List(b.ctx, domain.ListOptions{Role: ptr(domain.Role("god")), Search: "\xff", Offset: -1})
	wantFields(t, err, "role", "search", "offset")
	if got := domain.UserOrderings(); len(got) != 10 || got[0] != "username" || got[1] != "-username" || got[4] != "date_joined" {
		t.Errorf("UserOrderings = %v", got)
	}
}
