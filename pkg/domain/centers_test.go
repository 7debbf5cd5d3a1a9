package domain_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

func TestCenterValidation(t *testing.T) {
	b := setup(t)
	big := `{"x": "` + strings.Repeat("a", 64<<10) + `"}`
	cases := []struct {
		name   string
		in     domain.CenterInput
		fields []string
	}{
		{"empty name", domain.CenterInput{}, []string{"name"}},
		{"long name", domain.CenterInput{Name: strings.Repeat("é", 201)}, []string{"name"}},
		{"NUL in name", domain.CenterInput{Name: "a\x00b"}, []string{"name"}},
		{"invalid UTF-8 description", domain.CenterInput{Name: "ok", Description: "\xff\xfe"}, []string{"description"}},
		{"NUL in description", domain.CenterInput{Name: "ok", Description: "x\x00"}, []string{"description"}},
		{"surrounding space", domain.CenterInput{Name: " ok"}, []string{"name"}},
		{"newline in name", domain.CenterInput{Name: "o\nk"}, []string{"name"}},
		{"settings not object", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`[1]`)}, []string{"settings"}},
		{"settings not JSON", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"a":`)}, []string{"settings"}},
		{"settings NUL escape", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"a": "\u0000"}`)}, []string{"settings"}},
		{"settings NUL key", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"\u0000": 1}`)}, []string{"settings"}},
		{"settings too big", domain.CenterInput{Name: "ok", Settings: json.RawMessage(big)}, []string{"settings"}},
		{"settings huge number", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"n": 1e999}`)}, []string{"settings"}},
		{"sample_types empty", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"sample_types": []}`)}, []string{"settings"}},
		{"sample_types not list", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"sample_types": "blood"}`)}, []string{"settings"}},
		{"sample_types non-string", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"sample_types": ["a", 1]}`)}, []string{"settings"}},
		{"sample_types blank", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"sample_types": [""]}`)}, []string{"settings"}},
		{"sample_types duplicate", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"sample_types": ["a", "a"]}`)}, []string{"settings"}},
		{"sample_types too long", domain.CenterInput{Name: "ok", Settings: json.RawMessage(`{"sample_types": ["` + strings.Repeat("x", 51) + `"]}`)}, []string{"settings"}},
		{"several fields", domain.CenterInput{Name: "", Description: "\x00", Settings: json.RawMessage(`"x"`)}, []string{"name", "description", "settings"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.st.Centers.Create(b.ctx, domain.System, tc.in)
			wantFields(t, err, tc.fields...)
		})
	}
	if n := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'center\\_%'"); n != 0 {
		t.Fatalf("%d schemas left behind by invalid input", n)
	}
	// Valid edge cases: 200 characters, a lone surrogate escape (jsonb
	// refuses it; it is re-encoded), sample_types of exactly 50 characters.
	c, err := b.st.Centers.Create(b.ctx, domain.System, domain.CenterInput{Name: strings.Repeat("é", 200),
		Settings: json.RawMessage(`{"s": "\ud800", "sample_types": ["` + strings.Repeat("x", 50) + `"]}`)})
	if err != nil {
		t.Fatalf("valid edge cases: %v", err)
	}
	if got := c.SampleTypes(); len(got) != 1 || len(got[0]) != 50 {
		t.Fatalf("SampleTypes = %v", got)
	}
}

func TestCenterCRUD(t *testing.T) {
	b := setup(t)
	admin := b.user(t, "root", nil, domain.RoleAdmin)
	c, err := b.st.Centers.Create(b.ctx, domain.By(admin.ID), domain.CenterInput{Name: "Izmir Lab", Description: "on the coast"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SchemaName != "center_"+strings.ReplaceAll(c.ID.String(), "-", "") || !c.IsActive || string(c.Settings) != "{}" {
		t.Fatalf("created center = %+v", c)
	}
	if c.CreatedBy == nil || *c.CreatedBy != admin.ID || c.UpdatedBy == nil || *c.UpdatedBy != admin.ID {
		t.Fatalf("audit columns = %v %v, want %v", c.CreatedBy, c.UpdatedBy, admin.ID)
	}
	if n := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", c.SchemaName); n != 1 {
		t.Fatalf("schema %s missing", c.SchemaName)
	}
	if n := b.count(t, "SELECT version FROM public.tenancy_tenants WHERE tenant_id = $1", c.ID); n != int(b.db.Tenancy.LatestVersion()) {
		t.Fatalf("tenant version %d", n)
	}

	for _, ref := range []string{c.ID.String(), "Izmir Lab", "izmir LAB"} {
		got, err := b.st.Centers.Resolve(b.ctx, ref)
		if err != nil || got.ID != c.ID {
			t.Fatalf("Resolve(%q) = %v, %v", ref, got.ID, err)
		}
	}
	for ref, want := range map[string]string{"Izmr Lab": "Izmir Lab", "izmir": "Izmir Lab", "Ankara": ""} {
		_, err := b.st.Centers.Resolve(b.ctx, ref)
		var nf *domain.NotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, domain.ErrNotFound) || nf.Suggestion != want {
			t.Fatalf("Resolve(%q) = %v, want not found suggesting %q", ref, err, want)
		}
	}
	if _, err := b.st.Centers.Get(b.ctx, uuid.New()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get(unknown) = %v", err)
	}

	// Patch one field; Update all.
	desc := "moved inland"
	p, err := b.st.Centers.Patch(b.ctx, domain.System, c.ID, domain.CenterPatch{Description: &desc})
	if err != nil || p.Name != "Izmir Lab" || p.Description != desc || p.UpdatedBy != nil || *p.CreatedBy != admin.ID {
		t.Fatalf("Patch = %+v, %v", p, err)
	}
	u, err := b.st.Centers.Update(b.ctx, domain.System, c.ID, domain.CenterInput{Name: "Izmir Research",
		Settings: json.RawMessage(`{"sample_types": ["dna"]}`)})
	if err != nil || u.Name != "Izmir Research" || u.Description != "" || u.SchemaName != c.SchemaName || !u.UpdatedAt.After(c.UpdatedAt) {
		t.Fatalf("Update = %+v, %v", u, err)
	}
	if got := u.SampleTypes(); len(got) != 1 || got[0] != "dna" {
		t.Fatalf("SampleTypes = %v", got)
	}
	_, err = b.st.Centers.Patch(b.ctx, domain.System, uuid.New(), domain.CenterPatch{Description: &desc})
	wantNotFound(t, err)
	_, err = b.st.Centers.Patch(b.ctx, domain.System, c.ID, domain.CenterPatch{Name: ptr(""), Settings: ptr(json.RawMessage(`1`))})
	wantFields(t, err, "name", "settings")

	// JSON shape.
	raw, _ := json.Marshal(u)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for _, k := range []string{"id", "name", "schema_name", "description", "settings", "is_active", "created_at", "updated_at", "created_by", "updated_by"} {
		if _, ok := m[k]; !ok {
			t.Errorf("center JSON lacks %q: %s", k, raw)
		}
	}
	if _, ok := m["settings"].(map[string]any); !ok {
		t.Errorf("settings is not an object in JSON: %s", raw)
	}
}

func TestCenterList(t *testing.T) {
	b := setup(t)
	var ids []uuid.UUID
	for _, n := range []string{"delta", "Alpha", "charlie", "Bravo", "echo"} {
		ids = append(ids, b.center(t, n, "").ID)
	}
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, ids[4]); err != nil {
		t.Fatal(err)
	}
	names := func(cs []domain.Center) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Name)
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		opts  domain.ListOptions
		want  string
		total int
	}{
		{domain.ListOptions{}, "Alpha,Bravo,charlie,delta", 4},
		{domain.ListOptions{IncludeInactive: true}, "Alpha,Bravo,charlie,delta,echo", 5},
		{domain.ListOptions{Limit: 2, Offset: 1}, "Bravo,charlie", 4},
		{domain.ListOptions{Limit: 2, Offset: 10}, "", 4},
		{domain.ListOptions{IDs: []uuid.UUID{ids[0], ids[4]}}, "delta", 1},
		{domain.ListOptions{IDs: []uuid.UUID{}}, "", 0},
	}
	for _, tc := range cases {
		got, total, err := b.st.Centers.List(b.ctx, tc.opts)
		if err != nil || names(got) != tc.want || total != tc.total {
			t.Errorf("List(%+v) = %q, %d, %v; want %q, %d", tc.opts, names(got), total, err, tc.want, tc.total)
		}
	}
	_, _, err := b.st.Centers.List(b.ctx, domain.ListOptions{Limit: -1, Offset: -1})
	wantFields(t, err, "limit", "offset")
}

// A duplicate name fails in the creation hook, after the schema and its
// migrations: the whole transaction must roll back.
func TestCenterCreateConflictLeavesNothing(t *testing.T) {
	b := setup(t)
	b.center(t, "Istanbul Medical Center", "")
	_, err := b.st.Centers.Create(b.ctx, domain.System, domain.CenterInput{Name: "ISTANBUL medical center"})
	wantConflict(t, err, "name")
	if n := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'center\\_%'"); n != 1 {
		t.Fatalf("%d center schemas, want 1", n)
	}
	if n := b.count(t, "SELECT count(*) FROM public.tenancy_tenants"); n != 1 {
		t.Fatalf("%d ledger rows, want 1", n)
	}
	if n := b.count(t, "SELECT count(*) FROM public.centers"); n != 1 {
		t.Fatalf("%d centers, want 1", n)
	}
	// Renaming onto an existing name is a conflict too.
	other := b.center(t, "Other", "")
	_, err = b.st.Centers.Patch(b.ctx, domain.System, other.ID, domain.CenterPatch{Name: ptr("istanbul MEDICAL center")})
	wantConflict(t, err, "name")
}

func TestCenterDeleteRestoreHardDelete(t *testing.T) {
	b := setup(t)
	c := b.center(t, "Doomed", "")
	keep := b.center(t, "Kept", "")
	u := b.user(t, "member", &c.ID, domain.RoleUser)
	other := b.user(t, "other", &keep.ID, domain.RoleUser)
	s := b.sample(t, c, u, domain.SampleInput{Barcode: "B-1"})
	if _, _, err := b.st.Tokens.Create(b.ctx, domain.System, u.ID, "t", 0); err != nil {
		t.Fatal(err)
	}

	err := b.st.Centers.HardDelete(b.ctx, c.ID)
	if !errors.Is(err, domain.ErrActive) || !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("HardDelete(active) = %v, want ErrActive", err)
	}
	d, err := b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID)
	if err != nil || d.IsActive {
		t.Fatalf("SoftDelete = %+v, %v", d, err)
	}
	again, err := b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID)
	if err != nil || !again.UpdatedAt.Equal(d.UpdatedAt) {
		t.Fatalf("second SoftDelete rewrote the row: %v → %v, %v", d.UpdatedAt, again.UpdatedAt, err)
	}
	// A soft-deleted center's samples are not found, by every path.
	_, err = b.st.Samples.Get(b.ctx, c.ID, s.ID)
	wantNotFound(t, err)
	_, _, err = b.st.Samples.List(b.ctx, c.ID, domain.SampleFilter{})
	wantNotFound(t, err)
	_, err = b.st.Samples.Transition(b.ctx, c.ID, domain.By(u.ID), s.ID, domain.ActionProcess, false)
	wantNotFound(t, err)
	_, err = b.st.Samples.Create(b.ctx, c.ID, domain.By(u.ID), domain.SampleInput{Name: "x", SampleType: "blood", Barcode: "B-2"})
	wantNotFound(t, err)
	// Still visible to Get and to List with IncludeInactive.
	if got, err := b.st.Centers.Get(b.ctx, c.ID); err != nil || got.IsActive {
		t.Fatalf("Get(soft-deleted) = %+v, %v", got, err)
	}

	r, err := b.st.Centers.Restore(b.ctx, domain.System, c.ID)
	if err != nil || !r.IsActive {
		t.Fatalf("Restore = %+v, %v", r, err)
	}
	if _, err := b.st.Samples.Get(b.ctx, c.ID, s.ID); err != nil {
		t.Fatalf("sample after restore: %v", err)
	}

	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Centers.HardDelete(b.ctx, c.ID); err != nil {
		t.Fatalf("HardDelete: %v", err)
	}
	if n := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", c.SchemaName); n != 0 {
		t.Fatal("schema survived hard delete")
	}
	if n := b.count(t, "SELECT count(*) FROM public.centers WHERE id = $1", c.ID); n != 0 {
		t.Fatal("row survived hard delete")
	}
	if n := b.count(t, "SELECT count(*) FROM public.tenancy_tenants WHERE tenant_id = $1", c.ID); n != 0 {
		t.Fatal("ledger row survived hard delete")
	}
	if n := b.count(t, "SELECT count(*) FROM public.users"); n != 1 {
		t.Fatalf("%d users, want only the other center's", n)
	}
	if n := b.count(t, "SELECT count(*) FROM public.api_tokens"); n != 0 {
		t.Fatalf("%d tokens survived their user", n)
	}
	if _, err := b.st.Users.Get(b.ctx, other.ID); err != nil {
		t.Fatalf("other center's user: %v", err)
	}
	wantNotFound(t, b.st.Centers.HardDelete(b.ctx, c.ID))
	_, err = b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID)
	wantNotFound(t, err)
}

// TestSuggestionBounded: among 2,000 centers and 2,000 users a typo still
// gets the suggestion a comparison with every name would give, and the
// lookup reads at most domain.SuggestionCandidates names to find it.
func TestSuggestionBounded(t *testing.T) {
	b := setup(t)
	if _, err := b.db.Pool.Exec(b.ctx, `
INSERT INTO public.centers (name) SELECT format('Center %s', lpad(i::text, 4, '0')) FROM generate_series(1, 2000) i;
INSERT INTO public.users (username, email, is_superuser)
	SELECT format('user%s', lpad(i::text, 4, '0')), format('u%s@example.com', i), true FROM generate_series(1, 2000) i`); err != nil {
		t.Fatalf("insert the fleet: %v", err)
	}
	every := func(q string) []string {
		t.Helper()
		rows, err := b.db.Pool.Query(b.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	centers := every("SELECT name FROM public.centers ORDER BY is_active DESC, lower(name)")
	users := every("SELECT username FROM public.users ORDER BY is_active DESC, username")
	for _, c := range []struct {
		lookup func(context.Context, *domain.Store, string) (string, int, error)
		names  []string
		key    string
		want   string
	}{
		{domain.SuggestCenter, centers, "Centr 1234", "Center 1234"},
		{domain.SuggestCenter, centers, "enter 0042", "Center 0042"},
		{domain.SuggestCenter, centers, "Cetner 0500", "Center 0500"},
		{domain.SuggestCenter, centers, "center 07", "Center 0700"},
		{domain.SuggestCenter, centers, "Center 1999x", "Center 1999"},
		{domain.SuggestCenter, centers, "Laboratory", ""},
		{domain.SuggestUser, users, "usr0042", "user0042"},
		{domain.SuggestUser, users, "USER1500", "user1500"},
		{domain.SuggestUser, users, "user19", "user1900"},
		{domain.SuggestUser, users, "admin", ""},
	} {
		got, read, err := c.lookup(b.ctx, b.st, c.key)
		if err != nil || got != c.want || read > domain.SuggestionCandidates {
			t.Errorf("suggestion for %q = %q from %d candidates, %v; want %q from at most %d",
				c.key, got, read, err, c.want, domain.SuggestionCandidates)
		}
		if all := domain.Suggest(c.key, c.names); all != got {
			t.Errorf("suggestion for %q = %q, but among all %d names it is %q", c.key, got, len(c.names), all)
		}
	}
	_, err := b.st.Centers.Resolve(b.ctx, "Centr 1234")
	var nf *domain.NotFoundError
	if !errors.As(err, &nf) || nf.Suggestion != "Center 1234" {
		t.Fatalf("Resolve(Centr 1234) = %v, want a suggestion of Center 1234", err)
	}
	_, err = b.st.Users.Resolve(b.ctx, "usr0042")
	if !errors.As(err, &nf) || nf.Suggestion != "user0042" {
		t.Fatalf("Resolve(usr0042) = %v, want a suggestion of user0042", err)
	}
}

// TestSuggestionNonASCII: a typo of a name in non-ASCII capitals gets its
// suggestion in a database whose locale is C, where PostgreSQL's lower()
// folds only ASCII and Go's strings.ToLower folds more.
func TestSuggestionNonASCII(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin := tenancytest.Pool(t)
	name := admin.Config().ConnConfig.Database + "_c_" + strings.ToLower(rand.Text()[:8])
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	url, err := pgcluster.WithDatabase(tenancytest.DatabaseURL(t), name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pool := tenancytest.PoolWithConfig(t, cfg)
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigratePublic(ctx, pool, m); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO public.centers (name) VALUES ('İZMİR'), ('ÜMRANİYE')`); err != nil {
		t.Fatal(err)
	}
	st := domain.New(pool, m)
	for key, want := range map[string]string{"İZMİRX": "İZMİR", "ÜMRANİYEX": "ÜMRANİYE", "ÜMRANİY": "ÜMRANİYE", "İSTANBUL": ""} {
		if got, _, err := domain.SuggestCenter(ctx, st, key); err != nil || got != want {
			t.Errorf("suggestion for %q = %q, %v; want %q", key, got, err, want)
		}
	}
}
