-- Sessions of the admin console (/admin/): the cookie carries a random
-- secret, this table only its SHA-256, so a copy of the table signs no one
-- in. Sessions are short-lived rows, deleted rather than soft-deleted when
-- they end; is_active stays for the audit columns every table carries.

CREATE TABLE admin_sessions (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	-- SHA-256 of the secret: a long random secret needs no slow hash, and a
	-- request finds its session through the unique index.
	token_hash bytea NOT NULL
		CONSTRAINT admin_sessions_token_hash_length CHECK (octet_length(token_hash) = 32),
	-- Absolute expiry, fixed at sign-in; the idle expiry is the caller's,
	-- measured from last_seen_at.
	expires_at timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	updated_by uuid REFERENCES users (id) ON DELETE SET NULL
);

CREATE UNIQUE INDEX admin_sessions_token_hash_key ON admin_sessions (token_hash);
CREATE INDEX admin_sessions_user_id_idx ON admin_sessions (user_id);

CREATE TRIGGER admin_sessions_set_updated_at BEFORE UPDATE ON admin_sessions
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A user deactivated, demoted, moved to another center, given or stripped
-- of superuser status, or whose password changes loses every console
-- session at once. A trigger rather than the domain's methods, because the
-- CLI, the API, another apiserver or a hand-written UPDATE may make the
-- change: whichever process commits it, the sessions go in the same
-- transaction, and no apiserver can honour a session its user no longer
-- deserves (nothing caches sessions). Changes of profile fields (names,
-- email, phone) leave sessions alone. Any role change counts, not only a
-- demotion: the session was granted to the role the user had.
-- The table is schema-qualified: the function runs under the search_path
-- of whoever updates the user, a tenant's schema alone for instance.
CREATE FUNCTION end_admin_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM public.admin_sessions WHERE user_id = OLD.id;
	RETURN NULL;
END
$$;

CREATE TRIGGER users_end_admin_sessions AFTER UPDATE ON users
	FOR EACH ROW
	WHEN ((OLD.is_active, OLD.role, OLD.center_id, OLD.is_superuser, OLD.password_hash)
		IS DISTINCT FROM (NEW.is_active, NEW.role, NEW.center_id, NEW.is_superuser, NEW.password_hash))
	EXECUTE FUNCTION end_admin_sessions();

-- A center soft-deleted ends its members' sessions too (superusers need no
-- center and keep theirs). Sign-in already refuses them while the center is
-- inactive; without this, restoring the center would bring every old
-- session back to life, cookies its members may long have lost.
CREATE FUNCTION end_center_admin_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM public.admin_sessions s
	USING public.users u
	WHERE s.user_id = u.id AND u.center_id = OLD.id AND NOT u.is_superuser;
	RETURN NULL;
END
$$;

CREATE TRIGGER centers_end_admin_sessions AFTER UPDATE OF is_active ON centers
	FOR EACH ROW
	WHEN (OLD.is_active AND NOT NEW.is_active)
	EXECUTE FUNCTION end_center_admin_sessions();

---- create above / drop below ----

DROP TRIGGER centers_end_admin_sessions ON centers;
DROP FUNCTION end_center_admin_sessions();
DROP TRIGGER users_end_admin_sessions ON users;
DROP FUNCTION end_admin_sessions();
DROP TABLE admin_sessions;
