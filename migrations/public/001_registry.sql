-- The shared registry: centers (tenants), the users who belong to them and
-- their API tokens. Every table carries the audit columns of the design:
-- id, created_at, updated_at (kept by a trigger, so every writer agrees),
-- is_active (soft delete), created_by and updated_by (null for system
-- actions).

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

CREATE TABLE centers (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name text NOT NULL
		CONSTRAINT centers_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
	-- Derived from id and never written by anyone: a generated column makes
	-- the "read-only" of the design a property of the table.
	schema_name text GENERATED ALWAYS AS ('center_' || replace(id::text, '-', '')) STORED,
	description text NOT NULL DEFAULT '',
	settings jsonb NOT NULL DEFAULT '{}'
		CONSTRAINT centers_settings_object CHECK (jsonb_typeof(settings) = 'object')
		CONSTRAINT centers_settings_size CHECK (octet_length(settings::text) <= 65536),
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid,
	updated_by uuid
);

CREATE UNIQUE INDEX centers_name_key ON centers (lower(name));
CREATE UNIQUE INDEX centers_schema_name_key ON centers (schema_name);

CREATE TRIGGER centers_set_updated_at BEFORE UPDATE ON centers
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE users (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	username text NOT NULL
		CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_.@+-]{1,150}$'),
	email text NOT NULL
		CONSTRAINT users_email_format CHECK (char_length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
	first_name text NOT NULL DEFAULT ''
		CONSTRAINT users_first_name_length CHECK (char_length(first_name) <= 150),
	last_name text NOT NULL DEFAULT ''
		CONSTRAINT users_last_name_length CHECK (char_length(last_name) <= 150),
	phone text
		CONSTRAINT users_phone_length CHECK (char_length(phone) BETWEEN 1 AND 32),
	-- A hard-deleted center takes its members with it: they belonged to
	-- nothing else, and a dangling center_id would break the check below.
	center_id uuid REFERENCES centers (id) ON DELETE CASCADE,
	role text NOT NULL DEFAULT 'user'
		CONSTRAINT users_role_valid CHECK (role IN ('admin', 'user', 'viewer')),
	is_superuser boolean NOT NULL DEFAULT false,
	-- A PHC-format hash ($argon2id$...), never the password; null when the
	-- user can only authenticate with tokens an operator issued.
	password_hash text,
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
	CONSTRAINT users_center_required CHECK (is_superuser OR center_id IS NOT NULL)
);

CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_center_id_idx ON users (center_id);

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Centers' audit columns point at users, which did not exist above.
ALTER TABLE centers
	ADD CONSTRAINT centers_created_by_fkey FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
	ADD CONSTRAINT centers_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES users (id) ON DELETE SET NULL;

CREATE TABLE api_tokens (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name text NOT NULL DEFAULT ''
		CONSTRAINT api_tokens_name_length CHECK (char_length(name) <= 100),
	-- SHA-256 of the token: tokens are long random secrets, so a fast hash
	-- is enough and lets a request find its token by index.
	token_hash bytea NOT NULL
		CONSTRAINT api_tokens_token_hash_length CHECK (octet_length(token_hash) = 32),
	expires_at timestamptz,
	last_used_at timestamptz,
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	updated_by uuid REFERENCES users (id) ON DELETE SET NULL
);

CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TRIGGER api_tokens_set_updated_at BEFORE UPDATE ON api_tokens
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

---- create above / drop below ----

DROP TABLE api_tokens;
DROP TABLE users CASCADE;
DROP TABLE centers;
DROP FUNCTION set_updated_at();
