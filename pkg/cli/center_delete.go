package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newCenterDeleteCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CENTER",
		Short: "Soft-delete a center",
		Long: `Soft-delete a center: it leaves the default lists, its samples answer "not
found" and its members can no longer authenticate, but its schema and data
stay. Undo with 'tenantctl center restore'; remove it for good with
'tenantctl center hard-delete'. Deleting a deleted center changes nothing.`,
		Example: `  tenantctl center delete "Izmir Genomics"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runCenterSetActive(c.Context(), args[0], false)
		},
	}
}

func newCenterRestoreCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "restore CENTER",
		Short: "Restore a soft-deleted center",
		Long: `Reactivate a soft-deleted center, with its schema and data as they were.
Restoring an active center changes nothing.`,
		Example: `  tenantctl center restore "Izmir Genomics"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runCenterSetActive(c.Context(), args[0], true)
		},
	}
}

func (a *App) runCenterSetActive(ctx context.Context, ref string, active bool) error {
	st, center, err := a.resolveCenter(ctx, ref)
	if err != nil {
		return err
	}
	actor, err := a.actor(ctx)
	if err != nil {
		return err
	}
	if active {
		center, err = st.Centers.Restore(ctx, actor, center.ID)
	} else {
		center, err = st.Centers.SoftDelete(ctx, actor, center.ID)
	}
	if err != nil {
		return err
	}
	if err := a.Print(centerDoc{center}); err != nil {
		return err
	}
	if !active && a.Config.Output == OutputTable {
		a.Notef("center %q deleted; undo with: tenantctl center restore %s", center.Name, shellQuote(center.Name))
	}
	return nil
}

// hardDeleteResult is what hard-delete removed.
type hardDeleteResult struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Schema  string `json:"schema_name"`
	Deleted bool   `json:"deleted"`
}

func (r hardDeleteResult) Tables() []Table {
	return []Table{fields("ID", r.ID, "NAME", r.Name, "SCHEMA", r.Schema, "DELETED", yesNo(r.Deleted))}
}

func newCenterHardDeleteCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "hard-delete CENTER",
		Short: "Delete a soft-deleted center and its schema for good",
		Long: `Remove a center for good: its schema with every sample, its registry row,
its members and their tokens, in one transaction. There is no undo.

Only a soft-deleted center can be hard-deleted ('tenantctl center delete'
first), so that one mistaken command cannot destroy data. The command asks
for confirmation on a terminal and refuses without --yes otherwise.`,
		Example: `  tenantctl center delete "Izmir Genomics"
  tenantctl center hard-delete "Izmir Genomics"
  tenantctl center hard-delete "Izmir Genomics" --yes   # in a script`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			// Fail before connecting when the answer can never come.
			if err := a.canConfirm(); err != nil {
				return err
			}
			st, center, err := a.resolveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			activeErr := fmt.Errorf("center %q is active; soft-delete it first: tenantctl center delete %s",
				center.Name, shellQuote(center.Name))
			if center.IsActive {
				return activeErr
			}
			what := "its schema " + center.SchemaName
			if s, err := st.Stats(ctx, center.ID); err == nil {
				what += fmt.Sprintf(" with %s and %s", text.Plural(s.Samples.Total, "sample"), text.Plural(s.Users.Total, "user"))
			}
			if err := a.Confirm(fmt.Sprintf("Delete center %q and %s for good?", center.Name, what)); err != nil {
				return err
			}
			if err := st.Centers.HardDelete(ctx, center.ID); err != nil {
				if errors.Is(err, domain.ErrActive) { // restored meanwhile
					return activeErr
				}
				return err
			}
			return a.Print(hardDeleteResult{ID: center.ID.String(), Name: center.Name, Schema: center.SchemaName, Deleted: true})
		},
	}
}
