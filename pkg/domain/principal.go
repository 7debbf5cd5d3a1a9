package domain

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Principal is a user as an API token proved them: whom a request acts
// for. Tokens.Principal returns one, from a cache when it can; a Store
// operation run with a context from WithPrincipal re-checks it in its own
// first round trip (the guard), so that the cache is never trusted alone.
type Principal struct {
	User
	hash [sha256.Size]byte // the token's SHA-256: the cache's key, the guard's parameter
	// guarded: a guard passed with this principal's context (Guarded).
	guarded bool
}

// Same reports whether p and q are the same user with the same role,
// center and superuser status: what the guard compares.
func (p Principal) Same(q Principal) bool { return p.ID == q.ID && p.sameRights(q.User) }

// sameRights reports whether u has p's role, center and superuser status.
func (p Principal) sameRights(u User) bool {
	return p.Role == u.Role && p.IsSuperuser == u.IsSuperuser && sameCenter(p.CenterID, u.CenterID)
}

// ErrPrincipalChanged is a Store operation's answer when the principal of
// its context (WithPrincipal) is still valid but its user's role, center or
// superuser status changed since it was proved: the decisions taken with
// it may be wrong. The operation changed nothing; prove the token again
// (Tokens.Principal does, since the entry is gone from the cache) and
// retry.
var ErrPrincipalChanged = errors.New("the principal's user changed since the token was checked")

type principalKey struct{}

// WithPrincipal returns ctx carrying p: every Store operation run with it
// that reads or writes for an API request (the sample operations, the
// reads of centers and users) checks, in the same round trip as its own
// first statements, that p's token is still valid (active, unexpired, its
// user active and, unless a superuser, in an active center) and that p's
// user has the role, center and superuser status p says; otherwise the
// operation fails with ErrInvalidCredentials or ErrPrincipalChanged and
// changes nothing. A change committed by any process is seen by the next
// operation that starts after it: there is no staleness to bound and no
// notification to miss, also behind PgBouncer.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	p.guarded = false
	return context.WithValue(ctx, principalKey{}, &p)
}

// Guarded reports whether a Store operation run with ctx (WithPrincipal)
// checked its principal and found it current. A face that refuses a
// request on the principal's word alone, with no operation, should prove
// the token again (Tokens.Authenticate) before it answers: the cache may
// hold a user since promoted.
func Guarded(ctx context.Context) bool {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return ok && p.guarded
}

// guardSQL is the guard: the current permissions of the user of a valid
// token, by the same conditions as Tokens.Authenticate and without its
// touch of last_used_at, so that it can run in read-only transactions.
var guardSQL = "SELECT u.role, u.center_id, u.is_superuser" + validCredential("api_tokens", "")

// queueGuard queues the guard of ctx's principal, if it carries one, on b,
// whose later callbacks then run only if it passes: pgx stops at a
// callback's error.
func (s *Store) queueGuard(ctx context.Context, b *pgx.Batch) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok {
		return
	}
	b.Queue(guardSQL, p.hash[:]).QueryRow(func(row pgx.Row) error {
		var now User
		err := row.Scan(&now.Role, &now.CenterID, &now.IsSuperuser)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.checkGuard(p, nil)
		}
		if err != nil {
			return err
		}
		return s.checkGuard(p, &now)
	})
}

// guardCenterSQL is the guard and the check of center $2 in one statement,
// for the work of a center (queueCenter): one row, with nulls for what
// does not pass.
var guardCenterSQL = `SELECT g.role, g.center_id, g.is_superuser, c.is_active, c.settings
FROM (SELECT) one
LEFT JOIN (` + guardSQL + `) g ON true
LEFT JOIN public.centers c ON c.id = $2`

// centerSQL is the check of center $1 alone, for a context with no
// principal (the console, the CLI).
const centerSQL = "SELECT is_active, settings FROM public.centers WHERE id = $1"

// queueCenter queues the check that center id exists and is active,
// reading its settings into settings, after ctx's guard, in one statement:
// the guard's errors first, then ErrNotFound for the center. The settings
// are scanned as bytes, which pgx copies, where a json.RawMessage would be
// validated by encoding/json on every request.
func (s *Store) queueCenter(ctx context.Context, b *pgx.Batch, id uuid.UUID, settings *json.RawMessage) {
	active := func(err error, ok *bool) error {
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (ok == nil || !*ok)) {
			return notFound("center", id.String())
		}
		return err
	}
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok {
		b.Queue(centerSQL, id).QueryRow(func(row pgx.Row) error {
			var ok bool
			err := row.Scan(&ok, (*[]byte)(settings))
			return active(err, &ok)
		})
		return
	}
	b.Queue(guardCenterSQL, p.hash[:], id).QueryRow(func(row pgx.Row) error {
		var role *Role
		var superuser, ok *bool
		var now User
		if err := row.Scan(&role, &now.CenterID, &superuser, &ok, (*[]byte)(settings)); err != nil {
			return err
		}
		found := &now
		if role == nil {
			found = nil
		} else {
			now.Role, now.IsSuperuser = *role, *superuser
		}
		if err := s.checkGuard(p, found); err != nil {
			return err
		}
		return active(nil, ok)
	})
}

// checkGuard compares the user the guard found (nil: none, the token is
// no longer valid) with p: it returns the guard's error, forgetting p, or
// marks p guarded.
func (s *Store) checkGuard(p *Principal, now *User) error {
	switch {
	case now == nil:
		s.Tokens.cache.forget(p.hash)
		return ErrInvalidCredentials
	case !p.sameRights(*now):
		s.Tokens.cache.forget(p.hash)
		return ErrPrincipalChanged
	}
	p.guarded = true
	return nil
}

func sameCenter(a, b *uuid.UUID) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// read sends queue's statements in one round trip after ctx's guard
// (queueGuard): a pipeline with a single Sync, which PostgreSQL runs as one
// implicit transaction, so that a failing statement skips the rest.
func (s *Store) read(ctx context.Context, queue func(b *pgx.Batch)) error {
	var b pgx.Batch
	s.queueGuard(ctx, &b)
	queue(&b)
	return s.pool.SendBatch(ctx, &b).Close()
}

// readByID reads the row of kind id by sql ($1: id) in one round trip
// (Store.read); no row is ErrNotFound.
func readByID[T any](ctx context.Context, s *Store, kind, sql string, id uuid.UUID, scan func(row pgx.Row, extra ...any) (T, error)) (T, error) {
	var out T
	err := s.read(ctx, func(b *pgx.Batch) {
		b.Queue(sql, id).QueryRow(func(row pgx.Row) (err error) {
			out, err = scan(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound(kind, id.String())
			}
			return err
		})
	})
	return out, err
}

// principalTouch is how long a cached principal is served before its token
// is authenticated again, by the statement that also updates the token's
// last_used_at: that column's resolution stays a minute, as without the
// cache. Validity does not depend on it (the guard).
const principalTouch = time.Minute

// maxCachedPrincipals bounds the cache: past it, an entry is dropped for
// each one added.
const maxCachedPrincipals = 1 << 14

// principalCache remembers the principals of recently seen tokens, keyed
// by their SHA-256, so that a request does not spend a round trip proving
// its token before its work: the guard proves it again inside the work's.
type principalCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedPrincipal
}

type cachedPrincipal struct {
	p      Principal
	proved time.Time
}

func (c *principalCache) get(hash [sha256.Size]byte) (Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || time.Since(e.proved) >= principalTouch {
		return Principal{}, false
	}
	return e.p, true
}

func (c *principalCache) put(p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[sha256.Size]byte]cachedPrincipal{}
	}
	if _, ok := c.m[p.hash]; !ok && len(c.m) >= maxCachedPrincipals {
		for k := range c.m { // an arbitrary entry: map order
			delete(c.m, k)
			break
		}
	}
	c.m[p.hash] = cachedPrincipal{p, time.Now()}
}

func (c *principalCache) forget(hash [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, hash)
}

// Principal returns the principal of token, as Authenticate would, from
// the cache if Authenticate proved it within the last minute. Use it with
// WithPrincipal, whose guard makes the cache safe: a revoked token, a
// deactivated, demoted or moved user, a soft-deleted center is refused by
// the next guarded operation of every process.
func (ts *Tokens) Principal(ctx context.Context, token string) (Principal, error) {
	h, ok := secretHash(TokenPrefix, token)
	if !ok {
		return Principal{}, ErrInvalidCredentials
	}
	sum := [sha256.Size]byte(h)
	if p, ok := ts.cache.get(sum); ok {
		return p, nil
	}
	return ts.authenticate(ctx, sum)
}
