// Package domain is tenantctl's domain: centers (the tenants), their users,
// the samples in each center's schema, API tokens, statistics and the demo
// data, over a pgxpool.Pool and a tenancy.Manager. The CLI (pkg/cli) and the
// HTTP API both call it; neither writes SQL of its own.
//
//	st := domain.New(pool, manager) // manager from db.NewTenancy
//	c, err := st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "Izmir Lab"})
//	s, err := st.Samples.Create(ctx, c.ID, domain.By(userID), domain.SampleInput{...})
//	s, err = st.Samples.Transition(ctx, c.ID, domain.By(userID), s.ID, domain.ActionProcess, false)
//
// # One package
//
// Centers, users, samples and tokens are one package rather than four
// because they are one model: they share the transaction model, the Actor
// and the error types, and they check each other — a sample's user must be
// an active member of its center, a center's settings.sample_types decide
// which sample types are valid, a user's center must be active, a token
// authenticates only an active user of an active center, and Stats spans
// users and samples. Split apart, each would import the others' internals.
// Store groups them as Store.Centers, Store.Users, Store.Samples,
// Store.Tokens and Store.Sessions (the admin console's sign-ins); Stats and
// Seed span them and hang off Store itself.
//
// # Transactions
//
// Registry writes (public.centers, public.users, public.api_tokens,
// public.admin_sessions) run on the pool, in one statement or one
// transaction each. Center creation and hard deletion go through package
// tenancy so that the registry row and the schema commit together:
// Centers.Create inserts the row in a tenancy.Manager.Create hook, with the
// id the schema is named from.
// Sample operations run inside Manager.InTenantBatch: their SQL names the
// tenant table unqualified (search_path is the tenant's schema alone) and
// the registry schema-qualified (public.centers, public.users). Each checks
// the center in its first batch: a soft-deleted center's samples are
// ErrNotFound. A read is one round trip, a write two (its checks with
// BEGIN, its change with COMMIT).
//
// # Principals
//
// An operation run with a context from WithPrincipal (the API's, for a
// token's caller) also re-checks the token and its user in its first batch,
// in the center check's statement (the guard): Tokens.Principal may then
// serve principals from memory, since nothing is decided on them that the
// database has not confirmed in the same round trip.
//
// # Errors
//
// Map errors to exit codes or HTTP statuses in one place, with errors.Is and
// errors.As:
//
//	*ValidationError       400  every field's messages at once, DRF-style
//	ErrNotFound            404  (*NotFoundError: kind, key, maybe a suggestion)
//	ErrConflict            409  *ConflictError (uniqueness), *TransitionError,
//	                            ErrActive (hard delete of an active center)
//	ErrInvalidCredentials  401
//	anything else          500  (database down: check for connection errors)
//
// Uniqueness is never pre-checked: the database's unique_violation is
// mapped to a *ConflictError from the constraint's name, so two concurrent
// creates cannot both pass. Check and foreign-key violations the validation
// missed map to *ValidationError too, so bad input is never a 500.
//
// The Store does not check permissions (the CLI's operator may do
// anything); the design's permission table is User's methods
// (permissions.go: SeesCenter, SeesUser, Manages, ...), which the API and
// the admin console ask before calling the Store, so both apply one rule.
// A decision that depends on the rows a write changes travels with the
// write: the bulk user writes take the face's Rule (Users.Checked) and ask
// it of each row they lock, so that a concurrent change of the row cannot
// slip between the decision and the UPDATE.
// Get methods return soft-deleted rows too (IsActive says so); List methods
// hide them unless asked.
//
// # Validation
//
// Strings must be valid UTF-8 without NUL bytes (PostgreSQL refuses both);
// names, usernames, barcodes and sample types also refuse control characters
// and leading or trailing white space. Nothing is trimmed or case-folded
// silently: center names and emails are stored as given and compared
// case-insensitively. JSON fields (settings, metadata) must be objects of at
// most 64 KiB; they are re-encoded before storage (null becomes {}).
//
// # Actors
//
// Every write takes an Actor, whose ID fills created_by and updated_by:
// By(userID) for a user's request, System (null) for the CLI's operator
// commands and Seed.
//
// # Passwords and tokens
//
// Passwords are hashed with argon2id (DefaultPasswordParams) and never leave
// the package: User has no hash field. Users.Authenticate spends a hash
// verification on unknown users too. API tokens are "tct_" and 32 random
// bytes in base64url; only their SHA-256 is stored, and Tokens.Authenticate
// finds a token by that hash. Console sessions are the same with "tcs_",
// authenticated by the same statement (Sessions.Authenticate).
package domain
