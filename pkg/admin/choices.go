package admin

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// allCenters returns every center, soft-deleted ones too, by name, a page
// of domain.MaxLimit at a time: a single List stops at MaxLimit, and a
// choice or a name missing past the 500th center is wrong, not slow.
func (c *Console) allCenters(ctx context.Context) ([]domain.Center, error) {
	var all []domain.Center
	for off := 0; ; off += domain.MaxLimit {
		page, total, err := c.st.Centers.List(ctx, domain.ListOptions{IncludeInactive: true, Limit: domain.MaxLimit, Offset: off})
		if err != nil {
			return nil, fmt.Errorf("listing the centers: %w", err)
		}
		all = append(all, page...)
		if len(page) == 0 || off+len(page) >= total {
			return all, nil
		}
	}
}

// centerNames maps the centers' ids to their names.
func centerNames(centers []domain.Center) map[uuid.UUID]string {
	names := make(map[uuid.UUID]string, len(centers))
	for _, ct := range centers {
		names[ct.ID] = ct.Name
	}
	return names
}

// centerPairs are a select's value/label pairs for centers: the active
// ones only (as targets: the domain refuses the others), or all, the
// soft-deleted ones marked. A select of every center is right for the
// hundreds a deployment has; at 10,000 it is a page of some 600 KB that
// still works, and the place for a search box instead.
func centerPairs(centers []domain.Center, activeOnly bool) []string {
	pairs := make([]string, 0, 2*len(centers))
	for _, ct := range centers {
		switch {
		case ct.IsActive:
			pairs = append(pairs, ct.ID.String(), ct.Name)
		case !activeOnly:
			pairs = append(pairs, ct.ID.String(), ct.Name+" (soft-deleted)")
		}
	}
	return pairs
}

// rolePairs are a select's value/label pairs for the roles.
func rolePairs() []string {
	pairs := make([]string, 0, 2*len(domain.Roles))
	for _, r := range domain.Roles {
		pairs = append(pairs, string(r), string(r))
	}
	return pairs
}
