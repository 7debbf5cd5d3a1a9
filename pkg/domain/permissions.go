package domain

import "github.com/google/uuid"

// The permission rules of the design's table (DESIGN.md, "Authorization"),
// in one place, so that the API and the admin console cannot disagree
// about who may do what. They are pure functions of the users involved:
// the Store does not call them (the CLI's operator may do anything), the
// faces do, before calling the Store.
//
// "Other center" is never a 403 in the table: a face answers not found
// when SeesCenter or SeesUser is false, before asking anything else.

// SeesCenter reports whether u sees center id (the table's "centers: list
// / get / stats" row, and the scope of every per-center row): a superuser
// every center, everyone else their own.
func (u User) SeesCenter(id uuid.UUID) bool { return u.IsSuperuser || u.MemberOf(id) }

// Privileged reports whether u is a superuser or an admin: those may see
// soft-deleted rows (?include_inactive=true, or by id, and act on them)
// and create users (the table's "users: create" row, scoped by Manages).
func (u User) Privileged() bool { return u.IsSuperuser || u.Role == RoleAdmin }

// Manages reports whether u may create, update or delete t (the table's
// "users: create, update, delete" row, beyond a user's own profile): a
// superuser anyone; an admin the members of their own center except
// superusers; users and viewers no one.
func (u User) Manages(t User) bool {
	if u.IsSuperuser {
		return true
	}
	return u.Role == RoleAdmin && u.CenterID != nil && t.MemberOf(*u.CenterID) && !t.IsSuperuser
}

// SeesUser reports whether u sees t (the table's "users: list / get /
// by_center" row): a superuser everyone; anyone else the members of their
// own center, soft-deleted ones only if u is Privileged.
func (u User) SeesUser(t User) bool {
	if u.IsSuperuser {
		return true
	}
	return t.CenterID != nil && u.MemberOf(*t.CenterID) && (t.IsActive || u.Privileged())
}

// WritesSamples reports whether u may create and update samples and run
// their transitions (the table's "samples: create, update, transitions"
// row): everyone but viewers. Membership of the sample's center is checked
// before, with SeesCenter.
func (u User) WritesSamples() bool { return u.IsSuperuser || u.Role != RoleViewer }

// DeletesSamples reports whether u may soft-delete samples (the table's
// "samples: delete (soft)" row): superusers and admins.
func (u User) DeletesSamples() bool { return u.Privileged() }

// ChangesRoleOf reports whether u may change t's role (the table's "users:
// change_role" row): the users u Manages.
func (u User) ChangesRoleOf(t User) bool { return u.Manages(t) }

// ManagesCenters reports whether u may create, update, delete, restore and
// hard-delete centers, move users between centers (change_center) and run
// fleet operations: superusers only.
func (u User) ManagesCenters() bool { return u.IsSuperuser }
