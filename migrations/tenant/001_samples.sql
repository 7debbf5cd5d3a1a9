-- A tenant's private tables. Names are unqualified: package tenancy runs this
-- file with search_path set to the tenant's schema alone, so everything lands
-- there. Nothing here references public: a tenant schema is self-contained,
-- so dropping, copying or moving one never depends on the registry.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

CREATE TABLE samples (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name text NOT NULL
		CONSTRAINT samples_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
	description text NOT NULL DEFAULT '',
	-- The allowed set is per center (settings.sample_types), so the table
	-- only insists on a value; the domain checks it against the center.
	sample_type text NOT NULL
		CONSTRAINT samples_sample_type_present CHECK (char_length(sample_type) BETWEEN 1 AND 50),
	status text NOT NULL DEFAULT 'pending'
		CONSTRAINT samples_status_valid CHECK (status IN ('pending', 'processing', 'completed', 'rejected', 'archived')),
	barcode text NOT NULL
		CONSTRAINT samples_barcode_length CHECK (char_length(barcode) BETWEEN 1 AND 64),
	-- A public.users id; not a foreign key, see the header.
	user_id uuid NOT NULL,
	metadata jsonb NOT NULL DEFAULT '{}'
		CONSTRAINT samples_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
		CONSTRAINT samples_metadata_size CHECK (octet_length(metadata::text) <= 65536),
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid,
	updated_by uuid
);

CREATE UNIQUE INDEX samples_barcode_key ON samples (barcode);
-- The default ordering (-created_at, id as tie-breaker) and the list filters,
-- each ending in the default ordering so a filtered page is an index scan.
CREATE INDEX samples_created_at_idx ON samples (created_at DESC, id DESC);
CREATE INDEX samples_status_idx ON samples (status, created_at DESC);
CREATE INDEX samples_sample_type_idx ON samples (sample_type, created_at DESC);
CREATE INDEX samples_user_id_idx ON samples (user_id, created_at DESC);

CREATE TRIGGER samples_set_updated_at BEFORE UPDATE ON samples
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

---- create above / drop below ----

DROP TABLE samples;
DROP FUNCTION set_updated_at();
