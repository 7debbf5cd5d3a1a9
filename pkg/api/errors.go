package api

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// Problem is an RFC 9457 problem details object, the body of every error
// response (Content-Type application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors maps fields to their messages, as Django REST Framework does,
	// for validation errors (and uniqueness conflicts).
	Errors map[string][]string `json:"errors,omitempty"`
	// ErrorID identifies a 500 in the server's log.
	ErrorID string `json:"error_id,omitempty"`
}

// httpError is an error the API itself raises with a status: a refused
// permission, a malformed body, an unsupported media type.
type httpError struct {
	status int
	detail string
	fields map[string][]string
}

func (e *httpError) Error() string { return e.detail }

func errStatus(status int, detail string) error { return &httpError{status: status, detail: detail} }

// errForbidden is a refused permission on something the caller may see.
func errForbidden(detail string) error { return errStatus(http.StatusForbidden, detail) }

// errNotFound is what every "not yours" and "no such thing" answers: the
// two must not be told apart.
var errNotFound = errStatus(http.StatusNotFound, "not found")

// errUnauthorized is a missing, malformed, unknown, revoked or expired token.
var errUnauthorized = errStatus(http.StatusUnauthorized, "authentication credentials were not provided or are invalid")

// fieldError is a 400 with DRF-style field messages.
func fieldError(fields map[string][]string) error {
	return &httpError{status: http.StatusBadRequest, detail: "invalid input", fields: fields}
}

// problemFor maps any error of a handler to its problem. It is the one
// place where errors become statuses:
//
//	*httpError                                its own status
//	*domain.ValidationError                   400 with errors
//	domain.ErrNotFound, tenancy not found     404
//	domain.ErrConflict (*ConflictError, *TransitionError, ErrActive)  409
//	domain.ErrInvalidCredentials              401
//	db.IsUnavailable: unreachable, timed out  503
//	anything else                             500, logged with an id
func (s *Server) problemFor(r *http.Request, err error) Problem {
	var (
		he *httpError
		ve *domain.ValidationError
		ce *domain.ConflictError
	)
	switch {
	case errors.As(err, &he):
		return Problem{Status: he.status, Detail: he.detail, Errors: he.fields}
	case errors.As(err, &ve):
		return Problem{Status: http.StatusBadRequest, Detail: "invalid input", Errors: ve.Fields}
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, tenancy.ErrTenantNotFound), errors.Is(err, tenancy.ErrInvalidName):
		// The domain's message names what was looked up, which the caller
		// sent; it still says nothing the caller could not know.
		return Problem{Status: http.StatusNotFound, Detail: "not found"}
	case errors.As(err, &ce):
		return Problem{Status: http.StatusConflict, Detail: ce.Error(), Errors: map[string][]string{ce.Field: {ce.Message}}}
	case errors.Is(err, domain.ErrConflict):
		return Problem{Status: http.StatusConflict, Detail: err.Error()}
	case errors.Is(err, domain.ErrInvalidCredentials):
		return Problem{Status: http.StatusUnauthorized, Detail: "invalid credentials"}
	case db.IsUnavailable(err):
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "database unavailable", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
		if errors.Is(err, context.DeadlineExceeded) {
			return Problem{Status: http.StatusServiceUnavailable, Detail: "the request timed out"}
		}
		return Problem{Status: http.StatusServiceUnavailable, Detail: "the database is unavailable; retry later"}
	}
	id := strings.ToLower(rand.Text()[:12])
	s.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
		slog.String("error_id", id), slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
	return Problem{Status: http.StatusInternalServerError, Detail: "internal error; quote error_id to the operator", ErrorID: id}
}

// writeError answers err as a problem.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody is listening.
		setStatus(r.Context(), 499)
		return
	}
	p := s.problemFor(r, err)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tenantctl"`)
	}
	writeProblem(w, p)
}

// writeProblem writes p, filling in type and title.
func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// A Problem is strings, ints and string lists: it always encodes.
	b, _ := marshalJSON(p)
	w.WriteHeader(p.Status)
	// A client gone before its problem arrives has nobody to tell.
	_, _ = w.Write(b)
}
