-- How many people (not erased) have each attribute, kept current by every
-- write in its own transaction, so the attribute filter and an export's
-- columns need neither a read of the whole panel nor the panel index. A
-- bulk load drops the insert trigger and adds its people's counts at its
-- end (participants::BulkLoad).
CREATE TABLE attribute_counts (
    key  TEXT PRIMARY KEY,
    live INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO attribute_counts (key, live)
    SELECT j.key, count(*) FROM participants p, json_each(p.attributes) j
    WHERE p.erased_at IS NULL GROUP BY j.key;

CREATE TRIGGER attribute_counts_insert AFTER INSERT ON participants
    WHEN NEW.erased_at IS NULL AND NEW.attributes <> '{}' BEGIN
    INSERT INTO attribute_counts (key, live)
        SELECT key, 1 FROM json_each(NEW.attributes) WHERE true
        ON CONFLICT (key) DO UPDATE SET live = live + 1;
END;
CREATE TRIGGER attribute_counts_update AFTER UPDATE OF attributes, erased_at ON participants
    WHEN OLD.attributes IS NOT NEW.attributes
      OR (OLD.erased_at IS NULL) <> (NEW.erased_at IS NULL) BEGIN
    UPDATE attribute_counts SET live = live - 1
        WHERE OLD.erased_at IS NULL AND key IN (SELECT key FROM json_each(OLD.attributes));
    INSERT INTO attribute_counts (key, live)
        SELECT key, 1 FROM json_each(NEW.attributes) WHERE NEW.erased_at IS NULL
        ON CONFLICT (key) DO UPDATE SET live = live + 1;
END;
CREATE TRIGGER attribute_counts_delete AFTER DELETE ON participants
    WHEN OLD.erased_at IS NULL BEGIN
    UPDATE attribute_counts SET live = live - 1
        WHERE key IN (SELECT key FROM json_each(OLD.attributes));
END;
