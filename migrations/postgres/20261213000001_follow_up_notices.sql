-- A team server keeps each owner's *My follow-ups* in memory between calls
-- (src/issues/kept.rs). The database announces, as each change commits and
-- whichever computer makes it, the owners (before and after) of the issues
-- a statement writes, or everything ('') when what every list shows beside
-- its issues changes: a session's title, a participant's name or email (an
-- erasure among them), a staff member's name, or one of them deleted.
-- Statement by statement, one notice for each owner: a tick or an import
-- that writes thousands of issues sends as many notices as there are owners.
CREATE FUNCTION follow_ups_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('panelkeeper_follow_ups', owner::text)
    FROM (SELECT DISTINCT owner FROM written WHERE owner IS NOT NULL) AS owners;
    RETURN NULL;
END
$$;

CREATE FUNCTION follow_ups_rewritten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('panelkeeper_follow_ups', owner::text)
    FROM (SELECT owner FROM before_change WHERE owner IS NOT NULL
          UNION SELECT owner FROM after_change WHERE owner IS NOT NULL) AS owners;
    RETURN NULL;
END
$$;

CREATE FUNCTION follow_ups_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('panelkeeper_follow_ups', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER follow_ups_added AFTER INSERT ON issues
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_written();
CREATE TRIGGER follow_ups_removed AFTER DELETE ON issues
    REFERENCING OLD TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_written();
CREATE TRIGGER follow_ups_updated AFTER UPDATE ON issues
    REFERENCING OLD TABLE AS before_change NEW TABLE AS after_change
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_rewritten();
CREATE TRIGGER follow_ups_emptied AFTER TRUNCATE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();

CREATE TRIGGER follow_ups_session_changed AFTER UPDATE OF title OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();
CREATE TRIGGER follow_ups_sessions_emptied AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();
CREATE TRIGGER follow_ups_participant_changed AFTER UPDATE OF name, email OR DELETE
    ON participants FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();
CREATE TRIGGER follow_ups_participants_emptied AFTER TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();
CREATE TRIGGER follow_ups_staff_changed AFTER UPDATE OF name OR DELETE ON staff
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();
CREATE TRIGGER follow_ups_staff_emptied AFTER TRUNCATE ON staff
    FOR EACH STATEMENT EXECUTE FUNCTION follow_ups_changed();
