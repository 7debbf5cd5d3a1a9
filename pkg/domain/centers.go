package domain

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
)

// Center is a tenant: a row of public.centers and the schema named by
// SchemaName.
type Center struct {
	ID          uuid.UUID       `json:"id"`
	Name        string          `json:"name"`
	SchemaName  string          `json:"schema_name"`
	Description string          `json:"description"`
	Settings    json.RawMessage `json:"settings"`
	IsActive    bool            `json:"is_active"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	CreatedBy   *uuid.UUID      `json:"created_by"`
	UpdatedBy   *uuid.UUID      `json:"updated_by"`
}

// SampleTypes returns the sample types the center allows: its
// settings.sample_types, else DefaultSampleTypes.
func (c Center) SampleTypes() []string { return sampleTypesOf(c.Settings) }

// CenterInput is a new center, or every writable field of one (Update).
type CenterInput struct {
	// Name: 1–200 characters, unique case-insensitively, no control
	// characters or surrounding white space.
	Name string
	// Description may be empty.
	Description string
	// Settings is a JSON object of at most 64 KiB; nil means {}. If it has
	// sample_types, that must be a non-empty list of distinct non-empty
	// strings of at most 50 characters, and replaces DefaultSampleTypes for
	// the center's samples.
	Settings json.RawMessage
}

// CenterPatch is a partial update: nil fields are left as they are.
type CenterPatch struct {
	Name        *string
	Description *string
	Settings    *json.RawMessage
}

// Centers manages public.centers and the tenant schemas behind them.
type Centers struct{ s *Store }

const centerCols = "id, name, schema_name, description, settings, is_active, created_at, updated_at, created_by, updated_by"

func scanCenter(row pgx.Row, extra ...any) (Center, error) {
	var c Center
	err := row.Scan(append([]any{&c.ID, &c.Name, &c.SchemaName, &c.Description, &c.Settings, &c.IsActive,
		&c.CreatedAt, &c.UpdatedAt, &c.CreatedBy, &c.UpdatedBy}, extra...)...)
	return c, err
}

func (p CenterPatch) validate() (CenterPatch, error) {
	var f fieldErrors
	if p.Name != nil {
		f.checkText("name", *p.Name, textRule{min: 1, max: 200, singleLine: true})
	}
	if p.Description != nil {
		f.checkText("description", *p.Description, textRule{})
	}
	if p.Settings != nil {
		s := f.checkSettings(*p.Settings)
		p.Settings = &s
	}
	return p, f.err()
}

// Create makes a center: its public.centers row, its schema and every
// tenant migration commit together in one transaction (tenancy.Manager.Create
// with a hook inserting the row under the same id), so a failure at any
// point — a duplicate name included — leaves no schema behind.
func (cs *Centers) Create(ctx context.Context, actor Actor, in CenterInput) (Center, error) {
	p, err := CenterPatch{Name: &in.Name, Description: &in.Description, Settings: &in.Settings}.validate()
	if err != nil {
		return Center{}, err
	}
	id := uuid.New()
	return withCenterRow(func(hook tenancy.Hook) error { return cs.s.m.Create(ctx, id, hook) },
		func(ctx context.Context, tx pgx.Tx) (Center, error) {
			return scanCenter(tx.QueryRow(ctx, `
INSERT INTO public.centers (id, name, description, settings, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $5)
RETURNING `+centerCols, id, *p.Name, *p.Description, *p.Settings, actor.nullID()))
		})
}

// withCenterRow runs run, a tenancy.Manager Create or Clone, with a hook
// that inserts the center's row by insert, in the schema's transaction,
// and returns the row. The hook's own error (a name clash: a
// *ConflictError) is returned without tenancy's wrapping.
func withCenterRow(run func(tenancy.Hook) error, insert func(ctx context.Context, tx pgx.Tx) (Center, error)) (Center, error) {
	var c Center
	var hookErr error
	err := run(func(ctx context.Context, tx pgx.Tx) error {
		c, hookErr = insert(ctx, tx)
		hookErr = mapError(hookErr)
		return hookErr
	})
	if hookErr != nil {
		return Center{}, hookErr
	}
	if err != nil {
		return Center{}, err
	}
	return c, nil
}

// CloneInput is the new center of Centers.Clone.
type CloneInput struct {
	// Name and Description are as CenterInput's; the settings are the
	// source's.
	Name        string
	Description string
	// WithData copies the source's samples too; otherwise the new center
	// starts with none.
	WithData bool
}

// Clone makes a new center whose schema is a copy of center source's
// (tenancy.Manager.Clone): the same tables at the same migration version,
// with the samples too if in.WithData, and a public.centers row with the
// source's settings (its sample types, which the copied samples use) and
// in's name and description, all in one transaction. The users stay the
// source's: copied samples keep their user_id, and the new center has no
// members until some are added or moved to it. A source that does not
// exist is ErrNotFound; a soft-deleted one ErrDeleted, also when it is
// deleted while the copy is made; a name in use a *ConflictError on
// "name". A failure leaves no schema and no row.
func (cs *Centers) Clone(ctx context.Context, actor Actor, source uuid.UUID, in CloneInput) (Center, error) {
	p, err := CenterPatch{Name: &in.Name, Description: &in.Description}.validate()
	if err != nil {
		return Center{}, err
	}
	// Before the copy, so that a missing or deleted source costs no more;
	// the hook checks again under a lock.
	src, err := cs.Get(ctx, source)
	if err != nil {
		return Center{}, err
	}
	if !src.IsActive {
		return Center{}, ErrDeleted
	}
	id := uuid.New()
	return withCenterRow(func(hook tenancy.Hook) error {
		return cs.s.m.Clone(ctx, source, id, tenancy.CloneOptions{Data: in.WithData}, hook)
	}, func(ctx context.Context, tx pgx.Tx) (Center, error) {
		// FOR SHARE: a soft delete or hard delete of the source waits
		// for the clone; one committed since the clone's snapshot makes
		// PostgreSQL refuse the lock, and Clone starts again.
		c, err := scanCenter(tx.QueryRow(ctx, `
WITH src AS (SELECT settings FROM public.centers WHERE id = $5 AND is_active FOR SHARE)
INSERT INTO public.centers (id, name, description, settings, created_by, updated_by)
SELECT $1, $2, $3, settings, $4, $4 FROM src
RETURNING `+centerCols, id, *p.Name, *p.Description, actor.nullID(), source))
		if errors.Is(err, pgx.ErrNoRows) {
			return Center{}, ErrDeleted
		}
		return c, err
	})
}

// Get returns the center with id, active or not (callers hide soft-deleted
// centers from whoever should not see them: Center.IsActive).
func (cs *Centers) Get(ctx context.Context, id uuid.UUID) (Center, error) {
	return readByID(ctx, cs.s, "center", "SELECT "+centerCols+" FROM public.centers WHERE id = $1", id, scanCenter)
}

// GetByName returns the center named name, compared case-insensitively.
func (cs *Centers) GetByName(ctx context.Context, name string) (Center, error) {
	var f fieldErrors
	if !f.checkText("name", name, textRule{}) {
		return Center{}, notFound("center", name)
	}
	c, err := scanCenter(cs.s.pool.QueryRow(ctx, "SELECT "+centerCols+" FROM public.centers WHERE lower(name) = lower($1)", name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Center{}, notFound("center", name)
	}
	return c, err
}

// Resolve finds a center by id or by name (case-insensitive), as the CLI's
// arguments name them. An unknown name gets a *NotFoundError whose
// Suggestion is the closest existing name, if one is close, chosen among at
// most SuggestionCandidates names however many centers there are.
func (cs *Centers) Resolve(ctx context.Context, ref string) (Center, error) {
	if id, err := uuid.Parse(ref); err == nil {
		c, err := cs.Get(ctx, id)
		if !errors.Is(err, ErrNotFound) {
			return c, err
		}
	}
	c, err := cs.GetByName(ctx, ref)
	if !errors.Is(err, ErrNotFound) {
		return c, err
	}
	suggestion, _, serr := cs.s.suggestion(ctx, centerNames, ref)
	if serr != nil {
		return Center{}, serr
	}
	return Center{}, &NotFoundError{Kind: "center", Key: ref, Suggestion: suggestion}
}

// CenterOrderKeys are what a list of centers may be ordered by
// (ListOptions.Ordering), each ascending or, prefixed by "-", descending.
var CenterOrderKeys = []string{"name", "created_at", "updated_at"}

// DefaultCenterOrdering orders a list of centers that names no ordering.
const DefaultCenterOrdering = "name"

// centerOrder sorts names as their unique index centers_name_key does, so
// that the index serves the ordering.
var centerOrder = orderSpec{keys: CenterOrderKeys, def: DefaultCenterOrdering, sql: map[string]string{"name": "lower(name)"}}

// CenterOrderings lists every ordering of centers by one key: each of
// CenterOrderKeys ascending, then descending.
func CenterOrderings() []string { return centerOrder.orderings() }

// List returns a page of centers, and how many match in all. By default
// it lists the active centers by name; opts filters (Active,
// IncludeInactive, Search, IDs) and orders (Ordering) it.
func (cs *Centers) List(ctx context.Context, opts ListOptions) ([]Center, int, error) {
	var f fieldErrors
	limit, offset := page(&f, opts.Limit, opts.Offset)
	if opts.Search != "" {
		f.checkText("search", opts.Search, textRule{max: 200})
	}
	order := centerOrder.clause(opts.Ordering, &f)
	if err := f.err(); err != nil {
		return nil, 0, err
	}
	q := listQuery{from: "public.centers", cols: centerCols}
	q.active(opts)
	if opts.IDs != nil {
		q.where("id = ANY(" + q.arg(opts.IDs) + ")")
	}
	if opts.Search != "" {
		q.search(opts.Search, "name", "description")
	}
	return readPage(q, order, limit, offset, scanCenter, func(queue func(*pgx.Batch)) error { return cs.s.read(ctx, queue) })
}

// Update replaces every writable field of center id (a PUT): name,
// description and settings (nil settings means {}). schema_name is derived
// from the id and never changes.
func (cs *Centers) Update(ctx context.Context, actor Actor, id uuid.UUID, in CenterInput) (Center, error) {
	return cs.Patch(ctx, actor, id, CenterPatch{Name: &in.Name, Description: &in.Description, Settings: &in.Settings})
}

// Patch changes the fields of center id that p sets (a PATCH). Changing
// settings.sample_types does not touch existing samples: it only decides
// the types of samples created or retyped afterwards.
func (cs *Centers) Patch(ctx context.Context, actor Actor, id uuid.UUID, p CenterPatch) (Center, error) {
	p, err := p.validate()
	if err != nil {
		return Center{}, err
	}
	if p.Name == nil && p.Description == nil && p.Settings == nil {
		return cs.Get(ctx, id)
	}
	var settings any
	if p.Settings != nil {
		settings = *p.Settings
	}
	c, err := scanCenter(cs.s.pool.QueryRow(ctx, `
UPDATE public.centers SET name = coalesce($2, name), description = coalesce($3, description),
	settings = coalesce($4::jsonb, settings), updated_by = $5
WHERE id = $1
RETURNING `+centerCols, id, p.Name, p.Description, settings, actor.nullID()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Center{}, notFound("center", id.String())
	}
	return c, mapError(err)
}

// SoftDelete deactivates center id: it disappears from default lists, its
// samples answer ErrNotFound and its members cannot authenticate. Its schema
// and data stay until HardDelete. Deleting a deleted center changes nothing.
func (cs *Centers) SoftDelete(ctx context.Context, actor Actor, id uuid.UUID) (Center, error) {
	return cs.setActive(ctx, actor, id, false)
}

// Restore reactivates a soft-deleted center.
func (cs *Centers) Restore(ctx context.Context, actor Actor, id uuid.UUID) (Center, error) {
	return cs.setActive(ctx, actor, id, true)
}

func (cs *Centers) setActive(ctx context.Context, actor Actor, id uuid.UUID, active bool) (Center, error) {
	// Unchanged rows are not rewritten: updated_at/updated_by keep saying
	// who last changed something.
	c, err := scanCenter(cs.s.pool.QueryRow(ctx, `
WITH u AS (
	UPDATE public.centers SET is_active = $2, updated_by = $3 WHERE id = $1 AND is_active <> $2
	RETURNING `+centerCols+`
)
SELECT * FROM u UNION ALL SELECT `+centerCols+` FROM public.centers WHERE id = $1 AND NOT EXISTS (SELECT FROM u)`,
		id, active, actor.nullID()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Center{}, notFound("center", id.String())
	}
	return c, mapError(err)
}

// HardDelete removes a soft-deleted center for good: its schema with every
// sample (tenancy.Manager.DropTx) and its public.centers row, with its
// members and their tokens (ON DELETE CASCADE), in one transaction. An
// active center is refused with ErrActive (409): soft-delete it first, so
// that a single mistaken command cannot destroy data.
func (cs *Centers) HardDelete(ctx context.Context, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, cs.s.pool, func(tx pgx.Tx) error {
		// Lock the row before dropping anything, so a concurrent Restore
		// either happens first (and we refuse) or waits and finds nothing.
		var active bool
		err := tx.QueryRow(ctx, "SELECT is_active FROM public.centers WHERE id = $1 FOR UPDATE", id).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("center", id.String())
		}
		if err != nil {
			return err
		}
		if active {
			return ErrActive
		}
		// A row whose schema is already gone (ErrTenantNotFound) is still
		// deleted: that repairs the registry instead of wedging it.
		if err := cs.s.m.DropTx(ctx, tx, id); err != nil && !errors.Is(err, tenancy.ErrTenantNotFound) {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM public.centers WHERE id = $1", id)
		return err
	})
}
