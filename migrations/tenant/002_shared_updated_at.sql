-- The samples trigger calls the registry's public.set_updated_at() (public
-- migration 001, the same body) instead of a copy in every tenant schema.
--
-- Why: PostgreSQL resolves a function by name by listing every function of
-- that name in the whole database, whatever its schema, and only then
-- filters by search_path (FuncnameGetCandidates). With a copy in each tenant
-- schema every such lookup, at CREATE FUNCTION and CREATE TRIGGER of each new
-- tenant, listed one function per tenant: creating the 500th tenant cost
-- 1.36x the first (make bench), and it grows on. With one shared function
-- the cost is flat. It is the one thing a tenant schema takes from public: a
-- function, as it would take an extension's, never the registry's data.
--
-- A new tenant still creates its copy in 001 and drops it here, in the same
-- transaction, so at most the tenants being created at that moment have
-- one.

DROP TRIGGER samples_set_updated_at ON samples;
DROP FUNCTION set_updated_at();
CREATE TRIGGER samples_set_updated_at BEFORE UPDATE ON samples
	FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

---- create above / drop below ----

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;
DROP TRIGGER samples_set_updated_at ON samples;
CREATE TRIGGER samples_set_updated_at BEFORE UPDATE ON samples
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();
