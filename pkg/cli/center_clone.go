package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newCenterCloneCmd(a *App) *cobra.Command {
	var description string
	var data bool
	cmd := &cobra.Command{
		Use:   "clone SOURCE NAME",
		Short: "Create a center whose schema is a copy of another's",
		Long: `Create center NAME with a copy of SOURCE's schema: its tables, indexes,
constraints, sequences, views, functions and triggers, at SOURCE's migration
version, and with --data its samples too, read from one snapshot while
SOURCE goes on serving. The new center takes SOURCE's settings and none of
its users. Everything commits in one transaction: if anything fails, nothing
is left behind.

SOURCE is a center's id or name and must not be deleted. NAME is 1 to 200
characters, unique case-insensitively.`,
		Example: `  tenantctl center clone "Izmir Genomics" "Izmir Genomics (training)"
  tenantctl center clone "Izmir Genomics" "Izmir Genomics 2025" --data --description "frozen copy" -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			st, source, err := a.resolveActiveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			actor, err := a.actor(ctx)
			if err != nil {
				return err
			}
			center, err := st.Centers.Clone(ctx, actor, source.ID, domain.CloneInput{Name: args[1], Description: description, WithData: data})
			if err != nil {
				return err
			}
			return a.Print(centerDoc{center})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the new center is")
	cmd.Flags().BoolVar(&data, "data", false, "copy the source's samples too")
	return cmd
}
