package cli

import (
	"errors"
	"strings"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// errorMessage is the one place where a failure becomes the message of the
// "tenantctl: ..." line (exit status 1). The domain's errors read:
//
//	*domain.ValidationError  invalid input: field: message; field2: message
//	*domain.ConflictError    conflict: field: message
//	*domain.TransitionError  conflict: cannot process a sample that is ...
//	domain.ErrActive         conflict: center is active; soft-delete it ...
//	*domain.NotFoundError    center "x" not found; did you mean "y"?
//
// Context a command wrapped around the domain's error ("--actor: ...") is
// kept in front of it. Usage errors (exit 2) do not come here.
func errorMessage(err error) string {
	msg := err.Error()
	var (
		ve *domain.ValidationError
		ce *domain.ConflictError
		te *domain.TransitionError
	)
	if detail, ok := db.NotMigrated(err); ok {
		return "the database is not migrated (" + detail + "); run 'tenantctl migrate' first"
	}
	var inner error
	var desc string
	switch {
	case errors.Is(err, tenancy.ErrNoLedger):
		return "the database has no tenancy ledger; run 'tenantctl migrate' first"
	case errors.As(err, &ve):
		inner, desc = ve, ve.Error() // "invalid input: ..."
	case errors.As(err, &ce):
		inner, desc = ce, "conflict: "+ce.Error()
	case errors.As(err, &te):
		inner, desc = te, "conflict: "+te.Error()
	default:
		// NotFoundError, ErrActive, ErrInvalidCredentials and the rest say
		// what they mean already.
		return msg
	}
	if prefix, ok := strings.CutSuffix(msg, inner.Error()); ok {
		return prefix + desc
	}
	return desc
}
