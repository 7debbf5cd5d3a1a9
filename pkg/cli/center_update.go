package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newCenterUpdateCmd(a *App) *cobra.Command {
	var name, description, settings string
	cmd := &cobra.Command{
		Use:   "update CENTER",
		Short: "Change a center's name, description or settings",
		Long: `Change the fields of a center given as flags; the others stay as they are.
--settings replaces the whole settings object (inline JSON or @FILE). The
schema name never changes.`,
		Example: `  tenantctl center update "Izmir Genomics" --description "Sequencing core"
  tenantctl center update "Izmir Genomics" --name "Izmir Genomics Center"
  tenantctl center update "Ankara Research Lab" --settings '{"sample_types": ["blood", "dna"]}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var p domain.CenterPatch
			f := c.Flags()
			if f.Changed("name") {
				p.Name = &name
			}
			if f.Changed("description") {
				p.Description = &description
			}
			if f.Changed("settings") {
				raw, err := jsonObjectFlag(c, "settings", settings)
				if err != nil {
					return err
				}
				p.Settings = &raw
			}
			if p.Name == nil && p.Description == nil && p.Settings == nil {
				return usagef(c, "nothing to update: give --name, --description or --settings")
			}
			ctx := c.Context()
			st, center, err := a.resolveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			actor, err := a.actor(ctx)
			if err != nil {
				return err
			}
			center, err = st.Centers.Patch(ctx, actor, center.ID, p)
			if err != nil {
				return err
			}
			return a.Print(centerDoc{center})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.Flags().StringVar(&description, "description", "", "new description (\"\" clears it)")
	cmd.Flags().StringVar(&settings, "settings", "", "new settings as a JSON `object`, or @FILE")
	return cmd
}
