package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SeedOptions configures Seed. The zero value seeds users without
// passwords: they authenticate with tokens (tenantctl token create).
type SeedOptions struct {
	// AdminPassword, if not empty, is the password of the superuser "admin"
	// when Seed creates it (at least 10 characters).
	AdminPassword string
	// UserPassword, if not empty, is the password of every center user Seed
	// creates (at least 10 characters).
	UserPassword string
}

// SeedCount says what Seed did with one kind of record.
type SeedCount struct {
	Created  int `json:"created"`
	Existing int `json:"existing"`
	// Skipped counts records Seed could not add without changing existing
	// data: users and samples of a soft-deleted center, samples whose user
	// has moved to another center.
	Skipped int `json:"skipped"`
}

// SeedResult summarizes a Seed run.
type SeedResult struct {
	Centers SeedCount `json:"centers"`
	Users   SeedCount `json:"users"`
	Samples SeedCount `json:"samples"`
}

type seedCenter struct {
	prefix, name, description, settings string
	users                               [3]seedUser // admin, user, viewer
	samples                             []seedSample
}

type seedUser struct{ username, first, last string }

type seedSample struct {
	name, typ string
	status    Status
	user      int // index into seedCenter.users
	desc      string
	metadata  string
}

// seedData is the demo data of the design: two centers, each with an
// admin, a user and a viewer, and samples of several types in every status.
// Istanbul uses the default sample types; Ankara lists its own in settings.
var seedData = []seedCenter{{
	prefix:      "IST",
	name:        "Istanbul Medical Center",
	description: "Hospital laboratory in Istanbul: routine clinical diagnostics.",
	settings:    `{"city": "Istanbul", "timezone": "Europe/Istanbul", "language": "tr"}`,
	users: [3]seedUser{
		{"istanbul_admin", "Ayşe", "Yılmaz"},
		{"istanbul_user", "Mehmet", "Demir"},
		{"istanbul_viewer", "Zeynep", "Kaya"},
	},
	samples: []seedSample{
		{"Complete blood count", "blood", StatusCompleted, 1, "Routine CBC before surgery.", `{"priority": "routine", "volume_ml": 4}`},
		{"Urinalysis", "urine", StatusPending, 1, "", `{"priority": "routine"}`},
		{"Liver biopsy", "tissue", StatusProcessing, 0, "Core needle biopsy, formalin fixed.", `{"fixative": "formalin"}`},
		{"Saliva cortisol", "saliva", StatusRejected, 1, "Rejected: insufficient volume.", `{"reason": "insufficient volume"}`},
		{"Fasting plasma glucose", "plasma", StatusArchived, 1, "", `{"fasting_hours": 10}`},
		{"Serum lipid panel", "serum", StatusPending, 0, "", `{}`},
		{"Throat swab culture", "swab", StatusProcessing, 1, "Suspected streptococcal pharyngitis.", `{"priority": "urgent"}`},
		{"Allergy panel", "blood", StatusPending, 1, "", `{"panel": ["pollen", "dust mite"]}`},
	},
}, {
	prefix:      "ANK",
	name:        "Ankara Research Lab",
	description: "Research laboratory in Ankara: genomics and biobanking.",
	settings:    `{"city": "Ankara", "timezone": "Europe/Istanbul", "sample_types": ["blood", "plasma", "serum", "tissue", "saliva", "dna", "rna"]}`,
	users: [3]seedUser{
		{"ankara_admin", "Ali", "Çelik"},
		{"ankara_user", "Elif", "Şahin"},
		{"ankara_viewer", "Can", "Öztürk"},
	},
	samples: []seedSample{
		{"Whole genome sequencing", "dna", StatusProcessing, 1, "30x WGS, cohort A.", `{"cohort": "A", "coverage": 30}`},
		{"RNA expression profile", "rna", StatusPending, 1, "", `{"cohort": "A"}`},
		{"Biobank plasma aliquot", "plasma", StatusCompleted, 0, "Aliquot 1 of 4.", `{"freezer": "F2", "aliquot": 1}`},
		{"Tumour tissue block", "tissue", StatusArchived, 1, "", `{"freezer": "F1"}`},
		{"Serum proteomics", "serum", StatusPending, 1, "", `{"cohort": "B"}`},
		{"Saliva microbiome", "saliva", StatusRejected, 1, "Rejected: contaminated tube.", `{"reason": "contamination"}`},
		{"Blood DNA extraction", "blood", StatusCompleted, 0, "", `{"yield_ng": 850}`},
		{"Cell-free DNA", "plasma", StatusPending, 1, "Liquid biopsy.", `{"cohort": "B"}`},
	},
}}

// seedRoles are the roles of seedCenter.users, in order.
var seedRoles = [3]Role{RoleAdmin, RoleUser, RoleViewer}

// Seed loads the demo data: the centers "Istanbul Medical Center" and
// "Ankara Research Lab", an admin, a user and a viewer in each
// (istanbul_admin, istanbul_user, istanbul_viewer, ankara_…), the superuser
// "admin" for operators (no center), and eight samples of several types and
// every status in each center (barcodes IST-0001…, ANK-0001…).
//
// Seed is idempotent: it adds what is missing and never modifies or
// deletes what exists (a center, user or sample of the same name, username
// or barcode counts as present, whatever its state), so a second run
// creates nothing. It is not one transaction — each center commits with its
// schema — but a run interrupted half-way is completed by the next.
// Concurrent runs are safe: a record created by the other run counts as
// existing.
func (s *Store) Seed(ctx context.Context, opts SeedOptions) (SeedResult, error) {
	var res SeedResult
	var pw, adminPW *string
	if opts.UserPassword != "" {
		pw = &opts.UserPassword
	}
	if opts.AdminPassword != "" {
		adminPW = &opts.AdminPassword
	}
	if _, err := s.seedUser(ctx, &res, UserInput{Username: "admin", Email: "admin@example.com",
		FirstName: "Platform", LastName: "Operator", Role: RoleAdmin, IsSuperuser: true, Password: adminPW}); err != nil {
		return res, err
	}
	for _, sc := range seedData {
		c, err := s.seedCenter(ctx, &res, sc)
		if err != nil {
			return res, err
		}
		var users [3]*User
		for i, su := range sc.users {
			if !c.IsActive {
				res.Users.Skipped++
				continue
			}
			users[i], err = s.seedUser(ctx, &res, UserInput{
				Username: su.username, Email: su.username + "@example.com", FirstName: su.first, LastName: su.last,
				CenterID: &c.ID, Role: seedRoles[i], Password: pw})
			if err != nil {
				return res, err
			}
		}
		if err := s.seedSamples(ctx, &res, c, sc, users); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *Store) seedCenter(ctx context.Context, res *SeedResult, sc seedCenter) (Center, error) {
	c, err := s.Centers.GetByName(ctx, sc.name)
	if err == nil {
		res.Centers.Existing++
		return c, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return c, err
	}
	c, err = s.Centers.Create(ctx, System, CenterInput{Name: sc.name, Description: sc.description, Settings: json.RawMessage(sc.settings)})
	if errors.Is(err, ErrConflict) { // created meanwhile by a concurrent Seed
		res.Centers.Existing++
		return s.Centers.GetByName(ctx, sc.name)
	}
	if err != nil {
		return c, fmt.Errorf("seed center %q: %w", sc.name, err)
	}
	res.Centers.Created++
	return c, nil
}

// seedUser returns the user, created or found, or nil if it cannot be
// created without touching existing data (an email taken by another user).
func (s *Store) seedUser(ctx context.Context, res *SeedResult, in UserInput) (*User, error) {
	u, err := s.Users.GetByUsername(ctx, in.Username)
	if err == nil {
		res.Users.Existing++
		return &u, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	u, err = s.Users.Create(ctx, System, in)
	var ce *ConflictError
	switch {
	case errors.As(err, &ce) && ce.Field == "username":
		res.Users.Existing++
		u, err = s.Users.GetByUsername(ctx, in.Username)
		return &u, err
	case errors.As(err, &ce):
		res.Users.Skipped++
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("seed user %q: %w", in.Username, err)
	}
	res.Users.Created++
	return &u, nil
}

// seedSamples inserts the center's missing samples in one statement
// (ON CONFLICT on the barcode keeps it idempotent and race-free), with
// their seeded statuses and staggered creation times.
func (s *Store) seedSamples(ctx context.Context, res *SeedResult, c Center, sc seedCenter, users [3]*User) error {
	var names, descs, types, statuses, barcodes, metas []string
	var userIDs []uuid.UUID
	for i, ss := range sc.samples {
		u := users[ss.user]
		if u == nil || !u.MemberOf(c.ID) {
			res.Samples.Skipped++
			continue
		}
		names, descs, types = append(names, ss.name), append(descs, ss.desc), append(types, ss.typ)
		statuses, barcodes = append(statuses, string(ss.status)), append(barcodes, fmt.Sprintf("%s-%04d", sc.prefix, i+1))
		metas, userIDs = append(metas, ss.metadata), append(userIDs, u.ID)
	}
	if len(names) == 0 {
		return nil
	}
	var created int
	err := s.inCenter(ctx, c.ID, false, nil, func(tx pgx.Tx, _ json.RawMessage, _ *pgx.Batch) error {
		tag, err := tx.Exec(ctx, `
INSERT INTO samples (name, description, sample_type, status, barcode, user_id, metadata, created_at, updated_at)
SELECT name, description, sample_type, status, barcode, user_id, metadata::jsonb,
	now() - (n * interval '1 hour'), now() - (n * interval '1 hour')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[])
	WITH ORDINALITY AS t(name, description, sample_type, status, barcode, user_id, metadata, n)
ON CONFLICT (barcode) DO NOTHING`, names, descs, types, statuses, barcodes, userIDs, metas)
		created = int(tag.RowsAffected())
		return err
	})
	if errors.Is(err, ErrNotFound) { // the center is soft-deleted
		res.Samples.Skipped += len(names)
		return nil
	}
	if err != nil {
		return fmt.Errorf("seed samples of %q: %w", c.Name, err)
	}
	res.Samples.Created += created
	res.Samples.Existing += len(names) - created
	return nil
}
