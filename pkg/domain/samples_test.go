package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func TestSampleValidation(t *testing.T) {
	b := setup(t)
	lab := b.center(t, "Lab", `{"sample_types": ["dna", "rna"]}`)
	other := b.center(t, "Other", "")
	u := b.user(t, "alice", &lab.ID, domain.RoleUser)
	stranger := b.user(t, "stranger", &other.ID, domain.RoleUser)
	gone := b.user(t, "gone", &lab.ID, domain.RoleUser)
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, gone.ID); err != nil {
		t.Fatal(err)
	}
	ok := func(mod func(*domain.SampleInput)) domain.SampleInput {
		in := domain.SampleInput{Name: "s", SampleType: "dna", Barcode: "B-1"}
		mod(&in)
		return in
	}
	cases := []struct {
		name   string
		in     domain.SampleInput
		fields []string
	}{
		{"empty name", ok(func(in *domain.SampleInput) { in.Name = "" }), []string{"name"}},
		{"long name", ok(func(in *domain.SampleInput) { in.Name = strings.Repeat("n", 201) }), []string{"name"}},
		{"type not of center", ok(func(in *domain.SampleInput) { in.SampleType = "blood" }), []string{"sample_type"}},
		{"type empty", ok(func(in *domain.SampleInput) { in.SampleType = "" }), []string{"sample_type"}},
		{"barcode long", ok(func(in *domain.SampleInput) { in.Barcode = strings.Repeat("b", 65) }), []string{"barcode"}},
		{"barcode empty", ok(func(in *domain.SampleInput) { in.Barcode = "" }), []string{"barcode"}},
		{"barcode NUL", ok(func(in *domain.SampleInput) { in.Barcode = "B\x00" }), []string{"barcode"}},
		{"description invalid UTF-8", ok(func(in *domain.SampleInput) { in.Description = "\xff" }), []string{"description"}},
		{"metadata not object", ok(func(in *domain.SampleInput) { in.Metadata = json.RawMessage(`[]`) }), []string{"metadata"}},
		{"metadata NUL", ok(func(in *domain.SampleInput) { in.Metadata = json.RawMessage(`{"k": ["\u0000"]}`) }), []string{"metadata"}},
		{"metadata invalid UTF-8", ok(func(in *domain.SampleInput) { in.Metadata = json.RawMessage("{\"k\": \"\xff\"}") }), []string{"metadata"}},
		{"user of another center", ok(func(in *domain.SampleInput) { in.UserID = &stranger.ID }), []string{"user_id"}},
		{"inactive user", ok(func(in *domain.SampleInput) { in.UserID = &gone.ID }), []string{"user_id"}},
		{"unknown user", ok(func(in *domain.SampleInput) { in.UserID = ptr(uuid.New()) }), []string{"user_id"}},
		{"everything", domain.SampleInput{Name: "\x00", SampleType: "blood", Barcode: "", UserID: &stranger.ID, Metadata: json.RawMessage(`1`)},
			[]string{"name", "sample_type", "barcode", "user_id", "metadata"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.st.Samples.Create(b.ctx, lab.ID, domain.By(u.ID), tc.in)
			wantFields(t, err, tc.fields...)
		})
	}
	// The system actor has nobody to default user_id to.
	_, err := b.st.Samples.Create(b.ctx, lab.ID, domain.System, ok(func(*domain.SampleInput) {}))
	wantFields(t, err, "user_id")
	// Unknown center.
	_, err = b.st.Samples.Create(b.ctx, uuid.New(), domain.By(u.ID), ok(func(*domain.SampleInput) {}))
	wantNotFound(t, err)

	s, err := b.st.Samples.Create(b.ctx, lab.ID, domain.By(u.ID), ok(func(*domain.SampleInput) {}))
	if err != nil || s.UserID != u.ID || s.Status != domain.StatusPending || string(s.Metadata) != "{}" || *s.CreatedBy != u.ID {
		t.Fatalf("Create = %+v, %v", s, err)
	}
	// The default types apply to a center without sample_types.
	if _, err := b.st.Samples.Create(b.ctx, other.ID, domain.By(stranger.ID), domain.SampleInput{Name: "s", SampleType: "swab", Barcode: "B-1"}); err != nil {
		t.Fatalf("default type: %v", err)
	}

	// Narrowing a center's types leaves older samples editable.
	if _, err := b.st.Centers.Patch(b.ctx, domain.System, lab.ID, domain.CenterPatch{Settings: ptr(json.RawMessage(`{"sample_types": ["rna"]}`))}); err != nil {
		t.Fatal(err)
	}
	p, err := b.st.Samples.Patch(b.ctx, lab.ID, domain.System, s.ID, domain.SamplePatch{Name: ptr("renamed"), SampleType: ptr("dna")})
	if err != nil || p.Name != "renamed" || p.SampleType != "dna" || p.UpdatedBy != nil {
		t.Fatalf("Patch = %+v, %v", p, err)
	}
	_, err = b.st.Samples.Patch(b.ctx, lab.ID, domain.System, s.ID, domain.SamplePatch{SampleType: ptr("blood"), UserID: &stranger.ID})
	wantFields(t, err, "sample_type", "user_id")
	_, err = b.st.Samples.Patch(b.ctx, lab.ID, domain.System, uuid.New(), domain.SamplePatch{Name: ptr("x")})
	wantNotFound(t, err)
	up, err := b.st.Samples.Update(b.ctx, lab.ID, domain.By(u.ID), s.ID, domain.SampleInput{Name: "full", SampleType: "rna", Barcode: "B-9",
		Metadata: json.RawMessage(`{"a": 1}`)})
	if err != nil || up.Name != "full" || up.Barcode != "B-9" || up.Description != "" || up.UserID != u.ID || up.Status != domain.StatusPending {
		t.Fatalf("Update = %+v, %v", up, err)
	}
	var meta map[string]any
	if json.Unmarshal(up.Metadata, &meta) != nil || meta["a"] != 1.0 {
		t.Fatalf("metadata = %s", up.Metadata)
	}
	// Soft delete hides from lists, not from Get; restore brings it back.
	d, err := b.st.Samples.SoftDelete(b.ctx, lab.ID, domain.By(u.ID), s.ID)
	if err != nil || d.IsActive {
		t.Fatalf("SoftDelete = %+v, %v", d, err)
	}
	if _, total, _ := b.st.Samples.List(b.ctx, lab.ID, domain.SampleFilter{}); total != 0 {
		t.Fatalf("soft-deleted sample listed")
	}
	if g, err := b.st.Samples.Get(b.ctx, lab.ID, s.ID); err != nil || g.IsActive {
		t.Fatalf("Get(soft-deleted) = %+v, %v", g, err)
	}
	if r, err := b.st.Samples.Restore(b.ctx, lab.ID, domain.System, s.ID); err != nil || !r.IsActive {
		t.Fatalf("Restore = %+v, %v", r, err)
	}
}

func TestSampleBarcodeUniquePerTenant(t *testing.T) {
	b := setup(t)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	u1, u2 := b.user(t, "u1", &c1.ID, domain.RoleUser), b.user(t, "u2", &c2.ID, domain.RoleUser)
	s := b.sample(t, c1, u1, domain.SampleInput{Barcode: "SAME"})
	_, err := b.st.Samples.Create(b.ctx, c1.ID, domain.By(u1.ID), domain.SampleInput{Name: "n", SampleType: "blood", Barcode: "SAME"})
	wantConflict(t, err, "barcode")
	other := b.sample(t, c2, u2, domain.SampleInput{Barcode: "SAME"})
	// Each tenant sees its own.
	for _, tc := range []struct {
		c    domain.Center
		want uuid.UUID
	}{{c1, s.ID}, {c2, other.ID}} {
		got, err := b.st.Samples.GetByBarcode(b.ctx, tc.c.ID, "SAME")
		if err != nil || got.ID != tc.want {
			t.Fatalf("GetByBarcode in %s = %v, %v", tc.c.Name, got.ID, err)
		}
	}
	_, err = b.st.Samples.GetByBarcode(b.ctx, c1.ID, "NOPE")
	wantNotFound(t, err)
	_, err = b.st.Samples.Get(b.ctx, c2.ID, s.ID)
	wantNotFound(t, err)
	s2 := b.sample(t, c1, u1, domain.SampleInput{Barcode: "OTHER"})
	_, err = b.st.Samples.Patch(b.ctx, c1.ID, domain.System, s2.ID, domain.SamplePatch{Barcode: ptr("SAME")})
	wantConflict(t, err, "barcode")
}

func TestSampleTransitions(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	u := b.user(t, "u", &c.ID, domain.RoleUser)
	want := map[domain.Action]map[domain.Status]domain.Status{
		domain.ActionProcess:  {domain.StatusPending: domain.StatusProcessing},
		domain.ActionComplete: {domain.StatusProcessing: domain.StatusCompleted},
		domain.ActionReject:   {domain.StatusPending: domain.StatusRejected, domain.StatusProcessing: domain.StatusRejected},
		domain.ActionArchive:  {domain.StatusCompleted: domain.StatusArchived, domain.StatusRejected: domain.StatusArchived},
	}
	n := 0
	for _, action := range domain.Actions {
		for _, from := range domain.Statuses {
			n++
			s := b.sample(t, c, u, domain.SampleInput{Barcode: fmt.Sprintf("T-%d", n)})
			b.setStatus(t, c, s.ID, from)
			got, err := b.st.Samples.Transition(b.ctx, c.ID, domain.By(u.ID), s.ID, action, false)
			to, allowed := want[action][from]
			if allowed {
				if err != nil || got.Status != to || *got.UpdatedBy != u.ID {
					t.Errorf("%s from %s = %v, %v; want %s", action, from, got.Status, err, to)
				}
				continue
			}
			var te *domain.TransitionError
			if !errors.As(err, &te) || !errors.Is(err, domain.ErrConflict) || te.From != from || te.Action != action {
				t.Errorf("%s from %s = %v, want TransitionError", action, from, err)
			}
			if cur, _ := b.st.Samples.Get(b.ctx, c.ID, s.ID); cur.Status != from {
				t.Errorf("%s from %s changed the status to %s", action, from, cur.Status)
			}
		}
	}
	if _, ok := domain.ActionArchive.Allows(domain.StatusPending); ok {
		t.Error("Allows(archive, pending)")
	}
	_, err := b.st.Samples.Transition(b.ctx, c.ID, domain.System, uuid.New(), domain.ActionProcess, false)
	wantNotFound(t, err)
	_, err = b.st.Samples.Transition(b.ctx, c.ID, domain.System, uuid.New(), "explode", false)
	wantFields(t, err, "action")
}

// TestTransitionActiveOnly: with activeOnly a soft-deleted sample is not
// found and keeps its status, pending or in a status the action does not
// start from; without, it moves.
func TestTransitionActiveOnly(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	u := b.user(t, "u", &c.ID, domain.RoleUser)
	for i, from := range []domain.Status{domain.StatusPending, domain.StatusCompleted} {
		s := b.sample(t, c, u, domain.SampleInput{Barcode: fmt.Sprintf("H-%d", i)})
		b.setStatus(t, c, s.ID, from)
		if _, err := b.st.Samples.SoftDelete(b.ctx, c.ID, domain.System, s.ID); err != nil {
			t.Fatal(err)
		}
		_, err := b.st.Samples.Transition(b.ctx, c.ID, domain.By(u.ID), s.ID, domain.ActionProcess, true)
		wantNotFound(t, err)
		if cur, _ := b.st.Samples.Get(b.ctx, c.ID, s.ID); cur.Status != from {
			t.Errorf("a hidden %s sample moved to %s", from, cur.Status)
		}
	}
	hidden, err := b.st.Samples.GetByBarcode(b.ctx, c.ID, "H-0")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.st.Samples.Transition(b.ctx, c.ID, domain.By(u.ID), hidden.ID, domain.ActionProcess, false); err != nil || got.Status != domain.StatusProcessing {
		t.Errorf("process of a soft-deleted sample without activeOnly = %v, %v", got.Status, err)
	}
	visible := b.sample(t, c, u, domain.SampleInput{Barcode: "V-1"})
	if got, err := b.st.Samples.Transition(b.ctx, c.ID, domain.By(u.ID), visible.ID, domain.ActionProcess, true); err != nil || got.Status != domain.StatusProcessing {
		t.Errorf("process of an active sample with activeOnly = %v, %v", got.Status, err)
	}
}

func TestSampleList(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	u1, u2 := b.user(t, "u1", &c.ID, domain.RoleUser), b.user(t, "u2", &c.ID, domain.RoleUser)
	mk := func(barcode, name, typ, desc string, u domain.User) domain.Sample {
		return b.sample(t, c, u, domain.SampleInput{Barcode: barcode, Name: name, SampleType: typ, Description: desc})
	}
	a := mk("A-1", "alpha", "blood", "50% done", u1)
	bb := mk("B-2", "bravo", "urine", "plain", u1)
	cc := mk("C_3", "charlie", "blood", `back\slash`, u2)
	d := mk("D-4", "delta 100%", "tissue", "", u2)
	e := mk("E-5", "echo", "blood", "x", u1)
	b.setStatus(t, c, bb.ID, domain.StatusProcessing)
	if _, err := b.st.Samples.SoftDelete(b.ctx, c.ID, domain.System, e.ID); err != nil {
		t.Fatal(err)
	}
	// created_at is the transaction time; spread them so -created_at is
	// a known order: a oldest, d newest.
	for i, s := range []domain.Sample{a, bb, cc, d, e} {
		_ = b.db.Tenancy.InTenant(b.ctx, c.ID, func(tx pgx.Tx) error {
			_, err := tx.Exec(b.ctx, "UPDATE samples SET created_at = now() - make_interval(mins => $2) WHERE id = $1", s.ID, 10-i)
			return err
		})
	}
	codes := func(ss []domain.Sample) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Barcode)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		f     domain.SampleFilter
		want  string
		total int
	}{
		{domain.SampleFilter{}, "D-4,C_3,B-2,A-1", 4},
		{domain.SampleFilter{IncludeInactive: true}, "E-5,D-4,C_3,B-2,A-1", 5},
		{domain.SampleFilter{Ordering: "created_at"}, "A-1,B-2,C_3,D-4", 4},
		{domain.SampleFilter{Ordering: "-name"}, "D-4,C_3,B-2,A-1", 4},
		{domain.SampleFilter{Ordering: "status,barcode"}, "A-1,C_3,D-4,B-2", 4},
		{domain.SampleFilter{Ordering: "-barcode", Limit: 2}, "D-4,C_3", 4},
		{domain.SampleFilter{Ordering: "barcode", Limit: 2, Offset: 2}, "C_3,D-4", 4},
		{domain.SampleFilter{Offset: 100}, "", 4},
		{domain.SampleFilter{SampleType: "blood"}, "C_3,A-1", 2},
		{domain.SampleFilter{Status: domain.StatusProcessing}, "B-2", 1},
		{domain.SampleFilter{UserID: &u2.ID}, "D-4,C_3", 2},
		{domain.SampleFilter{UserID: &u2.ID, SampleType: "blood", Offset: 5}, "", 1},
		{domain.SampleFilter{Search: "%"}, "D-4,A-1", 2},
		{domain.SampleFilter{Search: "_"}, "C_3", 1},
		{domain.SampleFilter{Search: `\`}, "C_3", 1},
		{domain.SampleFilter{Search: "BRAVO"}, "B-2", 1},
		{domain.SampleFilter{Search: "b-"}, "B-2", 1},
		{domain.SampleFilter{Search: "plain"}, "B-2", 1},
		{domain.SampleFilter{Search: "zzz"}, "", 0},
	}
	for _, tc := range cases {
		got, total, err := b.st.Samples.List(b.ctx, c.ID, tc.f)
		if err != nil || codes(got) != tc.want || total != tc.total {
			t.Errorf("List(%+v) = %q, %d, %v; want %q, %d", tc.f, codes(got), total, err, tc.want, tc.total)
		}
	}
	_, _, err := b.st.Samples.List(b.ctx, c.ID, domain.SampleFilter{Ordering: "name; DROP TABLE samples", Status: "lost", Limit: -1})
	wantFields(t, err, "ordering", "status", "limit")
	_, _, err = b.st.Samples.List(b.ctx, c.ID, domain.SampleFilter{Search: "\x00"})
	wantFields(t, err, "search")
}

func TestStats(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	other := b.center(t, "Other", "")
	admin := b.user(t, "admin1", &c.ID, domain.RoleAdmin)
	u := b.user(t, "user1", &c.ID, domain.RoleUser)
	b.user(t, "user2", &c.ID, domain.RoleUser)
	gone := b.user(t, "gone", &c.ID, domain.RoleViewer)
	b.user(t, "elsewhere", &other.ID, domain.RoleViewer)
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, gone.ID); err != nil {
		t.Fatal(err)
	}
	for i, spec := range []struct {
		typ    string
		status domain.Status
	}{{"blood", domain.StatusPending}, {"blood", domain.StatusCompleted}, {"urine", domain.StatusCompleted}, {"swab", domain.StatusRejected}} {
		s := b.sample(t, c, u, domain.SampleInput{Barcode: fmt.Sprint("S", i), SampleType: spec.typ})
		b.setStatus(t, c, s.ID, spec.status)
	}
	del := b.sample(t, c, admin, domain.SampleInput{Barcode: "DEL", SampleType: "tissue"})
	if _, err := b.st.Samples.SoftDelete(b.ctx, c.ID, domain.System, del.ID); err != nil {
		t.Fatal(err)
	}
	st, err := b.st.Stats(b.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Center.ID != c.ID || st.Schema.Name != c.SchemaName || st.Schema.MigrationVersion != b.db.Tenancy.LatestVersion() || st.Schema.SizeBytes <= 0 {
		t.Fatalf("center/schema = %+v %+v", st.Center.Name, st.Schema)
	}
	wantJSON := `{"total":4,"by_status":{"archived":0,"completed":2,"pending":1,"processing":0,"rejected":1},"by_type":{"blood":2,"swab":1,"urine":1}}`
	if raw, _ := json.Marshal(st.Samples); string(raw) != wantJSON {
		t.Errorf("samples = %s\nwant      %s", raw, wantJSON)
	}
	wantJSON = `{"total":3,"by_role":{"admin":1,"user":2,"viewer":0}}`
	if raw, _ := json.Marshal(st.Users); string(raw) != wantJSON {
		t.Errorf("users = %s\nwant    %s", raw, wantJSON)
	}
	raw, _ := json.Marshal(st)
	var m map[string]map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m["schema"]["migration_version"] == nil || m["schema"]["size_bytes"] == nil || m["center"]["name"] != "C" {
		t.Errorf("stats JSON = %s", raw)
	}
	empty, err := b.st.Stats(b.ctx, other.ID)
	if err != nil || empty.Samples.Total != 0 || len(empty.Samples.ByStatus) != 5 || empty.Users.Total != 1 {
		t.Fatalf("other's stats = %+v, %v", empty, err)
	}
	_, err = b.st.Stats(b.ctx, uuid.New())
	wantNotFound(t, err)
}

func TestSeedIdempotent(t *testing.T) {
	b := setup(t)
	counts := func() [4]int {
		return [4]int{
			b.count(t, "SELECT count(*) FROM public.centers"),
			b.count(t, "SELECT count(*) FROM public.users"),
			b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'center\\_%'"),
			b.count(t, "SELECT count(*) FROM public.tenancy_tenants"),
		}
	}
	first, err := b.st.Seed(b.ctx, domain.SeedOptions{AdminPassword: "operator password"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Centers.Created != 2 || first.Users.Created != 7 || first.Samples.Created != 16 ||
		first.Centers.Existing+first.Users.Existing+first.Samples.Existing != 0 {
		t.Fatalf("first seed = %+v", first)
	}
	before := counts()
	second, err := b.st.Seed(b.ctx, domain.SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Centers.Existing != 2 || second.Users.Existing != 7 || second.Samples.Existing != 16 ||
		second.Centers.Created+second.Users.Created+second.Samples.Created != 0 {
		t.Fatalf("second seed = %+v", second)
	}
	if after := counts(); after != before {
		t.Fatalf("counts changed: %v → %v", before, after)
	}
	if _, err := b.st.Users.Authenticate(b.ctx, "admin", "operator password"); err != nil {
		t.Fatalf("seeded superuser: %v", err)
	}
	for _, name := range []string{"Istanbul Medical Center", "Ankara Research Lab"} {
		c, err := b.st.Centers.GetByName(b.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		st, err := b.st.Stats(b.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Samples.Total != 8 || st.Users.Total != 3 || len(st.Samples.ByType) < 5 {
			t.Fatalf("%s stats = %+v", name, st)
		}
		for status, n := range st.Samples.ByStatus {
			if n == 0 {
				t.Errorf("%s has no %s sample", name, status)
			}
		}
		// Every seeded sample's type is valid for its center and its user
		// a member: editing one through the domain succeeds.
		list, _, err := b.st.Samples.List(b.ctx, c.ID, domain.SampleFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if _, err := b.st.Samples.Update(b.ctx, c.ID, domain.System, s.ID, domain.SampleInput{
				Name: s.Name, Description: s.Description, SampleType: s.SampleType, Barcode: s.Barcode, Metadata: s.Metadata}); err != nil {
				t.Errorf("seeded sample %s does not validate: %v", s.Barcode, err)
			}
		}
	}
}

// TestParseStatus: every status parses; anything else is a
// *ValidationError on "status" that lists the statuses and echoes at most
// 64 characters of what was given.
func TestParseStatus(t *testing.T) {
	t.Parallel()
	for _, s := range domain.Statuses {
		if got, err := domain.ParseStatus(string(s)); got != s || err != nil {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "lost", "PENDING", "pending ", strings.Repeat("é", 1000)} {
		got, err := domain.ParseStatus(s)
		ve := wantFields(t, err, "status")
		msg := ve.Fields["status"][0]
		if got != "" || !strings.Contains(msg, "pending, processing, completed, rejected, archived") ||
			utf8.RuneCountInString(msg) > 64+80 || !utf8.ValidString(msg) {
			t.Errorf("ParseStatus(%.20q) = %q, %q", s, got, msg)
		}
	}
}
