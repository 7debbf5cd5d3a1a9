package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/tenancy"
)

type centerStatusOptions struct {
	ProblemsOnly bool
}

func newCenterStatusCmd(a *App) *cobra.Command {
	var opts centerStatusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Report every center schema's version and problems",
		Long: `Report each center's schema: the server holding it (on PostgreSQL the one
server, on Citus the node with its shards, as 'cluster status' counts them),
its migration version against the latest, and its problems, read from the
tenancy ledger and the PostgreSQL catalog in one query however many centers
there are (and one more of Citus's metadata on Citus):

  behind          migrations are pending ('tenantctl center migrate')
  ahead           the schema is newer than this tenantctl
  drift           an applied migration file has changed since it ran
  last-failed     the last migration attempt failed (the error is shown)
  orphan-schema   a center_* schema with no ledger entry
  missing-schema  a ledger entry whose schema does not exist

The warm pool's members (see 'tenantctl pool') are counted apart, and
listed only when something is wrong with one.

The exit status is 1 when any center has a problem, so the command can gate
a deployment.`,
		Example: `  tenantctl center status
  tenantctl center status --problems-only
  tenantctl center status -o json | jq '.summary'`,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runCenterStatus(c.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ProblemsOnly, "problems-only", false, "list only centers with problems (the summary still counts all)")
	return cmd
}

type statusReport struct {
	Summary statusSummary `json:"summary"`
	// Tenants, as in the migrate commands' documents.
	Tenants []centerStatus `json:"tenants"`
}

type statusSummary struct {
	Latest int32 `json:"latest"`
	Total  int   `json:"total"`
	OK     int   `json:"ok"`
	// Problems counts centers per problem.
	Problems map[tenancy.Problem]int `json:"problems"`
	// PoolMembers counts the warm pool's schemas, PoolReady those of them
	// that a center create would claim; neither is in Total.
	PoolMembers int `json:"pool_members"`
	PoolReady   int `json:"pool_ready"`
}

type centerStatus struct {
	Center uuid.UUID `json:"center"`
	Schema string    `json:"schema"`
	// Node is the server holding the schema, HOST:PORT; "" when the
	// schema does not exist.
	Node            string            `json:"node"`
	PoolMember      bool              `json:"pool_member,omitempty"` // a warm pool schema, listed only with a problem
	InLedger        bool              `json:"in_ledger"`
	SchemaExists    bool              `json:"schema_exists"`
	Version         int32             `json:"version"`
	Latest          int32             `json:"latest"`
	MigratedAt      *time.Time        `json:"migrated_at,omitempty"`
	Problems        []tenancy.Problem `json:"problems"`
	DriftedVersions []int32           `json:"drifted_versions,omitempty"`
	LastError       string            `json:"last_error,omitempty"`
}

func (a *App) runCenterStatus(ctx context.Context, opts centerStatusOptions) error {
	m, err := a.Manager(ctx)
	if err != nil {
		return err
	}
	statuses, err := m.Inspect(ctx)
	if err != nil {
		return err
	}
	// Every schema's node in one ask, however many there are.
	var schemas []string
	for _, st := range statuses {
		if st.SchemaExists {
			schemas = append(schemas, st.Schema)
		}
	}
	nodes, err := m.TenantNodes(ctx, schemas)
	if err != nil {
		return err
	}
	rep := statusReport{
		Summary: statusSummary{Latest: m.LatestVersion(), Problems: map[tenancy.Problem]int{}},
		Tenants: []centerStatus{},
	}
	var bad, badMembers []string
	for _, st := range statuses {
		if st.PoolMember {
			// Not a center: counted apart, listed only when something
			// is wrong with it ('tenantctl pool status' lists them all).
			rep.Summary.PoolMembers++
			if st.OK() {
				rep.Summary.PoolReady++
				continue
			}
			badMembers = append(badMembers, fmt.Sprintf("%s (%s)", st.Schema, joinProblems(st.Problems)))
			rep.Tenants = append(rep.Tenants, newCenterStatus(st, m.LatestVersion(), nodes[st.Schema]))
			continue
		}
		rep.Summary.Total++
		for _, p := range st.Problems {
			rep.Summary.Problems[p]++
		}
		if st.OK() {
			rep.Summary.OK++
		} else {
			bad = append(bad, fmt.Sprintf("%s (%s)", st.Schema, joinProblems(st.Problems)))
		}
		if opts.ProblemsOnly && st.OK() {
			continue
		}
		rep.Tenants = append(rep.Tenants, newCenterStatus(st, m.LatestVersion(), nodes[st.Schema]))
	}
	if err := a.Print(rep); err != nil {
		return err
	}
	var msgs []string
	if len(bad) > 0 {
		msgs = append(msgs, problemsError(rep.Summary.Total, "centers", bad).Error())
	}
	if len(badMembers) > 0 {
		msgs = append(msgs, problemsError(rep.Summary.PoolMembers, "pool members", badMembers).Error())
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

func newCenterStatus(st tenancy.TenantStatus, latest int32, node string) centerStatus {
	return centerStatus{
		Center: st.TenantID, Schema: st.Schema, Node: node, PoolMember: st.PoolMember, InLedger: st.InLedger, SchemaExists: st.SchemaExists,
		Version: st.Version, Latest: latest, MigratedAt: st.MigratedAt,
		Problems: append([]tenancy.Problem{}, st.Problems...), DriftedVersions: st.DriftedVersions,
		LastError: st.LastError,
	}
}

// problemsError says that bad, of total schemas of a kind (what), have
// problems, naming a few.
func problemsError(total int, what string, bad []string) error {
	return errors.New(strconv.Itoa(len(bad)) + " of " + strconv.Itoa(total) + " " + what + " have problems: " + listSome(bad, 5))
}

func joinProblems(ps []tenancy.Problem) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Tables shows a row per center, then the problem counts.
func (r statusReport) Tables() []Table {
	centers := Table{Header: []string{"SCHEMA", "NODE", "VERSION", "LATEST", "PROBLEMS", "DETAIL"}}
	for _, c := range r.Tenants {
		version := itoa(c.Version)
		if !c.InLedger {
			version = "-"
		}
		problems := joinProblems(c.Problems)
		if problems == "" {
			problems = "ok"
		}
		node := c.Node
		if node == "" {
			node = "-"
		}
		centers.Rows = append(centers.Rows, []string{c.Schema, node, version, itoa(c.Latest), problems, c.detail()})
	}
	summary := Table{Header: []string{"STATUS", "CENTERS"}}
	summary.Rows = append(summary.Rows, []string{"ok", strconv.Itoa(r.Summary.OK)})
	problems := make([]tenancy.Problem, 0, len(r.Summary.Problems))
	for p := range r.Summary.Problems {
		problems = append(problems, p)
	}
	slices.Sort(problems)
	for _, p := range problems {
		summary.Rows = append(summary.Rows, []string{string(p), strconv.Itoa(r.Summary.Problems[p])})
	}
	summary.Rows = append(summary.Rows, []string{"total", strconv.Itoa(r.Summary.Total)})
	pool := Table{Header: []string{"WARM POOL", "SCHEMAS"}, Rows: [][]string{
		{"ready", strconv.Itoa(r.Summary.PoolReady)},
		{"members", strconv.Itoa(r.Summary.PoolMembers)},
	}}
	return []Table{centers, summary, pool}
}

// detail explains a center's problems in a few words.
func (c centerStatus) detail() string {
	var d []string
	if c.PoolMember {
		d = append(d, "warm pool member")
	}
	if !c.InLedger {
		d = append(d, "schema has no ledger entry")
	}
	if c.InLedger && !c.SchemaExists {
		d = append(d, "schema does not exist")
	}
	if len(c.DriftedVersions) > 0 {
		vs := make([]string, len(c.DriftedVersions))
		for i, v := range c.DriftedVersions {
			vs[i] = itoa(v)
		}
		d = append(d, "changed since applied: version "+strings.Join(vs, ", "))
	}
	if c.LastError != "" {
		d = append(d, "last error: "+c.LastError)
	}
	return strings.Join(d, "; ")
}
