-- Erasure keeps a note only for a reason the researcher gives; the reason
-- is kept beside the de-identified erasure record.
CREATE TABLE erasure_kept_notes (
    id      INTEGER PRIMARY KEY,
    erasure INTEGER NOT NULL REFERENCES erasures (id),
    note    INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    reason  TEXT    NOT NULL
);

-- A note's words taken out of the full-text index are removed from the
-- index's own pages at once, not merely marked deleted until a merge.
INSERT INTO notes_fts (notes_fts, rank) VALUES ('secure-delete', 1);
