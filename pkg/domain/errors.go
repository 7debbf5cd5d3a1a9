package domain

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantctl/tenantctl/internal/text"
)

// Sentinel errors. Test for them with errors.Is; the package wraps them with
// what was not found or what collided. The HTTP API maps them to statuses
// and the CLI to messages in one place each:
//
//	ErrNotFound           404  (*NotFoundError, possibly with a suggestion)
//	*ValidationError      400  (field → messages)
//	ErrConflict           409  (*ConflictError, *TransitionError, ErrActive, ErrDeleted)
//	ErrInvalidCredentials 401
var (
	// ErrNotFound: no such center, user, sample or token — or a sample of a
	// soft-deleted center, which answers as if it did not exist.
	ErrNotFound = errors.New("not found")

	// ErrConflict: the request contradicts the current state of the data:
	// a uniqueness violation (*ConflictError), an illegal sample transition
	// (*TransitionError), the hard delete of an active center (ErrActive)
	// or the clone of a deleted one (ErrDeleted).
	ErrConflict = errors.New("conflict")

	// ErrActive is returned by Centers.HardDelete for a center that has not
	// been soft-deleted first. It wraps ErrConflict.
	ErrActive = fmt.Errorf("%w: center is active; soft-delete it before hard-deleting it", ErrConflict)

	// ErrDeleted is returned by Centers.Clone for a source center that
	// has been soft-deleted: restore it first. It wraps ErrConflict.
	ErrDeleted = fmt.Errorf("%w: center is deleted; restore it before cloning it", ErrConflict)

	// ErrInvalidCredentials: a wrong username or password, or a token that
	// is unknown, revoked or expired, or whose user (or user's center) is
	// inactive. Deliberately says no more than that.
	ErrInvalidCredentials = errors.New("invalid credentials")
)

// NotFoundError names what was not found. It unwraps to ErrNotFound.
type NotFoundError struct {
	// Kind is "center", "user", "sample" or "token".
	Kind string
	// Key is the id, name, username or barcode that was looked up.
	Key string
	// Suggestion, when not empty, is an existing name close to Key
	// (Resolve fills it in: "did you mean ...?").
	Suggestion string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("%s %q not found", e.Kind, e.Key)
	if e.Suggestion != "" {
		msg += fmt.Sprintf("; did you mean %q?", e.Suggestion)
	}
	return msg
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

func notFound(kind, key string) error { return &NotFoundError{Kind: kind, Key: key} }

// ValidationError is invalid input: every field's problems at once, as
// Django REST Framework reports them (field → messages). Fields are named
// as in JSON (snake_case); "non_field_errors" holds what belongs to no one
// field.
type ValidationError struct {
	Fields map[string][]string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, f := range slices.Sorted(maps.Keys(e.Fields)) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f + ": " + strings.Join(e.Fields[f], ", "))
	}
	return b.String()
}

// ConflictError is a uniqueness violation, detected from the constraint the
// database reported (never by a racy pre-check). It unwraps to ErrConflict.
type ConflictError struct {
	// Field is the JSON name of the colliding field: "name", "username",
	// "email" or "barcode".
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Message }

func (e *ConflictError) Unwrap() error { return ErrConflict }

// TransitionError is a sample action its current status does not allow
// (HTTP 409). It unwraps to ErrConflict.
type TransitionError struct {
	From   Status
	Action Action
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s a sample that is %s (allowed from: %s)",
		e.Action, e.From, strings.Join(text.Strings(transitions[e.Action].from), ", "))
}

func (e *TransitionError) Unwrap() error { return ErrConflict }

// uniqueFields maps the unique indexes of the migrations to the field and
// message of the ConflictError they mean.
var uniqueFields = map[string][2]string{
	"centers_name_key":    {"name", "a center with this name already exists (names are case-insensitive)"},
	"users_username_key":  {"username", "a user with this username already exists"},
	"users_email_key":     {"email", "a user with this email already exists (emails are case-insensitive)"},
	"samples_barcode_key": {"barcode", "a sample with this barcode already exists in this center"},
}

// checkFields maps CHECK and foreign-key constraints to the field they
// guard. Validation catches these first; the mapping keeps a race or a
// missed rule a 400 instead of a 500.
var checkFields = map[string]string{
	"centers_name_length":         "name",
	"centers_settings_object":     "settings",
	"centers_settings_size":       "settings",
	"users_username_format":       "username",
	"users_email_format":          "email",
	"users_first_name_length":     "first_name",
	"users_last_name_length":      "last_name",
	"users_phone_length":          "phone",
	"users_role_valid":            "role",
	"users_center_required":       "center",
	"users_center_id_fkey":        "center",
	"api_tokens_name_length":      "name",
	"api_tokens_user_id_fkey":     "user",
	"samples_name_length":         "name",
	"samples_sample_type_present": "sample_type",
	"samples_status_valid":        "status",
	"samples_barcode_length":      "barcode",
	"samples_metadata_object":     "metadata",
	"samples_metadata_size":       "metadata",
	"centers_created_by_fkey":     "actor",
	"centers_updated_by_fkey":     "actor",
	"users_created_by_fkey":       "actor",
	"users_updated_by_fkey":       "actor",
	"api_tokens_created_by_fkey":  "actor",
	"api_tokens_updated_by_fkey":  "actor",
}

// mapError turns the server's refusals of bad input into the package's
// error types: unique_violation → *ConflictError, check and foreign-key
// violations and data exceptions (class 22) → *ValidationError. Anything
// else is returned as is (a 500: the database is down or the code is wrong).
func mapError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "23505":
		if f, ok := uniqueFields[pgErr.ConstraintName]; ok {
			return &ConflictError{Field: f[0], Message: f[1]}
		}
		return &ConflictError{Field: "non_field_errors", Message: "already exists"}
	case pgErr.Code == "23514" || pgErr.Code == "23503" || pgErr.Code == "23502":
		field := checkFields[pgErr.ConstraintName]
		if field == "" {
			field = "non_field_errors"
		}
		msg := "is invalid"
		switch {
		case pgErr.Code == "23503" && field == "actor":
			msg = "the acting user does not exist"
		case pgErr.Code == "23503":
			msg = "does not exist"
		case strings.HasSuffix(pgErr.ConstraintName, "_size"):
			msg = "must be at most 64 KiB"
		}
		return &ValidationError{Fields: map[string][]string{field: {msg}}}
	case strings.HasPrefix(pgErr.Code, "22"): // data exception: bad text, JSON, numbers
		return &ValidationError{Fields: map[string][]string{"non_field_errors": {pgErr.Message}}}
	}
	return err
}
