package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newSampleCmd(a *App) *cobra.Command {
	return newGroupCmd("sample", "Read a center's samples",
		`Read the samples of a center, which live in the center's own schema.
CENTER is a center id or name.`,
		newSampleListCmd(a),
		newSampleGetCmd(a),
	)
}

type sampleListOptions struct {
	page            pageFlags
	Status, Type    string
	User, Search    string
	Ordering        string
	IncludeInactive bool
}

func newSampleListCmd(a *App) *cobra.Command {
	var opts sampleListOptions
	cmd := &cobra.Command{
		Use:   "list CENTER",
		Short: "List a center's samples",
		Long: `List a center's samples, a page at a time (--limit, --offset), newest first
unless --ordering says otherwise: a comma-separated list of
` + sentence(domain.SampleOrderKeys, "and") + `, each with "-" for descending.

Filters: --status (` + strings.Join(text.Strings(domain.Statuses), ", ") + `),
--type, --user (id or username), --search (a substring of the name, barcode
or description, case-insensitive). Soft-deleted samples are hidden unless
--include-inactive.

With -o json or -o yaml the document is {"count": N, "results": [...]}, N
counting every match, not only this page.`,
		Example: `  tenantctl sample list "Ankara Research Lab" --status pending
  tenantctl sample list "Istanbul Medical Center" --type blood --ordering name
  tenantctl sample list "Istanbul Medical Center" --search biopsy -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.page.validate(c); err != nil {
				return err
			}
			flt := domain.SampleFilter{
				SampleType: opts.Type, Search: opts.Search, Ordering: opts.Ordering,
				Limit: opts.page.Limit, Offset: opts.page.Offset, IncludeInactive: opts.IncludeInactive,
			}
			if opts.Status != "" {
				if flt.Status = domain.Status(opts.Status); !flt.Status.Valid() {
					return usagef(c, "invalid --status %q: want %s", opts.Status, sentence(text.Strings(domain.Statuses), "or"))
				}
			}
			ctx := c.Context()
			st, center, err := a.resolveActiveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			if opts.User != "" {
				_, users, err := a.resolveUsers(ctx, []string{opts.User})
				if err != nil {
					return err
				}
				flt.UserID = &users[0].ID
			}
			samples, count, err := st.Samples.List(ctx, center.ID, flt)
			if err != nil {
				return err
			}
			docs, err := sampleDocs(ctx, st, samples)
			if err != nil {
				return err
			}
			if err := a.Print(sampleList{Count: count, Results: docs}); err != nil {
				return err
			}
			a.notePage(opts.page, len(samples), count, "sample")
			return nil
		},
	}
	opts.page.add(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.Status, "status", "", "only samples in this `status`")
	f.StringVar(&opts.Type, "type", "", "only samples of this sample `type`")
	f.StringVar(&opts.User, "user", "", "only the samples of `USER` (id or username)")
	f.StringVar(&opts.Search, "search", "", "only samples whose name, barcode or description contains `text`")
	f.StringVar(&opts.Ordering, "ordering", "", "sort `fields`, e.g. -created_at or status,name (default "+domain.DefaultSampleOrdering+")")
	f.BoolVar(&opts.IncludeInactive, "include-inactive", false, "include soft-deleted samples")
	// Both flags are defined just above: registering cannot fail.
	noFiles := cobra.ShellCompDirectiveNoFileComp
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(text.Strings(domain.Statuses), noFiles))
	_ = cmd.RegisterFlagCompletionFunc("ordering", cobra.FixedCompletions(domain.SampleOrderings(), noFiles))
	return cmd
}

// sampleDocs adds their users' usernames to samples, in one query.
func sampleDocs(ctx context.Context, st *domain.Store, samples []domain.Sample) ([]sampleDoc, error) {
	docs := make([]sampleDoc, len(samples))
	ids := make([]uuid.UUID, 0, len(samples))
	for i, s := range samples {
		docs[i].Sample = s
		ids = append(ids, s.UserID)
	}
	if len(ids) == 0 {
		return docs, nil
	}
	users, _, err := st.Users.List(ctx, domain.ListOptions{IDs: ids, IncludeInactive: true, Limit: domain.MaxLimit})
	if err != nil {
		return nil, err
	}
	names := make(map[uuid.UUID]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Username
	}
	for i := range docs {
		docs[i].Username = names[docs[i].UserID]
	}
	return docs, nil
}

func newSampleGetCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "get CENTER SAMPLE",
		Short: "Show a sample",
		Long: `Show one sample of a center, active or soft-deleted. SAMPLE is the
sample's id or its barcode (exact).`,
		Example: `  tenantctl sample get "Istanbul Medical Center" IST-0001
  tenantctl sample get "Ankara Research Lab" ANK-0003 -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			st, center, err := a.resolveActiveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			var s domain.Sample
			err = domain.ErrNotFound
			if id, perr := uuid.Parse(args[1]); perr == nil {
				s, err = st.Samples.Get(ctx, center.ID, id)
			}
			if errors.Is(err, domain.ErrNotFound) {
				s, err = st.Samples.GetByBarcode(ctx, center.ID, args[1])
			}
			if errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("sample %q not found in center %q (give a sample id or barcode)", args[1], center.Name)
			}
			if err != nil {
				return err
			}
			docs, err := sampleDocs(ctx, st, []domain.Sample{s})
			if err != nil {
				return err
			}
			return a.Print(docs[0])
		},
	}
}
