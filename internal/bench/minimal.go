package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// The minimal service's statements: each request's response in one
// schema-qualified statement, over table (a center's samples, quoted),
// with the caller's placeholders ($n for pgx, :name or a subquery for
// pgbench-single), so that both send the same text.

// singleList is a page of the active samples, newest first, each row with
// the count of all of them (the uncorrelated subquery of pkg/domain's
// lists, evaluated once).
func singleList(table, limit, offset string) string {
	return "SELECT " + sampleCols + ", (SELECT count(*) FROM " + table + " WHERE is_active) FROM " + table +
		" WHERE is_active ORDER BY created_at DESC, id DESC LIMIT " + limit + " OFFSET " + offset
}

// singleGet is the sample where col = v (id, barcode).
func singleGet(table, col, v string) string {
	return "SELECT " + sampleCols + " FROM " + table + " WHERE " + col + " = " + v
}

// singleCreate inserts a sample owned, created and updated by a member
// of center: there is no caller to stand for, and in the fixture a
// center's member is the one whose token the API's calls carry.
func singleCreate(table, name, description, sampleType, barcode, metadata, center string) string {
	return "INSERT INTO " + table + " (name, description, sample_type, barcode, user_id, metadata, created_by, updated_by)\n" +
		"SELECT " + name + ", " + description + ", " + sampleType + ", " + barcode + ", id, " + metadata + "::jsonb, id, id\n" +
		"FROM public.users WHERE center_id = " + center + " ORDER BY id LIMIT 1\nRETURNING " + sampleCols
}

// singleProcess moves an active pending sample to processing, updated by
// its owner (the fixture's caller, as in singleCreate).
func singleProcess(table, id string) string {
	return "UPDATE " + table + " SET status = 'processing', updated_by = user_id WHERE id = " + id +
		" AND status = 'pending' AND is_active RETURNING " + sampleCols
}

// samplesTable is center id's samples table, schema-qualified by the
// product's naming (db.SchemaPrefix and the id's hex) and quoted.
func samplesTable(id uuid.UUID) string {
	return pgx.Identifier{db.SchemaPrefix + hex.EncodeToString(id[:]), "samples"}.Sanitize()
}

// minimalService answers the API's sample requests with one statement
// each, through a pool as the API server's: no authentication, tenancy,
// validation or logging, the least any service could do for the same
// responses. It ignores the Authorization header of the API's calls.
type minimalService struct{ pool *pgxpool.Pool }

// minimalHandler routes the API's paths for list, get, by barcode, create
// and process to the minimal service over pool, and /healthz.
func minimalHandler(pool *pgxpool.Pool) http.Handler {
	s := &minimalService{pool}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	const samples = "/api/centers/{center}/samples/"
	mux.HandleFunc("GET "+samples+"{$}", s.handle(s.list))
	mux.HandleFunc("GET "+samples+"{id}/", s.handle(func(_ http.ResponseWriter, r *http.Request, center uuid.UUID) (int, any, error) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			return http.StatusNotFound, nil, nil
		}
		return s.one(r, http.StatusOK, singleGet(samplesTable(center), "id", "$1"), id)
	}))
	mux.HandleFunc("GET "+samples+"by_barcode/{barcode}/", s.handle(func(_ http.ResponseWriter, r *http.Request, center uuid.UUID) (int, any, error) {
		return s.one(r, http.StatusOK, singleGet(samplesTable(center), "barcode", "$1"), r.PathValue("barcode"))
	}))
	mux.HandleFunc("POST "+samples+"{$}", s.handle(s.create))
	mux.HandleFunc("POST "+samples+"{id}/process/", s.handle(func(_ http.ResponseWriter, r *http.Request, center uuid.UUID) (int, any, error) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			return http.StatusNotFound, nil, nil
		}
		return s.one(r, http.StatusOK, singleProcess(samplesTable(center), "$1"), id)
	}))
	return mux
}

// handle serves fn, given the path's center, writing the
// value it returns as the API writes JSON (unescaped HTML, one buffer, so
// a Content-Length); a nil value is the status alone, an error a 500.
func (s *minimalService) handle(fn func(w http.ResponseWriter, r *http.Request, center uuid.UUID) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		center, err := uuid.Parse(r.PathValue("center"))
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		status, v, err := fn(w, r, center)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if v == nil {
			w.WriteHeader(status)
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	}
}

// scanSampleRow scans a row of sampleCols, then extra.
func scanSampleRow(row pgx.Row, extra ...any) (domain.Sample, error) {
	var s domain.Sample
	err := row.Scan(append([]any{&s.ID, &s.Name, &s.Description, &s.SampleType, &s.Status, &s.Barcode, &s.UserID,
		(*[]byte)(&s.Metadata), &s.IsActive, &s.CreatedAt, &s.UpdatedAt, &s.CreatedBy, &s.UpdatedBy}, extra...)...)
	return s, err
}

// one answers with the sample sql returns, or 404 when it returns none.
func (s *minimalService) one(r *http.Request, status int, sql string, args ...any) (int, any, error) {
	sm, err := scanSampleRow(s.pool.QueryRow(r.Context(), sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return http.StatusNotFound, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("minimal: %w", err)
	}
	return status, sm, nil
}

// minimalPage is the API's list response, Django REST Framework's
// LimitOffsetPagination page.
type minimalPage struct {
	Count    int             `json:"count"`
	Next     *string         `json:"next"`
	Previous *string         `json:"previous"`
	Results  []domain.Sample `json:"results"`
}

// list answers ?limit= (default domain.DefaultLimit, at most
// domain.MaxLimit) and ?offset= with the page and its links as the API
// builds them. Past the last page, where no row carries the count, a
// second statement counts.
func (s *minimalService) list(_ http.ResponseWriter, r *http.Request, center uuid.UUID) (int, any, error) {
	table := samplesTable(center)
	q := r.URL.Query()
	limit, offset := domain.DefaultLimit, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return http.StatusBadRequest, nil, nil
		}
		limit = min(n, domain.MaxLimit)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return http.StatusBadRequest, nil, nil
		}
		offset = n
	}
	p := minimalPage{Results: make([]domain.Sample, 0, limit)}
	rows, err := s.pool.Query(r.Context(), singleList(table, "$1", "$2"), limit, offset)
	if err != nil {
		return 0, nil, fmt.Errorf("minimal: list: %w", err)
	}
	p.Results, err = pgx.AppendRows(p.Results, rows, func(row pgx.CollectableRow) (domain.Sample, error) {
		return scanSampleRow(row, &p.Count)
	})
	if err == nil && len(p.Results) == 0 && offset > 0 {
		err = s.pool.QueryRow(r.Context(), "SELECT count(*) FROM "+table+" WHERE is_active").Scan(&p.Count)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("minimal: list: %w", err)
	}
	link := func(offset int) *string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		q := r.URL.Query()
		q.Set("limit", strconv.Itoa(limit))
		if q.Del("offset"); offset > 0 {
			q.Set("offset", strconv.Itoa(offset))
		}
		u.RawQuery = q.Encode()
		s := u.String()
		return &s
	}
	if p.Count-offset > limit {
		p.Next = link(offset + limit)
	}
	if offset > 0 {
		p.Previous = link(max(0, offset-limit))
	}
	return http.StatusOK, p, nil
}

// create inserts the body's sample (name, description, sample_type,
// barcode, metadata; nothing checked), answering 201 and its Location as
// the API does.
func (s *minimalService) create(w http.ResponseWriter, r *http.Request, center uuid.UUID) (int, any, error) {
	var in struct {
		Name, Description, SampleType, Barcode string
		Metadata                               json.RawMessage
	}
	d := json.NewDecoder(r.Body)
	if err := d.Decode(&struct {
		Name        *string          `json:"name"`
		Description *string          `json:"description"`
		SampleType  *string          `json:"sample_type"`
		Barcode     *string          `json:"barcode"`
		Metadata    *json.RawMessage `json:"metadata"`
	}{&in.Name, &in.Description, &in.SampleType, &in.Barcode, &in.Metadata}); err != nil {
		return http.StatusBadRequest, nil, nil
	}
	if in.Metadata == nil {
		in.Metadata = json.RawMessage("{}")
	}
	status, v, err := s.one(r, http.StatusCreated, singleCreate(samplesTable(center), "$1", "$2", "$3", "$4", "$5", "$6"),
		in.Name, in.Description, in.SampleType, in.Barcode, string(in.Metadata), center)
	if sm, ok := v.(domain.Sample); ok {
		// Sent with the status, which handle writes next.
		w.Header().Set("Location", "/api/centers/"+center.String()+"/samples/"+sm.ID.String()+"/")
	}
	return status, v, err
}

// Minimal is benchrun's hidden minimal mode: the minimal service
// (minimalHandler) on --addr over $TENANTCTL_DATABASE_URL, with a pool
// configured and sized as the API server's (db.Open), until ctx ends. A
// child process, as the API server is, so that both share the machine
// with wrk and PostgreSQL alike. It returns the exit code.
func Minimal(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("benchrun minimal", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8001", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := serveMinimal(ctx, *addr, os.Getenv("TENANTCTL_DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun minimal:", err)
		return 1
	}
	return 0
}

func serveMinimal(ctx context.Context, addr, dbURL string) error {
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: minimalHandler(pool), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
