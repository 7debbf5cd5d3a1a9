package domain

import (
	"context"

	"github.com/google/uuid"
)

// The permission rules of the design's table (DESIGN.md, "Authorization"),
// in one place, so that the API and the admin console cannot disagree
// about who may do what. They are pure functions of the users involved:
// the Store's operations do not call them (the CLI's operator may do
// anything), the faces do, before calling the Store, and inside the bulk
// user writes through the Rule they pass (Users.Checked), on the rows
// those writes lock.
//
// "Other center" is never a 403 in the table: a face answers not found
// when SeesCenter or SeesUser is false, before asking anything else. The
// Visible methods below are that answer for one object by id, so that a
// face's "may u see it" is a call, not a copy of the rule.

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

// VisibleCenter returns center id if u may see it: a superuser any center,
// soft-deleted ones too; anyone else only their own, and only while it is
// active. Anything else is ErrNotFound (never a "forbidden": another
// center's existence is not told). SeesCenter is asked first, so that a
// probe of another center costs no query.
func (s *Store) VisibleCenter(ctx context.Context, u User, id uuid.UUID) (Center, error) {
	// The hidden answer is the error a missing center gets, and Get's own
	// errors are returned unwrapped, so that the two read alike.
	if !u.SeesCenter(id) {
		return Center{}, notFound("center", id.String())
	}
	c, err := s.Centers.Get(ctx, id)
	if err != nil {
		return Center{}, err
	}
	if !u.Sees(c) {
		return Center{}, notFound("center", id.String())
	}
	return c, nil
}

// Sees reports whether u sees center c, read already: VisibleCenter's rule
// for a face that read the center with more (Stats).
func (u User) Sees(c Center) bool { return u.SeesCenter(c.ID) && (c.IsActive || u.IsSuperuser) }

// VisibleUser returns user id if u.SeesUser them, else ErrNotFound. Unlike
// a center's, this costs a query whoever asks: whether u sees a user
// depends on the user's center, which only the row tells.
func (s *Store) VisibleUser(ctx context.Context, u User, id uuid.UUID) (User, error) {
	t, err := s.Users.Get(ctx, id)
	if err != nil {
		return User{}, err
	}
	if !u.SeesUser(t) {
		return User{}, notFound("user", id.String())
	}
	return t, nil
}

// VisibleSample returns sample id of center centerID if u may see it: the
// center must be one u sees (members; superusers), asked first, without a
// query; a soft-deleted center's samples are ErrNotFound for everyone, as
// Samples.Get already does; and a soft-deleted sample only if
// u.Privileged().
func (s *Store) VisibleSample(ctx context.Context, u User, centerID, id uuid.UUID) (Sample, error) {
	if !u.SeesCenter(centerID) {
		return Sample{}, notFound("center", centerID.String())
	}
	sm, err := s.Samples.Get(ctx, centerID, id)
	if err != nil {
		return Sample{}, err
	}
	if !u.SeesSample(sm) {
		return Sample{}, notFound("sample", id.String())
	}
	return sm, nil
}

// SeenBy is the SampleRule of a face's write of a sample it showed u: the
// sample, as the write locks it, must still be one u sees (SeesSample),
// else ErrNotFound. Soft-deleted since the page or the request read it, it
// is not, for a user who is not Privileged.
func SeenBy(u User) SampleRule {
	return func(cur Sample) error {
		if !u.SeesSample(cur) {
			return notFound("sample", cur.ID.String())
		}
		return nil
	}
}

// SeesSample reports whether u may see sample sm of a center u sees: a
// soft-deleted one only if Privileged. However the sample was found (by
// id, by barcode), this is the rule.
func (u User) SeesSample(sm Sample) bool { return sm.IsActive || u.Privileged() }
