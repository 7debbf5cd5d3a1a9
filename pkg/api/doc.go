// Package api is tenantctl's HTTP API: thin net/http handlers over package
// domain, drop-in compatible with the Django REST Framework API of the case
// study (same paths, same JSON shapes, DRF's LimitOffsetPagination). The
// apiserver command is this package wired to flags by package apiserver;
// its --help lists them.
//
//	srv, err := api.New(api.Config{Store: domain.New(pool, m)})
//	err = api.Serve(ctx, ln, srv.Handler(), api.ServeOptions{})
//
// # Routes
//
// One route table (Server.routeTable) lists every endpoint with its access
// (anonymous, token, token and tenant) and its OpenAPI operation; the
// ServeMux, GET /api/openapi.json and Server.Routes are all built from it,
// and tests hold them equal. Each path is served with its trailing slash
// (anchored with {$}, so not a subtree) and without. Middleware is chained
// in New, in one place.
//
// # Decisions a client notices
//
// Authorization follows the design's table. A center the caller does not
// belong to, and anything in it, answers 404 like one that does not exist,
// so ids cannot be probed; 403 is only for what the caller can see but may
// not change. What the table leaves open:
//
//   - A user's profile is username, email, first_name, last_name, phone
//     and password. Users and viewers may change their own profile except
//     their username, and may not delete themselves.
//   - center, role and is_superuser are not written by PUT or PATCH: sent
//     back unchanged they are ignored, changed they are a 400 naming
//     change_center or change_role, so that one request never half-applies
//     across several domain calls. is_superuser is set only at creation
//     (by a superuser) or with the CLI.
//   - An admin creating a user without "center" puts them in the admin's
//     center; another center, no center or is_superuser is a 403.
//   - ?include_inactive=true is honoured for superusers and admins and
//     silently ignored for others, as DRF ignores unknown parameters.
//     Soft-deleted users and samples are likewise 404 by id to users and
//     viewers, visible to admins.
//   - GET .../samples/by_status/{status}/ with an unknown status is a 400
//     with errors.status, as ?status= is: the path names a filter.
//   - Transitions take no body; a body, if sent, is ignored.
//   - GET /api/cluster/ (the servers holding the centers' schemas, the
//     count and size of those on each) is for superusers; others get a
//     403, as for the writes of centers: the route is no secret, every
//     center's whereabouts are.
//
// Bodies are Content-Type application/json (else 415), at most 1 MiB (else
// 413), one JSON object (else 400). Unknown fields are a 400; read-only
// fields (id, schema_name, is_active, timestamps, created_by, updated_by; a
// sample's unchanged status) are ignored, so a client may PUT back what it
// got. PUT requires what a create requires and, as in DRF, keeps the
// optional fields it does not send; PATCH changes only what it sends.
//
// Every error is an RFC 9457 problem; problemFor maps errors to statuses in
// one place. A 500 carries an error_id that is logged with the error;
// nothing internal is sent. A client that hangs up once the response has
// begun is logged as a disconnect, not as a failure.
//
// # The request path
//
// A read costs one round trip to PostgreSQL, a write of a sample or of a
// user two. The token
// is proved by its own statement (Tokens.Authenticate) once a minute per
// token and process; in between its principal comes from the Store's
// cache (Tokens.Principal) and the request's first batch re-checks it
// (domain.WithPrincipal's guard): the token valid, the user unchanged, and
// for the sample routes the center active (tenancyhttp.Middleware only
// parses {center_id}). So a token revoked, a user deactivated, demoted or
// moved, a center soft-deleted, by any process, is refused by the next
// request, directly or behind PgBouncer, with nothing to notify and no
// TTL. When the guard finds the user changed, or a handler refused a
// request on the cached principal's word alone, the token is proved again
// and the handler runs once more as the user is now; nothing was written.
// The routes that write centers or read the cluster, and that create
// users, prove the token each time; a write to a user decides on the row it locks, with the
// guard in the same first batch (domain.Users.Checked).
//
// # Metrics
//
// GET /metrics is the Prometheus exposition of a registry per Server, so
// that Servers in one process never share counts:
//
//	tenantctl_http_requests_total{route, method, code}         counter
//	tenantctl_http_request_duration_seconds{route, method}     histogram
//	tenantctl_db_pool_{acquired,idle,total,max}_conns          gauges
//	tenantctl_db_pool_acquires_total, _acquire_duration_seconds_total,
//	tenantctl_db_pool_empty_acquires_total                     counters
//	go_*, process_*                                            runtime
//
// route is the route table's pattern, never the request's path, so there
// is one series per route; unmatched requests share route="unmatched".
package api
