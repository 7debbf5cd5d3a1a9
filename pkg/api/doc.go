// Package api is tenantctl's HTTP API: thin net/http handlers over package
// domain, drop-in compatible with the Django REST Framework API of the case
// study (same paths, same JSON shapes, DRF's LimitOffsetPagination).
//
//	srv, err := api.New(api.Config{Pool: pool, Tenancy: m})
//	ln, err := net.Listen("tcp", addr)
//	err = api.Serve(ctx, ln, srv.Handler(), api.ServeOptions{Background: srv.Listen})
//
// # Routes
//
// One route table (Server.routeTable) lists every endpoint with its
// access (anonymous, token, token and tenant) and its OpenAPI operation;
// the standard ServeMux, the OpenAPI document and Server.Routes are all
// built from it, and a test checks that the mux dispatches each entry and
// that the document has exactly the table's operations. Each path is
// served with its trailing slash (canonical, anchored with {$} so it is
// not a subtree) and without. A known path with the wrong method is a 405
// with Allow; unknown paths are 404; both as problems. Middleware is
// chained in New, in one place: request id, log and metrics → panic
// recovery → request timeout → mux; per route, authentication and then
// (sample routes) the tenant middleware.
//
// # Authentication
//
// "Authorization: Bearer <token>" (DRF's "Token <token>" is accepted too,
// so the seed's clients keep working). Tokens come from `tenantctl token
// create` or POST /api/auth/token/ {"username", "password"}, which returns
// {"token", "expires_at"} valid for Config.TokenTTL (24 h by default). A
// missing or bad token, or wrong credentials (unknown user and wrong
// password alike), is a 401 with WWW-Authenticate: Bearer.
//
// # Authorization
//
// As the design's table. A center the caller does not belong to, and
// anything in it, answers 404 — exactly like a center that does not exist —
// so ids cannot be probed; 403 is only for what the caller can see but may
// not change. Decisions the table leaves open:
//
//   - A user's profile is username, email, first_name, last_name, phone
//     and password. Users and viewers may change their own profile except
//     their username (an administrator's decision, as in Django admin), and
//     may not delete themselves.
//   - center, role and is_superuser are not written by PUT or PATCH: sent
//     back unchanged they are ignored, changed they are a 400 naming
//     change_center or change_role, so that one request never half-applies
//     across several domain calls. is_superuser is set only at creation
//     (by a superuser) or with the CLI.
//   - An admin creating a user without "center" puts them in the admin's
//     center; another center, no center or is_superuser is a 403.
//   - ?include_inactive=true is honoured for superusers and admins and
//     silently ignored for others (DRF ignores unknown parameters too).
//     Soft-deleted users and samples are likewise 404 by id to users and
//     viewers, visible to admins.
//   - GET .../samples/by_status/{status}/ with an unknown status is a 400
//     with errors.status, as ?status= is: the path names a filter, not a
//     resource.
//   - Transitions take no body; a body, if sent, is ignored.
//
// # Bodies
//
// Bodies must be Content-Type application/json (else 415), at most 1 MiB
// (else 413), one JSON object with nothing after it (else 400). Unknown
// fields are a 400; the read-only fields of a resource (id, schema_name,
// is_active, created_at, updated_at, created_by, updated_by; a sample's
// unchanged status) are ignored, so a client may PUT back what it got. PUT
// requires the fields a create requires and, as in DRF, keeps the optional
// fields it does not send; PATCH changes only what it sends.
//
// # Errors
//
// Every error is an RFC 9457 problem (application/problem+json) with type,
// title, status and detail, plus errors {field: [messages]} for validation
// and uniqueness. problemFor maps errors to statuses in one place:
// validation 400, not found 404, conflicts (uniqueness, illegal transition,
// hard delete of an active center) 409, bad credentials 401, the database
// unreachable or the request past Config.RequestTimeout 503, anything else
// 500 with an error_id that is logged with the error (nothing internal is
// sent). Panics are recovered into that 500. A pooled connection that the
// database or the network dropped (io.EOF on the first query after an
// outage) counts as unreachable too: 503, not 500.
//
// # Tenants and the center cache
//
// The sample routes resolve {center_id} with tenancyhttp.Middleware and a
// resolver that accepts only an existing, active center (malformed ids
// included, anything else is a 404). Active centers are cached in process
// for Config.CenterCacheTTL; Listen evicts a center as soon as any process
// changes it (a trigger on public.centers NOTIFYs tenantctl_centers, see
// migration public/002) and flushes everything when its connection comes
// back, since notifications sent meanwhile are lost. The cache is a fast
// path only: every sample operation re-checks in its own transaction that
// the center is active (package domain), so even a stale cache cannot
// expose a soft-deleted center's samples.
//
// # OpenAPI
//
// GET /api/openapi.json (no token needed) is an OpenAPI 3.1.0 document,
// built once in New from the route table: every operation with its path
// parameters (ids are format uuid), query parameters, request body,
// success response and the problem responses it may give, and the bearer
// security scheme (anonymous routes opt out). Response schemas are
// reflected from the Go types the handlers encode (domain.Center, User,
// Sample, Stats, the pagination envelope page[T], Problem), so they follow
// the domain; request bodies are the writable-field lists the handlers
// check, typed as in the responses. Adding a route is one table entry.
//
// # Operations
//
// GET /healthz is 200 while the process serves; GET /readyz is 200 only if
// the database answers within 2 s and its public schema is at the latest
// migration this binary embeds. Each request is logged once with log/slog:
// method, route pattern, status, duration and request id (X-Request-ID if
// the client sent a sane one, else generated; echoed in the response).
// Headers and bodies are never logged.
//
// If the database goes away, requests that need it answer 503 problems:
// at once when connections are refused or dropped (a failed connect fails
// the acquire), at worst after Config.RequestTimeout (or the URL's
// connect_timeout) when packets vanish. /readyz is 503; /healthz stays 200. When it comes
// back the pool opens new connections on demand and Listen reconnects with
// backoff (flushing the center cache), with no restart.
//
// # Metrics
//
// GET /metrics is the Prometheus text exposition of a registry per Server
// (not the global one, so Servers in one process, tests included, never
// share counts), with client_golang:
//
//	tenantctl_http_requests_total{route, method, code}         counter
//	tenantctl_http_request_duration_seconds{route, method}     histogram
//	tenantctl_db_pool_{acquired,idle,total,max}_conns          gauges
//	tenantctl_db_pool_acquires_total, _acquire_duration_seconds_total,
//	tenantctl_db_pool_empty_acquires_total                     counters
//	go_*, process_*                                            runtime
//
// route is the route table's path pattern ("/api/centers/{id}/"), never
// the request's path, so there is one series per route and not one per
// center or sample; requests no route matched share route="unmatched",
// and methods outside the standard ones are "OTHER". The pool metrics are
// read from pool.Stat() at scrape time by a custom collector. /metrics
// needs no token: scrapers seldom carry one, and the figures reveal no
// data; operators keep it from the public at the proxy or firewall, or set
// Config.DisableMetrics (apiserver --metrics=false).
//
// # Serving and shutdown
//
// Serve runs an http.Server on a listener with ReadHeaderTimeout (5 s, so
// a client trickling headers cannot hold a connection), ReadTimeout (30
// s), WriteTimeout (60 s, above the request timeout so a timed-out
// request still gets its 503) and IdleTimeout (2 min). When its context
// ends it stops accepting connections, waits for the requests in flight
// (ShutdownTimeout, 20 s, then closes what is left), stops its Background
// task (Server.Listen) only after them, and returns nil. cmd/apiserver is
// flags (--addr, --token-ttl, --request-timeout, --metrics) and this
// wiring.
package api
