package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

var errSuperuserOnly = errForbidden("only a superuser may do this")

// Fields of a center body: what may be written, and the read-only fields
// a client may send back from a GET, which are ignored.
var (
	centerWritable = []string{"name", "description", "settings"}
	centerReadOnly = []string{"id", "schema_name", "is_active", "created_at", "updated_at", "created_by", "updated_by"}
)

func (s *Server) listCenters(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	limit, offset, err := pageParams(r)
	if err != nil {
		return err
	}
	opts := domain.ListOptions{Limit: limit, Offset: offset, IncludeInactive: u.Privileged() && flag(r, "include_inactive")}
	if !u.IsSuperuser {
		opts.IDs = []uuid.UUID{}
		if u.CenterID != nil {
			opts.IDs = []uuid.UUID{*u.CenterID}
		}
	}
	items, count, err := s.st.Centers.List(r.Context(), opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newPage(r, items, count, limit, offset))
}

func (s *Server) getCenter(w http.ResponseWriter, r *http.Request) error {
	c, err := visibleByPath(r, s.st.VisibleCenter)
	return ok(w, c, err)
}

func (s *Server) createCenter(w http.ResponseWriter, r *http.Request) error {
	if !caller(r).ManagesCenters() {
		return errSuperuserOnly
	}
	o, err := readObject(w, r, centerWritable, centerReadOnly)
	if err != nil {
		return err
	}
	in := domain.CenterInput{}
	in.Name, in.Description = requireName(o)
	if v := o.json("settings"); v != nil {
		in.Settings = *v
	}
	if err := o.err(); err != nil {
		return err
	}
	c, err := s.st.Centers.Create(r.Context(), domain.By(caller(r).ID), in)
	return createdCenter(w, c, err)
}

// requireName reads the name (required) and description of a new
// center's body, "" for what is missing or invalid (o records why).
func requireName(o *object) (name, description string) {
	o.require("name")
	if v := o.str("name"); v != nil {
		name = *v
	}
	if v := o.str("description"); v != nil {
		description = *v
	}
	return name, description
}

// createdCenter answers a center just made: 201 with its Location.
func createdCenter(w http.ResponseWriter, c domain.Center, err error) error {
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/centers/"+c.ID.String()+"/")
	return writeJSON(w, http.StatusCreated, c)
}

// cloneWritable are the fields of a clone's body (CenterClone).
var cloneWritable = []string{"name", "description", "with_data"}

// cloneCenter makes a new center whose schema is a copy of center id's,
// its samples too with "with_data": superusers only, like every change of
// centers. The path's center is looked up as for a GET first, so that a
// caller who cannot see it gets 404, not 403.
func (s *Server) cloneCenter(w http.ResponseWriter, r *http.Request) error {
	src, err := visibleByPath(r, s.st.VisibleCenter)
	if err != nil {
		return err
	}
	if !caller(r).ManagesCenters() {
		return errSuperuserOnly
	}
	o, err := readObject(w, r, cloneWritable, nil)
	if err != nil {
		return err
	}
	in := domain.CloneInput{}
	in.Name, in.Description = requireName(o)
	if v := o.boolean("with_data"); v != nil {
		in.WithData = *v
	}
	if err := o.err(); err != nil {
		return err
	}
	c, err := s.st.Centers.Clone(r.Context(), domain.By(caller(r).ID), src.ID, in)
	return createdCenter(w, c, err)
}

// updateCenter is PUT (partial false: name required) and PATCH. As in DRF,
// a PUT leaves optional fields it does not send as they are.
func (s *Server) updateCenter(partial bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := visibleByPath(r, s.st.VisibleCenter)
		if err != nil {
			return err
		}
		if !caller(r).ManagesCenters() {
			return errSuperuserOnly
		}
		o, err := readObject(w, r, centerWritable, centerReadOnly)
		if err != nil {
			return err
		}
		if !partial {
			o.require("name")
		}
		p := domain.CenterPatch{Name: o.str("name"), Description: o.str("description"), Settings: o.json("settings")}
		if err := o.err(); err != nil {
			return err
		}
		c, err = s.st.Centers.Patch(r.Context(), domain.By(caller(r).ID), c.ID, p)
		return ok(w, c, err)
	}
}

func (s *Server) deleteCenter(w http.ResponseWriter, r *http.Request) error {
	c, err := visibleByPath(r, s.st.VisibleCenter)
	if err != nil {
		return err
	}
	if !caller(r).ManagesCenters() {
		return errSuperuserOnly
	}
	_, err = s.st.Centers.SoftDelete(r.Context(), domain.By(caller(r).ID), c.ID)
	return noContent(w, err)
}

func (s *Server) restoreCenter(w http.ResponseWriter, r *http.Request) error {
	c, err := visibleByPath(r, s.st.VisibleCenter)
	if err != nil {
		return err
	}
	if !caller(r).ManagesCenters() {
		return errSuperuserOnly
	}
	c, err = s.st.Centers.Restore(r.Context(), domain.By(caller(r).ID), c.ID)
	return ok(w, c, err)
}

func (s *Server) hardDeleteCenter(w http.ResponseWriter, r *http.Request) error {
	c, err := visibleByPath(r, s.st.VisibleCenter)
	if err != nil {
		return err
	}
	if !caller(r).ManagesCenters() {
		return errSuperuserOnly
	}
	err = s.st.Centers.HardDelete(r.Context(), c.ID)
	return noContent(w, err)
}

// centerStats reads the center with its figures, in one round trip, and
// then decides whether the caller sees it, by the rule of VisibleCenter.
func (s *Server) centerStats(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u := caller(r)
	if !u.SeesCenter(id) {
		return errNotFound
	}
	st, err := s.st.Stats(r.Context(), id)
	if err == nil && !u.Sees(st.Center) {
		err = errNotFound
	}
	return ok(w, st, err)
}
