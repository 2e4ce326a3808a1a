-- Every instance keeps the newest finished check of hot INNs in memory (src/check/latest.rs).
-- This tells the instances listening on `kontragent_checks` about every write of a finished
-- check, after its transaction commits: `done` when a check finishes, `rewritten` when a
-- finished one is rewritten (retention prunes it).
-- Payload: `<done|rewritten> <id> <inn> <checked_at> <created_at>`.
CREATE FUNCTION kontragent_check_notify() RETURNS trigger AS $$
BEGIN
    IF NEW.state = 'done' THEN
        PERFORM pg_notify('kontragent_checks',
            CASE WHEN TG_OP = 'UPDATE' AND OLD.state = 'done' THEN 'rewritten' ELSE 'done' END
            || ' ' || NEW.id || ' ' || NEW.inn || ' ' || NEW.checked_at || ' ' || NEW.created_at);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER checks_notify AFTER INSERT OR UPDATE ON checks
    FOR EACH ROW EXECUTE FUNCTION kontragent_check_notify();
