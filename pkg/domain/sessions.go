package domain

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SessionPrefix starts every console session secret (the cookie's value),
// as TokenPrefix starts API tokens: the prefix and 32 random bytes in
// unpadded base64url.
const SessionPrefix = "tcs_"

// Session is a console sign-in; the secret is shown once, by Create, and
// stored only as its SHA-256.
type Session struct {
	ID     uuid.UUID `json:"id"`
	UserID uuid.UUID `json:"user_id"`
	// ExpiresAt is the absolute expiry, fixed at sign-in.
	ExpiresAt time.Time `json:"expires_at"`
	// LastSeenAt is when the session was last used, to the minute: the
	// idle expiry counts from it.
	LastSeenAt time.Time `json:"last_seen_at"`
	CreatedAt  time.Time `json:"created_at"`
}

// Sessions manages public.admin_sessions, the admin console's sign-ins.
//
// A session ends when it is signed out (End), at its ExpiresAt,
// after idling longer than Authenticate's idle, and — by a trigger on
// public.users, whichever process makes the change — when its user is
// deactivated or changes role, center, superuser status or password.
// Nothing caches sessions, so an ended session fails its next request on
// every apiserver.
type Sessions struct{ s *Store }

// Create signs user userID in for ttl (positive): the user must exist and
// be active, else ErrNotFound. It returns the session and its secret,
// which is never retrievable again. The session is recorded as created by
// the user itself. The user's sessions past their ExpiresAt are deleted in
// the same statement, so a user's rows stay bounded by their sign-ins of
// one ttl.
func (ss *Sessions) Create(ctx context.Context, userID uuid.UUID, ttl time.Duration) (Session, string, error) {
	if ttl <= 0 {
		return Session{}, "", &ValidationError{Fields: map[string][]string{"ttl": {"must be positive"}}}
	}
	plain, sum, err := newSecret(SessionPrefix)
	if err != nil {
		return Session{}, "", err
	}
	// FOR SHARE waits for a concurrent change of the user (a password or a
	// deactivation) to commit, or makes it wait for this insert, so that the
	// trigger's DELETE of that change always sees this session.
	var s Session
	err = ss.s.pool.QueryRow(ctx, `
WITH u AS (
	SELECT id FROM public.users WHERE id = $1 AND is_active FOR SHARE
), expired AS (
	DELETE FROM public.admin_sessions WHERE user_id = $1 AND expires_at <= now()
)
INSERT INTO public.admin_sessions (user_id, token_hash, expires_at, created_by, updated_by)
SELECT id, $2, now() + $3::bigint * interval '1 microsecond', id, id FROM u
RETURNING id, user_id, expires_at, last_seen_at, created_at`, userID, sum, ttl.Microseconds()).Scan(
		&s.ID, &s.UserID, &s.ExpiresAt, &s.LastSeenAt, &s.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, "", notFound("user", userID.String()+" (or inactive)")
	}
	if err != nil {
		return Session{}, "", mapError(err)
	}
	return s, plain, nil
}

// sessionAuthSQL is Sessions.Authenticate's statement: Tokens'
// authentication, plus the idle expiry ($2, in microseconds), returning the
// session too.
var sessionAuthSQL = authenticateSQL("admin_sessions", "last_seen_at",
	" AND t.last_seen_at >= now() - $2::bigint * interval '1 microsecond'",
	"expires_at", "last_seen_at", "created_at")

// Authenticate returns the session's user, or ErrInvalidCredentials when
// the secret is malformed, unknown, past ExpiresAt, idle for longer than
// idle (now - LastSeenAt > idle), or its user is inactive, or (for a
// non-superuser) its center is inactive. It is one statement, one round
// trip (Store.authenticateRow), found by the secret's SHA-256 through a
// unique index; it touches
// last_seen_at at most once a minute, so the idle expiry is exact to that
// minute. The Session returned has LastSeenAt as it was before this call.
// idle must be positive.
func (ss *Sessions) Authenticate(ctx context.Context, secret string, idle time.Duration) (User, Session, error) {
	if idle <= 0 {
		return User{}, Session{}, errors.New("authenticate session: idle timeout must be positive")
	}
	sum, ok := secretHash(SessionPrefix, secret)
	if !ok {
		return User{}, Session{}, ErrInvalidCredentials
	}
	var s Session
	var u User
	err := ss.s.authenticateRow(ctx, func(row pgx.Row) (err error) {
		u, err = scanUser(row, &s.ID, &s.ExpiresAt, &s.LastSeenAt, &s.CreatedAt)
		return err
	}, sessionAuthSQL, sum, idle.Microseconds())
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, Session{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, Session{}, err
	}
	s.UserID = u.ID
	return u, s, nil
}

// End signs the session of secret out, deleting it. A malformed or unknown
// secret (a session already ended) is not an error: signing out twice
// leaves the same state.
func (ss *Sessions) End(ctx context.Context, secret string) error {
	sum, ok := secretHash(SessionPrefix, secret)
	if !ok {
		return nil
	}
	if _, err := ss.s.pool.Exec(ctx, "DELETE FROM public.admin_sessions WHERE token_hash = $1", sum); err != nil {
		return mapError(err)
	}
	return nil
}
