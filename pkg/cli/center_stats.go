package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

type centerStatsOptions struct {
	All             bool
	IncludeInactive bool
}

func newCenterStatsCmd(a *App) *cobra.Command {
	var opts centerStatsOptions
	cmd := &cobra.Command{
		Use:   "stats [CENTER|--all]",
		Short: "Show a center's figures, or every center's",
		Long: `Show a center's figures: samples by status and type, members by role, and
its schema's migration version and size. Counts leave out soft-deleted
samples and users.

--all reads every active center (with --include-inactive, the soft-deleted
ones too), several at once, with a progress bar on a terminal, and prints a
row per center. A center whose figures cannot be read is reported, and the
exit status is then 1.

With -o json a center's document is the API's stats document; --all gives
{"summary": {"total", "ok", "failed"}, "results": [{"id", "name", "stats",
"error"}]}.`,
		Example: `  tenantctl center stats "Istanbul Medical Center"
  tenantctl center stats --all
  tenantctl center stats --all -o json | jq '.results[] | {name, total: .stats.samples.total}'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case opts.All && len(args) > 0:
				return usagef(c, "give either a CENTER or --all, not both")
			case !opts.All && len(args) == 0:
				return usagef(c, "name a center, or pass --all")
			case !opts.All && opts.IncludeInactive:
				return usagef(c, "--include-inactive goes with --all")
			}
			if opts.All {
				return a.runCenterStatsAll(c.Context(), opts)
			}
			st, center, err := a.resolveCenter(c.Context(), args[0])
			if err != nil {
				return err
			}
			s, err := st.Stats(c.Context(), center.ID)
			if err != nil {
				return err
			}
			return a.Print(statsDoc{s})
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "every active center")
	cmd.Flags().BoolVar(&opts.IncludeInactive, "include-inactive", false, "with --all, soft-deleted centers too")
	return cmd
}

// statsDoc is one center's stats, as the API's stats document.
type statsDoc struct {
	domain.Stats
}

func (s statsDoc) Tables() []Table {
	center := fields(
		"CENTER", s.Center.Name,
		"ID", s.Center.ID.String(),
		"ACTIVE", yesNo(s.Center.IsActive),
		"SCHEMA", s.Schema.Name,
		"VERSION", itoa(s.Schema.MigrationVersion),
		"SIZE", text.Bytes(s.Schema.SizeBytes),
	)
	byStatus := Table{Header: []string{"STATUS", "SAMPLES"}}
	for _, st := range domain.Statuses {
		byStatus.Rows = append(byStatus.Rows, []string{string(st), strconv.Itoa(s.Samples.ByStatus[st])})
	}
	byStatus.Rows = append(byStatus.Rows, []string{"total", strconv.Itoa(s.Samples.Total)})
	byType := Table{Header: []string{"TYPE", "SAMPLES"}}
	types := make([]string, 0, len(s.Samples.ByType))
	for t := range s.Samples.ByType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		byType.Rows = append(byType.Rows, []string{t, strconv.Itoa(s.Samples.ByType[t])})
	}
	byRole := Table{Header: []string{"ROLE", "USERS"}}
	for _, r := range domain.Roles {
		byRole.Rows = append(byRole.Rows, []string{string(r), strconv.Itoa(s.Users.ByRole[r])})
	}
	byRole.Rows = append(byRole.Rows, []string{"total", strconv.Itoa(s.Users.Total)})
	tables := []Table{center, byStatus}
	if len(byType.Rows) > 0 {
		tables = append(tables, byType)
	}
	return append(tables, byRole)
}

type statsAllReport struct {
	Summary statsAllSummary  `json:"summary"`
	Results []centerStatsRes `json:"results"`
}

type statsAllSummary struct {
	Total  int `json:"total"`
	OK     int `json:"ok"`
	Failed int `json:"failed"`
}

type centerStatsRes struct {
	ID    uuid.UUID     `json:"id"`
	Name  string        `json:"name"`
	Stats *domain.Stats `json:"stats,omitempty"`
	Error string        `json:"error,omitempty"`
}

func (a *App) runCenterStatsAll(ctx context.Context, opts centerStatsOptions) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	centers, err := allCenters(ctx, st, opts.IncludeInactive)
	if err != nil {
		return err
	}
	rep := statsAllReport{Results: make([]centerStatsRes, len(centers))}
	bar := a.progressBar(len(centers))
	if bar != nil {
		bar.Describe("stats")
	}
	// A few centers at once, within the pool.
	workers := min(max(int(a.pool.Config().MaxConns)-1, 1), 8)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	for range min(workers, len(centers)) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(centers) {
					return
				}
				c := centers[i]
				res := centerStatsRes{ID: c.ID, Name: c.Name}
				if s, err := st.Stats(ctx, c.ID); err != nil {
					res.Error = errorMessage(err)
				} else {
					res.Stats = &s
				}
				rep.Results[i] = res
				if bar != nil {
					mu.Lock()
					_ = bar.Add(1)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	a.finishBar(bar)
	if err := ctx.Err(); err != nil {
		return err
	}
	var failed []string
	for _, r := range rep.Results {
		if r.Error != "" {
			failed = append(failed, fmt.Sprintf("%s (%s)", r.Name, r.Error))
		}
	}
	rep.Summary = statsAllSummary{Total: len(centers), OK: len(centers) - len(failed), Failed: len(failed)}
	if err := a.Print(rep); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errors.New(strconv.Itoa(len(failed)) + " of " + strconv.Itoa(len(centers)) +
			" centers' stats failed: " + listSome(failed, 3))
	}
	return nil
}

// Tables shows a row per center and a total row, then the summary.
func (r statsAllReport) Tables() []Table {
	header := []string{"CENTER", "ACTIVE", "SAMPLES"}
	for _, s := range domain.Statuses {
		header = append(header, strings.ToUpper(string(s)))
	}
	header = append(header, "USERS", "VERSION", "SIZE")
	if r.Summary.Failed > 0 {
		header = append(header, "ERROR")
	}
	t := Table{Header: header}
	total := make([]int, 2+len(domain.Statuses))
	var size int64
	for _, res := range r.Results {
		if res.Stats == nil {
			row := []string{res.Name, "", "-"}
			for range domain.Statuses {
				row = append(row, "-")
			}
			t.Rows = append(t.Rows, append(row, "-", "-", "-", res.Error))
			continue
		}
		s := res.Stats
		row := []string{res.Name, yesNo(s.Center.IsActive), strconv.Itoa(s.Samples.Total)}
		total[0] += s.Samples.Total
		for i, st := range domain.Statuses {
			row = append(row, strconv.Itoa(s.Samples.ByStatus[st]))
			total[1+i] += s.Samples.ByStatus[st]
		}
		total[len(total)-1] += s.Users.Total
		size += s.Schema.SizeBytes
		row = append(row, strconv.Itoa(s.Users.Total), itoa(s.Schema.MigrationVersion), text.Bytes(s.Schema.SizeBytes))
		if r.Summary.Failed > 0 {
			row = append(row, "")
		}
		t.Rows = append(t.Rows, row)
	}
	row := []string{"total", "", strconv.Itoa(total[0])}
	for i := range domain.Statuses {
		row = append(row, strconv.Itoa(total[1+i]))
	}
	row = append(row, strconv.Itoa(total[len(total)-1]), "", text.Bytes(size))
	if r.Summary.Failed > 0 {
		row = append(row, "")
	}
	t.Rows = append(t.Rows, row)
	summary := Table{Header: []string{"RESULT", "CENTERS"}, Rows: [][]string{
		{"ok", strconv.Itoa(r.Summary.OK)}, {"failed", strconv.Itoa(r.Summary.Failed)}, {"total", strconv.Itoa(r.Summary.Total)},
	}}
	return []Table{t, summary}
}
