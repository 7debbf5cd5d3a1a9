package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Node is one PostgreSQL server holding tenant schemas, and the Manager's
// tenants on it.
type Node struct {
	// Host and Port name the server: on Citus as pg_dist_node does, else as
	// the Manager's pool connects to it.
	Host string
	Port int
	// Tenants counts the Manager's tenants (in its ledger) whose schema is
	// on the node, and SizeBytes sums their sizes (SchemaSizes).
	Tenants   int
	SizeBytes int64
}

// Cluster is where a Manager's tenants live.
type Cluster struct {
	// Citus says the database is a Citus coordinator.
	Citus bool
	// Nodes lists the servers: the one server on PostgreSQL; on Citus
	// every primary node of pg_dist_node, in node id order, the
	// coordinator included when it is in the metadata. On Citus a tenant
	// whose schema has no shard anywhere (created before
	// citus.enable_schema_based_sharding was on) is counted on the
	// coordinator's row, added for it if pg_dist_node has none.
	Nodes []Node
}

// Addr returns the node as HOST:PORT (an IPv6 host in brackets), the
// form ParseNodeAddr reads and MoveTenant's target is given in.
func (n Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// Cluster reports the nodes and the Manager's tenants on each, in three
// queries on PostgreSQL (the ledger, the sizes; IsCitus once per Manager)
// and four on Citus (the nodes and where each tenant's shards are, per
// https://docs.citusdata.com/en/latest/develop/api_metadata.html).
func (m *Manager) Cluster(ctx context.Context) (Cluster, error) {
	citus, err := m.IsCitus(ctx)
	if err != nil {
		return Cluster{}, fmt.Errorf("tenancy: cluster: %w", err)
	}
	rows, err := m.pool.Query(ctx, "SELECT schema_name FROM "+m.tenantsTbl+
		" WHERE schema_name ~ ('^' || $1 || '[0-9a-f]{32}$') ORDER BY schema_name", m.prefix)
	if err != nil {
		return Cluster{}, wrapErr("cluster", "ledger", err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Cluster{}, wrapErr("cluster", "ledger", err)
	}
	sizes, err := m.fleetSizes(ctx, citus, schemas)
	if err != nil {
		return Cluster{}, err
	}
	nodes, on, err := m.placement(ctx, citus, schemas)
	if err != nil {
		return Cluster{}, err
	}
	for _, s := range schemas {
		n := &nodes[on[s]]
		n.Tenants++
		n.SizeBytes += sizes[s]
	}
	return Cluster{Citus: citus, Nodes: nodes}, nil
}

// TenantNodes returns, for each of schemas (tenant schemas that exist),
// the node holding it as HOST:PORT (Node.Addr): on PostgreSQL the server
// the pool connects to; on Citus the node holding the schema's shards, or
// the coordinator for a schema with none, as Cluster counts them. It asks
// nothing of PostgreSQL beyond IsCitus (once per Manager), and one query
// of Citus whatever the number of schemas.
func (m *Manager) TenantNodes(ctx context.Context, schemas []string) (map[string]string, error) {
	citus, err := m.IsCitus(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenant nodes: %w", err)
	}
	nodes, on, err := m.placement(ctx, citus, schemas)
	if err != nil {
		return nil, err
	}
	addrs := make(map[string]string, len(on))
	for s, i := range on {
		addrs[s] = nodes[i].Addr()
	}
	return addrs, nil
}

// placement returns the nodes, their counts zero, and the index in them
// of the node holding each of schemas: see Cluster.Nodes for which nodes,
// and where a schema without shards is.
func (m *Manager) placement(ctx context.Context, citus bool, schemas []string) ([]Node, map[string]int, error) {
	cc := m.pool.Config().ConnConfig
	self := Node{Host: cc.Host, Port: int(cc.Port)}
	on := make(map[string]int, len(schemas))
	if !citus {
		for _, s := range schemas {
			on[s] = 0
		}
		return []Node{self}, on, nil
	}
	// Each primary node, with the tenant schemas whose shards it holds
	// (a distributed schema's tables are colocated: one node each).
	rows, err := m.pool.Query(ctx, `
SELECT n.nodename, n.nodeport, n.groupid = 0,
	coalesce(array_agg(DISTINCT ns.nspname::text) FILTER (WHERE ns.nspname IS NOT NULL), '{}')
FROM pg_dist_node n
LEFT JOIN pg_dist_placement pl ON pl.groupid = n.groupid
LEFT JOIN pg_dist_shard sh ON sh.shardid = pl.shardid
LEFT JOIN pg_dist_partition p ON p.logicalrelid = sh.logicalrelid
LEFT JOIN pg_dist_schema ds ON ds.colocationid = p.colocationid
LEFT JOIN pg_namespace ns ON ns.oid = ds.schemaid AND ns.nspname = ANY($1::text[])
WHERE n.noderole = 'primary'
GROUP BY n.nodeid, n.nodename, n.nodeport, n.groupid
ORDER BY n.nodeid`, schemas)
	if err != nil {
		return nil, nil, fmt.Errorf("tenancy: cluster: nodes: %w", err)
	}
	var (
		nodes       []Node
		coordinator = -1
		node        Node
		coord       bool
		held        []string
	)
	if _, err := pgx.ForEachRow(rows, []any{&node.Host, &node.Port, &coord, &held}, func() error {
		for _, s := range held {
			on[s] = len(nodes)
		}
		if coord {
			coordinator = len(nodes)
		}
		nodes = append(nodes, Node{Host: node.Host, Port: node.Port})
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("tenancy: cluster: nodes: %w", err)
	}
	for _, s := range schemas {
		if _, ok := on[s]; ok {
			continue
		}
		if coordinator < 0 {
			coordinator = len(nodes)
			nodes = append(nodes, self)
		}
		on[s] = coordinator
	}
	return nodes, on, nil
}

// TransferMode is how Citus copies a tenant's shards to another node.
type TransferMode string

// The transfer modes MoveTenant accepts (citus.shard_transfer_mode).
const (
	// TransferAuto: logical replication, writes go on during the copy;
	// Citus refuses it for a table without a replica identity.
	TransferAuto TransferMode = "auto"
	// TransferBlockWrites: writes to the tenant wait during the copy.
	TransferBlockWrites TransferMode = "block_writes"
)

// ParseTransferMode accepts "auto" and "block_writes".
func ParseTransferMode(s string) (TransferMode, error) {
	switch m := TransferMode(s); m {
	case TransferAuto, TransferBlockWrites:
		return m, nil
	}
	return "", fmt.Errorf("tenancy: transfer mode %q: want %s or %s", s, TransferAuto, TransferBlockWrites)
}

// ParseNodeAddr splits HOST:PORT (an IPv6 host in brackets) and checks
// both parts: a host, a port from 1 to 65535.
func ParseNodeAddr(s string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("tenancy: node %q: want HOST:PORT: %w", s, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("tenancy: node %q: port %q is not a number from 1 to 65535", s, p)
	}
	if host == "" {
		return "", 0, fmt.Errorf("tenancy: node %q: no host", s)
	}
	return host, port, nil
}

// MoveTenant moves tenant id's schema to the Citus node host:port with
// citus_schema_move
// (https://docs.citusdata.com/en/latest/develop/api_udf.html#citus-schema-move),
// and returns once it has moved. It returns ErrNotCitus on any other
// database, ErrTenantNotFound for a tenant not in the ledger.
func (m *Manager) MoveTenant(ctx context.Context, id uuid.UUID, host string, port int, mode TransferMode) error {
	schema := m.SchemaName(id)
	if _, err := ParseTransferMode(string(mode)); err != nil {
		return err
	}
	if err := m.requireCitus(ctx); err != nil {
		return err
	}
	var found bool
	if err := m.pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM "+m.tenantsTbl+" WHERE tenant_id = $1 AND schema_name = $2)", id, schema).Scan(&found); err != nil {
		return wrapErr("move", schema, err)
	}
	if !found {
		return fmt.Errorf("tenancy: move %s: %w", schema, ErrTenantNotFound)
	}
	// regnamespace reads an identifier, so the name goes quoted.
	if _, err := m.pool.Exec(ctx, "SELECT citus_schema_move($1::regnamespace, $2, $3, $4::citus.shard_transfer_mode)",
		pgx.Identifier{schema}.Sanitize(), host, port, string(mode)); err != nil {
		return fmt.Errorf("tenancy: move %s to %s: %w", schema, net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return nil
}

// ShardMove is one move of a rebalance plan: a shard (a table of a tenant
// schema, on Citus) and where it would go.
type ShardMove struct {
	Table     string
	ShardID   int64
	SizeBytes int64
	From, To  string // HOST:PORT
}

// RebalancePlan returns the moves a rebalance would make now, from Citus's
// get_rebalance_table_shards_plan
// (https://docs.citusdata.com/en/latest/develop/api_udf.html#get-rebalance-table-shards-plan);
// it moves nothing. ErrNotCitus on any other database.
func (m *Manager) RebalancePlan(ctx context.Context) ([]ShardMove, error) {
	if err := m.requireCitus(ctx); err != nil {
		return nil, err
	}
	rows, err := m.pool.Query(ctx, "SELECT table_name::text, shardid, shard_size, sourcename, sourceport, targetname, targetport FROM get_rebalance_table_shards_plan()")
	if err != nil {
		return nil, fmt.Errorf("tenancy: rebalance plan: %w", err)
	}
	var (
		mv               ShardMove
		src, dst         string
		srcPort, dstPort int
		plan             []ShardMove
	)
	if _, err := pgx.ForEachRow(rows, []any{&mv.Table, &mv.ShardID, &mv.SizeBytes, &src, &srcPort, &dst, &dstPort}, func() error {
		mv.From, mv.To = net.JoinHostPort(src, strconv.Itoa(srcPort)), net.JoinHostPort(dst, strconv.Itoa(dstPort))
		plan = append(plan, mv)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("tenancy: rebalance plan: %w", err)
	}
	return plan, nil
}

// StartRebalance starts Citus's background rebalance
// (https://docs.citusdata.com/en/latest/develop/api_udf.html#citus-rebalance-start)
// and returns its job id, for RebalanceStatus and WaitRebalance; 0 when
// there is nothing to move (Citus then starts no job). A tenant schema
// moves whole: its tables are colocated. ErrNotCitus on any other
// database.
func (m *Manager) StartRebalance(ctx context.Context) (int64, error) {
	if err := m.requireCitus(ctx); err != nil {
		return 0, err
	}
	var job *int64
	if err := m.pool.QueryRow(ctx, "SELECT citus_rebalance_start()").Scan(&job); err != nil {
		return 0, fmt.Errorf("tenancy: rebalance: %w", err)
	}
	if job == nil {
		return 0, nil
	}
	return *job, nil
}

// RebalanceJob is a Citus background rebalance job as citus_job_status
// reports it (what citus_rebalance_status shows of the latest one).
type RebalanceJob struct {
	ID int64
	// State is Citus's: scheduled, running, finished, cancelling,
	// cancelled, failing or failed.
	State string
	// Tasks counts the job's tasks (a task moves one shard group: one
	// tenant schema) by Citus's task state: blocked, runnable, running,
	// done, error, cancelling, cancelled, unscheduled.
	Tasks map[string]int64
	// Messages are those of the tasks that failed or are being retried.
	Messages []string
}

// Ended reports whether the job has stopped for good: finished, cancelled
// or failed.
func (j RebalanceJob) Ended() bool {
	return j.State == "finished" || j.State == "cancelled" || j.State == "failed"
}

// Progress returns how many of the job's tasks are done, of how many.
func (j RebalanceJob) Progress() (done, total int64) {
	for _, n := range j.Tasks {
		total += n
	}
	return j.Tasks["done"], total
}

// RebalanceStatus returns rebalance job's state, from Citus's
// citus_job_status
// (https://docs.citusdata.com/en/latest/develop/api_udf.html#citus-rebalance-status),
// in one query. ErrNotCitus on any other database.
func (m *Manager) RebalanceStatus(ctx context.Context, job int64) (RebalanceJob, error) {
	j := RebalanceJob{ID: job}
	if err := m.requireCitus(ctx); err != nil {
		return j, err
	}
	err := m.pool.QueryRow(ctx, `SELECT state::text, coalesce(details->'task_state_counts', '{}'),
	ARRAY(SELECT t->>'message' FROM jsonb_array_elements(coalesce(details->'tasks', '[]')) t
		WHERE t->>'state' IN ('error', 'runnable') AND coalesce(t->>'message', '') <> '')
FROM citus_job_status($1)`, job).Scan(&j.State, &j.Tasks, &j.Messages)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, fmt.Errorf("tenancy: rebalance job %d: no such job", job)
	}
	if err != nil {
		return j, fmt.Errorf("tenancy: rebalance job %d: %w", job, err)
	}
	return j, nil
}

// WaitRebalance follows rebalance job until it ends, asking its status
// every interval and handing each to progress (which may be nil). It
// returns the job's last status, and an error unless it finished. When
// ctx ends first, or a status cannot be read (citus_job_status asks the
// workers for the running moves' progress), the job goes on in the
// background and the error says so.
func (m *Manager) WaitRebalance(ctx context.Context, job int64, interval time.Duration, progress func(RebalanceJob)) (RebalanceJob, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		j, err := m.RebalanceStatus(ctx, job)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			return j, fmt.Errorf("tenancy: stopped following rebalance job %d, which goes on (SELECT * FROM citus_rebalance_status()): %w", job, err)
		}
		if progress != nil {
			progress(j)
		}
		if j.Ended() {
			if j.State != "finished" {
				return j, fmt.Errorf("tenancy: rebalance job %d %s: %s", job, j.State, strings.Join(j.Messages, "; "))
			}
			return j, nil
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// requireCitus returns ErrNotCitus unless the database is Citus.
func (m *Manager) requireCitus(ctx context.Context) error {
	citus, err := m.IsCitus(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("tenancy: %w", err)
	case !citus:
		return ErrNotCitus
	}
	return nil
}
