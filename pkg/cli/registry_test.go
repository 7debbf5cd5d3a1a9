package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// seededDB is a test database with the demo data, and the domain over it
// for checking what the commands did.
type seededDB struct {
	*testdb.DB
	st *domain.Store
}

func newSeeded(t *testing.T) seededDB {
	t.Helper()
	d := testdb.New(t)
	st := domain.New(d.Pool, d.Tenancy)
	if _, err := st.Seed(t.Context(), domain.SeedOptions{}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return seededDB{d, st}
}

// run runs tenantctl against the database.
func (d seededDB) run(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, append([]string{"--database-url", d.URL}, args...)...)
}

func (d seededDB) runWith(t *testing.T, inv invocation, args ...string) result {
	t.Helper()
	return runWith(t, inv, append([]string{"--database-url", d.URL}, args...)...)
}

func (d seededDB) center(t *testing.T, ref string) domain.Center {
	t.Helper()
	c, err := d.st.Centers.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatalf("center %s: %v", ref, err)
	}
	return c
}

func (d seededDB) user(t *testing.T, ref string) domain.User {
	t.Helper()
	u, err := d.st.Users.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatalf("user %s: %v", ref, err)
	}
	return u
}

func (d seededDB) countCenters(t *testing.T) int {
	t.Helper()
	var n int
	if err := d.Pool.QueryRow(t.Context(), "SELECT count(*) FROM public.centers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (d seededDB) schemaExists(t *testing.T, schema string) bool {
	t.Helper()
	var ok bool
	err := d.Pool.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

const (
	istanbul = "Istanbul Medical Center"
	ankara   = "Ankara Research Lab"
)

func TestCenterCreateListGetUpdate(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)

	r := d.run(t, "center", "create", "Izmir Genomics", "--description", "Sequencing core",
		"--settings", `{"city": "Izmir", "sample_types": ["blood", "dna"]}`, "-o", "json")
	r.wantCode(t, ExitOK)
	c := decodeJSON[centerDoc](t, r.stdout)
	if c.Name != "Izmir Genomics" || c.Description != "Sequencing core" || !c.IsActive ||
		c.SchemaName != d.Tenancy.SchemaName(c.ID) || !slices.Equal(c.SampleTypes(), []string{"blood", "dna"}) ||
		c.CreatedBy != nil {
		t.Errorf("created center %+v", c)
	}
	if !d.schemaExists(t, c.SchemaName) {
		t.Errorf("schema %s not created", c.SchemaName)
	}

	// Table: the record's fields.
	r = d.run(t, "center", "create", "Bursa Lab")
	r.wantCode(t, ExitOK)
	for _, want := range []string{"FIELD", "NAME          Bursa Lab", "SCHEMA        center_", "ACTIVE        yes"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("create table lacks %q:\n%s", want, r.stdout)
		}
	}

	// Names are unique case-insensitively.
	r = d.run(t, "center", "create", "izmir genomics")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "conflict: name: a center with this name already exists")

	// A name that fails validation.
	r = d.run(t, "center", "create", " padded ")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "invalid input: name: ")
	if n := d.countCenters(t); n != 4 {
		t.Errorf("%d centers, want 4", n)
	}

	// List: JSON {"count", "results"}, by name; the table's columns.
	r = d.run(t, "center", "list", "-o", "json")
	r.wantCode(t, ExitOK)
	l := decodeJSON[centerList](t, r.stdout)
	var names []string
	for _, c := range l.Results {
		names = append(names, c.Name)
	}
	if l.Count != 4 || !slices.Equal(names, []string{ankara, "Bursa Lab", istanbul, "Izmir Genomics"}) {
		t.Errorf("list: count %d, names %v", l.Count, names)
	}
	r = d.run(t, "center", "list")
	r.wantCode(t, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAME SCHEMA ACTIVE CREATED" ||
		!strings.Contains(lines[1], ankara) || !strings.Contains(lines[1], d.center(t, ankara).ID.String()) {
		t.Errorf("list table:\n%s", r.stdout)
	}
	r = d.run(t, "center", "list", "--limit", "1", "--offset", "1", "-o", "yaml")
	r.wantCode(t, ExitOK)
	if !strings.HasPrefix(r.stdout, "count: 4\nresults:\n  - id: ") || !strings.Contains(r.stdout, "name: Bursa Lab") ||
		strings.Contains(r.stdout, istanbul) {
		t.Errorf("paged yaml list:\n%s", r.stdout)
	}
	r = d.run(t, "center", "list", "--limit", "2")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stderr, "showing centers 1-2 of 4; see more with --offset 2") {
		t.Errorf("no paging note on stderr: %q", r.stderr)
	}

	// Get by name (any case) and by id.
	ist := d.center(t, istanbul)
	for _, ref := range []string{"istanbul MEDICAL center", ist.ID.String()} {
		r = d.run(t, "center", "get", ref, "-o", "json")
		r.wantCode(t, ExitOK)
		if got := decodeJSON[centerDoc](t, r.stdout); got.ID != ist.ID || got.Name != istanbul {
			t.Errorf("get %q: %+v", ref, got)
		}
	}

	// Update changes only the flags given.
	r = d.run(t, "center", "update", "Izmir Genomics", "--description", "", "-o", "json")
	r.wantCode(t, ExitOK)
	got := decodeJSON[centerDoc](t, r.stdout)
	if got.Description != "" || got.Name != "Izmir Genomics" || !slices.Equal(got.SampleTypes(), []string{"blood", "dna"}) {
		t.Errorf("after description update: %+v", got)
	}
	r = d.run(t, "center", "update", c.ID.String(), "--name", "Izmir Genomics Center", "--settings", "{}", "-o", "json")
	r.wantCode(t, ExitOK)
	got = decodeJSON[centerDoc](t, r.stdout)
	if got.Name != "Izmir Genomics Center" || string(got.Settings) != "{}" || got.SchemaName != c.SchemaName {
		t.Errorf("after name and settings update: %+v", got)
	}
	r = d.run(t, "center", "update", "Izmir Genomics Center")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, "nothing to update")
	r = d.run(t, "center", "update", "Izmir Genomics Center", "--name", ankara)
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "conflict: name:")
}

func TestCenterBadSettings(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	before := d.countCenters(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"sample_types": ["dna"]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		settings string
		want     string
	}{
		{`{"city": `, "invalid --settings: not valid JSON"},
		{`{city: 1}`, "invalid --settings: not valid JSON"},
		{`[1, 2]`, "invalid --settings: want a JSON object"},
		{`"text"`, "invalid --settings: want a JSON object"},
		{`null`, "invalid --settings: want a JSON object"},
		{"@" + filepath.Join(dir, "missing.json"), "invalid --settings: open "},
	} {
		r := d.run(t, "center", "create", "Izmir Genomics", "--settings", tc.settings)
		r.wantCode(t, ExitUsage)
		r.wantOneLineError(t, true, tc.want)
		r = d.run(t, "center", "update", istanbul, "--settings", tc.settings)
		r.wantCode(t, ExitUsage)
		r.wantOneLineError(t, true, tc.want)
	}
	if n := d.countCenters(t); n != before {
		t.Errorf("%d centers after refused creates, want %d", n, before)
	}
	if s := string(d.center(t, istanbul).Settings); !strings.Contains(s, "Istanbul") {
		t.Errorf("settings changed by a refused update: %s", s)
	}

	// The domain's own rules on settings are input errors too.
	r := d.run(t, "center", "create", "Izmir Genomics", "--settings", `{"sample_types": []}`)
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "invalid input: settings")

	r = d.run(t, "center", "create", "Izmir Genomics", "--settings", "@"+good, "-o", "json")
	r.wantCode(t, ExitOK)
	if c := decodeJSON[centerDoc](t, r.stdout); !slices.Equal(c.SampleTypes(), []string{"dna"}) {
		t.Errorf("settings from @file: %s", c.Settings)
	}
}

func TestCenterDeleteRestoreHardDelete(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	ank := d.center(t, ankara)

	// An active center cannot be hard-deleted.
	r := d.run(t, "center", "hard-delete", ankara, "--yes")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `center "Ankara Research Lab" is active; soft-delete it first: tenantctl center delete 'Ankara Research Lab'`)

	r = d.run(t, "center", "delete", "ankara research lab", "-o", "json")
	r.wantCode(t, ExitOK)
	if c := decodeJSON[centerDoc](t, r.stdout); c.ID != ank.ID || c.IsActive {
		t.Errorf("deleted center %+v", c)
	}
	r = d.run(t, "center", "list", "-o", "json")
	if l := decodeJSON[centerList](t, r.stdout); l.Count != 1 || l.Results[0].Name != istanbul {
		t.Errorf("list after delete: %+v", l)
	}
	r = d.run(t, "center", "list", "--include-inactive", "-o", "json")
	if l := decodeJSON[centerList](t, r.stdout); l.Count != 2 {
		t.Errorf("list --include-inactive after delete: %+v", l)
	}
	// Its samples are out of reach, with a way back.
	r = d.run(t, "sample", "list", ankara)
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "is deleted; restore it first: tenantctl center restore 'Ankara Research Lab'")

	r = d.run(t, "center", "restore", ankara, "-o", "json")
	r.wantCode(t, ExitOK)
	if c := decodeJSON[centerDoc](t, r.stdout); !c.IsActive {
		t.Errorf("restored center %+v", c)
	}
	r = d.run(t, "center", "delete", ankara)
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stderr, "undo with: tenantctl center restore 'Ankara Research Lab'") {
		t.Errorf("no undo note: %q", r.stderr)
	}

	// Not a terminal, no --yes: refused, nothing deleted.
	r = d.run(t, "center", "hard-delete", ankara)
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "stdin is not a terminal", "pass --yes")
	if r.stdout != "" {
		t.Errorf("stdout not empty: %q", r.stdout)
	}
	// On a terminal, anything but yes declines.
	r = d.runWith(t, invocation{stdin: "n\n", stdinTerminal: true}, "center", "hard-delete", ankara)
	r.wantCode(t, ExitFailure)
	if !strings.Contains(r.stderr, `Delete center "Ankara Research Lab" and its schema `+ank.SchemaName+` with 8 samples and 3 users for good? [y/N]`) ||
		!strings.HasSuffix(r.stderr, "tenantctl: aborted: not confirmed\n") {
		t.Errorf("prompt: %q", r.stderr)
	}
	if d.countCenters(t) != 2 || !d.schemaExists(t, ank.SchemaName) {
		t.Fatal("a refused hard-delete deleted something")
	}

	r = d.runWith(t, invocation{stdin: "yes\n", stdinTerminal: true}, "center", "hard-delete", ank.ID.String(), "-o", "json")
	r.wantCode(t, ExitOK)
	if got := decodeJSON[hardDeleteResult](t, r.stdout); !got.Deleted || got.Name != ankara || got.Schema != ank.SchemaName {
		t.Errorf("hard-delete result %+v", got)
	}
	if d.countCenters(t) != 1 || d.schemaExists(t, ank.SchemaName) {
		t.Error("center or schema still there after hard-delete")
	}
	if _, err := d.st.Users.GetByUsername(t.Context(), "ankara_admin"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("member survived the hard delete: %v", err)
	}
	r = d.run(t, "center", "hard-delete", ankara, "--yes")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `center "Ankara Research Lab" not found`)
}

func TestCenterStats(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	ist := d.center(t, istanbul)

	r := d.run(t, "center", "stats", "istanbul medical center", "-o", "json")
	r.wantCode(t, ExitOK)
	s := decodeJSON[statsDoc](t, r.stdout)
	if s.Center.ID != ist.ID || s.Samples.Total != 8 || s.Samples.ByStatus[domain.StatusPending] != 3 ||
		s.Samples.ByType["blood"] != 2 || s.Users.Total != 3 || s.Users.ByRole[domain.RoleViewer] != 1 ||
		s.Schema.Name != ist.SchemaName || s.Schema.MigrationVersion != latest || s.Schema.SizeBytes <= 0 {
		t.Errorf("stats %+v", s)
	}
	r = d.run(t, "center", "stats", istanbul)
	r.wantCode(t, ExitOK)
	flat := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"CENTER Istanbul Medical Center", "pending 3", "total 8", "blood 2", "viewer 1", fmt.Sprintf("VERSION %d", latest)} {
		if !strings.Contains(flat, want) {
			t.Errorf("stats table lacks %q:\n%s", want, r.stdout)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"center", "stats"}, "name a center, or pass --all"},
		{[]string{"center", "stats", "--all", istanbul}, "not both"},
		{[]string{"center", "stats", istanbul, ankara}, "accepts at most 1 arg(s)"},
		{[]string{"center", "stats", istanbul, "--include-inactive"}, "--include-inactive goes with --all"},
	} {
		r := d.run(t, tc.args...)
		r.wantCode(t, ExitUsage)
		r.wantOneLineError(t, true, tc.want)
	}

	r = d.run(t, "center", "stats", "--all", "-o", "json")
	r.wantCode(t, ExitOK)
	all := decodeJSON[statsAllReport](t, r.stdout)
	if all.Summary != (statsAllSummary{Total: 2, OK: 2}) || len(all.Results) != 2 || all.Results[0].Name != ankara ||
		all.Results[1].Stats == nil || all.Results[1].Stats.Samples.Total != 8 {
		t.Errorf("stats --all %+v", all)
	}

	// A terminal gets a progress bar on stderr and the table on stdout.
	r = d.runWith(t, invocation{stderrTerminal: true}, "center", "stats", "--all")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stderr, "stats") || !strings.Contains(r.stderr, "(2/2") {
		t.Errorf("no progress bar: %q", r.stderr)
	}
	flat = strings.Join(strings.Fields(r.stdout), " ")
	if !strings.HasPrefix(r.stdout, "CENTER") || !strings.Contains(flat, "total 16 6 3 3 2 2 6") || !strings.Contains(flat, "ok 2 failed 0 total 2") {
		t.Errorf("stats --all table:\n%s", r.stdout)
	}

	// A center whose figures cannot be read fails, the others are shown.
	if _, err := d.Pool.Exec(t.Context(), "DROP TABLE "+ist.SchemaName+".samples"); err != nil {
		t.Fatal(err)
	}
	r = d.run(t, "center", "stats", "--all", "-o", "json")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "1 of 2 centers' stats failed: Istanbul Medical Center (")
	all = decodeJSON[statsAllReport](t, r.stdout)
	if all.Summary != (statsAllSummary{Total: 2, OK: 1, Failed: 1}) || all.Results[1].Error == "" || all.Results[1].Stats != nil ||
		all.Results[0].Stats == nil {
		t.Errorf("stats --all with a broken center %+v", all)
	}
	r = d.run(t, "center", "stats", "--all")
	r.wantCode(t, ExitFailure)
	if !strings.Contains(r.stdout, "ERROR") || !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "failed 1") {
		t.Errorf("stats --all table with a failure:\n%s", r.stdout)
	}
}

func TestUnknownNamesSuggest(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"center", "get", "Istanbul Medcal Center"}, `center "Istanbul Medcal Center" not found; did you mean "Istanbul Medical Center"?`},
		{[]string{"center", "stats", "ankara"}, `center "ankara" not found; did you mean "Ankara Research Lab"?`},
		{[]string{"center", "get", "Nowhere"}, `center "Nowhere" not found`},
		{[]string{"sample", "list", "Ankra Research Lab"}, `did you mean "Ankara Research Lab"?`},
		{[]string{"center", "migrate", "istanbul medical centre"}, `did you mean "Istanbul Medical Center"?`},
		{[]string{"user", "get", "istanbul_admn"}, `user "istanbul_admn" not found; did you mean "istanbul_admin"?`},
		{[]string{"user", "deactivate", "ankara_user", "ankara_viewr"}, `did you mean "ankara_viewer"?`},
		{[]string{"user", "list", "--center", "Izmir"}, `center "Izmir" not found`},
		{[]string{"token", "create", "--user", "istanbul-admin"}, `did you mean "istanbul_admin"?`},
		{[]string{"user", "get", uuid.NewString()}, `not found`},
		{[]string{"sample", "get", istanbul, "IST-9999"}, `sample "IST-9999" not found in center "Istanbul Medical Center"`},
	} {
		r := d.run(t, tc.args...)
		r.wantCode(t, ExitFailure)
		r.wantOneLineError(t, false, tc.want)
		if r.stdout != "" {
			t.Errorf("stdout not empty: %q", r.stdout)
		}
	}
	// Nothing was deactivated by the refused bulk command.
	if u := d.user(t, "ankara_user"); !u.IsActive {
		t.Error("ankara_user deactivated although another user was unknown")
	}
}

func TestUserCreateGetUpdate(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	ist := d.center(t, istanbul)
	const password = "correct horse battery staple"

	r := d.runWith(t, invocation{stdin: password + "\n"}, "user", "create", "deniz", "--email", "deniz@example.com",
		"--first-name", "Deniz", "--last-name", "Aydın", "--phone", "+90 212 555 0100",
		"--center", "istanbul medical center", "--role", "admin", "--password-stdin", "-o", "json")
	r.wantCode(t, ExitOK)
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Fatal("the password was echoed")
	}
	u := decodeJSON[userDoc](t, r.stdout)
	if u.Username != "deniz" || u.Email != "deniz@example.com" || u.LastName != "Aydın" || u.Phone != "+90 212 555 0100" ||
		u.CenterID == nil || *u.CenterID != ist.ID || u.CenterName != istanbul || u.Role != domain.RoleAdmin ||
		!u.HasPassword || u.IsSuperuser || !u.IsActive {
		t.Errorf("created user %+v", u)
	}
	if got, err := d.st.Users.Authenticate(t.Context(), "deniz", password); err != nil || got.ID != u.ID {
		t.Errorf("authenticate with the password read from stdin: %v", err)
	}

	// A superuser needs no center; the role defaults to user; CRLF is stripped.
	r = d.runWith(t, invocation{stdin: "another long password\r\nignored\n"}, "user", "create", "ops", "--email", "ops@example.com",
		"--superuser", "--password-stdin", "-o", "json")
	r.wantCode(t, ExitOK)
	if u := decodeJSON[userDoc](t, r.stdout); !u.IsSuperuser || u.CenterID != nil || u.Role != domain.RoleUser {
		t.Errorf("superuser %+v", u)
	}
	if _, err := d.st.Users.Authenticate(t.Context(), "ops", "another long password"); err != nil {
		t.Errorf("authenticate ops: %v", err)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"user", "create", "x"}, ExitUsage, "--email is required"},
		{[]string{"user", "create", "x", "--email", "x@example.com"}, ExitUsage, "--center is required"},
		{[]string{"user", "create", "x", "--email", "x@example.com", "--center", istanbul, "--role", "boss"}, ExitUsage, `invalid --role "boss": want admin, user or viewer`},
		{[]string{"user", "create", "x", "y", "--email", "x@example.com"}, ExitUsage, "accepts 1 arg(s), received 2"},
		{[]string{"user", "create", "bad name", "--email", "not-an-email", "--center", istanbul}, ExitFailure, "invalid input: email: must be a valid email address; username: "},
		{[]string{"user", "create", "deniz", "--email", "d2@example.com", "--center", istanbul}, ExitFailure, "conflict: username: a user with this username already exists"},
		{[]string{"user", "create", "x", "--email", "x@example.com", "--center", istanbul, "--password-stdin"}, ExitFailure, "--password-stdin: no password on stdin"},
		{[]string{"user", "update", "deniz"}, ExitUsage, "nothing to update"},
	} {
		r := d.run(t, tc.args...)
		r.wantCode(t, tc.code)
		r.wantOneLineError(t, tc.code == ExitUsage, tc.want)
	}
	r = d.runWith(t, invocation{stdin: "short\n"}, "user", "create", "x", "--email", "x@example.com", "--center", istanbul, "--password-stdin")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "invalid input: password: ")
	if _, err := d.st.Users.GetByUsername(t.Context(), "x"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("refused user x exists: %v", err)
	}

	// Get by username and by id; the table names the center.
	r = d.run(t, "user", "get", u.ID.String(), "-o", "json")
	r.wantCode(t, ExitOK)
	if got := decodeJSON[userDoc](t, r.stdout); got.Username != "deniz" {
		t.Errorf("get by id: %+v", got)
	}
	r = d.run(t, "user", "get", "istanbul_viewer")
	r.wantCode(t, ExitOK)
	flat := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"USERNAME istanbul_viewer", "CENTER Istanbul Medical Center (" + ist.ID.String() + ")", "ROLE viewer", "PASSWORD none (tokens only)"} {
		if !strings.Contains(flat, want) {
			t.Errorf("user get table lacks %q:\n%s", want, r.stdout)
		}
	}

	// Update changes only the flags given; --phone "" removes the phone.
	r = d.run(t, "user", "update", "deniz", "--email", "deniz@izmir.example", "--phone", "", "-o", "json")
	r.wantCode(t, ExitOK)
	if got := decodeJSON[userDoc](t, r.stdout); got.Email != "deniz@izmir.example" || got.Phone != "" || got.FirstName != "Deniz" || got.LastName != "Aydın" {
		t.Errorf("updated user %+v", got)
	}
	const newPassword = "a brand new passphrase"
	r = d.runWith(t, invocation{stdin: newPassword}, "user", "update", "deniz", "--password-stdin")
	r.wantCode(t, ExitOK)
	if strings.Contains(r.stdout+r.stderr, newPassword) {
		t.Fatal("the password was echoed")
	}
	if _, err := d.st.Users.Authenticate(t.Context(), "deniz", newPassword); err != nil {
		t.Errorf("authenticate with the new password: %v", err)
	}
	if _, err := d.st.Users.Authenticate(t.Context(), "deniz", password); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("the old password still works: %v", err)
	}
	r = d.run(t, "user", "update", "deniz", "--email", "istanbul_admin@EXAMPLE.com")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "conflict: email:")
}

func TestUserListAndBulk(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)

	r := d.run(t, "user", "list", "-o", "json")
	r.wantCode(t, ExitOK)
	if l := decodeJSON[userList](t, r.stdout); l.Count != 7 || len(l.Results) != 7 || l.Results[0].Username != "admin" {
		t.Errorf("user list: %+v", l)
	}
	r = d.run(t, "user", "list", "--center", "ankara research lab", "-o", "json")
	r.wantCode(t, ExitOK)
	l := decodeJSON[userList](t, r.stdout)
	if l.Count != 3 {
		t.Errorf("ankara's users: %+v", l)
	}
	for _, u := range l.Results {
		if u.CenterName != ankara || !strings.HasPrefix(u.Username, "ankara_") {
			t.Errorf("ankara's user %+v", u)
		}
	}
	r = d.run(t, "user", "list", "--center", istanbul)
	r.wantCode(t, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "ID USERNAME EMAIL CENTER ROLE SUPERUSER ACTIVE" {
		t.Errorf("user list table:\n%s", r.stdout)
	}

	// Bulk deactivate by username and id, a repeat counting once.
	viewer := d.user(t, "istanbul_viewer")
	r = d.run(t, "user", "deactivate", "ankara_viewer", viewer.ID.String(), "istanbul_viewer", "-o", "json")
	r.wantCode(t, ExitOK)
	l = decodeJSON[userList](t, r.stdout)
	if l.Count != 2 || l.Results[0].Username != "ankara_viewer" || l.Results[1].ID != viewer.ID || l.Results[0].IsActive || l.Results[1].IsActive {
		t.Errorf("deactivated %+v", l)
	}
	r = d.run(t, "user", "list", "-o", "json")
	if l := decodeJSON[userList](t, r.stdout); l.Count != 5 {
		t.Errorf("active users after deactivate: %d", l.Count)
	}
	r = d.run(t, "user", "list", "--include-inactive", "-o", "json")
	if l := decodeJSON[userList](t, r.stdout); l.Count != 7 {
		t.Errorf("all users after deactivate: %d", l.Count)
	}
	r = d.run(t, "user", "activate", "ankara_viewer", "istanbul_viewer")
	r.wantCode(t, ExitOK)
	if d.user(t, "ankara_viewer").IsActive != true || d.user(t, "istanbul_viewer").IsActive != true {
		t.Error("activate did not activate")
	}
	r = d.run(t, "user", "delete", "ankara_user")
	r.wantCode(t, ExitOK)
	if d.user(t, "ankara_user").IsActive {
		t.Error("delete did not deactivate")
	}
	r = d.run(t, "user", "deactivate")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, "requires at least 1 arg(s)")

	// Bulk role change, with an actor.
	admin := d.user(t, "istanbul_admin")
	r = d.run(t, "--actor", "istanbul_admin", "user", "change-role", "--role", "viewer", "istanbul_user", "ankara_user", "-o", "json")
	r.wantCode(t, ExitOK)
	l = decodeJSON[userList](t, r.stdout)
	if l.Count != 2 {
		t.Fatalf("change-role %+v", l)
	}
	for _, u := range l.Results {
		if u.Role != domain.RoleViewer || u.UpdatedBy == nil || *u.UpdatedBy != admin.ID {
			t.Errorf("after change-role: %+v", u)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "change-role", "istanbul_user"}, "--role is required"},
		{[]string{"user", "change-role", "--role", "root", "istanbul_user"}, `invalid --role "root"`},
		{[]string{"user", "change-role", "--role", "admin"}, "requires at least 1 arg(s)"},
		{[]string{"user", "change-center", "istanbul_user"}, "--center is required"},
	} {
		r := d.run(t, tc.args...)
		r.wantCode(t, ExitUsage)
		r.wantOneLineError(t, true, tc.want)
	}

	// Change center, by name.
	r = d.run(t, "user", "change-center", "istanbul_user", "--center", "Ankara Research Lab", "-o", "json")
	r.wantCode(t, ExitOK)
	if u := decodeJSON[userDoc](t, r.stdout); u.CenterName != ankara || *u.CenterID != d.center(t, ankara).ID {
		t.Errorf("change-center %+v", u)
	}
}

func TestSampleListGet(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)

	r := d.run(t, "sample", "list", ankara, "--status", "pending", "-o", "json")
	r.wantCode(t, ExitOK)
	l := decodeJSON[sampleList](t, r.stdout)
	if l.Count != 3 || len(l.Results) != 3 {
		t.Fatalf("pending samples %+v", l)
	}
	for _, s := range l.Results {
		if s.Status != domain.StatusPending || !strings.HasPrefix(s.Barcode, "ANK-") || s.Username == "" {
			t.Errorf("sample %+v", s)
		}
	}
	r = d.run(t, "sample", "list", ankara, "--status", "pending")
	r.wantCode(t, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "BARCODE NAME TYPE STATUS USER ACTIVE CREATED" ||
		!strings.Contains(r.stdout, "ankara_user") {
		t.Errorf("sample table:\n%s", r.stdout)
	}

	for _, tc := range []struct {
		args     []string
		barcodes []string
	}{
		{[]string{"--type", "blood", "--ordering", "barcode"}, []string{"IST-0001", "IST-0008"}},
		{[]string{"--user", "istanbul_admin", "--ordering", "-barcode"}, []string{"IST-0006", "IST-0003"}},
		{[]string{"--search", "BIOPSY"}, []string{"IST-0003"}},
		{[]string{"--ordering", "barcode", "--limit", "2", "--offset", "1"}, []string{"IST-0002", "IST-0003"}},
	} {
		r := d.run(t, append([]string{"sample", "list", istanbul, "-o", "json"}, tc.args...)...)
		r.wantCode(t, ExitOK)
		var got []string
		for _, s := range decodeJSON[sampleList](t, r.stdout).Results {
			got = append(got, s.Barcode)
		}
		if !slices.Equal(got, tc.barcodes) {
			t.Errorf("sample list %v: %v, want %v", tc.args, got, tc.barcodes)
		}
	}

	r = d.run(t, "sample", "list", istanbul, "--status", "lost")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, `invalid --status "lost"`)
	r = d.run(t, "sample", "list", istanbul, "--limit", "0")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, "--limit must be between 1 and 500")
	r = d.run(t, "sample", "list", istanbul, "--ordering", "colour")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "invalid input: ordering")
	r = d.run(t, "sample", "list")
	r.wantCode(t, ExitUsage)

	// Get by barcode and by id.
	r = d.run(t, "sample", "get", istanbul, "IST-0003", "-o", "json")
	r.wantCode(t, ExitOK)
	s := decodeJSON[sampleDoc](t, r.stdout)
	if s.Name != "Liver biopsy" || s.SampleType != "tissue" || s.Status != domain.StatusProcessing || s.Username != "istanbul_admin" {
		t.Errorf("sample %+v", s)
	}
	r = d.run(t, "sample", "get", istanbul, s.ID.String())
	r.wantCode(t, ExitOK)
	if flat := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(flat, "BARCODE IST-0003") || !strings.Contains(flat, `METADATA {"fixative":"formalin"}`) {
		t.Errorf("sample table:\n%s", r.stdout)
	}
	// A sample of another center is not found there.
	r = d.run(t, "sample", "get", ankara, s.ID.String())
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "not found in center")
}

func TestTokenCreate(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	admin := d.user(t, "istanbul_admin")
	ctx := t.Context()

	// Table: the token in the table, a warning on stderr.
	r := d.run(t, "token", "create", "--user", "istanbul_admin")
	r.wantCode(t, ExitOK)
	var token string
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "TOKEN" {
			token = f[1]
		}
	}
	if !strings.HasPrefix(token, domain.TokenPrefix) || !strings.Contains(r.stderr, "cannot be shown again") {
		t.Fatalf("token table:\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	if u, err := d.st.Tokens.Authenticate(ctx, token); err != nil || u.ID != admin.ID {
		t.Errorf("authenticate with the printed token: %v", err)
	}

	// JSON: one document, no note; --actor fills created_by.
	r = d.run(t, "--actor", "admin", "token", "create", "--user", admin.ID.String(), "--name", "ci", "--ttl", "1h", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[tokenDoc](t, r.stdout)
	if r.stderr != "" || doc.Username != "istanbul_admin" || doc.UserID != admin.ID || doc.Name != "ci" ||
		doc.ExpiresAt == nil || time.Until(*doc.ExpiresAt) > time.Hour || time.Until(*doc.ExpiresAt) < 50*time.Minute {
		t.Errorf("token document %+v, stderr %q", doc, r.stderr)
	}
	if u, err := d.st.Tokens.Authenticate(ctx, doc.Token); err != nil || u.ID != admin.ID {
		t.Errorf("authenticate with the JSON token: %v", err)
	}
	rec, err := d.st.Tokens.Get(ctx, doc.ID)
	if err != nil || rec.CreatedBy == nil || *rec.CreatedBy != d.user(t, "admin").ID {
		t.Errorf("token record %+v, %v: want created_by admin", rec, err)
	}

	r = d.run(t, "token", "create", "--user", "istanbul_user", "--ttl", "0", "-o", "json")
	r.wantCode(t, ExitOK)
	if doc := decodeJSON[tokenDoc](t, r.stdout); doc.ExpiresAt != nil {
		t.Errorf("--ttl 0 expires at %v", doc.ExpiresAt)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create"}, "--user is required"},
		{[]string{"token", "create", "--user", "istanbul_admin", "--ttl", "soon"}, `invalid argument "soon" for "--ttl"`},
		{[]string{"token", "create", "--user", "istanbul_admin", "--ttl", "-1h"}, "--ttl must be 0"},
		{[]string{"token", "create", "istanbul_admin"}, `unknown command "istanbul_admin"`},
	} {
		r := d.run(t, tc.args...)
		r.wantCode(t, ExitUsage)
		r.wantOneLineError(t, true, tc.want)
	}
	r = d.run(t, "user", "deactivate", "istanbul_viewer")
	r.wantCode(t, ExitOK)
	r = d.run(t, "token", "create", "--user", "istanbul_viewer")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "not found")
}

func TestSeedIdempotent(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)

	r := run(t, "--database-url", d.URL, "seed", "-o", "json")
	r.wantCode(t, ExitOK)
	first := decodeJSON[seedDoc](t, r.stdout)
	want := domain.SeedResult{
		Centers: domain.SeedCount{Created: 2}, Users: domain.SeedCount{Created: 7}, Samples: domain.SeedCount{Created: 16},
	}
	if first.SeedResult != want {
		t.Errorf("first seed %+v, want %+v", first.SeedResult, want)
	}
	r = run(t, "--database-url", d.URL, "seed")
	r.wantCode(t, ExitOK)
	flat := strings.Join(strings.Fields(r.stdout), " ")
	if flat != "KIND CREATED EXISTING SKIPPED centers 0 2 0 users 0 7 0 samples 0 16 0" {
		t.Errorf("second seed table:\n%s", r.stdout)
	}

	// Before 'tenantctl migrate' the command says so.
	r = run(t, "--database-url", testdb.Empty(t), "seed")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `the database is not migrated (relation "public.`, "does not exist); run 'tenantctl migrate' first")
}

func TestActor(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	admin := d.user(t, "admin")

	r := d.run(t, "--actor", "admin", "center", "create", "Izmir Genomics", "-o", "json")
	r.wantCode(t, ExitOK)
	c := decodeJSON[centerDoc](t, r.stdout)
	if c.CreatedBy == nil || *c.CreatedBy != admin.ID || c.UpdatedBy == nil || *c.UpdatedBy != admin.ID {
		t.Errorf("created_by/updated_by %v/%v, want %s", c.CreatedBy, c.UpdatedBy, admin.ID)
	}
	// By id too; updated_by follows the last actor.
	ia := d.user(t, "istanbul_admin")
	r = d.run(t, "--actor", ia.ID.String(), "center", "update", "Izmir Genomics", "--description", "x", "-o", "json")
	r.wantCode(t, ExitOK)
	if c := decodeJSON[centerDoc](t, r.stdout); *c.CreatedBy != admin.ID || *c.UpdatedBy != ia.ID {
		t.Errorf("after update by %s: %+v", ia.ID, c)
	}
	// Without --actor: a system action.
	r = d.run(t, "user", "create", "sys", "--email", "sys@example.com", "--center", istanbul, "-o", "json")
	r.wantCode(t, ExitOK)
	if u := decodeJSON[userDoc](t, r.stdout); u.CreatedBy != nil {
		t.Errorf("system action has created_by %v", u.CreatedBy)
	}
	r = d.run(t, "--actor", "istanbul_admin", "user", "create", "byadmin", "--email", "byadmin@example.com", "--center", istanbul, "-o", "json")
	r.wantCode(t, ExitOK)
	if u := decodeJSON[userDoc](t, r.stdout); u.CreatedBy == nil || *u.CreatedBy != ia.ID {
		t.Errorf("user created_by %v, want %s", u.CreatedBy, ia.ID)
	}

	// An unknown or deactivated actor writes nothing.
	before := d.countCenters(t)
	r = d.run(t, "--actor", "admn", "center", "create", "Bursa Lab")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `--actor: user "admn" not found; did you mean "admin"?`)
	r = d.run(t, "user", "deactivate", "istanbul_viewer")
	r.wantCode(t, ExitOK)
	r = d.run(t, "--actor", "istanbul_viewer", "center", "create", "Bursa Lab")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `--actor: user "istanbul_viewer" is deactivated`)
	if n := d.countCenters(t); n != before {
		t.Errorf("%d centers after refused creates, want %d", n, before)
	}
}

func TestCenterMigrateByName(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	ist, ank := d.center(t, istanbul), d.center(t, ankara)
	rewind(t, d.DB, ist.ID, true)
	rewind(t, d.DB, ank.ID, true)

	r := d.run(t, "center", "migrate", "istanbul medical center", "-o", "json")
	r.wantCode(t, ExitOK)
	if doc := decodeJSON[fleetDoc](t, r.stdout); doc.Summary.Migrated != 1 || doc.Tenants[0].Center != ist.ID {
		t.Errorf("migrate by name: %+v", doc)
	}
	// Names and ids mixed; the same center twice counts once.
	r = d.run(t, "center", "migrate", ankara, ank.ID.String(), istanbul, "--yes", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if doc.Summary.Total != 2 || doc.Summary.Migrated != 1 || doc.Summary.UpToDate != 1 || doc.Tenants[0].Center != ank.ID {
		t.Errorf("migrate mixed: %+v", doc)
	}
}

func TestRegistryHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"center", "create"}, {"center", "list"}, {"center", "get"}, {"center", "update"}, {"center", "delete"},
		{"center", "restore"}, {"center", "hard-delete"}, {"center", "stats"}, {"center", "clone"},
		{"user", "create"}, {"user", "list"}, {"user", "get"}, {"user", "update"}, {"user", "delete"},
		{"user", "activate"}, {"user", "deactivate"}, {"user", "change-center"}, {"user", "change-role"},
		{"sample", "list"}, {"sample", "get"}, {"token", "create"}, {"seed"},
	} {
		r := run(t, append(args, "--help")...)
		r.wantCode(t, ExitOK)
		if !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "Examples:") || r.stderr != "" {
			t.Errorf("tenantctl %s --help: no usage or examples", strings.Join(args, " "))
		}
	}
	for _, group := range []string{"user", "sample", "token"} {
		r := run(t, group)
		r.wantCode(t, ExitOK)
		if !strings.Contains(r.stdout, "Available Commands:") {
			t.Errorf("tenantctl %s: no command list", group)
		}
	}
	r := run(t, "user", "actvate", "x")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, `did you mean "activate"?`)
}
