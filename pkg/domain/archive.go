package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
)

// centerArchive is the registry row an archive carries (its extra bytes):
// what a center is besides its schema. Who created and changed it is left
// out: those are users of the source's database.
type centerArchive struct {
	ID          uuid.UUID       `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Settings    json.RawMessage `json:"settings"`
	IsActive    bool            `json:"is_active"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Export writes center id to w as one archive (tenancy.Manager.Export):
// its schema's definition and rows, its ledger rows and its registry row,
// all read from one snapshot. The center's members, their tokens and
// sessions are not part of it: they belong to the registry, not to the
// center's schema.
func (cs *Centers) Export(ctx context.Context, id uuid.UUID, w io.Writer) (*tenancy.ArchiveInfo, error) {
	info, err := cs.s.m.Export(ctx, id, w, tenancy.ExportOptions{Extra: func(ctx context.Context, tx pgx.Tx) ([]byte, error) {
		var a centerArchive
		err := tx.QueryRow(ctx, "SELECT id, name, description, settings, is_active, created_at FROM public.centers WHERE id = $1", id).
			Scan(&a.ID, &a.Name, &a.Description, &a.Settings, &a.IsActive, &a.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound("center", id.String())
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(a)
	}})
	if errors.Is(err, tenancy.ErrTenantNotFound) {
		return nil, notFound("center", id.String())
	}
	return info, err
}

// ImportOptions says how Import restores a center.
type ImportOptions struct {
	// AsNew, when set, imports the archive as a new center of that name,
	// with a new id, its description and settings the archive's. Empty:
	// as the archived center itself, same id, name and state, which must
	// not exist in this database (a ConflictError otherwise).
	AsNew string
}

// Import restores a center from an archive Export wrote, into this
// database, in one transaction (tenancy.Manager.Import): the registry row
// is inserted before the rows are loaded, so that a name or id already
// taken is refused before any loading. The archive's registry row is
// outside input and is validated as Create validates its own.
func (cs *Centers) Import(ctx context.Context, actor Actor, r io.Reader, opts ImportOptions) (Center, error) {
	var id uuid.UUID
	if opts.AsNew != "" {
		id = uuid.New()
	}
	var info *tenancy.ArchiveInfo
	c, err := withCenterRow(func(hook tenancy.Hook) error {
		_, err := cs.s.m.Import(ctx, r, tenancy.ImportOptions{ID: id, Hook: func(ctx context.Context, tx pgx.Tx, i *tenancy.ArchiveInfo) error {
			info = i
			return hook(ctx, tx)
		}})
		return err
	}, func(ctx context.Context, tx pgx.Tx) (Center, error) {
		return insertArchived(ctx, tx, actor, info, opts.AsNew)
	})
	switch {
	case errors.Is(err, tenancy.ErrTenantExists):
		return Center{}, &ConflictError{Field: "id", Message: "a center with the archive's id already exists here: import it under another name (--as-new NAME)"}
	case errors.Is(err, tenancy.ErrBadArchive), errors.Is(err, tenancy.ErrIncompatibleArchive):
		return Center{}, &ValidationError{Fields: map[string][]string{"file": {err.Error()}}}
	}
	return c, err
}

// insertArchived inserts the registry row of an archive's center into tx,
// as tenant info.Tenant, named asNew unless that is empty.
func insertArchived(ctx context.Context, tx pgx.Tx, actor Actor, info *tenancy.ArchiveInfo, asNew string) (Center, error) {
	var a centerArchive
	d := json.NewDecoder(bytes.NewReader(info.Extra))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil || a.ID != info.Source {
		return Center{}, &ValidationError{Fields: map[string][]string{"file": {fmt.Sprintf("the archive's center is not a center of tenant %s: %v", info.Source, err)}}}
	}
	active, created := a.IsActive, a.CreatedAt
	if asNew != "" {
		a.Name, active, created = asNew, true, time.Time{}
	}
	p, err := CenterPatch{Name: &a.Name, Description: &a.Description, Settings: &a.Settings}.validate()
	if err != nil {
		return Center{}, err
	}
	c, err := scanCenter(tx.QueryRow(ctx, `
INSERT INTO public.centers (id, name, description, settings, is_active, created_at, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7, $7)
RETURNING `+centerCols, info.Tenant, *p.Name, *p.Description, *p.Settings, active,
		pgNullTime(created), actor.nullID()))
	return c, err
}

// pgNullTime is t, or NULL for the zero time.
func pgNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
