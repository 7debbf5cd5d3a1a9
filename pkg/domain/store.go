package domain

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// Store is the domain over a pool and a tenancy.Manager. It is safe for
// concurrent use; its zero value is not usable, call New.
type Store struct {
	pool *pgxpool.Pool
	m    *tenancy.Manager

	Centers  *Centers
	Users    *Users
	Samples  *Samples
	Tokens   *Tokens
	Sessions *Sessions

	// params hashes new passwords; dummy is a hash made with them, verified
	// against when a username is unknown so that timing does not tell.
	params    *argon2id.Params
	dummyOnce sync.Once
	dummy     string
}

// Pool returns the pool the Store works over, for what reads the database
// outside the domain (health checks, pool metrics, a LISTEN connection's
// settings).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Tenancy returns the Manager the Store enters tenant schemas through, for
// what reads the fleet's migration state (Inspect, Migrate) and where its
// schemas live (Cluster).
func (s *Store) Tenancy() *tenancy.Manager { return s.m }

// New returns a Store over pool, entering tenant schemas through m (which
// must name schemas as public.centers.schema_name does: pkg/db.NewTenancy).
func New(pool *pgxpool.Pool, m *tenancy.Manager) *Store {
	s := &Store{pool: pool, m: m, params: DefaultPasswordParams}
	s.Centers = &Centers{s}
	s.Users = &Users{s}
	s.Samples = &Samples{s}
	s.Tokens = &Tokens{s: s}
	s.Sessions = &Sessions{s}
	return s
}

// DefaultPasswordParams are the argon2id parameters of new password hashes:
// OWASP's recommendation (19 MiB, 2 passes, 1 lane). Existing hashes carry
// their own parameters in PHC format and keep verifying if these change.
var DefaultPasswordParams = &argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// Actor is who performs a write: its ID fills created_by and updated_by.
// The zero Actor (System) is the system itself and writes nulls.
type Actor struct {
	ID uuid.UUID
}

// System is the Actor of writes no user asked for (seed, migrations).
var System = Actor{}

// By returns the Actor of user id.
func By(id uuid.UUID) Actor { return Actor{ID: id} }

// nullID is the actor as a nullable column value.
func (a Actor) nullID() uuid.NullUUID {
	return uuid.NullUUID{UUID: a.ID, Valid: a.ID != uuid.Nil}
}

// Pagination limits, as the API's LimitOffsetPagination.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ListOptions pages, filters and orders the lists of centers and users.
// Field names in its validation errors are those of the API's query string
// (limit, offset, search, ordering, active, role, is_superuser).
type ListOptions struct {
	// Limit is the page size: 0 means DefaultLimit; above MaxLimit is
	// clamped to MaxLimit; negative is invalid.
	Limit int
	// Offset skips that many rows; negative is invalid.
	Offset int
	// IncludeInactive includes soft-deleted rows. It only matters while
	// Active is nil.
	IncludeInactive bool
	// Active, when set, overrides IncludeInactive: true lists only active
	// rows, false only soft-deleted ones (so those are included whatever
	// IncludeInactive says). nil: active rows, and soft-deleted ones too if
	// IncludeInactive.
	Active *bool
	// Search, when not empty, keeps rows where it is a case-insensitive
	// substring of a center's name or description, or of a user's
	// username, email, first_name or last_name; % _ and \ match
	// themselves. At most 200 characters.
	Search string
	// Ordering is a comma-separated list of CenterOrderKeys or
	// UserOrderKeys, each optionally prefixed by "-" for descending; empty
	// means DefaultCenterOrdering or DefaultUserOrdering. id breaks ties.
	Ordering string
	// IDs, when not nil, restricts the list to these ids (a caller's own
	// center, or themselves). An empty non-nil slice lists nothing.
	IDs []uuid.UUID
	// CenterID, when set, restricts a list of users to the members of that
	// center. Ignored by Centers.List (use IDs).
	CenterID *uuid.UUID
	// Role, when set, restricts a list of users to that role. Ignored by
	// Centers.List.
	Role *Role
	// Superuser, when set, restricts a list of users to superusers (true)
	// or the others (false). Ignored by Centers.List.
	Superuser *bool
}

// listQuery is a list's statement in the making: conditions written by
// the package over placeholders, the values in args, never spliced.
type listQuery struct {
	from  string // the table, schema-qualified unless a tenant's
	cols  string
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

func (q *listQuery) where(cond string) { q.conds = append(q.conds, cond) }

// search keeps the rows where s is a substring of any of cols,
// case-insensitively and literally.
func (q *listQuery) search(s string, cols ...string) {
	p := q.arg("%" + escapeLike(s) + "%")
	for i, c := range cols {
		cols[i] = c + " ILIKE " + p + ` ESCAPE '\'`
	}
	q.where("(" + strings.Join(cols, " OR ") + ")")
}

// active applies ListOptions' Active and IncludeInactive.
func (q *listQuery) active(opts ListOptions) {
	switch {
	case opts.Active != nil:
		q.where("is_active = " + q.arg(*opts.Active))
	case !opts.IncludeInactive:
		q.where("is_active")
	}
}

func (q *listQuery) whereSQL() string {
	return " FROM " + q.from + " WHERE " + strings.Join(append([]string{"true"}, q.conds...), " AND ")
}

// readPage reads q: a page of rows in order, with how many match in all,
// counted by an uncorrelated subquery in the same statement, which
// PostgreSQL evaluates once; or, past the last page where no row carries
// that count, by a count(*) of its own, a second read. Not count(*) OVER
// (): a window over the ordered rows makes PostgreSQL fetch every match
// through the order's index before it returns the first (at 10,000
// centers the first page took 6.5–9.8 ms that way, 1.3–1.9 ms with the
// subquery). read runs the statement queue queues, in one round trip
// (Store.read, or a tenant's read-only transaction).
func readPage[T any](q listQuery, order string, limit, offset int,
	scan func(row pgx.Row, extra ...any) (T, error), read func(queue func(*pgx.Batch)) error) ([]T, int, error) {
	where := q.whereSQL()
	filterArgs := len(q.args)
	sql := q.pageSQL(order, limit, offset)
	var items []T
	var total int
	err := read(func(b *pgx.Batch) {
		b.Queue(sql, q.args...).Query(func(rows pgx.Rows) error {
			var err error
			items, err = pgx.AppendRows(make([]T, 0, limit), rows, func(row pgx.CollectableRow) (T, error) { return scan(row, &total) })
			return err
		})
	})
	if err != nil || len(items) > 0 || offset == 0 {
		return items, total, err
	}
	err = read(func(b *pgx.Batch) {
		b.Queue("SELECT count(*)"+where, q.args[:filterArgs]...).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	})
	return items, total, err
}

// pageSQL is readPage's statement: q's page in order, each row with
// the count of every match. It adds limit and offset to q's arguments.
func (q *listQuery) pageSQL(order string, limit, offset int) string {
	where := q.whereSQL()
	return "SELECT " + q.cols + ", (SELECT count(*)" + where + ")" + where + " ORDER BY " + order +
		" LIMIT " + q.arg(limit) + " OFFSET " + q.arg(offset)
}

// orderSpec is what a list may be ordered by: keys, in the order errors
// list them; sql, the expression of the keys that are not a column of
// their name (fixed SQL, never input); def, the ordering when none is
// given.
type orderSpec struct {
	keys []string
	sql  map[string]string
	def  string
}

// orderings lists every ordering by one key: each key ascending, then
// descending.
func (o orderSpec) orderings() []string {
	out := make([]string, 0, 2*len(o.keys))
	for _, k := range o.keys {
		out = append(out, k, "-"+k)
	}
	return out
}

// clause turns an ordering parameter into an ORDER BY clause, or records a
// field error under "ordering". Input only selects among o's keys and
// never reaches SQL itself.
func (o orderSpec) clause(ordering string, f *fieldErrors) string {
	if ordering == "" {
		ordering = o.def
	}
	var parts []string
	seen := map[string]bool{}
	dir := " DESC"
	for _, key := range strings.Split(ordering, ",") {
		name, desc := strings.CutPrefix(strings.TrimSpace(key), "-")
		if !slices.Contains(o.keys, name) {
			f.add("ordering", fmt.Sprintf("cannot order by %q (%s, with - for descending)", key, strings.Join(o.keys, ", ")))
			return ""
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		col, ok := o.sql[name]
		if !ok {
			col = name // one of o.keys: fixed SQL, not input
		}
		dir = " ASC"
		if desc {
			dir = " DESC"
		}
		parts = append(parts, col+dir)
	}
	// id breaks ties, in the direction of the last key, so that an index
	// on the key (samples_created_at_idx, centers_name_key) serves the
	// whole ordering or, for a unique key, all but a tiebreak never needed.
	return strings.Join(append(parts, "id"+dir), ", ")
}

// page validates limit and offset into f and applies their defaults.
func page(f *fieldErrors, limit, offset int) (int, int) {
	if limit < 0 {
		f.add("limit", "must be a positive integer")
	}
	if offset < 0 {
		f.add("offset", "must be zero or a positive integer")
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	return min(limit, MaxLimit), max(offset, 0)
}
