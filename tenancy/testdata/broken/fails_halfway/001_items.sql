-- Test migrations: a small tenant table, as an application would have.
CREATE TABLE items (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_marker text NOT NULL,
	name text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_name_idx ON items (name);
---- create above / drop below ----
DROP TABLE items;
