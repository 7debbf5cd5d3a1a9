package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

var (
	// userProfile are the fields PUT and PATCH write. center, role and
	// is_superuser have their own endpoints (or are set at creation): sent
	// back unchanged they are ignored, changed they are a 400 naming the
	// endpoint, so that one request never half-applies.
	userProfile  = []string{"username", "email", "first_name", "last_name", "phone", "password"}
	userManaged  = []string{"center", "role", "is_superuser"}
	userReadOnly = []string{"id", "is_active", "created_at", "updated_at", "created_by", "updated_by"}
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	var center *uuid.UUID
	if !u.IsSuperuser {
		if u.CenterID == nil {
			return writeJSON(w, http.StatusOK, newPage[domain.User](r, nil, 0, 1, 0))
		}
		center = u.CenterID
	}
	return s.writeUsers(w, r, center)
}

func (s *Server) usersByCenter(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	id, err := pathID(r, "center_id")
	if err != nil {
		return err
	}
	if !u.SeesCenter(id) {
		return errNotFound
	}
	if u.IsSuperuser {
		if _, err := s.st.Centers.Get(r.Context(), id); err != nil {
			return err
		}
	}
	return s.writeUsers(w, r, &id)
}

func (s *Server) writeUsers(w http.ResponseWriter, r *http.Request, center *uuid.UUID) error {
	limit, offset, err := pageParams(r)
	if err != nil {
		return err
	}
	items, count, err := s.st.Users.List(r.Context(), domain.ListOptions{Limit: limit, Offset: offset,
		CenterID: center, IncludeInactive: caller(r).Privileged() && flag(r, "include_inactive")})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newPage(r, items, count, limit, offset))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	t, err := visibleByPath(r, s.st.VisibleUser)
	return ok(w, t, err)
}

// createUser: superusers create anyone; an admin creates members of their
// own center (the default when center is left out), never superusers.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	if !u.Privileged() {
		return errForbidden("only a superuser or an admin may create users")
	}
	o, err := readObject(w, r, append(userProfile, userManaged...), userReadOnly)
	if err != nil {
		return err
	}
	o.require("username", "email")
	in := domain.UserInput{Password: o.str("password")}
	for f, dst := range map[string]*string{"username": &in.Username, "email": &in.Email,
		"first_name": &in.FirstName, "last_name": &in.LastName} {
		if v := o.str(f); v != nil {
			*dst = *v
		}
	}
	in.Phone = o.phone()
	if v := o.str("role"); v != nil {
		in.Role = domain.Role(*v)
	}
	if v := o.boolean("is_superuser"); v != nil {
		in.IsSuperuser = *v
	}
	center, _ := o.id("center", true)
	if err := o.err(); err != nil {
		return err
	}
	in.CenterID = center
	if !u.IsSuperuser {
		switch {
		case in.IsSuperuser:
			return errForbidden("only a superuser may create superusers")
		case !o.has("center"):
			in.CenterID = u.CenterID
		case center == nil || u.CenterID == nil || *center != *u.CenterID:
			return errForbidden("an admin may create users only in their own center")
		}
	}
	t, err := s.st.Users.Create(r.Context(), domain.By(u.ID), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/users/"+t.ID.String()+"/")
	return writeJSON(w, http.StatusCreated, t)
}

// phone reads the optional phone, null meaning none.
func (o *object) phone() string {
	if raw, ok := o.raw["phone"]; ok && string(raw) == "null" {
		return ""
	}
	if v := o.str("phone"); v != nil {
		return *v
	}
	return ""
}

// updateUser is PUT (username and email required; other fields left out
// are kept, as in DRF) and PATCH. Superusers update anyone, admins the
// non-superuser members of their center, users and viewers only
// themselves, and not their username. Everything is decided on the row
// the write locks (Users.Checked), in order: not found, forbidden, then
// the body's problems.
func (s *Server) updateUser(partial bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u := caller(r)
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		o, bodyErr := readObject(w, r, append(userProfile, userManaged...), userReadOnly)
		var p domain.UserPatch
		if bodyErr == nil {
			if !partial {
				o.require("username", "email")
			}
			p = domain.UserPatch{Username: o.str("username"), Email: o.str("email"), FirstName: o.str("first_name"),
				LastName: o.str("last_name"), Password: o.str("password")}
			if o.has("phone") {
				ph := o.phone()
				p.Phone = &ph
			}
		}
		t, err := s.st.Users.Checked(func(t domain.User) error {
			switch {
			case !u.SeesUser(t):
				return errNotFound
			case !u.Manages(t) && t.ID != u.ID:
				return errForbidden("you may update only your own profile")
			case bodyErr != nil:
				return bodyErr
			}
			// Managed fields may be sent back unchanged.
			if c, sent := o.id("center", true); sent && !sameID(c, t.CenterID) {
				o.add("center", "cannot be changed here; use POST /api/users/{id}/change_center/")
			}
			if v := o.str("role"); v != nil && domain.Role(*v) != t.Role {
				o.add("role", "cannot be changed here; use POST /api/users/{id}/change_role/")
			}
			if v := o.boolean("is_superuser"); v != nil && *v != t.IsSuperuser {
				o.add("is_superuser", "cannot be changed through the API")
			}
			if err := o.err(); err != nil {
				return err
			}
			if !u.Manages(t) && p.Username != nil && *p.Username != t.Username {
				return errForbidden("only an administrator may change a username")
			}
			return nil
		}).Patch(r.Context(), domain.By(u.ID), id, p)
		return ok(w, t, err)
	}
}

func sameID(a, b *uuid.UUID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// userRule is the rule of a write by u to one user, a domain.Rule: a user
// u does not see is not found, one u sees but may not change (may says
// which) is refused with refusal. The write asks it of the row it locks:
// a decision on a row read before could miss a move or a promotion in
// between.
func userRule(u *domain.User, may func(t domain.User) bool, refusal error) domain.Rule {
	return func(t domain.User) error {
		switch {
		case !u.SeesUser(t):
			return errNotFound
		case !may(t):
			return refusal
		}
		return nil
	}
}

// deleteUser soft-deletes: superusers anyone, admins the non-superuser
// members of their center. Users and viewers may not delete (themselves
// included). Without a body to read, the write's rule is the only check,
// on the row it locks: no read of the user before.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rule := userRule(u, u.Manages, errForbidden("only a superuser or an admin of the user's center may delete users"))
	_, err = s.st.Users.Checked(rule).SetActive(r.Context(), domain.By(u.ID), false, id)
	return noContent(w, err)
}

// changeCenter moves a user to another center: superusers only.
func (s *Server) changeCenter(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	o, bodyErr := readObject(w, r, []string{"center"}, nil)
	center := &uuid.Nil
	if bodyErr == nil {
		o.require("center")
		if c, _ := o.id("center", false); c != nil {
			center = c
		}
		bodyErr = o.err()
	}
	rule := userRule(u, func(domain.User) bool { return u.ManagesCenters() }, errSuperuserOnly)
	users, err := s.st.Users.Checked(then(rule, bodyErr)).ChangeCenter(r.Context(), domain.By(u.ID), *center, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, users[0])
}

// changeRole sets a user's role (admin, user or viewer): superusers, and
// admins for the non-superuser members of their center.
func (s *Server) changeRole(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	o, bodyErr := readObject(w, r, []string{"role"}, nil)
	var role domain.Role
	if bodyErr == nil {
		o.require("role")
		if v := o.str("role"); v != nil {
			role = domain.Role(*v)
		}
		bodyErr = o.err()
	}
	rule := userRule(u, u.ChangesRoleOf, errForbidden("only a superuser or an admin of the user's center may change roles"))
	users, err := s.st.Users.Checked(then(rule, bodyErr)).ChangeRole(r.Context(), domain.By(u.ID), role, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, users[0])
}

// then is rule, then bodyErr if rule allows the row: the body's problems
// come after the target's 404 or 403, which the write decides on the row
// it locks.
func then(rule domain.Rule, bodyErr error) domain.Rule {
	return func(t domain.User) error {
		if err := rule(t); err != nil {
			return err
		}
		return bodyErr
	}
}
