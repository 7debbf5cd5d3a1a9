package domain

import (
	"context"

	"github.com/alexedwards/argon2id"
)

// SetPasswordParams makes a test Store hash passwords cheaply.
func SetPasswordParams(s *Store, p *argon2id.Params) { s.params = p }

// SuggestCenter and SuggestUser expose the "did you mean" lookup behind
// Resolve with the number of candidates it read.
func SuggestCenter(ctx context.Context, s *Store, key string) (string, int, error) {
	return s.suggestion(ctx, centerNames, key)
}

func SuggestUser(ctx context.Context, s *Store, key string) (string, int, error) {
	return s.suggestion(ctx, userNames, key)
}

// Suggest is the pick among names that the lookup makes over its candidates.
func Suggest(key string, names []string) string { return suggest(key, names) }

// SetOverviewChunk sets how many schemas one statement of Overview reads,
// for the duration of a test; it returns the restore.
func SetOverviewChunk(n int) func() {
	old := overviewChunk
	overviewChunk = n
	return func() { overviewChunk = old }
}
