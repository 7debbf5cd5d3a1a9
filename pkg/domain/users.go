package domain

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Role is a user's role within their center.
type Role string

// The roles of the design.
const (
	RoleAdmin  Role = "admin"
	RoleUser   Role = "user"
	RoleViewer Role = "viewer"
)

// Roles lists every role, in the order of the design.
var Roles = []Role{RoleAdmin, RoleUser, RoleViewer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// User is a row of public.users. The password hash never leaves the
// package: it is not a field of User at all.
type User struct {
	ID        uuid.UUID `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	// Phone is empty when the user has none (NULL in the table).
	Phone string `json:"phone"`
	// CenterID is the user's center; nil only for a superuser without one.
	CenterID    *uuid.UUID `json:"center"`
	Role        Role       `json:"role"`
	IsSuperuser bool       `json:"is_superuser"`
	// HasPassword tells whether the user can log in with a password (else
	// only with tokens an operator issued). Not part of the API's JSON.
	HasPassword bool       `json:"-"`
	IsActive    bool       `json:"is_active"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CreatedBy   *uuid.UUID `json:"created_by"`
	UpdatedBy   *uuid.UUID `json:"updated_by"`
}

// MemberOf reports whether the user belongs to center id.
func (u User) MemberOf(id uuid.UUID) bool { return u.CenterID != nil && *u.CenterID == id }

// UserInput is a new user.
type UserInput struct {
	// Username matches ^[A-Za-z0-9_.@+-]{1,150}$ and is unique
	// (case-sensitively, as Django's).
	Username string
	// Email is a bare address (no display name), at most 254 characters,
	// unique case-insensitively. It is stored as given.
	Email     string
	FirstName string // at most 150 characters, may be empty
	LastName  string // at most 150 characters, may be empty
	Phone     string // at most 32 characters; empty means none
	// CenterID is required unless IsSuperuser; the center must exist and be
	// active.
	CenterID    *uuid.UUID
	Role        Role // empty means RoleUser
	IsSuperuser bool
	// Password, if not nil, is at least 10 characters; it is stored only as
	// an argon2id hash. Without one the user authenticates with tokens only.
	Password *string
}

// UserPatch changes a user's profile: nil fields are left as they are.
// Center, role, superuser status and activity have dedicated methods
// (ChangeCenter, ChangeRole, SetSuperuser, SetActive).
type UserPatch struct {
	Username  *string
	Email     *string
	FirstName *string
	LastName  *string
	Phone     *string // "" removes the phone number
	Password  *string // write-only; nil keeps the current one
}

// UserProfile is every profile field of a user, for a full update (PUT).
type UserProfile struct {
	Username, Email, FirstName, LastName, Phone string
	Password                                    *string // nil keeps the current one
}

// Users manages public.users. Its bulk writes (SetActive, ChangeRole,
// ChangeCenter, SetSuperuser) change whoever they are given, as the CLI's
// operator may; a face acting for a user binds them to its Rule with
// Checked.
type Users struct{ s *Store }

// A Rule decides whether a bulk write may change user t: nil lets it, an
// error refuses it. t is the row as the write's own transaction reads it,
// locked until that transaction ends, so the decision is made on the very
// row the UPDATE changes: a user moved to another center or made a
// superuser since the face last read them is judged as they are now, and
// cannot change again before the write commits.
//
// The rule and its errors are the face's: the API answers a user the
// caller may not see with 404 and one it sees but may not change with 403;
// the console names the user and the reason. A Rule runs while the rows
// are locked: it must decide from t and what it already holds, without
// querying anything.
type Rule func(t User) error

// CheckedUsers are the writes of existing users bound to a Rule
// (Users.Checked), the bulk ones and the profile's. The methods of Users of
// the same names are these with no rule.
type CheckedUsers struct {
	us   *Users
	rule Rule
}

// Checked returns the writes of us asking rule of every target row,
// locked, before changing any. One refusal refuses the whole write: nothing
// changes, and the error is errors.Join of every row's refusal, in the
// order of the ids (errors.As finds the first). A nil rule allows
// everything, as Users itself does.
func (us *Users) Checked(rule Rule) CheckedUsers { return CheckedUsers{us: us, rule: rule} }

// userCols are the columns scanUser reads, unqualified.
var userCols = userColsOf("")

// userColsOf is userCols for the users table aliased a.
func userColsOf(a string) string {
	p := ""
	if a != "" {
		p = a + "."
	}
	return strings.NewReplacer("$.", p).Replace("$.id, $.username, $.email, $.first_name, $.last_name, " +
		"coalesce($.phone, ''), $.center_id, $.role, $.is_superuser, $.password_hash IS NOT NULL, " +
		"$.is_active, $.created_at, $.updated_at, $.created_by, $.updated_by")
}

func scanUser(row pgx.Row, extra ...any) (User, error) {
	var u User
	err := row.Scan(append([]any{&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.Phone, &u.CenterID,
		&u.Role, &u.IsSuperuser, &u.HasPassword, &u.IsActive, &u.CreatedAt, &u.UpdatedAt, &u.CreatedBy, &u.UpdatedBy},
		extra...)...)
	return u, err
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.@+-]{1,150}$`)

// Password length bounds, in characters. The upper bound keeps hashing a
// request body from becoming a denial of service.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

func (f *fieldErrors) checkUsername(v string) {
	if f.checkText("username", v, textRule{min: 1, max: 150}) && !usernamePattern.MatchString(v) {
		f.add("username", "may contain only letters, digits and @ . + - _")
	}
}

func (f *fieldErrors) checkEmail(v string) {
	if !f.checkText("email", v, textRule{min: 1, max: 254}) {
		return
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Name != "" || addr.Address != v || strings.Count(v, "@") != 1 || strings.ContainsAny(v, " \t\r\n") {
		f.add("email", "must be a valid email address")
	}
}

func (f *fieldErrors) checkPassword(p *string) {
	if p == nil {
		return
	}
	if !utf8.ValidString(*p) || strings.IndexByte(*p, 0) >= 0 {
		f.add("password", "must be valid UTF-8 without NUL characters")
		return
	}
	switch n := utf8.RuneCountInString(*p); {
	case n < MinPasswordLen:
		f.add("password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	case n > MaxPasswordLen:
		f.add("password", fmt.Sprintf("must be at most %d characters", MaxPasswordLen))
	}
}

func (f *fieldErrors) checkRole(r Role) {
	if !r.Valid() {
		f.add("role", fmt.Sprintf("%q is not a valid role (admin, user, viewer)", string(r)))
	}
}

func (p UserPatch) validate(f *fieldErrors) {
	if p.Username != nil {
		f.checkUsername(*p.Username)
	}
	if p.Email != nil {
		f.checkEmail(*p.Email)
	}
	if p.FirstName != nil {
		f.checkText("first_name", *p.FirstName, textRule{max: 150, singleLine: true})
	}
	if p.LastName != nil {
		f.checkText("last_name", *p.LastName, textRule{max: 150, singleLine: true})
	}
	if p.Phone != nil {
		f.checkText("phone", *p.Phone, textRule{max: 32, singleLine: true})
	}
	f.checkPassword(p.Password)
}

// hash returns the argon2id hash of p, or nil for nil.
func (s *Store) hash(p *string) (*string, error) {
	if p == nil {
		return nil, nil
	}
	h, err := argon2id.CreateHash(*p, s.params)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return &h, nil
}

// centerActiveSQL reads whether a center is active, with a KEY SHARE lock
// so that the center cannot be hard-deleted before the transaction commits.
const centerActiveSQL = "SELECT is_active FROM public.centers WHERE id = $1 FOR KEY SHARE"

// scanCenterActive reads row, centerActiveSQL's result, recording a field error
// under field unless the center exists and is active.
func scanCenterActive(row pgx.Row, f *fieldErrors, field string) error {
	var active bool
	err := row.Scan(&active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		f.add(field, "center does not exist")
	case err != nil:
		return fmt.Errorf("read the center: %w", err)
	case !active:
		f.add(field, "center is not active")
	}
	return nil
}

// checkCenterActive checks, inside tx, that center id exists and is active,
// recording a field error under field otherwise (scanCenterActive).
func checkCenterActive(ctx context.Context, tx pgx.Tx, f *fieldErrors, field string, id uuid.UUID) error {
	return scanCenterActive(tx.QueryRow(ctx, centerActiveSQL, id), f, field)
}

// Create adds a user. Every field is validated at once; the center is
// checked (exists, active) in the same transaction as the insert.
func (us *Users) Create(ctx context.Context, actor Actor, in UserInput) (User, error) {
	var f fieldErrors
	UserPatch{Username: &in.Username, Email: &in.Email, FirstName: &in.FirstName, LastName: &in.LastName,
		Phone: &in.Phone, Password: in.Password}.validate(&f)
	if in.Role == "" {
		in.Role = RoleUser
	}
	f.checkRole(in.Role)
	if in.CenterID == nil && !in.IsSuperuser {
		f.add("center", "this field is required (only superusers may have no center)")
	}
	if err := f.err(); err != nil {
		return User{}, err
	}
	hash, err := us.s.hash(in.Password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = pgx.BeginFunc(ctx, us.s.pool, func(tx pgx.Tx) error {
		if in.CenterID != nil {
			if err := checkCenterActive(ctx, tx, &f, "center", *in.CenterID); err != nil {
				return err
			}
			if err := f.err(); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRow(ctx, `
INSERT INTO public.users (username, email, first_name, last_name, phone, center_id, role, is_superuser,
	password_hash, created_by, updated_by)
VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10, $10)
RETURNING `+userCols, in.Username, in.Email, in.FirstName, in.LastName, in.Phone, in.CenterID, in.Role,
			in.IsSuperuser, hash, actor.nullID()))
		return err
	})
	return u, mapError(err)
}

// Get returns user id, active or not.
func (us *Users) Get(ctx context.Context, id uuid.UUID) (User, error) {
	return readByID(ctx, us.s, "user", "SELECT "+userCols+" FROM public.users WHERE id = $1", id, scanUser)
}

// GetByUsername returns the user named username (case-sensitive), active or
// not.
func (us *Users) GetByUsername(ctx context.Context, username string) (User, error) {
	if !usernamePattern.MatchString(username) {
		return User{}, notFound("user", username)
	}
	u, err := scanUser(us.s.pool.QueryRow(ctx, "SELECT "+userCols+" FROM public.users WHERE username = $1", username))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, notFound("user", username)
	}
	return u, err
}

// Resolve finds a user by id or username. An unknown username gets a
// *NotFoundError whose Suggestion is a close existing username, if any,
// chosen among at most SuggestionCandidates usernames.
func (us *Users) Resolve(ctx context.Context, ref string) (User, error) {
	if id, err := uuid.Parse(ref); err == nil {
		// A username may look like a UUID too: fall back to it, as
		// Centers.Resolve does for names.
		if u, err := us.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			return u, err
		}
	}
	u, err := us.GetByUsername(ctx, ref)
	if !errors.Is(err, ErrNotFound) {
		return u, err
	}
	suggestion, _, serr := us.s.suggestion(ctx, userNames, ref)
	if serr != nil {
		return User{}, serr
	}
	return User{}, &NotFoundError{Kind: "user", Key: ref, Suggestion: suggestion}
}

// UserOrderKeys are what a list of users may be ordered by
// (ListOptions.Ordering), each ascending or, prefixed by "-", descending.
// date_joined is created_at, by Django's name.
var UserOrderKeys = []string{"username", "email", "date_joined", "last_name", "role"}

// DefaultUserOrdering orders a list of users that names no ordering.
const DefaultUserOrdering = "username"

// userOrder sorts emails as their unique index users_email_key does.
var userOrder = orderSpec{keys: UserOrderKeys, def: DefaultUserOrdering,
	sql: map[string]string{"email": "lower(email)", "date_joined": "created_at"}}

// UserOrderings lists every ordering of users by one key: each of
// UserOrderKeys ascending, then descending.
func UserOrderings() []string { return userOrder.orderings() }

// List returns a page of users, and how many match in all. By default it
// lists the active users by username; opts filters (Active,
// IncludeInactive, Search, IDs, CenterID, Role, Superuser) and orders
// (Ordering) it.
func (us *Users) List(ctx context.Context, opts ListOptions) ([]User, int, error) {
	var f fieldErrors
	limit, offset := page(&f, opts.Limit, opts.Offset)
	if opts.Search != "" {
		f.checkText("search", opts.Search, textRule{max: 200})
	}
	if opts.Role != nil {
		f.checkRole(*opts.Role)
	}
	order := userOrder.clause(opts.Ordering, &f)
	if err := f.err(); err != nil {
		return nil, 0, err
	}
	q := listQuery{from: "public.users", cols: userCols}
	q.active(opts)
	if opts.IDs != nil {
		q.where("id = ANY(" + q.arg(opts.IDs) + ")")
	}
	if opts.CenterID != nil {
		q.where("center_id = " + q.arg(*opts.CenterID))
	}
	if opts.Role != nil {
		q.where("role = " + q.arg(string(*opts.Role)))
	}
	if opts.Superuser != nil {
		q.where("is_superuser = " + q.arg(*opts.Superuser))
	}
	if opts.Search != "" {
		q.search(opts.Search, "username", "email", "first_name", "last_name")
	}
	return readPage(q, order, limit, offset, scanUser, func(queue func(*pgx.Batch)) error { return us.s.read(ctx, queue) })
}

// Update replaces every profile field of user id (a PUT). A nil Password
// keeps the current one.
func (cu CheckedUsers) Update(ctx context.Context, actor Actor, id uuid.UUID, p UserProfile) (User, error) {
	return cu.Patch(ctx, actor, id, UserPatch{Username: &p.Username, Email: &p.Email, FirstName: &p.FirstName,
		LastName: &p.LastName, Phone: &p.Phone, Password: p.Password})
}

// Patch changes the profile fields p sets (a PATCH), on the row the rule
// allowed, in two round trips (bulk). The rule is asked before p's fields
// are checked, so that a face's 404 and 403 come before a 400.
func (cu CheckedUsers) Patch(ctx context.Context, actor Actor, id uuid.UUID, p UserPatch) (User, error) {
	var f fieldErrors
	p.validate(&f)
	// Hashed before the row is locked: argon2id takes long enough to hold
	// up the user's other writers.
	var hash *string
	if f.err() == nil {
		var err error
		if hash, err = cu.us.s.hash(p.Password); err != nil {
			return User{}, err
		}
	}
	users, err := cu.bulk(ctx, []uuid.UUID{id}, &f, nil, `username = coalesce($3, username), email = coalesce($4, email),
	first_name = coalesce($5, first_name), last_name = coalesce($6, last_name),
	phone = CASE WHEN $7::text IS NULL THEN phone ELSE nullif($7, '') END,
	password_hash = coalesce($8, password_hash)`, actor, p.Username, p.Email, p.FirstName, p.LastName, p.Phone, hash)
	if err != nil {
		return User{}, err
	}
	return users[0], nil
}

// Update is CheckedUsers.Update with no rule.
func (us *Users) Update(ctx context.Context, actor Actor, id uuid.UUID, p UserProfile) (User, error) {
	return us.Checked(nil).Update(ctx, actor, id, p)
}

// Patch is CheckedUsers.Patch with no rule.
func (us *Users) Patch(ctx context.Context, actor Actor, id uuid.UUID, p UserPatch) (User, error) {
	return us.Checked(nil).Patch(ctx, actor, id, p)
}

// SetPassword replaces user id's password (at least 10 characters); nil
// removes it, leaving the user to tokens.
func (us *Users) SetPassword(ctx context.Context, actor Actor, id uuid.UUID, password *string) error {
	var f fieldErrors
	f.checkPassword(password)
	if err := f.err(); err != nil {
		return err
	}
	hash, err := us.s.hash(password)
	if err != nil {
		return err
	}
	tag, err := us.s.pool.Exec(ctx, "UPDATE public.users SET password_hash = $2, updated_by = $3 WHERE id = $1",
		id, hash, actor.nullID())
	if err != nil {
		return mapError(err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("user", id.String())
	}
	return nil
}

// bulk runs an UPDATE of public.users over ids (set is the SET clause,
// with $1 the ids, $2 the actor and values from $3 on), all or none, in
// two round trips:
//
//  1. BEGIN, the guard of ctx's principal (WithPrincipal), what queue
//     queues (ChangeCenter's check of the center, whose problems it
//     records in f), and a SELECT of the target rows that locks them;
//  2. if every id exists, cu.rule allows every row and f holds no problem
//     (checked in that order, so that a face's 404 and 403 come before a
//     400: f may arrive with the caller's own checks of its input), the
//     UPDATE and COMMIT.
//
// A refusal takes two as well: the first, then a ROLLBACK instead of the
// UPDATE. The error of missing ids names them all. The users come back in
// the order of ids, duplicates removed.
//
// The rows are locked so that the rule decides on the rows the UPDATE
// changes: a decision made on rows read earlier, in another transaction,
// let a concurrent move or promotion slip in between. Under READ COMMITTED
// the locking SELECT waits for a concurrent writer of a row and then reads
// the row it committed; any later writer waits for this COMMIT. The lock
// is FOR NO KEY UPDATE, the one the UPDATE takes anyway: FOR UPDATE would
// also block the KEY SHARE locks of foreign keys, among them the one the
// UPDATE's own updated_by takes on the actor's row, so that two admins
// each changing the other would deadlock. The rows are locked in id order
// so that two bulk writes over the same users cannot deadlock either.
func (cu CheckedUsers) bulk(ctx context.Context, ids []uuid.UUID, f *fieldErrors, queue func(b *pgx.Batch, f *fieldErrors),
	set string, actor Actor, values ...any) ([]User, error) {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil, &ValidationError{Fields: map[string][]string{"ids": {"at least one user is required"}}}
	}
	if f == nil {
		f = &fieldErrors{}
	}
	// A connection of its own rather than a pgx.Tx, whose Begin and
	// Commit would each take a round trip of their own.
	c, err := cu.us.s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire a connection: %w", err)
	}
	defer release(ctx, c)

	var (
		b      pgx.Batch
		locked []User
	)
	b.Queue("BEGIN")
	cu.us.s.queueGuard(ctx, &b)
	if queue != nil {
		queue(&b, f)
	}
	b.Queue("SELECT "+userCols+" FROM public.users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE", ids).
		Query(func(rows pgx.Rows) error {
			var err error
			locked, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) { return scanUser(row) })
			return err
		})
	if err := c.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("lock the users: %w", mapError(err))
	}
	if err := cu.allow(ids, locked); err != nil {
		return nil, err
	}
	if err := f.err(); err != nil {
		return nil, err
	}

	var got []User
	b = pgx.Batch{}
	b.Queue("UPDATE public.users SET "+set+", updated_by = $2 WHERE id = ANY($1) RETURNING "+userCols, append([]any{ids, actor.nullID()}, values...)...).
		Query(func(rows pgx.Rows) error {
			var err error
			got, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) { return scanUser(row) })
			return err
		})
	b.Queue("COMMIT")
	if err := c.SendBatch(ctx, &b).Close(); err != nil {
		// Not wrapped: a constraint's *ValidationError is the answer.
		return nil, mapError(err)
	}
	byID := make(map[uuid.UUID]User, len(got))
	for _, u := range got {
		byID[u.ID] = u
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		out = append(out, byID[id])
	}
	return out, nil
}

// allow checks that every one of ids is among the locked rows, and then
// that cu.rule allows every row.
func (cu CheckedUsers) allow(ids []uuid.UUID, locked []User) error {
	byID := make(map[uuid.UUID]User, len(locked))
	for _, u := range locked {
		byID[u.ID] = u
	}
	var missing []string
	for _, id := range ids {
		if _, ok := byID[id]; !ok {
			missing = append(missing, id.String())
		}
	}
	if len(missing) > 0 {
		return notFound("user", strings.Join(missing, ", "))
	}
	if cu.rule == nil {
		return nil
	}
	var refused []error
	for _, id := range ids {
		if err := cu.rule(byID[id]); err != nil {
			refused = append(refused, err)
		}
	}
	return errors.Join(refused...)
}

// release returns c to the pool, rolling back what a failed bulk write left
// open. Without the rollback the pool would destroy the connection; if the
// rollback fails, it still does.
func release(ctx context.Context, c *pgxpool.Conn) {
	if !c.Conn().IsClosed() && c.Conn().PgConn().TxStatus() != 'I' {
		// The write's own error is the one to report.
		_, _ = c.Exec(ctx, "ROLLBACK")
	}
	c.Release()
}

func dedupe(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// SetActive activates or deactivates (soft-deletes) users, all or none.
// A deactivated user cannot authenticate, by password or token.
func (cu CheckedUsers) SetActive(ctx context.Context, actor Actor, active bool, ids ...uuid.UUID) ([]User, error) {
	return cu.bulk(ctx, ids, nil, nil, "is_active = $3", actor, active)
}

// ChangeRole gives users a role, all or none.
func (cu CheckedUsers) ChangeRole(ctx context.Context, actor Actor, role Role, ids ...uuid.UUID) ([]User, error) {
	var f fieldErrors
	f.checkRole(role)
	return cu.bulk(ctx, ids, &f, nil, "role = $3", actor, role)
}

// ChangeCenter moves users to center centerID, which must exist and be
// active, all or none. Their samples stay in the old center's schema.
func (cu CheckedUsers) ChangeCenter(ctx context.Context, actor Actor, centerID uuid.UUID, ids ...uuid.UUID) ([]User, error) {
	return cu.bulk(ctx, ids, nil, func(b *pgx.Batch, f *fieldErrors) {
		b.Queue(centerActiveSQL, centerID).QueryRow(func(row pgx.Row) error { return scanCenterActive(row, f, "center") })
	}, "center_id = $3", actor, centerID)
}

// SetSuperuser grants or revokes platform-operator status. Revoking it
// from a user without a center is a validation error (center required).
func (cu CheckedUsers) SetSuperuser(ctx context.Context, actor Actor, id uuid.UUID, superuser bool) (User, error) {
	users, err := cu.bulk(ctx, []uuid.UUID{id}, nil, nil, "is_superuser = $3", actor, superuser)
	if err != nil {
		return User{}, err
	}
	return users[0], nil
}

// SetActive is CheckedUsers.SetActive with no rule.
func (us *Users) SetActive(ctx context.Context, actor Actor, active bool, ids ...uuid.UUID) ([]User, error) {
	return us.Checked(nil).SetActive(ctx, actor, active, ids...)
}

// ChangeRole is CheckedUsers.ChangeRole with no rule.
func (us *Users) ChangeRole(ctx context.Context, actor Actor, role Role, ids ...uuid.UUID) ([]User, error) {
	return us.Checked(nil).ChangeRole(ctx, actor, role, ids...)
}

// ChangeCenter is CheckedUsers.ChangeCenter with no rule.
func (us *Users) ChangeCenter(ctx context.Context, actor Actor, centerID uuid.UUID, ids ...uuid.UUID) ([]User, error) {
	return us.Checked(nil).ChangeCenter(ctx, actor, centerID, ids...)
}

// SetSuperuser is CheckedUsers.SetSuperuser with no rule.
func (us *Users) SetSuperuser(ctx context.Context, actor Actor, id uuid.UUID, superuser bool) (User, error) {
	return us.Checked(nil).SetSuperuser(ctx, actor, id, superuser)
}

// Authenticate returns the user with username and password, or
// ErrInvalidCredentials whatever is wrong: unknown user, wrong password, no
// password set, user inactive, or (for a non-superuser) center inactive.
// An unknown user costs a hash verification all the same, so response times
// do not reveal which usernames exist.
func (us *Users) Authenticate(ctx context.Context, username, password string) (User, error) {
	var (
		u            User
		hash         *string // stays nil for an unknown user
		centerActive bool
	)
	// A username the pattern refuses cannot exist; an absurd password cannot
	// match. Both still pay for a verification below.
	if usernamePattern.MatchString(username) && len(password) <= 4*MaxPasswordLen {
		var err error
		u, err = scanUser(us.s.pool.QueryRow(ctx, "SELECT "+userColsOf("u")+
			", u.password_hash, coalesce(c.is_active, false) FROM public.users u LEFT JOIN public.centers c ON c.id = u.center_id WHERE u.username = $1",
			username), &hash, &centerActive)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return User{}, err
		}
	}
	if hash == nil {
		// Unknown user or no password: spend the time a real verification
		// takes, then fail.
		_, _ = argon2id.ComparePasswordAndHash(password, us.s.dummyHash())
		return User{}, ErrInvalidCredentials
	}
	match, err := argon2id.ComparePasswordAndHash(password, *hash)
	if err != nil || !match || !u.IsActive || !(u.IsSuperuser || centerActive) {
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

// dummyHash is a hash of a random password with the Store's parameters.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := argon2id.CreateHash(uuid.NewString(), s.params)
		if err != nil {
			// Only a broken random source gets here; a constant hash with
			// the same cost still does the job.
			h = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43)
		}
		s.dummy = h
	})
	return s.dummy
}
