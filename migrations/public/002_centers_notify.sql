-- Tell running apiservers when a center changes or goes, so that their
-- caches of active centers drop it at once (LISTEN tenantctl_centers; the
-- payload is the center's id). NOTIFY is delivered at commit, and not at
-- all if the transaction rolls back.

CREATE FUNCTION notify_center_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tenantctl_centers', OLD.id::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER centers_notify AFTER UPDATE OR DELETE ON centers
	FOR EACH ROW EXECUTE FUNCTION notify_center_change();

---- create above / drop below ----

DROP TRIGGER centers_notify ON centers;
DROP FUNCTION notify_center_change();
