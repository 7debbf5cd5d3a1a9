package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// maxCenterChoices is the most centers a select offers. Past it a center
// is typed, by name or id (centerParam resolves it, with the domain's "did
// you mean"): a select of every one of 10,000 centers made the users' page
// 600 KB and read every center on each view.
const maxCenterChoices = 200

// centerChoices reads what the center fields of a page offer: every
// center, soft-deleted ones too, while there are at most maxCenterChoices;
// nil past that, when the fields are typed (centerField). One query
// however many centers there are, for all of a page's center fields.
func (c *Console) centerChoices(ctx context.Context) ([]domain.Center, error) {
	centers, total, err := c.st.Centers.List(ctx, domain.ListOptions{Limit: maxCenterChoices, IncludeInactive: true})
	if err != nil {
		return nil, fmt.Errorf("listing the centers: %w", err)
	}
	if total > maxCenterChoices {
		return nil, nil
	}
	if centers == nil {
		centers = []domain.Center{} // none yet: an empty select, not a text input
	}
	return centers, nil
}

// centerField is the field choosing a center, named name, over what
// centerChoices read: a select of them (the active ones only if
// activeOnly: as targets, for the domain refuses the others; else all, the
// soft-deleted ones marked), with none as its empty choice; a text input
// for a center's name or id when there were too many to offer.
func centerField(f form, centers []domain.Center, name, label, none string, activeOnly bool) fieldView {
	if centers == nil {
		return newField(f, name, label+" (name or id)", "text")
	}
	pairs := []string{"", none}
	for _, ct := range centers {
		switch {
		case ct.IsActive:
			pairs = append(pairs, ct.ID.String(), ct.Name)
		case !activeOnly:
			pairs = append(pairs, ct.ID.String(), ct.Name+" (soft-deleted)")
		}
	}
	return newChoice(f, name, label, pairs...)
}

// centerParam reads the center of field name, an id from a select or a
// name or id typed: nil when empty; a center not found is an error beside
// the field, with a suggestion if one is close.
func (c *Console) centerParam(ctx context.Context, f form, name string) (*uuid.UUID, error) {
	ref := strings.TrimSpace(f.Get(name))
	if ref == "" {
		return nil, nil
	}
	ct, err := c.st.Centers.Resolve(ctx, ref)
	if nf, ok := errors.AsType[*domain.NotFoundError](err); ok {
		f.add(name, nf.Error())
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding center %q: %w", ref, err)
	}
	return &ct.ID, nil
}

// centersByID maps the centers of ids to their names, soft-deleted ones
// too, a page of domain.MaxLimit at a time.
func (c *Console) centersByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	names := make(map[uuid.UUID]string, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(domain.MaxLimit, len(ids))]
		ids = ids[len(chunk):]
		centers, _, err := c.st.Centers.List(ctx, domain.ListOptions{IDs: chunk, IncludeInactive: true, Limit: domain.MaxLimit})
		if err != nil {
			return nil, fmt.Errorf("naming the centers: %w", err)
		}
		for _, ct := range centers {
			names[ct.ID] = ct.Name
		}
	}
	return names, nil
}

// rolePairs are a select's value/label pairs for the roles.
func rolePairs() []string {
	pairs := make([]string, 0, 2*len(domain.Roles))
	for _, r := range domain.Roles {
		pairs = append(pairs, string(r), string(r))
	}
	return pairs
}
