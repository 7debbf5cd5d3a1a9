package admin

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// dashboardView is the dashboard's data: the fleet for a superuser, the
// caller's own center for everyone else.
type dashboardView struct {
	Fleet    *domain.Overview
	Stats    *domain.Stats
	Problems []problemView
	Tenants  int
	Charts   []chart
}

// problemView is a tenant Inspect found something wrong with.
type problemView struct {
	ID       uuid.UUID
	Name     string // the center's name; empty for a schema without one
	Schema   string
	Version  int32
	Problems []tenancy.Problem
	Error    string
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, v *visit) error {
	var dv dashboardView
	if !v.user.IsSuperuser {
		if v.user.CenterID == nil {
			return domain.ErrNotFound
		}
		st, err := c.st.Stats(r.Context(), *v.user.CenterID)
		if err != nil {
			return err
		}
		dv.Stats = &st
		dv.Charts = charts(st.Samples, st.Users)
		return c.render(w, r, v, http.StatusOK, "dashboard", "Dashboard", dv)
	}
	o, err := c.st.Overview(r.Context())
	if err != nil {
		return err
	}
	dv.Fleet = &o
	dv.Charts = charts(o.Samples, o.Users)
	if dv.Problems, dv.Tenants, err = c.problems(r); err != nil {
		return err
	}
	return c.render(w, r, v, http.StatusOK, "dashboard", "Dashboard", dv)
}

// problems returns the tenants Inspect finds something wrong with, named
// after their centers, and how many tenants it looked at.
func (c *Console) problems(r *http.Request) ([]problemView, int, error) {
	sts, err := c.st.Tenancy().Inspect(r.Context())
	if err != nil {
		return nil, 0, fmt.Errorf("inspecting the tenants: %w", err)
	}
	var out []problemView
	var ids []uuid.UUID
	tenants := 0
	for _, s := range sts {
		if s.PoolMember {
			continue // not a center; see fleetRows
		}
		tenants++
		if s.OK() {
			continue
		}
		out = append(out, problemView{ID: s.TenantID, Schema: s.Schema, Version: s.Version, Problems: s.Problems, Error: s.LastError})
		ids = append(ids, s.TenantID)
	}
	if len(ids) == 0 {
		return nil, tenants, nil
	}
	names, err := c.centersByID(r.Context(), ids)
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		out[i].Name = names[out[i].ID]
	}
	return out, tenants, nil
}
