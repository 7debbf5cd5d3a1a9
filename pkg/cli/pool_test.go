package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// The pool commands end to end: fill to the configured size, a center
// created from the pool, center status counting members apart, migrate
// bringing a member behind forward, drain.
func TestPoolCommands(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := testdb.New(t)
	sized := invocation{env: map[string]string{"TENANTCTL_POOL_SIZE": "3"}}
	pool := func(args ...string) result {
		t.Helper()
		return runWith(t, sized, append([]string{"--database-url", d.URL}, args...)...)
	}

	r := pool("pool", "fill", "-o", "json")
	r.wantCode(t, ExitOK)
	rep := decodeJSON[poolReport](t, r.stdout)
	if rep.Created == nil || *rep.Created != 3 || rep.Ready != 3 || len(rep.Members) != 3 || rep.Size != 3 || rep.Latest != latest {
		t.Fatalf("pool fill: %+v, want 3 created and ready at %d", rep, latest)
	}
	for _, mb := range rep.Members {
		if !strings.HasPrefix(mb.Schema, "center_pool_") || mb.Version != latest || len(mb.Problems) != 0 {
			t.Errorf("member %+v, want a healthy center_pool_ schema at %d", mb, latest)
		}
	}
	r = pool("pool", "fill", "-o", "json")
	r.wantCode(t, ExitOK)
	if rep := decodeJSON[poolReport](t, r.stdout); *rep.Created != 0 || rep.Ready != 3 {
		t.Errorf("second pool fill: %+v, want nothing created", rep)
	}

	// A center created with the pool on takes a member.
	r = pool("center", "create", "Pool Center", "-o", "json")
	r.wantCode(t, ExitOK)
	r = pool("pool", "status")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stdout, "ready     2") || !strings.Contains(r.stdout, "size      3") {
		t.Errorf("pool status after a claim:\n%s", r.stdout)
	}
	r = run(t, "--database-url", d.URL, "center", "status", "-o", "json")
	r.wantCode(t, ExitOK)
	st := decodeJSON[statusDoc](t, r.stdout)
	if st.Summary.Total != 1 || st.Summary.OK != 1 || st.Summary.PoolMembers != 2 || st.Summary.PoolReady != 2 || len(st.Tenants) != 1 {
		t.Errorf("center status: %+v, want 1 center and 2 ready members apart", st)
	}
	r = run(t, "--database-url", d.URL, "center", "status")
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stdout, "WARM POOL") || strings.Contains(r.stdout, "center_pool_") {
		t.Errorf("center status table: want the pool's counts and no healthy member listed:\n%s", r.stdout)
	}

	// A member left behind (as by an older tenantctl): listed by center
	// status with its problem, and migrated by migrate.
	r = pool("pool", "status", "-o", "json")
	member := decodeJSON[poolReport](t, r.stdout).Members[0].Schema
	for _, q := range []string{
		"DROP TABLE " + pgx.Identifier{member, "samples"}.Sanitize(),
		"DELETE FROM public.tenancy_pool_migrations WHERE schema_name = $1",
		"UPDATE public.tenancy_pool SET version = 0 WHERE schema_name = $1",
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, member)
		}
		if _, err := d.Pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	r = run(t, "--database-url", d.URL, "center", "status")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "1 of 2 pool members have problems: "+member+" (behind)")
	if !strings.Contains(r.stdout, "warm pool member") {
		t.Errorf("center status lacks the member behind:\n%s", r.stdout)
	}
	r = run(t, "--database-url", d.URL, "migrate", "-o", "json")
	r.wantCode(t, ExitOK)
	if doc := decodeJSON[fleetReport](t, r.stdout); doc.Pool == nil || doc.Pool.Migrated != 1 || doc.Pool.Dropped != 0 {
		t.Errorf("migrate's pool report: %+v, want 1 migrated", doc.Pool)
	}
	r = pool("pool", "status", "-o", "json")
	r.wantCode(t, ExitOK)
	if rep := decodeJSON[poolReport](t, r.stdout); rep.Ready != 2 {
		t.Errorf("pool after migrate: %+v, want 2 ready", rep)
	}

	// Drain asks first, then drops every member.
	r = pool("pool", "drain")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "pass --yes")
	r = pool("pool", "drain", "--yes", "-o", "json")
	r.wantCode(t, ExitOK)
	if rep := decodeJSON[poolReport](t, r.stdout); rep.Dropped == nil || *rep.Dropped != 2 || len(rep.Members) != 0 {
		t.Errorf("pool drain: %+v, want 2 dropped, none left", rep)
	}
	r = run(t, "--database-url", d.URL, "center", "status", "-o", "json")
	r.wantCode(t, ExitOK)
	if st := decodeJSON[statusDoc](t, r.stdout); st.Summary.PoolMembers != 0 || st.Summary.Total != 1 {
		t.Errorf("center status after drain: %+v", st.Summary)
	}
}

func TestPoolUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		inv  invocation
		args []string
		want string
		hint bool // the --help hint follows (not for the environment's errors)
	}{
		{"fill without a size", invocation{}, []string{"pool", "fill"}, "the pool size is 0 (off)", true},
		{"negative flag", invocation{}, []string{"--pool-size", "-1", "pool", "status"}, "invalid pool size -1", true},
		{"negative env", invocation{env: map[string]string{"TENANTCTL_POOL_SIZE": "-2"}}, []string{"pool", "status"}, "invalid pool size -2", true},
		{"not a number", invocation{env: map[string]string{"TENANTCTL_POOL_SIZE": "many"}}, []string{"pool", "status"}, `invalid TENANTCTL_POOL_SIZE "many"`, false},
		{"unknown subcommand", invocation{}, []string{"pool", "fil"}, `did you mean "fill"?`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			inv := c.inv
			if inv.env == nil {
				inv.env = map[string]string{}
			}
			inv.env["TENANTCTL_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none" // never reached
			r := runWith(t, inv, c.args...)
			r.wantCode(t, ExitUsage)
			r.wantOneLineError(t, c.hint, c.want)
		})
	}
}

// The pool's size from the config file, under the environment's, and a
// value there that is no number refused as one on the command line is.
func TestPoolSizeConfig(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	file := filepath.Join(t.TempDir(), "tenantctl.yml")
	size := func(yaml string, env map[string]string) result {
		t.Helper()
		if err := os.WriteFile(file, []byte("database-url: "+d.URL+"\n"+yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return runWith(t, invocation{env: env}, "--config", file, "pool", "status", "-o", "json")
	}
	r := size("pool-size: 4\n", nil)
	r.wantCode(t, ExitOK)
	if rep := decodeJSON[poolReport](t, r.stdout); rep.Size != 4 {
		t.Errorf("size from the file: %d, want 4", rep.Size)
	}
	r = size("pool-size: 4\n", map[string]string{"TENANTCTL_POOL_SIZE": "7"})
	r.wantCode(t, ExitOK)
	if rep := decodeJSON[poolReport](t, r.stdout); rep.Size != 7 {
		t.Errorf("size from the environment over the file: %d, want 7", rep.Size)
	}
	r = size("pool-size: lots\n", nil)
	r.wantCode(t, ExitUsage)
	r.wantOneLineError(t, true, `invalid pool size "lots"`)
}
