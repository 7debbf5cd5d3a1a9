package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// MaxBodyBytes bounds a request body: 1 MiB, as the design says.
const MaxBodyBytes = 1 << 20

// object is a decoded JSON object body, field by field, so that each field
// can be checked for presence, null and type, and every problem reported at
// once as DRF does.
type object struct {
	raw    map[string]json.RawMessage
	errs   map[string][]string
	fields map[string]bool // every field the endpoint accepts, writable or ignored
}

// readObject reads r's body as one JSON object. writable are the fields the
// endpoint uses; ignored are read-only fields of the resource that a client
// may send back (a PUT of what a GET returned) and that are dropped. Any
// other field is a 400. The body must be application/json (else 415), at
// most MaxBodyBytes (else 413), one JSON object and nothing after it.
func readObject(w http.ResponseWriter, r *http.Request, writable, ignored []string) (*object, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
		}
		return nil, errStatus(http.StatusBadRequest, "could not read the request body")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, storing
	// something other than what was sent (a barcode that no longer matches
	// its label); JSON must be UTF-8 (RFC 8259), so refuse it instead.
	if !utf8.Valid(body) {
		return nil, errStatus(http.StatusBadRequest, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errStatus(http.StatusBadRequest, "the request body is empty; a JSON object is required")
		}
		return nil, errStatus(http.StatusBadRequest, "malformed JSON: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errStatus(http.StatusBadRequest, "malformed JSON: unexpected data after the JSON object")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errStatus(http.StatusBadRequest, "the request body must be a JSON object")
	}
	o := &object{errs: map[string][]string{}, fields: map[string]bool{}}
	if err := json.Unmarshal(body, &o.raw); err != nil {
		return nil, errStatus(http.StatusBadRequest, "malformed JSON: "+err.Error())
	}
	for _, f := range writable {
		o.fields[f] = true
	}
	for _, f := range ignored {
		o.fields[f] = true
	}
	for _, k := range slices.Sorted(maps.Keys(o.raw)) {
		if !o.fields[k] {
			o.add(k, "unknown field")
		}
	}
	for _, f := range ignored {
		delete(o.raw, f)
	}
	return o, nil
}

// checkContentType refuses a body that is not declared application/json
// (parameters such as charset=utf-8 are allowed).
func checkContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errStatus(http.StatusUnsupportedMediaType, "the request body must be JSON, with Content-Type: application/json")
	}
	return nil
}

func (o *object) add(field, msg string) { o.errs[field] = append(o.errs[field], msg) }

// has reports whether field was sent (null included).
func (o *object) has(field string) bool { _, ok := o.raw[field]; return ok }

// require records "this field is required" for each of fields not sent: a
// create or a PUT.
func (o *object) require(fields ...string) {
	for _, f := range fields {
		if !o.has(f) {
			o.add(f, "this field is required")
		}
	}
}

// err returns the collected field errors as a 400, or nil.
func (o *object) err() error {
	if len(o.errs) == 0 {
		return nil
	}
	return fieldError(o.errs)
}

// str returns string field f, or nil when absent. null and other types are
// field errors.
func (o *object) str(f string) *string {
	raw, ok := o.raw[f]
	if !ok {
		return nil
	}
	var s string
	if string(raw) == "null" {
		o.add(f, "may not be null")
		return nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		o.add(f, "must be a string")
		return nil
	}
	return &s
}

// boolean returns boolean field f, or nil when absent.
func (o *object) boolean(f string) *bool {
	raw, ok := o.raw[f]
	if !ok {
		return nil
	}
	var b bool
	if string(raw) == "null" || json.Unmarshal(raw, &b) != nil {
		o.add(f, "must be true or false")
		return nil
	}
	return &b
}

// id returns uuid field f; nullable lets null through as (nil, true).
// It reports whether the field was sent and valid.
func (o *object) id(f string, nullable bool) (*uuid.UUID, bool) {
	raw, ok := o.raw[f]
	if !ok {
		return nil, false
	}
	if string(raw) == "null" {
		if !nullable {
			o.add(f, "may not be null")
			return nil, false
		}
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		o.add(f, "must be a UUID string")
		return nil, false
	}
	id, err := tenancy.ParseID(s)
	if err != nil {
		o.add(f, invalidID(s))
		return nil, false
	}
	return &id, true
}

// json returns JSON field f as sent (null included: the domain reads null
// as {}), or nil when absent.
func (o *object) json(f string) *json.RawMessage {
	raw, ok := o.raw[f]
	if !ok {
		return nil
	}
	return &raw
}

// invalidID is the message for an id a client sent in a field or a query
// parameter that tenancy.ParseID, the one parser of ids, refuses.
func invalidID(s string) string {
	return fmt.Sprintf("%q is not a valid UUID", text.Truncate(s, 64))
}

// pathID parses the path wildcard name as an id; anything else is a 404
// (a malformed id names nothing, and must not be a 400 or a 500).
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := tenancy.ParseID(r.PathValue(name))
	if err != nil {
		return uuid.Nil, errNotFound
	}
	return id, nil
}

// visibleByPath returns the object of the path's {id} if the caller may
// see it, by visible: the Store's VisibleCenter or VisibleUser, where the
// rule is. Parsing the path is the API's part.
func visibleByPath[T any](r *http.Request, visible func(context.Context, domain.User, uuid.UUID) (T, error)) (T, error) {
	id, err := pathID(r, "id")
	if err != nil {
		var zero T
		return zero, err
	}
	return visible(r.Context(), *caller(r), id)
}
