package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newCenterListCmd(a *App) *cobra.Command {
	var page pageFlags
	var includeInactive bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List centers",
		Long: `List centers by name, a page at a time (--limit, --offset). Soft-deleted
centers are hidden unless --include-inactive.

With -o json or -o yaml the document is {"count": N, "results": [...]}, N
counting every center, not only this page.`,
		Example: `  tenantctl center list
  tenantctl center list --include-inactive --limit 100 --offset 100
  tenantctl center list -o json | jq -r '.results[].name'`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := page.validate(c); err != nil {
				return err
			}
			ctx := c.Context()
			st, err := a.Store(ctx)
			if err != nil {
				return err
			}
			cs, count, err := st.Centers.List(ctx, domain.ListOptions{Limit: page.Limit, Offset: page.Offset, IncludeInactive: includeInactive})
			if err != nil {
				return err
			}
			if err := a.Print(newCenterList(cs, count)); err != nil {
				return err
			}
			a.notePage(page, len(cs), count, "center")
			return nil
		},
	}
	page.add(cmd)
	cmd.Flags().BoolVar(&includeInactive, "include-inactive", false, "include soft-deleted centers")
	return cmd
}

// allCenters lists every center by name, page by page.
func allCenters(ctx context.Context, st *domain.Store, includeInactive bool) ([]domain.Center, error) {
	var all []domain.Center
	for {
		cs, count, err := st.Centers.List(ctx, domain.ListOptions{Limit: domain.MaxLimit, Offset: len(all), IncludeInactive: includeInactive})
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if len(cs) == 0 || len(all) >= count {
			return all, nil
		}
	}
}

// centerNames returns the names of every center, soft-deleted included.
func (a *App) centerNames(ctx context.Context, st *domain.Store) (centerNames, error) {
	cs, err := allCenters(ctx, st, true)
	if err != nil {
		return nil, err
	}
	names := make(centerNames, len(cs))
	for _, c := range cs {
		names[c.ID] = c.Name
	}
	return names, nil
}
