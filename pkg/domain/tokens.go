package domain

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TokenPrefix starts every API token, so that a leaked one is recognisable
// (secret scanners) and a malformed one is refused without a query.
const TokenPrefix = "tct_"

// tokenLen is the length of a token: the prefix and 32 random bytes in
// unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

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
type Tokens struct{ s *Store }

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
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return Token{}, "", err
	}
	plain := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(plain))
	var expires *time.Time
	if ttl > 0 {
		e := time.Now().Add(ttl)
		expires = &e
	}
	t, err := scanToken(ts.s.pool.QueryRow(ctx, `
INSERT INTO public.api_tokens (user_id, name, token_hash, expires_at, created_by, updated_by)
SELECT id, $2, $3, $4, $5, $5 FROM public.users WHERE id = $1 AND is_active
RETURNING `+tokenCols, userID, name, sum[:], expires, actor.nullID()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, "", notFound("user", userID.String()+" (or inactive)")
	}
	if err != nil {
		return Token{}, "", mapError(err)
	}
	return t, plain, nil
}

// authenticateSQL is Authenticate's statement, built once: it runs on
// every API request.
var authenticateSQL = `
WITH hit AS (
	SELECT t.id, t.user_id
	FROM public.api_tokens t
	JOIN public.users u ON u.id = t.user_id
	LEFT JOIN public.centers c ON c.id = u.center_id
	WHERE t.token_hash = $1 AND t.is_active AND (t.expires_at IS NULL OR t.expires_at > now())
		AND u.is_active AND (u.is_superuser OR c.is_active)
), touch AS (
	UPDATE public.api_tokens SET last_used_at = now()
	WHERE id = (SELECT id FROM hit) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT ` + userColsOf("u") + ` FROM hit JOIN public.users u ON u.id = hit.user_id`

// Authenticate returns the user of token, or ErrInvalidCredentials when the
// token is malformed, unknown, revoked or expired, or its user is inactive
// (or, for a non-superuser, the user's center is). The token is found by
// the SHA-256 of the whole string through a unique index, so no secret is
// ever compared byte by byte. last_used_at is updated in the same statement,
// at most once a minute per token.
func (ts *Tokens) Authenticate(ctx context.Context, token string) (User, error) {
	if len(token) != tokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return User{}, ErrInvalidCredentials
	}
	sum := sha256.Sum256([]byte(token))
	u, err := scanUser(ts.s.pool.QueryRow(ctx, authenticateSQL, sum[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrInvalidCredentials
	}
	return u, err
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
