-- A team server keeps sign-ins in memory between calls (src/accounts/kept.rs).
-- The database announces each change that can end a sign-in or change whom
-- it signs in, whichever computer makes it, and every server forgets what it
-- kept: an ended sign-in's hash, or nothing when a staff member changed (each
-- of their sign-ins is forgotten). Notices are sent as the change commits.
CREATE FUNCTION sign_in_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('panelkeeper_sign_ins', OLD.token_hash);
    RETURN NULL;
END
$$;

CREATE FUNCTION sign_ins_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('panelkeeper_sign_ins', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER sign_in_ended AFTER DELETE ON sign_ins
    FOR EACH ROW EXECUTE FUNCTION sign_in_ended();
CREATE TRIGGER sign_ins_emptied AFTER TRUNCATE ON sign_ins
    FOR EACH STATEMENT EXECUTE FUNCTION sign_ins_changed();
CREATE TRIGGER staff_changed AFTER UPDATE OR DELETE ON staff
    FOR EACH ROW EXECUTE FUNCTION sign_ins_changed();
CREATE TRIGGER staff_emptied AFTER TRUNCATE ON staff
    FOR EACH STATEMENT EXECUTE FUNCTION sign_ins_changed();
