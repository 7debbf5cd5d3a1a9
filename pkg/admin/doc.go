// Package admin is tenantctl's web console, served at /admin/ beside the
// HTTP API: the case study's Django admin for the people who run the
// centers. It is a face over pkg/domain and package tenancy, like pkg/api:
// its handlers hold no SQL, and every permission it enforces is a method of
// domain.User, the same the API asks.
//
//	console, err := admin.New(admin.Config{Store: st, Throttle: th})
//	mux.Handle("/admin/", console)
//	defer console.Close() // after serving, before the pool closes
//
// # Pages
//
// Pages are server-rendered html/template files embedded in the binary,
// with one stylesheet and no script: every form works without JavaScript,
// and nothing is fetched from anywhere but the console itself. A change is a
// POST answered by a redirect (303) to the page that shows its result, with
// a one-time message; a form with errors comes back with each error beside
// its field, status 400, and nothing changed.
//
// # Sessions
//
// Signing in (POST /admin/login/, fields username and password, through the
// same throttle as the API's token endpoint) creates a session
// (domain.Sessions): a random secret in an HttpOnly, SameSite=Lax cookie
// scoped to /admin/, stored in PostgreSQL only as its SHA-256. A session
// ends at sign-out, after Config.IdleTimeout without a request, after
// Config.SessionTTL in any case, and at once, whichever process made the
// change, when its user is deactivated, changes role, center or superuser
// status, or changes password, or its center is soft-deleted (triggers on
// public.users and public.centers delete the sessions). Every request reads its session and user in one statement, so
// nothing about the caller is cached.
//
// # Safety
//
// Every state-changing form carries a CSRF token derived from the session's
// secret (an HMAC), so it is bound to the session and useless elsewhere; a
// POST without the right one is a 403 and changes nothing. Cross-origin
// POSTs are refused before that by net/http's CrossOriginProtection
// (Sec-Fetch-Site and Origin), which also covers the sign-in form. Every
// response carries a strict Content-Security-Policy (no script at all, styles
// only from the console's stylesheet, frame-ancestors 'none'), and pages
// with data Cache-Control: no-store. html/template escapes everything a user
// typed, in the charts' SVG too.
package admin
