package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/migrations"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// TestMain fails the package if a command returns while a goroutine of
// its own (a pool, a fleet migration's worker, a progress bar) still runs.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// latest is the version of the last embedded tenant migration, where every
// center ends up; latestNames names the migrations up to it.
var latest, latestNames = func() (int32, []string) {
	migs, err := tenancy.LoadMigrations(migrations.Tenant, nil)
	if err != nil {
		panic(err)
	}
	var names []string
	for _, mg := range migs {
		names = append(names, mg.Name)
	}
	return int32(len(migs)), names
}()

// result is what one in-process invocation left behind.
type result struct {
	code           int
	stdout, stderr string
}

// invocation configures run beyond the arguments.
type invocation struct {
	stdin          string
	stdinTerminal  bool              // stdin is a terminal: prompts are possible
	stderrTerminal bool              // stderr is a terminal: progress bars are drawn
	env            map[string]string // the whole environment tenantctl sees
}

// run runs tenantctl in-process with args, stdin not a terminal.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, invocation{}, args...)
}

func runWith(t *testing.T, inv invocation, args ...string) result {
	t.Helper()
	r := invoke(t, inv, args...)
	t.Logf("tenantctl %s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// invoke runs tenantctl with args, within two minutes.
func invoke(t *testing.T, inv invocation, args ...string) result {
	var stdout, stderr bytes.Buffer
	stdin := strings.NewReader(inv.stdin)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := Run(ctx, args, Env{
		Stdin: stdin, Stdout: &stdout, Stderr: &stderr,
		IsTerminal: func(s any) bool {
			return (s == stdin && inv.stdinTerminal) || (s == &stderr && inv.stderrTerminal)
		},
		Getenv: func(k string) string { return inv.env[k] },
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (r result) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
}

// wantOneLineError checks that the error is the last line of stderr (for
// usage errors followed by the --help hint), the only one of its kind, and
// that it contains each of want. Notes may precede it.
func (r result) wantOneLineError(t *testing.T, usage bool, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if usage {
		if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-1], "Run 'tenantctl") ||
			!strings.HasSuffix(lines[len(lines)-1], " --help' for usage.") {
			t.Fatalf("usage hint missing from stderr:\n%s", r.stderr)
		}
		lines = lines[:len(lines)-1]
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "tenantctl: ") || strings.Count(r.stderr, "tenantctl: ") != 1 {
		t.Fatalf("stderr does not end in one 'tenantctl: ' error line:\n%s", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("error line %q does not contain %q", last, w)
		}
	}
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not the expected JSON document: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", s)
	}
	return v
}

// createTenants creates n centers' schemas through the library, in ledger
// (schema-name) order.
func createTenants(t *testing.T, d *testdb.DB, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
		if err := d.Tenancy.Create(t.Context(), ids[i], nil); err != nil {
			t.Fatalf("create tenant: %v", err)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int {
		return strings.Compare(d.Tenancy.SchemaName(a), d.Tenancy.SchemaName(b))
	})
	return ids
}

// rewind puts a tenant back to version 0, as if created by a tenantctl that
// had no tenant migrations yet: the ledger forgets the migrations and, when
// dropObjects is set, the objects of migration 1 are dropped too. Without
// dropObjects the schema keeps them, so re-applying migration 1 fails on
// them, as a migration fails on a tenant whose schema was changed by hand.
func rewind(t *testing.T, d *testdb.DB, id uuid.UUID, dropObjects bool) {
	t.Helper()
	ctx := t.Context()
	schema := pgx.Identifier{d.Tenancy.SchemaName(id)}.Sanitize()
	if dropObjects {
		// The tenant's tables; its trigger function lives in public since
		// tenant migration 002.
		if _, err := d.Pool.Exec(ctx, "DROP TABLE "+schema+".samples"); err != nil {
			t.Fatalf("rewind: %v", err)
		}
	}
	for _, q := range []string{
		"DELETE FROM public.tenancy_migrations WHERE tenant_id = $1",
		"UPDATE public.tenancy_tenants SET version = 0, migrated_at = NULL WHERE tenant_id = $1",
	} {
		if _, err := d.Pool.Exec(ctx, q, id); err != nil {
			t.Fatalf("rewind: %v", err)
		}
	}
}

func versions(t *testing.T, d *testdb.DB, ids []uuid.UUID) []int32 {
	t.Helper()
	out := make([]int32, len(ids))
	for i, id := range ids {
		err := d.Pool.QueryRow(t.Context(), "SELECT version FROM public.tenancy_tenants WHERE tenant_id = $1", id).Scan(&out[i])
		if err != nil {
			t.Fatalf("version of %s: %v", id, err)
		}
	}
	return out
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown flag", []string{"center", "status", "--bogus"}, []string{"unknown flag: --bogus"}},
		{"unknown command suggests", []string{"centr", "status"}, []string{`unknown command "centr"`, `did you mean "center"?`}},
		{"unknown subcommand suggests", []string{"center", "stauts"}, []string{`unknown command "stauts" for "tenantctl center"`, `did you mean "stats" or "status"?`}},
		{"bad output", []string{"-o", "xml", "center", "status"}, []string{`invalid output format "xml"`}},
		{"concurrency not a number", []string{"center", "migrate", "--all", "--concurrency", "many"}, []string{`invalid argument "many" for "--concurrency"`}},
		{"negative concurrency", []string{"center", "migrate", "--all", "--concurrency", "-1"}, []string{"--concurrency must be 0 or more"}},
		{"negative migrate concurrency", []string{"migrate", "--concurrency", "-2"}, []string{"--concurrency must be 0"}},
		{"extra argument", []string{"center", "status", "extra"}, []string{`unknown command "extra"`}},
		{"migrate takes no arguments", []string{"migrate", "now"}, []string{`unknown command "now"`}},
		{"neither centers nor --all", []string{"center", "migrate"}, []string{"or pass --all"}},
		{"centers and --all", []string{"center", "migrate", "--all", id}, []string{"not both"}},
		{"completion without shell", []string{"completion"}, []string{"accepts 1 arg(s), received 0"}},
		{"completion unknown shell", []string{"completion", "powershell"}, []string{`invalid argument "powershell"`}},
		{"bad actor", []string{"--actor", "no spaces please", "center", "status"}, []string{`invalid actor`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.args...)
			r.wantCode(t, ExitUsage)
			r.wantOneLineError(t, true, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {}, {"center"}, {"center", "migrate", "--help"}, {"help", "center", "status"}} {
		r := run(t, args...)
		r.wantCode(t, ExitOK)
		if !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
			t.Errorf("tenantctl %v: want help on stdout only", args)
		}
	}
	r := run(t, "center", "migrate", "--help")
	for _, want := range []string{"--canary", "--batch-size", "--max-failures", "--dry-run", "Examples:", "--database-url"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("center migrate --help lacks %q", want)
		}
	}
}

func TestMissingDatabaseURL(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"center", "status"}, {"migrate"}, {"center", "migrate", "--all", "--yes"}} {
		r := run(t, args...)
		r.wantCode(t, ExitFailure)
		r.wantOneLineError(t, false, "no database URL", "--database-url", "TENANTCTL_DATABASE_URL", "DATABASE_URL")
	}
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	bad := "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable&connect_timeout=2"
	file := filepath.Join(t.TempDir(), "tenantctl.yml")
	write := func(yaml string) {
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	isJSON := func(s string) bool { return strings.HasPrefix(s, "{") }
	isYAML := func(s string) bool { return strings.HasPrefix(s, "summary:") }
	isTable := func(s string) bool { return strings.HasPrefix(s, "SCHEMA") }

	env := map[string]string{}
	run := func(t *testing.T, args ...string) result {
		t.Helper()
		return runWith(t, invocation{env: env}, args...)
	}

	// The file alone.
	write("database-url: " + d.URL + "\noutput: yaml\n")
	r := run(t, "--config", file, "center", "status")
	r.wantCode(t, ExitOK)
	if !isYAML(r.stdout) {
		t.Errorf("file's output: yaml not applied")
	}

	// The environment over the file.
	write("database-url: " + bad + "\noutput: yaml\n")
	env["DATABASE_URL"] = d.URL
	env["TENANTCTL_OUTPUT"] = "json"
	r = run(t, "--config", file, "center", "status")
	r.wantCode(t, ExitOK)
	if !isJSON(r.stdout) {
		t.Errorf("TENANTCTL_OUTPUT did not override the file")
	}

	// TENANTCTL_DATABASE_URL over DATABASE_URL.
	env["TENANTCTL_DATABASE_URL"] = bad
	r = run(t, "--config", file, "center", "status")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "connect to database nobody@127.0.0.1:1/nothing")

	// Flags over the environment.
	r = run(t, "--config", file, "--database-url", d.URL, "-o", "table", "center", "status")
	r.wantCode(t, ExitOK)
	if !isTable(r.stdout) {
		t.Errorf("-o table did not override TENANTCTL_OUTPUT")
	}

	// A bad value from the environment is caught like a bad flag.
	env["TENANTCTL_OUTPUT"] = "xml"
	r = run(t, "--database-url", d.URL, "center", "status")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, `invalid output format "xml"`)
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("databse-url: postgres://x\nyes: true\noutput: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := filepath.Join(dir, "invalid.yaml")
	if err := os.WriteFile(invalid, []byte("output: [json\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := run(t, "--config", unknown, "center", "status")
	r.wantCode(t, ExitUsage)
	// --yes is consent, not configuration: a file cannot give it.
	r.wantOneLineError(t, false, "unknown key databse-url, yes", "known: database-url, output, actor")

	missing := filepath.Join(dir, "missing.yaml")
	r = run(t, "--config", missing, "center", "status")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, false, "config file "+missing+" does not exist")

	r = run(t, "--config", invalid, "center", "status")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, false, "config file "+invalid)
}

type fleetDoc struct {
	Public  *publicReport      `json:"public"`
	Summary fleetSummary       `json:"summary"`
	Tenants []tenantResult     `json:"tenants"`
	Seed    *seedDoc           `json:"seed"`
	Pool    *poolMigrateReport `json:"pool"`
}

type statusDoc struct {
	Summary statusSummary  `json:"summary"`
	Tenants []centerStatus `json:"tenants"`
}

func TestMigrateFreshDatabaseThenStatus(t *testing.T) {
	t.Parallel()
	dbURL := testdb.Empty(t)

	r := run(t, "--database-url", dbURL, "migrate", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if doc.Public == nil || doc.Public.From != 0 || doc.Public.To < 1 {
		t.Errorf("public schema report %+v, want from 0 to the latest", doc.Public)
	}
	if doc.Summary.Total != 0 || len(doc.Tenants) != 0 || doc.Summary.Target != latest {
		t.Errorf("summary %+v, want no centers, target %d", doc.Summary, latest)
	}
	if r.stderr != "" {
		t.Errorf("stderr not empty: %q", r.stderr)
	}

	// Idempotent.
	r = run(t, "--database-url", dbURL, "migrate", "-o", "json")
	r.wantCode(t, ExitOK)
	if doc := decodeJSON[fleetDoc](t, r.stdout); doc.Public.From != doc.Public.To {
		t.Errorf("second migrate moved the public schema: %+v", doc.Public)
	}

	r = run(t, "--database-url", dbURL, "center", "status", "-o", "json")
	r.wantCode(t, ExitOK)
	st := decodeJSON[statusDoc](t, r.stdout)
	if st.Summary.Total != 0 || st.Summary.Latest != latest || len(st.Tenants) != 0 || len(st.Summary.Problems) != 0 {
		t.Errorf("status %+v, want an empty healthy fleet at latest %d", st, latest)
	}
}

// TestMigrateSeed: migrate --seed, or TENANTCTL_SEED=1 (compose.yaml's
// one-shot step), migrates a fresh database, then seeds it, reporting both
// in one document; a rerun seeds nothing new; TENANTCTL_SEED=0 and no
// variable do not seed; an invalid value is a usage error.
func TestMigrateSeed(t *testing.T) {
	t.Parallel()
	dbURL := testdb.Empty(t)
	r := runWith(t, invocation{env: map[string]string{"DATABASE_URL": dbURL, "TENANTCTL_SEED": "1"}}, "migrate", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	want := domain.SeedResult{Centers: domain.SeedCount{Created: 2}, Users: domain.SeedCount{Created: 7}, Samples: domain.SeedCount{Created: 16}}
	if doc.Public == nil || doc.Public.From != 0 || doc.Seed == nil || doc.Seed.SeedResult != want {
		t.Errorf("public %+v, seed %+v; want migrated from 0 and seeded %+v", doc.Public, doc.Seed, want)
	}

	r = run(t, "--database-url", dbURL, "migrate", "--seed")
	r.wantCode(t, ExitOK)
	flat := strings.Join(strings.Fields(r.stdout), " ")
	if !strings.HasSuffix(flat, "up-to-date 2 total 2 KIND CREATED EXISTING SKIPPED centers 0 2 0 users 0 7 0 samples 0 16 0") {
		t.Errorf("second migrate --seed table:\n%s", r.stdout)
	}

	for _, env := range []map[string]string{{"DATABASE_URL": dbURL, "TENANTCTL_SEED": "0"}, {"DATABASE_URL": dbURL}} {
		r = runWith(t, invocation{env: env}, "migrate", "-o", "json")
		r.wantCode(t, ExitOK)
		if doc := decodeJSON[fleetDoc](t, r.stdout); doc.Seed != nil {
			t.Errorf("%v: seeded %+v", env, doc.Seed)
		}
	}

	r = runWith(t, invocation{env: map[string]string{"DATABASE_URL": dbURL, "TENANTCTL_SEED": "yes please"}}, "migrate")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, `invalid TENANTCTL_SEED "yes please"`)
}

func TestMigrateBringsCentersUp(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 3)
	rewind(t, d, ids[1], true)

	r := run(t, "--database-url", d.URL, "migrate", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if doc.Summary.Migrated != 1 || doc.Summary.UpToDate != 2 || doc.Summary.Total != 3 {
		t.Errorf("summary %+v, want 1 migrated, 2 up to date", doc.Summary)
	}
	if got := doc.Tenants[1]; got.Center != ids[1] || got.Outcome != tenancy.OutcomeMigrated || got.From != 0 || got.To != latest {
		t.Errorf("tenant result %+v, want %s migrated 0 -> %d", got, ids[1], latest)
	}
}

func TestCenterMigrateAll(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 3)
	for _, id := range ids {
		rewind(t, d, id, true)
	}

	r := run(t, "--database-url", d.URL, "center", "migrate", "--all", "--yes", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if doc.Public != nil {
		t.Errorf("center migrate reported the public schema")
	}
	if s := doc.Summary; s.Total != 3 || s.Migrated != 3 || s.Failed+s.Skipped+s.UpToDate != 0 || s.Target != latest || s.DryRun {
		t.Errorf("summary %+v, want 3 migrated to %d", s, latest)
	}
	for i, tr := range doc.Tenants {
		if tr.Center != ids[i] || tr.Schema != d.Tenancy.SchemaName(ids[i]) || tr.Outcome != tenancy.OutcomeMigrated ||
			tr.From != 0 || tr.To != latest || tr.Error != "" || !slices.Equal(tr.Migrations, latestNames) {
			t.Errorf("tenant %d: %+v", i, tr)
		}
	}
	if got := versions(t, d, ids); !slices.Equal(got, []int32{latest, latest, latest}) {
		t.Errorf("versions %v after migrate", got)
	}

	// A rerun finds nothing to do, and the table says so.
	r = run(t, "--database-url", d.URL, "center", "migrate", "--all", "--yes")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stdout, "up-to-date") || strings.Contains(r.stdout, "migrated") {
		t.Errorf("rerun table:\n%s", r.stdout)
	}

	r = run(t, "--database-url", d.URL, "center", "status", "-o", "json")
	r.wantCode(t, ExitOK)
	st := decodeJSON[statusDoc](t, r.stdout)
	if st.Summary.Total != 3 || st.Summary.OK != 3 || len(st.Tenants) != 3 {
		t.Errorf("status summary %+v", st.Summary)
	}
	for _, c := range st.Tenants {
		if c.Version != latest || c.Latest != latest || len(c.Problems) != 0 || !c.InLedger || !c.SchemaExists {
			t.Errorf("center status %+v", c)
		}
	}
}

func TestCenterMigrateNamedCenters(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 3)
	for _, id := range ids {
		rewind(t, d, id, true)
	}

	// One center is not a fleet: no --yes needed.
	r := run(t, "--database-url", d.URL, "center", "migrate", ids[2].String(), "-o", "json")
	r.wantCode(t, ExitOK)
	if doc := decodeJSON[fleetDoc](t, r.stdout); doc.Summary.Total != 1 || doc.Tenants[0].Center != ids[2] {
		t.Errorf("migrated %+v, want only %s", doc.Tenants, ids[2])
	}
	if got := versions(t, d, ids); !slices.Equal(got, []int32{0, 0, latest}) {
		t.Errorf("versions %v", got)
	}

	// Two are, and the order is the arguments'; a repeated id counts once.
	r = run(t, "--database-url", d.URL, "center", "migrate", ids[1].String(), ids[0].String(), ids[1].String(), "--yes", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if len(doc.Tenants) != 2 || doc.Tenants[0].Center != ids[1] || doc.Tenants[1].Center != ids[0] {
		t.Errorf("tenants %+v, want %s then %s", doc.Tenants, ids[1], ids[0])
	}

	// Anything but an id is a name, looked up in the registry.
	r = run(t, "--database-url", d.URL, "center", "migrate", "istanbul")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, `center "istanbul" not found`)

	unknown := uuid.New()
	r = run(t, "--database-url", d.URL, "center", "migrate", unknown.String())
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "center not found: "+unknown.String())

	r = run(t, "--database-url", d.URL, "center", "migrate", "--all", "--yes", "--target", "7")
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, false, fmt.Sprintf("--target 7: no such migration version (the latest is %d)", latest))
}

func TestCenterMigrateConfirmation(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 2)
	for _, id := range ids {
		rewind(t, d, id, true)
	}
	zero := []int32{0, 0}

	// Not a terminal, no --yes: refused before anything happens.
	r := run(t, "--database-url", d.URL, "center", "migrate", "--all")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "stdin is not a terminal", "pass --yes")
	if r.stdout != "" {
		t.Errorf("stdout not empty: %q", r.stdout)
	}
	if got := versions(t, d, ids); !slices.Equal(got, zero) {
		t.Fatalf("versions %v after a refused migration", got)
	}

	// A dry run needs no confirmation and changes nothing.
	r = run(t, "--database-url", d.URL, "center", "migrate", "--all", "--dry-run", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if s := doc.Summary; !s.DryRun || s.Planned != 2 || s.Migrated != 0 {
		t.Errorf("dry run summary %+v", s)
	}
	if tr := doc.Tenants[0]; tr.Outcome != tenancy.OutcomePlanned || tr.From != 0 || tr.To != latest || len(tr.Migrations) != int(latest) {
		t.Errorf("dry run tenant %+v", tr)
	}
	if got := versions(t, d, ids); !slices.Equal(got, zero) {
		t.Fatalf("versions %v after a dry run", got)
	}

	// On a terminal it asks; anything but yes declines.
	r = runWith(t, invocation{stdin: "n\n", stdinTerminal: true}, "--database-url", d.URL, "center", "migrate", "--all")
	r.wantCode(t, ExitFailure)
	if !strings.Contains(r.stderr, "Migrate 2 of 2 centers of ") || !strings.Contains(r.stderr, fmt.Sprintf("to version %d? [y/N] ", latest)) ||
		!strings.HasSuffix(r.stderr, "tenantctl: aborted: not confirmed\n") {
		t.Errorf("prompt or refusal missing from stderr: %q", r.stderr)
	}
	if got := versions(t, d, ids); !slices.Equal(got, zero) {
		t.Fatalf("versions %v after a declined migration", got)
	}
	r = runWith(t, invocation{stdin: "", stdinTerminal: true}, "--database-url", d.URL, "center", "migrate", "--all")
	r.wantCode(t, ExitFailure) // end of input is no

	r = runWith(t, invocation{stdin: "yes\n", stdinTerminal: true}, "--database-url", d.URL, "center", "migrate", "--all", "-o", "json")
	r.wantCode(t, ExitOK)
	if doc := decodeJSON[fleetDoc](t, r.stdout); doc.Summary.Migrated != 2 {
		t.Errorf("summary %+v after yes", doc.Summary)
	}
}

// TestStagedRollout breaks the third of six centers in ledger order and
// rolls out with a canary of 2, batches of 2 and at most 1 failure.
func TestStagedRollout(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 6)
	const broken = 2
	for i, id := range ids {
		rewind(t, d, id, i != broken)
	}
	brokenSchema := d.Tenancy.SchemaName(ids[broken])

	args := []string{"--database-url", d.URL, "center", "migrate", "--all", "--yes",
		"--canary", "2", "--batch-size", "2", "--max-failures", "1", "--concurrency", "1"}
	r := run(t, append(args, "-o", "json")...)
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "1 of 6 centers failed, 3 skipped", "stopped: max failures reached (1)", "failed: "+brokenSchema)
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if s := doc.Summary; s.Migrated != 2 || s.Failed != 1 || s.Skipped != 3 || s.Total != 6 || s.Stopped != "max failures reached (1)" {
		t.Errorf("summary %+v, want 2 migrated (the canary), 1 failed, 3 skipped", s)
	}
	wantOutcomes := []tenancy.Outcome{tenancy.OutcomeMigrated, tenancy.OutcomeMigrated, tenancy.OutcomeFailed, tenancy.OutcomeSkipped, tenancy.OutcomeSkipped, tenancy.OutcomeSkipped}
	for i, tr := range doc.Tenants {
		if tr.Center != ids[i] || tr.Outcome != wantOutcomes[i] {
			t.Errorf("tenant %d: %s %s, want %s %s", i, tr.Center, tr.Outcome, ids[i], wantOutcomes[i])
		}
	}
	if tr := doc.Tenants[broken]; tr.From != 0 || tr.To != 0 || !strings.Contains(tr.Error, "001_samples.sql") || !strings.Contains(tr.Error, "already exists") {
		t.Errorf("broken tenant %+v, want its migration's error", tr)
	}
	if got := versions(t, d, ids); !slices.Equal(got, []int32{latest, latest, 0, 0, 0, 0}) {
		t.Fatalf("versions %v", got)
	}

	// Status sees the failure and the centers still behind.
	r = run(t, "--database-url", d.URL, "center", "status", "--problems-only")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "4 of 6 centers have problems", brokenSchema+" (behind, last-failed)")
	if !strings.Contains(r.stdout, "last error: tenancy: schema "+brokenSchema) || strings.Contains(r.stdout, d.Tenancy.SchemaName(ids[0])) {
		t.Errorf("status table:\n%s", r.stdout)
	}

	// Once the schema is repaired, a rerun resumes: only the rest runs.
	if _, err := d.Pool.Exec(t.Context(), "DROP TABLE "+brokenSchema+".samples"); err != nil {
		t.Fatal(err)
	}
	r = run(t, args...)
	r.wantCode(t, ExitOK)
	for _, want := range []string{"migrated   4", "up-to-date   2", "total        6"} {
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("summary table lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "canary: migrating 2 centers") || !strings.Contains(r.stderr, "batch 1/1: migrating 2 centers") {
		t.Errorf("stage notes missing from stderr:\n%s", r.stderr)
	}
	if got := versions(t, d, ids); !slices.Equal(got, slices.Repeat([]int32{latest}, 6)) {
		t.Fatalf("versions %v after the rerun", got)
	}
	r = run(t, "--database-url", d.URL, "center", "status")
	r.wantCode(t, ExitOK)
}

func TestCanaryFailureStopsRollout(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 5)
	for i, id := range ids {
		rewind(t, d, id, i != 0)
	}

	r := run(t, "--database-url", d.URL, "center", "migrate", "--all", "--yes", "--canary", "2", "--batch-size", "2", "-o", "json")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "1 of 5 centers failed, 3 skipped (stopped: canary failed)", d.Tenancy.SchemaName(ids[0]))
	doc := decodeJSON[fleetDoc](t, r.stdout)
	if s := doc.Summary; s.Failed != 1 || s.Migrated != 1 || s.Skipped != 3 || s.Stopped != "canary failed" {
		t.Errorf("summary %+v, want the canary's 1 failed and 1 migrated, the other 3 skipped", s)
	}
	for _, tr := range doc.Tenants[2:] {
		if tr.Outcome != tenancy.OutcomeSkipped || tr.Error != "not attempted: canary failed" {
			t.Errorf("tenant after the canary: %+v", tr)
		}
	}
	if got := versions(t, d, ids); !slices.Equal(got, []int32{0, latest, 0, 0, 0}) {
		t.Fatalf("versions %v", got)
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 3)
	for _, id := range ids {
		rewind(t, d, id, true)
	}
	tty := invocation{stderrTerminal: true}

	// -o json on a terminal: one document and no bar.
	r := runWith(t, tty, "--database-url", d.URL, "center", "migrate", ids[0].String(), "-o", "json")
	r.wantCode(t, ExitOK)
	decodeJSON[fleetDoc](t, r.stdout)
	if r.stderr != "" {
		t.Errorf("stderr with -o json: %q", r.stderr)
	}

	r = runWith(t, tty, "--database-url", d.URL, "center", "migrate", "--all", "--yes")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stderr, "migrating") || !strings.Contains(r.stderr, "(2/2") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	if strings.Contains(r.stdout, "(2/2") || !strings.HasPrefix(r.stdout, "OUTCOME") {
		t.Errorf("stdout is not the summary alone:\n%s", r.stdout)
	}
}

func TestCenterStatusOrphan(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	createTenants(t, d, 2)
	orphan := d.Tenancy.SchemaName(uuid.New())
	if _, err := d.Pool.Exec(t.Context(), "CREATE SCHEMA "+orphan); err != nil {
		t.Fatal(err)
	}

	r := run(t, "--database-url", d.URL, "center", "status")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "1 of 3 centers have problems: "+orphan+" (orphan-schema)")
	if !strings.Contains(r.stdout, orphan) || !strings.Contains(r.stdout, "schema has no ledger entry") {
		t.Errorf("status table lacks the orphan:\n%s", r.stdout)
	}

	r = run(t, "--database-url", d.URL, "center", "status", "-o", "json")
	r.wantCode(t, ExitFailure)
	st := decodeJSON[statusDoc](t, r.stdout)
	if st.Summary.Total != 3 || st.Summary.OK != 2 || st.Summary.Problems[tenancy.ProblemOrphanSchema] != 1 {
		t.Errorf("summary %+v", st.Summary)
	}
	var found bool
	for _, c := range st.Tenants {
		if c.Schema == orphan {
			found = true
			if c.InLedger || !c.SchemaExists || !slices.Equal(c.Problems, []tenancy.Problem{tenancy.ProblemOrphanSchema}) {
				t.Errorf("orphan status %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("orphan %s not in %+v", orphan, st.Tenants)
	}

	r = run(t, "--database-url", d.URL, "center", "status", "-o", "yaml")
	r.wantCode(t, ExitFailure)
	if !strings.Contains(r.stdout, "- orphan-schema") || !strings.HasPrefix(r.stdout, fmt.Sprintf("summary:\n  latest: %d\n", latest)) {
		t.Errorf("yaml status:\n%s", r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "__start_tenantctl",
		"zsh":  "#compdef tenantctl",
		"fish": "complete -c tenantctl",
	} {
		r := run(t, "completion", shell)
		r.wantCode(t, ExitOK)
		if !strings.Contains(r.stdout, want) || r.stderr != "" {
			t.Errorf("completion %s: stdout lacks %q", shell, want)
		}
	}
}

// TestFlagCompletion: --status and --ordering complete to the domain's own
// lists, without a database.
func TestFlagCompletion(t *testing.T) {
	t.Parallel()
	for flag, want := range map[string][]string{
		"--status":   {"pending", "processing", "completed", "rejected", "archived"},
		"--ordering": {"created_at", "-created_at", "updated_at", "-updated_at", "name", "-name", "barcode", "-barcode", "status", "-status"},
	} {
		r := run(t, cobra.ShellCompRequestCmd, "sample", "list", "Some Center", flag, "")
		r.wantCode(t, ExitOK)
		if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); !slices.Equal(got[:len(got)-1], want) || got[len(got)-1] != ":4" {
			t.Errorf("completion of %s = %q, want %q then :4", flag, got, want)
		}
	}
}
