// Package e2e holds tenantctl's end-to-end reliability tests: the HTTP API
// served on a loopback listener (api.Serve, as cmd/apiserver serves it)
// over a real PostgreSQL, driven by many concurrent clients, with every
// response checked for another tenant's data and every acknowledged write
// checked afterwards in the database itself. See RELIABILITY.md.
//
// The package has no code of its own; its tests scale with environment
// variables (TENANTCTL_LOAD_*, TENANTCTL_RESTART_*) so that `make soak`
// runs them far longer than `make test`.
package e2e
