package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// page is a list response as Django REST Framework's
// LimitOffsetPagination writes it.
type page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// pageParams reads ?limit= and ?offset=. limit defaults to 50 and is capped
// at 500 (as DRF's max_limit); a limit that is not a positive integer or an
// offset that is not a non-negative integer is a 400.
func pageParams(r *http.Request) (limit, offset int, err error) {
	q := r.URL.Query()
	errs := map[string][]string{}
	limit = domain.DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs["limit"] = []string{"must be a positive integer"}
		} else {
			limit = min(n, domain.MaxLimit)
		}
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs["offset"] = []string{"must be zero or a positive integer"}
		} else {
			offset = n
		}
	}
	if len(errs) > 0 {
		return 0, 0, fieldError(errs)
	}
	return limit, offset, nil
}

// newPage builds the page of items at limit/offset out of count, with
// absolute next and previous links that keep the request's other query
// parameters (DRF's get_next_link and get_previous_link).
func newPage[T any](r *http.Request, items []T, count, limit, offset int) page[T] {
	if items == nil {
		items = []T{}
	}
	p := page[T]{Count: count, Results: items}
	// count-offset, not offset+limit: an offset near the largest int
	// (?offset=9223372036854775807 is valid) would overflow the sum into a
	// negative number and give a page past the end a next link.
	if count-offset > limit {
		p.Next = pageURL(r, limit, offset+limit)
	}
	if offset > 0 {
		if offset-limit <= 0 {
			p.Previous = pageURL(r, limit, 0)
		} else {
			p.Previous = pageURL(r, limit, offset-limit)
		}
	}
	return p
}

// pageURL is the request's absolute URL with limit and offset replaced;
// offset 0 is left out, as DRF does.
func pageURL(r *http.Request, limit, offset int) *string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	q := r.URL.Query()
	q.Set("limit", strconv.Itoa(limit))
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	} else {
		q.Del("offset")
	}
	u.RawQuery = q.Encode()
	s := u.String()
	return &s
}

// flag reads a boolean query parameter as DRF's BooleanField does.
func flag(r *http.Request, name string) bool {
	switch r.URL.Query().Get(name) {
	case "true", "True", "1", "yes", "on":
		return true
	}
	return false
}
