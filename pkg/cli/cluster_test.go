package cli

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// On PostgreSQL the cluster is the one server, holding every center and
// their sizes as center stats measures them.
func TestClusterStatusOnPostgres(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	r := d.run(t, "cluster", "status", "-o", "json")
	r.wantCode(t, ExitOK)
	doc := decodeJSON[clusterDoc](t, r.stdout)
	stats := decodeJSON[statsAllReport](t, d.run(t, "center", "stats", "--all", "--include-inactive", "-o", "json").stdout)
	var size int64
	for _, res := range stats.Results {
		size += res.Stats.Schema.SizeBytes
	}
	if doc.Citus || len(doc.Nodes) != 1 || doc.Nodes[0].Centers != stats.Summary.Total || doc.Nodes[0].SizeBytes != size ||
		doc.Total.Centers != stats.Summary.Total || doc.Total.SizeBytes != size || size == 0 {
		t.Errorf("cluster status %+v; want one PostgreSQL node with the %d centers and their %d bytes", doc, stats.Summary.Total, size)
	}
	r = d.run(t, "cluster", "status")
	r.wantCode(t, ExitOK)
	if flat := strings.Join(strings.Fields(r.stdout), " "); !strings.HasPrefix(flat, "PostgreSQL NODE CENTERS SIZE "+doc.Nodes[0].Node) {
		t.Errorf("cluster status table:\n%s", r.stdout)
	}
}

// center status names each schema's node: on PostgreSQL the server
// 'cluster status' shows, for a center's schema and an orphan alike; a
// schema that does not exist is on no node.
func TestCenterStatusNodes(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ids := createTenants(t, d, 2)
	missing := d.Tenancy.SchemaName(ids[1])
	orphan := d.Tenancy.SchemaName(uuid.New())
	for _, q := range []string{"DROP SCHEMA " + pgx.Identifier{missing}.Sanitize() + " CASCADE", "CREATE SCHEMA " + pgx.Identifier{orphan}.Sanitize()} {
		if _, err := d.Pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	cl := run(t, "--database-url", d.URL, "cluster", "status", "-o", "json")
	cl.wantCode(t, ExitOK)
	server := decodeJSON[clusterDoc](t, cl.stdout).Nodes[0].Node

	r := run(t, "--database-url", d.URL, "center", "status", "-o", "json")
	r.wantCode(t, ExitFailure)
	want := map[string]string{d.Tenancy.SchemaName(ids[0]): server, missing: "", orphan: server}
	st := decodeJSON[statusDoc](t, r.stdout)
	if len(st.Tenants) != len(want) {
		t.Fatalf("status lists %+v, want %d schemas", st.Tenants, len(want))
	}
	for _, c := range st.Tenants {
		if node, ok := want[c.Schema]; !ok || c.Node != node {
			t.Errorf("%s: node %q, want %q", c.Schema, c.Node, node)
		}
	}

	r = run(t, "--database-url", d.URL, "center", "status")
	r.wantCode(t, ExitFailure)
	flat := strings.Join(strings.Fields(r.stdout), " ")
	for _, s := range []string{"SCHEMA NODE VERSION LATEST PROBLEMS DETAIL", d.Tenancy.SchemaName(ids[0]) + " " + server + " ",
		missing + " - ", orphan + " " + server + " - "} {
		if !strings.Contains(flat, s) {
			t.Errorf("status table lacks %q:\n%s", s, r.stdout)
		}
	}
}

// Moving and rebalancing need Citus: on PostgreSQL each refuses in one
// line, before naming any center, and changes nothing; bad flags are
// usage errors before the database is asked.
func TestClusterMovesRefusedOnPostgres(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	for _, args := range [][]string{
		{"center", "move", istanbul, "--to", "worker-2:5432"},
		{"center", "move", "no such center", "--to", "[::1]:5432", "--mode", "block_writes"},
		{"cluster", "rebalance"},
		{"cluster", "rebalance", "--dry-run"},
		{"cluster", "rebalance", "--detach"},
	} {
		r := d.run(t, args...)
		r.wantCode(t, ExitFailure)
		r.wantOneLineError(t, false, "tenantctl: this database is not a Citus coordinator")
		if r.stdout != "" {
			t.Errorf("%v printed %q", args, r.stdout)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"center", "move", istanbul}, "--to HOST:PORT is required"},
		{[]string{"center", "move", istanbul, "--to", "worker-2"}, "--to: tenancy: node \"worker-2\": want HOST:PORT"},
		{[]string{"center", "move", istanbul, "--to", ":5432"}, "no host"},
		{[]string{"center", "move", istanbul, "--to", "worker-2:0"}, "port \"0\" is not a number from 1 to 65535"},
		{[]string{"center", "move", istanbul, "--to", "worker-2:65536"}, "from 1 to 65535"},
		{[]string{"center", "move", istanbul, "--to", "worker-2:x"}, "from 1 to 65535"},
		{[]string{"center", "move", istanbul, "--to", "worker-2:5432", "--mode", "force_logical"}, "--mode: tenancy: transfer mode \"force_logical\": want auto or block_writes"},
		{[]string{"center", "move"}, "accepts 1 arg(s)"},
		{[]string{"cluster", "rebalance", "now"}, "unknown command"},
		{[]string{"cluster", "rebalance", "--dry-run", "--detach"}, "--dry-run and --detach do not go together"},
	} {
		r := d.run(t, c.args...)
		r.wantCode(t, ExitUsage)
		r.wantOneLineError(t, true, c.want)
	}
}
