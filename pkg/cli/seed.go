package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

type seedDoc struct {
	domain.SeedResult
}

func (s seedDoc) Tables() []Table {
	t := Table{Header: []string{"KIND", "CREATED", "EXISTING", "SKIPPED"}}
	for _, r := range []struct {
		kind string
		c    domain.SeedCount
	}{{"centers", s.Centers}, {"users", s.Users}, {"samples", s.Samples}} {
		t.Rows = append(t.Rows, []string{r.kind, strconv.Itoa(r.c.Created), strconv.Itoa(r.c.Existing), strconv.Itoa(r.c.Skipped)})
	}
	return []Table{t}
}

func newSeedCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "seed",
		Short: "Load the demo data",
		Long: `Load the demo data: the centers "Istanbul Medical Center" and "Ankara
Research Lab", an admin, a user and a viewer in each (istanbul_admin,
istanbul_user, istanbul_viewer, ankara_admin, ...), the superuser "admin"
(no center), and eight samples of several types and statuses in each center
(barcodes IST-0001..., ANK-0001...).

Seed is idempotent: it adds what is missing and never changes what exists,
so running it again creates nothing. The summary counts what was created,
what existed already, and what was skipped (records of a soft-deleted
center).

The seeded users have no password: issue them tokens with 'tenantctl token
create', or set a password with 'tenantctl user update USER
--password-stdin'. Run 'tenantctl migrate' first.`,
		Example: `  tenantctl migrate && tenantctl seed
  printf '%s\n' "$PASSWORD" | tenantctl user update admin --password-stdin
  tenantctl token create --user istanbul_admin`,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := a.Store(c.Context())
			if err != nil {
				return err
			}
			res, err := st.Seed(c.Context(), domain.SeedOptions{})
			if err != nil {
				return err
			}
			return a.Print(seedDoc{res})
		},
	}
}
