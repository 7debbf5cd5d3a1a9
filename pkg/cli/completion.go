package cli

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd(_ *App) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the completion script of tenantctl for bash, zsh or fish on stdout.
Load it in the current shell, or install it where your shell looks for
completions.`,
		Example: `  # bash, this shell only:
  source <(tenantctl completion bash)

  # bash, for good (bash-completion installed):
  tenantctl completion bash > /etc/bash_completion.d/tenantctl

  # zsh:
  tenantctl completion zsh > "${fpath[1]}/_tenantctl"

  # fish:
  tenantctl completion fish > ~/.config/fish/completions/tenantctl.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(c *cobra.Command, args []string) error {
			root, out := c.Root(), c.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
}
