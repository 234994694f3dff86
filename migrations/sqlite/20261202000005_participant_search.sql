-- Search as you type on a large panel. A trigram index of each
-- participant's search text (the folded name, email and phone) finds the
-- few people whose text holds a piece of a word without reading every row;
-- the text is folded before it is stored, so the index keeps case. Nothing
-- is ranked, so neither positions nor sizes are kept. Erased text leaves
-- the index's pages as well as its lists (secure-delete).
CREATE VIRTUAL TABLE participants_search USING fts5(
    search_text,
    content = 'participants',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    detail = 'none',
    columnsize = 0
);
INSERT INTO participants_search (participants_search, rank) VALUES ('secure-delete', 1);
INSERT INTO participants_search (participants_search) VALUES ('rebuild');

-- The index is brought up to date once per transaction, however many people
-- it wrote (participants::touch): one statement indexes a whole import,
-- where a row at a time would write a segment of the index for each. Until
-- then, this table holds who changed and the text the index still has.
CREATE TABLE participants_search_pending (
    id           INTEGER PRIMARY KEY,
    indexed_text TEXT -- what the index holds for this person; NULL: nothing
);
CREATE TRIGGER participants_search_insert AFTER INSERT ON participants BEGIN
    INSERT OR IGNORE INTO participants_search_pending (id, indexed_text) VALUES (NEW.id, NULL);
END;
CREATE TRIGGER participants_search_delete AFTER DELETE ON participants BEGIN
    INSERT OR IGNORE INTO participants_search_pending (id, indexed_text)
        VALUES (OLD.id, OLD.search_text);
END;
CREATE TRIGGER participants_search_update AFTER UPDATE OF search_text ON participants
    WHEN OLD.search_text IS NOT NEW.search_text BEGIN
    INSERT OR IGNORE INTO participants_search_pending (id, indexed_text)
        VALUES (OLD.id, OLD.search_text);
END;

-- How many people each status filter shows, kept current by every write in
-- its own transaction, so a page of the list never counts the whole panel.
CREATE TABLE participant_counts (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    live           INTEGER NOT NULL,
    contactable    INTEGER NOT NULL,
    opted_out      INTEGER NOT NULL,
    do_not_contact INTEGER NOT NULL,
    erased         INTEGER NOT NULL
);
INSERT INTO participant_counts
SELECT 1,
       coalesce(sum(erased_at IS NULL), 0),
       coalesce(sum(erased_at IS NULL AND opted_out_at IS NULL AND do_not_contact = 0), 0),
       coalesce(sum(erased_at IS NULL AND opted_out_at IS NOT NULL), 0),
       coalesce(sum(erased_at IS NULL AND do_not_contact <> 0), 0),
       coalesce(sum(erased_at IS NOT NULL), 0)
FROM participants;

CREATE TRIGGER participant_counts_insert AFTER INSERT ON participants BEGIN
    UPDATE participant_counts SET
        live = live + (NEW.erased_at IS NULL),
        contactable = contactable
            + (NEW.erased_at IS NULL AND NEW.opted_out_at IS NULL AND NEW.do_not_contact = 0),
        opted_out = opted_out + (NEW.erased_at IS NULL AND NEW.opted_out_at IS NOT NULL),
        do_not_contact = do_not_contact + (NEW.erased_at IS NULL AND NEW.do_not_contact <> 0),
        erased = erased + (NEW.erased_at IS NOT NULL)
    WHERE id = 1;
END;
CREATE TRIGGER participant_counts_delete AFTER DELETE ON participants BEGIN
    UPDATE participant_counts SET
        live = live - (OLD.erased_at IS NULL),
        contactable = contactable
            - (OLD.erased_at IS NULL AND OLD.opted_out_at IS NULL AND OLD.do_not_contact = 0),
        opted_out = opted_out - (OLD.erased_at IS NULL AND OLD.opted_out_at IS NOT NULL),
        do_not_contact = do_not_contact - (OLD.erased_at IS NULL AND OLD.do_not_contact <> 0),
        erased = erased - (OLD.erased_at IS NOT NULL)
    WHERE id = 1;
END;
CREATE TRIGGER participant_counts_update
    AFTER UPDATE OF erased_at, opted_out_at, do_not_contact ON participants BEGIN
    UPDATE participant_counts SET
        live = live - (OLD.erased_at IS NULL) + (NEW.erased_at IS NULL),
        contactable = contactable
            - (OLD.erased_at IS NULL AND OLD.opted_out_at IS NULL AND OLD.do_not_contact = 0)
            + (NEW.erased_at IS NULL AND NEW.opted_out_at IS NULL AND NEW.do_not_contact = 0),
        opted_out = opted_out
            - (OLD.erased_at IS NULL AND OLD.opted_out_at IS NOT NULL)
            + (NEW.erased_at IS NULL AND NEW.opted_out_at IS NOT NULL),
        do_not_contact = do_not_contact
            - (OLD.erased_at IS NULL AND OLD.do_not_contact <> 0)
            + (NEW.erased_at IS NULL AND NEW.do_not_contact <> 0),
        erased = erased - (OLD.erased_at IS NOT NULL) + (NEW.erased_at IS NOT NULL)
    WHERE id = 1;
END;
