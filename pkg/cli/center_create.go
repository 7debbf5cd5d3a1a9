package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newCenterCreateCmd(a *App) *cobra.Command {
	var description, settings string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a center and its schema",
		Long: `Create a center: its row in the registry, its schema center_<id> and every
tenant migration, in one transaction. If anything fails nothing is left
behind.

NAME is 1 to 200 characters, unique case-insensitively. --settings is a JSON
object (at most 64 KiB), inline or @FILE; its "sample_types" list, if any,
replaces the default sample types for the center's samples.`,
		Example: `  tenantctl center create "Izmir Genomics"
  tenantctl center create "Izmir Genomics" --description "Sequencing core" \
    --settings '{"city": "Izmir", "sample_types": ["blood", "dna", "rna"]}'
  tenantctl center create "Izmir Genomics" --settings @izmir.json -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			in := domain.CenterInput{Name: args[0], Description: description}
			if c.Flags().Changed("settings") {
				raw, err := jsonObjectFlag(c, "settings", settings)
				if err != nil {
					return err
				}
				in.Settings = raw
			}
			ctx := c.Context()
			st, err := a.Store(ctx)
			if err != nil {
				return err
			}
			actor, err := a.actor(ctx)
			if err != nil {
				return err
			}
			center, err := st.Centers.Create(ctx, actor, in)
			if err != nil {
				return err
			}
			return a.Print(centerDoc{center})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the center is")
	cmd.Flags().StringVar(&settings, "settings", "", "settings as a JSON `object`, or @FILE")
	return cmd
}
