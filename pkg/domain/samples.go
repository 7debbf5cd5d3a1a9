package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/text"
)

// Status is a sample's place in its lifecycle.
type Status string

// The statuses of a sample.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusRejected   Status = "rejected"
	StatusArchived   Status = "archived"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusPending, StatusProcessing, StatusCompleted, StatusRejected, StatusArchived}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// ParseStatus returns s as a Status, or a *ValidationError on field
// "status" naming the statuses; at most its first 64 bytes
// are echoed.
func ParseStatus(s string) (Status, error) {
	var f fieldErrors
	if checkStatus(&f, Status(s)); len(f) > 0 {
		return "", f.err()
	}
	return Status(s), nil
}

func checkStatus(f *fieldErrors, s Status) {
	if !s.Valid() {
		f.add("status", fmt.Sprintf("%q is not a status (%s)", text.Truncate(string(s), 64), strings.Join(text.Strings(Statuses), ", ")))
	}
}

// Action moves a sample from one status to another.
type Action string

// The sample actions, as the API's paths name them.
const (
	ActionProcess  Action = "process"
	ActionComplete Action = "complete"
	ActionReject   Action = "reject"
	ActionArchive  Action = "archive"
)

// Actions lists every action.
var Actions = []Action{ActionProcess, ActionComplete, ActionReject, ActionArchive}

// transitions is the whole state machine: the statuses each action may
// start from and the status it leads to.
var transitions = map[Action]struct {
	from []Status
	to   Status
}{
	ActionProcess:  {[]Status{StatusPending}, StatusProcessing},
	ActionComplete: {[]Status{StatusProcessing}, StatusCompleted},
	ActionReject:   {[]Status{StatusPending, StatusProcessing}, StatusRejected},
	ActionArchive:  {[]Status{StatusCompleted, StatusRejected}, StatusArchived},
}

// Allows reports whether action a may be applied to a sample in status
// from, and the status it then has.
func (a Action) Allows(from Status) (Status, bool) {
	t, ok := transitions[a]
	if !ok || !slices.Contains(t.from, from) {
		return "", false
	}
	return t.to, true
}

// DefaultSampleTypes are the sample types of a center whose settings have
// no sample_types.
var DefaultSampleTypes = []string{"blood", "urine", "tissue", "saliva", "plasma", "serum", "swab", "other"}

// Sample is a row of a center's samples table.
type Sample struct {
	ID          uuid.UUID       `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	SampleType  string          `json:"sample_type"`
	Status      Status          `json:"status"`
	Barcode     string          `json:"barcode"`
	UserID      uuid.UUID       `json:"user_id"`
	Metadata    json.RawMessage `json:"metadata"`
	IsActive    bool            `json:"is_active"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	CreatedBy   *uuid.UUID      `json:"created_by"`
	UpdatedBy   *uuid.UUID      `json:"updated_by"`
}

// SampleInput is a new sample, or every writable field of one (Update).
// Status is not an input: samples start pending and move by Transition.
type SampleInput struct {
	Name        string // 1–200 characters
	Description string // may be empty
	// SampleType must be one of the center's sample types (Center.SampleTypes).
	SampleType string
	// Barcode: 1–64 characters, no control characters or surrounding white
	// space, unique within the center.
	Barcode string
	// UserID is the sample's user: an active member of the center (its
	// center_id is this center). Nil means the actor. A superuser without a
	// center is not a member: creating a sample, they must name a member.
	// In Update, nil keeps the current user.
	UserID *uuid.UUID
	// Metadata is a JSON object of at most 64 KiB; nil means {}.
	Metadata json.RawMessage
}

// SamplePatch is a partial update: nil fields are left as they are.
type SamplePatch struct {
	Name        *string
	Description *string
	SampleType  *string
	Barcode     *string
	UserID      *uuid.UUID
	Metadata    *json.RawMessage
}

// SampleFilter selects, orders and pages a list of samples.
type SampleFilter struct {
	Status     Status     // empty: any
	SampleType string     // empty: any
	UserID     *uuid.UUID // nil: anyone's
	// Search matches name, barcode or description case-insensitively as a
	// substring; % _ and \ match themselves.
	Search string
	// Ordering is a comma-separated list of SampleOrderKeys, each
	// optionally prefixed by "-" for descending. Defaults to
	// DefaultSampleOrdering; id breaks ties.
	Ordering        string
	Limit, Offset   int // as in ListOptions
	IncludeInactive bool
}

// Samples manages the samples of every center, each in its own schema.
type Samples struct{ s *Store }

const sampleCols = "id, name, description, sample_type, status, barcode, user_id, metadata, is_active, created_at, updated_at, created_by, updated_by"

func scanSample(row pgx.Row, extra ...any) (Sample, error) {
	var s Sample
	// Metadata as plain bytes: pgx then copies them, where a
	// json.RawMessage would be parsed by encoding/json; PostgreSQL only
	// hands out valid JSON.
	// One allocation for the destinations, extra included, per row.
	dst := append(make([]any, 0, 13+len(extra)), &s.ID, &s.Name, &s.Description, &s.SampleType, &s.Status, &s.Barcode, &s.UserID,
		(*[]byte)(&s.Metadata), &s.IsActive, &s.CreatedAt, &s.UpdatedAt, &s.CreatedBy, &s.UpdatedBy)
	err := row.Scan(append(dst, extra...)...)
	return s, err
}

// inCenter runs a transaction in center id's schema (Manager.InTenantBatch)
// for the work of an active center: with the guard of ctx's principal
// (WithPrincipal), in the same statement (queueCenter), it checks that the
// center exists and is active, so that a soft-deleted center's samples are
// ErrNotFound; then queue's statements follow in the same first batch,
// those of the registry on outside, before the switch to the center's
// schema, and fn gets the center's settings. A read-only transaction
// without fn is one round trip; one whose fn queues its writes on last,
// two.
func (s *Store) inCenter(ctx context.Context, id uuid.UUID, readOnly bool, queue func(outside, inside *pgx.Batch),
	fn func(tx pgx.Tx, settings json.RawMessage, last *pgx.Batch) error) error {
	var settings json.RawMessage
	var then func(pgx.Tx, *pgx.Batch) error
	if fn != nil {
		then = func(tx pgx.Tx, last *pgx.Batch) error { return fn(tx, settings, last) }
	}
	var opts pgx.TxOptions
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	return s.m.InTenantBatch(ctx, id, opts, func(outside, inside *pgx.Batch) {
		s.queueCenter(ctx, outside, id, &settings)
		if queue != nil {
			queue(outside, inside)
		}
	}, then)
}

// queueSample queues the read of one sample by sql ($1: key) on b into out;
// no row is ErrNotFound naming key.
func queueSample(b *pgx.Batch, sql string, key any, name string, out *Sample) {
	b.Queue(sql, key).QueryRow(func(row pgx.Row) (err error) {
		*out, err = scanSample(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("sample", name)
		}
		return err
	})
}

func (p SamplePatch) validate(f *fieldErrors) SamplePatch {
	if p.Name != nil {
		f.checkText("name", *p.Name, textRule{min: 1, max: 200, singleLine: true})
	}
	if p.Description != nil {
		f.checkText("description", *p.Description, textRule{})
	}
	if p.SampleType != nil {
		f.checkText("sample_type", *p.SampleType, textRule{min: 1, max: 50, singleLine: true})
	}
	if p.Barcode != nil {
		f.checkText("barcode", *p.Barcode, textRule{min: 1, max: 64, singleLine: true})
	}
	if p.Metadata != nil {
		m, _ := f.checkJSONObject("metadata", *p.Metadata)
		p.Metadata = &m
	}
	return p
}

// membership is what the first batch of a sample write learns of the
// user it names (queueMembership), for checkRefs.
type membership struct {
	found, member, active bool
}

// queueMembership queues the check that user userID is an active member of
// center centerID on b, unless userID is nil. FOR SHARE holds the
// membership until commit: a concurrent change_center (an update of a
// non-key column, which FOR KEY SHARE would let through) cannot move the
// user out between this check and the sample's write.
func queueMembership(b *pgx.Batch, centerID uuid.UUID, userID *uuid.UUID) *membership {
	m := &membership{}
	if userID == nil {
		return m
	}
	b.Queue("SELECT center_id IS NOT DISTINCT FROM $2, is_active FROM public.users WHERE id = $1 FOR SHARE",
		*userID, centerID).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&m.member, &m.active)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		m.found = err == nil
		return err
	})
	return m
}

// checkRefs checks, inside the tenant transaction, what validation cannot
// see alone: the sample type against the center's list, and the user's
// membership (queueMembership). Either may be nil (unchanged).
func checkRefs(f *fieldErrors, settings json.RawMessage, sampleType *string, userID *uuid.UUID, m *membership) {
	if sampleType != nil && len((*f)["sample_type"]) == 0 {
		if types := sampleTypesOf(settings); !slices.Contains(types, *sampleType) {
			f.add("sample_type", fmt.Sprintf("%q is not a sample type of this center (%s)", *sampleType, strings.Join(types, ", ")))
		}
	}
	switch {
	case userID == nil:
	case !m.found:
		f.add("user_id", "user does not exist")
	case !m.member:
		f.add("user_id", "user is not a member of this center")
	case !m.active:
		f.add("user_id", "user is not active")
	}
}

// Create adds a sample, pending, to center centerID. Every field is
// validated at once, the type and user against the center in the same
// transaction as the insert.
func (ss *Samples) Create(ctx context.Context, centerID uuid.UUID, actor Actor, in SampleInput) (Sample, error) {
	var f fieldErrors
	p := SamplePatch{Name: &in.Name, Description: &in.Description, SampleType: &in.SampleType,
		Barcode: &in.Barcode, Metadata: &in.Metadata}.validate(&f)
	userID := in.UserID
	if userID == nil {
		if actor.ID == uuid.Nil {
			f.add("user_id", "this field is required (there is no acting user to default to)")
		} else {
			userID = &actor.ID
		}
	}
	var out Sample
	var m *membership
	// Two round trips: the checks with BEGIN, the insert with COMMIT.
	err := ss.s.inCenter(ctx, centerID, false, func(outside, _ *pgx.Batch) {
		m = queueMembership(outside, centerID, userID)
	}, func(_ pgx.Tx, settings json.RawMessage, last *pgx.Batch) error {
		checkRefs(&f, settings, p.SampleType, userID, m)
		if err := f.err(); err != nil {
			return err
		}
		last.Queue(`
INSERT INTO samples (name, description, sample_type, barcode, user_id, metadata, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
RETURNING `+sampleCols, *p.Name, *p.Description, *p.SampleType, *p.Barcode, *userID, *p.Metadata, actor.nullID()).
			QueryRow(func(row pgx.Row) (err error) {
				out, err = scanSample(row)
				return err
			})
		return nil
	})
	return out, mapError(err)
}

// Get returns sample id of center centerID, active or not.
func (ss *Samples) Get(ctx context.Context, centerID, id uuid.UUID) (Sample, error) {
	var out Sample
	err := ss.s.inCenter(ctx, centerID, true, func(_, b *pgx.Batch) {
		queueSample(b, "SELECT "+sampleCols+" FROM samples WHERE id = $1", id, id.String(), &out)
	}, nil)
	return out, err
}

// GetByBarcode returns the sample of center centerID with barcode (exact
// match), active or not.
func (ss *Samples) GetByBarcode(ctx context.Context, centerID uuid.UUID, barcode string) (Sample, error) {
	var f fieldErrors
	if !f.checkText("barcode", barcode, textRule{min: 1, max: 64}) {
		return Sample{}, notFound("sample", barcode)
	}
	var out Sample
	err := ss.s.inCenter(ctx, centerID, true, func(_, b *pgx.Batch) {
		queueSample(b, "SELECT "+sampleCols+" FROM samples WHERE barcode = $1", barcode, barcode, &out)
	}, nil)
	return out, err
}

// SampleOrderKeys are the columns a sample list may be ordered by
// (SampleFilter.Ordering), each ascending or, prefixed by "-", descending.
var SampleOrderKeys = []string{"created_at", "updated_at", "name", "barcode", "status"}

// DefaultSampleOrdering orders a sample list that names no ordering:
// newest first.
const DefaultSampleOrdering = "-created_at"

// sampleOrder is how sample lists are ordered.
var sampleOrder = orderSpec{keys: SampleOrderKeys, def: DefaultSampleOrdering}

// SampleOrderings lists every ordering by one key: each of SampleOrderKeys
// ascending, then descending.
func SampleOrderings() []string { return sampleOrder.orderings() }

// escapeLike makes s match itself in a LIKE pattern with escape \.
var escapeLike = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace

// List returns a page of center centerID's samples and how many match in
// all, counted in the same query (or, past the last page, the same
// transaction).
func (ss *Samples) List(ctx context.Context, centerID uuid.UUID, flt SampleFilter) ([]Sample, int, error) {
	var f fieldErrors
	limit, offset := page(&f, flt.Limit, flt.Offset)
	if flt.Status != "" {
		checkStatus(&f, flt.Status)
	}
	if flt.SampleType != "" {
		f.checkText("sample_type", flt.SampleType, textRule{max: 50})
	}
	if flt.Search != "" {
		f.checkText("search", flt.Search, textRule{max: 200})
	}
	order := sampleOrder.clause(flt.Ordering, &f)
	if err := f.err(); err != nil {
		return nil, 0, err
	}
	q := listQuery{from: "samples", cols: sampleCols}
	if !flt.IncludeInactive {
		q.where("is_active")
	}
	if flt.Status != "" {
		q.where("status = " + q.arg(string(flt.Status)))
	}
	if flt.SampleType != "" {
		q.where("sample_type = " + q.arg(flt.SampleType))
	}
	if flt.UserID != nil {
		q.where("user_id = " + q.arg(*flt.UserID))
	}
	if flt.Search != "" {
		q.search(flt.Search, "name", "barcode", "description")
	}
	items, total, err := readPage(q, order, limit, offset, scanSample, func(queue func(*pgx.Batch)) error {
		return ss.s.inCenter(ctx, centerID, true, func(_, inside *pgx.Batch) { queue(inside) }, nil)
	})
	if err != nil {
		return nil, 0, mapError(err)
	}
	return items, total, nil
}

// A SampleRule decides whether a write may change sample cur: nil lets
// it, an error (the face's own) refuses it and the write changes nothing.
// cur is the row as the write's transaction reads it, locked until it
// ends, so the decision is made on the very row the write changes, as a
// Rule's for users. It must decide from cur and what it already holds,
// without querying anything.
type SampleRule func(cur Sample) error

// CheckedSamples are the writes of Samples that change one sample by id
// (Update, Patch, SoftDelete, Restore) bound to a SampleRule
// (Samples.Checked). The methods of Samples of the same names are these
// with no rule. Each is two round trips: the sample, locked, with BEGIN
// and the checks; the write with COMMIT.
type CheckedSamples struct {
	ss   *Samples
	rule SampleRule
}

// Checked returns the writes of ss asking rule of the sample they change,
// locked, before changing it. A nil rule allows everything, as Samples
// itself does.
func (ss *Samples) Checked(rule SampleRule) CheckedSamples { return CheckedSamples{ss: ss, rule: rule} }

// Update is CheckedSamples.Update with no rule.
func (ss *Samples) Update(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID, in SampleInput) (Sample, error) {
	return ss.Checked(nil).Update(ctx, centerID, actor, id, in)
}

// Patch is CheckedSamples.Patch with no rule.
func (ss *Samples) Patch(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID, p SamplePatch) (Sample, error) {
	return ss.Checked(nil).Patch(ctx, centerID, actor, id, p)
}

// SoftDelete is CheckedSamples.SoftDelete with no rule.
func (ss *Samples) SoftDelete(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID) (Sample, error) {
	return ss.Checked(nil).SoftDelete(ctx, centerID, actor, id)
}

// Restore is CheckedSamples.Restore with no rule.
func (ss *Samples) Restore(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID) (Sample, error) {
	return ss.Checked(nil).Restore(ctx, centerID, actor, id)
}

// Update replaces every writable field of sample id (a PUT); in.UserID nil
// keeps the current user and nil Metadata means {}.
func (cs CheckedSamples) Update(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID, in SampleInput) (Sample, error) {
	return cs.Patch(ctx, centerID, actor, id, SamplePatch{Name: &in.Name, Description: &in.Description,
		SampleType: &in.SampleType, Barcode: &in.Barcode, UserID: in.UserID, Metadata: &in.Metadata})
}

// Patch changes the fields p sets (a PATCH). A sample type is checked
// against the center's list only when it changes, so a center narrowing its
// list does not make its older samples uneditable. The rule is asked
// before the fields are checked against the center.
func (cs CheckedSamples) Patch(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID, p SamplePatch) (Sample, error) {
	var f fieldErrors
	p = p.validate(&f)
	var out Sample
	var m *membership
	err := cs.locked(ctx, centerID, id, func(outside *pgx.Batch) {
		m = queueMembership(outside, centerID, p.UserID)
	}, func(cur Sample, settings json.RawMessage, last *pgx.Batch) error {
		st, uid := p.SampleType, p.UserID
		if st != nil && *st == cur.SampleType {
			st = nil
		}
		if uid != nil && *uid == cur.UserID {
			uid = nil
		}
		checkRefs(&f, settings, st, uid, m)
		if err := f.err(); err != nil {
			return err
		}
		var meta any
		if p.Metadata != nil {
			meta = *p.Metadata
		}
		last.Queue(`
UPDATE samples SET name = coalesce($2, name), description = coalesce($3, description),
	sample_type = coalesce($4, sample_type), barcode = coalesce($5, barcode), user_id = coalesce($6, user_id),
	metadata = coalesce($7::jsonb, metadata), updated_by = $8
WHERE id = $1
RETURNING `+sampleCols, id, p.Name, p.Description, p.SampleType, p.Barcode, p.UserID, meta, actor.nullID()).
			QueryRow(func(row pgx.Row) (err error) {
				out, err = scanSample(row)
				return err
			})
		return nil
	})
	return out, mapError(err)
}

// SoftDelete hides sample id from default lists.
func (cs CheckedSamples) SoftDelete(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID) (Sample, error) {
	return cs.setActive(ctx, centerID, actor, id, false)
}

// Restore brings back a soft-deleted sample.
func (cs CheckedSamples) Restore(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID) (Sample, error) {
	return cs.setActive(ctx, centerID, actor, id, true)
}

// setActive changes the sample's is_active; a sample already so is
// returned as it is, and nothing is written.
func (cs CheckedSamples) setActive(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID, active bool) (Sample, error) {
	var out Sample
	err := cs.locked(ctx, centerID, id, nil, func(cur Sample, _ json.RawMessage, last *pgx.Batch) error {
		out = cur
		if cur.IsActive == active {
			return nil
		}
		last.Queue("UPDATE samples SET is_active = $2, updated_by = $3 WHERE id = $1 RETURNING "+sampleCols,
			id, active, actor.nullID()).QueryRow(func(row pgx.Row) (err error) {
			out, err = scanSample(row)
			return err
		})
		return nil
	})
	return out, err
}

// locked is the shape of a CheckedSamples write: sample id of center
// centerID read FOR UPDATE in the first batch, with outside's checks of
// the registry, then the rule asked of it, then write, which queues the
// change on last.
func (cs CheckedSamples) locked(ctx context.Context, centerID, id uuid.UUID, outside func(*pgx.Batch),
	write func(cur Sample, settings json.RawMessage, last *pgx.Batch) error) error {
	var cur Sample
	return cs.ss.s.inCenter(ctx, centerID, false, func(out, in *pgx.Batch) {
		queueSample(in, "SELECT "+sampleCols+" FROM samples WHERE id = $1 FOR UPDATE", id, id.String(), &cur)
		if outside != nil {
			outside(out)
		}
	}, func(_ pgx.Tx, settings json.RawMessage, last *pgx.Batch) error {
		if cs.rule != nil {
			if err := cs.rule(cur); err != nil {
				return err
			}
		}
		return write(cur, settings, last)
	})
}

// Transition applies action to sample id atomically: the status changes
// only if it is one the action starts from (pending→processing by process,
// processing→completed by complete, pending|processing→rejected by reject,
// completed|rejected→archived by archive). Any other status gives a
// *TransitionError; an unknown action a *ValidationError. With activeOnly,
// a soft-deleted sample is ErrNotFound, as if it did not exist (the API's
// rule for callers who may not see soft-deleted samples), checked by the
// same statement that changes the status.
func (ss *Samples) Transition(ctx context.Context, centerID uuid.UUID, actor Actor, id uuid.UUID, action Action, activeOnly bool) (Sample, error) {
	t, ok := transitions[action]
	if !ok {
		return Sample{}, &ValidationError{Fields: map[string][]string{"action": {
			fmt.Sprintf("%q is not an action (process, complete, reject, archive)", string(action))}}}
	}
	from := make([]string, len(t.from))
	for i, s := range t.from {
		from[i] = string(s)
	}
	var out Sample
	changed := false
	// Two round trips: the update with BEGIN, then COMMIT once the guard
	// and the center check passed.
	err := ss.s.inCenter(ctx, centerID, false, func(_, b *pgx.Batch) {
		b.Queue("UPDATE samples SET status = $2, updated_by = $3 WHERE id = $1 AND status = ANY($4) AND (is_active OR NOT $5) RETURNING "+sampleCols,
			id, string(t.to), actor.nullID(), from, activeOnly).QueryRow(func(row pgx.Row) (err error) {
			out, err = scanSample(row)
			changed = err == nil
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	}, func(tx pgx.Tx, _ json.RawMessage, _ *pgx.Batch) error {
		if changed {
			return nil
		}
		// Nothing changed: the sample is missing, hidden or in another
		// status.
		var cur Status
		var active bool
		err := tx.QueryRow(ctx, "SELECT status, is_active FROM samples WHERE id = $1", id).Scan(&cur, &active)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && activeOnly && !active) {
			return notFound("sample", id.String())
		}
		if err != nil {
			return err
		}
		return &TransitionError{From: cur, Action: action}
	})
	return out, err
}
