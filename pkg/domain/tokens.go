package domain

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TokenPrefix starts every API token, so that a leaked one is recognisable
// (secret scanners) and a malformed one is refused without a query.
const TokenPrefix = "tct_"

// secretBytes is how many random bytes a token or session secret carries
// after its prefix, in unpadded base64url.
const secretBytes = 32

// newSecret returns a new secret starting with prefix, and its SHA-256:
// what is stored and looked up by index.
func newSecret(prefix string) (string, []byte, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("random secret: %w", err)
	}
	plain := prefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(plain))
	return plain, sum[:], nil
}

// secretHash returns the SHA-256 of secret, or false when secret cannot be
// one newSecret(prefix) made, so that it is refused without a query.
func secretHash(prefix, secret string) ([]byte, bool) {
	if len(secret) != len(prefix)+base64.RawURLEncoding.EncodedLen(secretBytes) || !strings.HasPrefix(secret, prefix) {
		return nil, false
	}
	sum := sha256.Sum256([]byte(secret))
	return sum[:], true
}

// Token is an API token's record; the token itself is shown once, by
// Create, and stored only as its SHA-256.
type Token struct {
	ID         uuid.UUID  `json:"id"`
	UserID     uuid.UUID  `json:"user_id"`
	Name       string     `json:"name"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	IsActive   bool       `json:"is_active"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	CreatedBy  *uuid.UUID `json:"created_by"`
	UpdatedBy  *uuid.UUID `json:"updated_by"`
}

// Tokens manages public.api_tokens.
type Tokens struct {
	s     *Store
	cache principalCache // Principal's
}

const tokenCols = "id, user_id, name, expires_at, last_used_at, is_active, created_at, updated_at, created_by, updated_by"

func scanToken(row pgx.Row) (Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.ExpiresAt, &t.LastUsedAt, &t.IsActive, &t.CreatedAt,
		&t.UpdatedAt, &t.CreatedBy, &t.UpdatedBy)
	return t, err
}

// Create issues a token for user userID (which must exist and be active),
// named name (at most 100 characters, may be empty), valid for ttl (0: no
// expiry). It returns the token's record and the token itself, which is
// never retrievable again.
func (ts *Tokens) Create(ctx context.Context, actor Actor, userID uuid.UUID, name string, ttl time.Duration) (Token, string, error) {
	var f fieldErrors
	f.checkText("name", name, textRule{max: 100, singleLine: true})
	if ttl < 0 {
		f.add("ttl", "must not be negative")
	}
	if err := f.err(); err != nil {
		return Token{}, "", err
	}
	plain, sum, err := newSecret(TokenPrefix)
	if err != nil {
		return Token{}, "", err
	}
	var expires *time.Time
	if ttl > 0 {
		e := time.Now().Add(ttl)
		expires = &e
	}
	t, err := scanToken(ts.s.pool.QueryRow(ctx, `
INSERT INTO public.api_tokens (user_id, name, token_hash, expires_at, created_by, updated_by)
SELECT id, $2, $3, $4, $5, $5 FROM public.users WHERE id = $1 AND is_active
RETURNING `+tokenCols, userID, name, sum, expires, actor.nullID()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, "", notFound("user", userID.String()+" (or inactive)")
	}
	if err != nil {
		return Token{}, "", mapError(err)
	}
	return t, plain, nil
}

// validCredential is the FROM and WHERE of a valid credential of table
// (public.api_tokens, public.admin_sessions) found by its hash, $1, as t,
// with its user u and the user's center c: the credential is active and
// unexpired, its user active and, unless a superuser, in an active center;
// valid adds the table's own conditions.
func validCredential(table, valid string) string {
	return `
	FROM public.` + table + ` t
	JOIN public.users u ON u.id = t.user_id
	LEFT JOIN public.centers c ON c.id = u.center_id
	WHERE t.token_hash = $1 AND t.is_active AND (t.expires_at IS NULL OR t.expires_at > now())` + valid + `
		AND u.is_active AND (u.is_superuser OR c.is_active)`
}

// authenticateSQL builds the statement that authenticates a credential of
// table by its hash (validCredential). The credential's seen column is
// touched in the same statement, at most once a minute. It returns the
// user's columns and, if cols name any of the credential's, its id and
// then cols: one round trip in all.
func authenticateSQL(table, seen, valid string, cols ...string) string {
	hitCols, outCols := "", ""
	for _, c := range cols {
		hitCols += ", t." + c
		outCols += ", hit." + c
	}
	if len(cols) > 0 {
		outCols = ", hit.id" + outCols
	}
	return `
WITH hit AS (
	SELECT t.id, t.user_id` + hitCols + validCredential(table, valid) + `
), touch AS (
	UPDATE public.` + table + ` SET ` + seen + ` = now()
	WHERE id = (SELECT id FROM hit) AND (` + seen + ` IS NULL OR ` + seen + ` < now() - interval '1 minute')
)
SELECT ` + userColsOf("u") + outCols + ` FROM hit JOIN public.users u ON u.id = hit.user_id`
}

// authenticateRow runs sql, an authenticateSQL statement whose touch of
// the credential is its only write, and scans its row: one round trip, as
// PostgreSQL's implicit transaction of a pipeline, with synchronous_commit
// off for it alone, so that a request does not wait for the touch's WAL
// to reach the disk (every request of a server just started, whose tokens
// are all new to it, and one a minute per token after). A crash may lose
// the last fraction of a second of touches, never a credential's validity
// (the statement writes nothing else); a lost touch only makes a
// credential look less recently used than it was.
func (s *Store) authenticateRow(ctx context.Context, scan func(pgx.Row) error, sql string, args ...any) error {
	var b pgx.Batch
	b.Queue("SELECT set_config('synchronous_commit', 'off', true)")
	b.Queue(sql, args...).QueryRow(scan)
	return s.pool.SendBatch(ctx, &b).Close()
}

// tokenAuthSQL is Tokens.Authenticate's statement, built once: it runs on
// every API request.
var tokenAuthSQL = authenticateSQL("api_tokens", "last_used_at", "")

// Authenticate returns the principal of token, or ErrInvalidCredentials
// when the token is malformed, unknown, revoked or expired, or its user is
// inactive (or, for a non-superuser, the user's center is). The token is
// found by the SHA-256 of the whole string through a unique index, so no
// secret is ever compared byte by byte. last_used_at is updated in the
// same statement, at most once a minute per token. The principal is
// remembered for Principal, or forgotten if the token is no longer valid.
func (ts *Tokens) Authenticate(ctx context.Context, token string) (Principal, error) {
	sum, ok := secretHash(TokenPrefix, token)
	if !ok {
		return Principal{}, ErrInvalidCredentials
	}
	return ts.authenticate(ctx, [sha256.Size]byte(sum))
}

func (ts *Tokens) authenticate(ctx context.Context, sum [sha256.Size]byte) (Principal, error) {
	var u User
	err := ts.s.authenticateRow(ctx, func(row pgx.Row) (err error) {
		u, err = scanUser(row)
		return err
	}, tokenAuthSQL, sum[:])
	if errors.Is(err, pgx.ErrNoRows) {
		ts.cache.forget(sum)
		return Principal{}, ErrInvalidCredentials
	}
	if err != nil {
		return Principal{}, err
	}
	p := Principal{User: u, hash: sum}
	ts.cache.put(p)
	return p, nil
}

// Get returns token id's record.
func (ts *Tokens) Get(ctx context.Context, id uuid.UUID) (Token, error) {
	t, err := scanToken(ts.s.pool.QueryRow(ctx, "SELECT "+tokenCols+" FROM public.api_tokens WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, notFound("token", id.String())
	}
	return t, err
}

// List returns user userID's tokens, newest first, revoked ones included.
func (ts *Tokens) List(ctx context.Context, userID uuid.UUID) ([]Token, error) {
	rows, err := ts.s.pool.Query(ctx, "SELECT "+tokenCols+" FROM public.api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id", userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Token, error) { return scanToken(row) })
}

// Revoke deactivates token id for good. Revoking a revoked token changes
// nothing.
func (ts *Tokens) Revoke(ctx context.Context, actor Actor, id uuid.UUID) error {
	tag, err := ts.s.pool.Exec(ctx, `
UPDATE public.api_tokens SET is_active = false, updated_by = $2
WHERE id = $1 AND is_active`, id, actor.nullID())
	if err != nil {
		return mapError(err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := ts.Get(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
