-- Running apiservers no longer cache which centers are active: every
-- request checks its center, and its token, in its own first round trip
-- (pkg/domain's guard), so nothing listens for these notifications.

DROP TRIGGER centers_notify ON centers;
DROP FUNCTION notify_center_change();

---- create above / drop below ----

CREATE FUNCTION notify_center_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tenantctl_centers', OLD.id::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER centers_notify AFTER UPDATE OR DELETE ON centers
	FOR EACH ROW EXECUTE FUNCTION notify_center_change();
