package domain

import "github.com/alexedwards/argon2id"

// SetPasswordParams makes a test Store hash passwords cheaply.
func SetPasswordParams(s *Store, p *argon2id.Params) { s.params = p }
