package cli

import (
	"github.com/spf13/cobra"
)

func newCenterGetCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "get CENTER",
		Short: "Show a center",
		Long: `Show one center, active or soft-deleted. CENTER is its id or its name
(case-insensitive); an unknown name gets a suggestion.`,
		Example: `  tenantctl center get "Istanbul Medical Center"
  tenantctl center get 7c9e6679-7425-40de-944b-e07fc1f90ae7 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			_, center, err := a.resolveCenter(c.Context(), args[0])
			if err != nil {
				return err
			}
			return a.Print(centerDoc{center})
		},
	}
}
