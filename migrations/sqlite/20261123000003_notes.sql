-- Live notes: committed the moment they are entered, edits kept, searched
-- with FTS5.

CREATE TABLE notes (
    id             INTEGER PRIMARY KEY,
    session        INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant    INTEGER REFERENCES participants (id) ON DELETE SET NULL,
    author         INTEGER REFERENCES staff (id),
    text           TEXT    NOT NULL,
    tags           TEXT    NOT NULL DEFAULT '[]', -- JSON array, from #tags in the text
    at             INTEGER NOT NULL,              -- wall-clock instant it was entered (Unix ms)
    offset_seconds INTEGER NOT NULL,              -- from the session's start (negative before it)
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX notes_session ON notes (session, at, id);
CREATE INDEX notes_participant ON notes (participant) WHERE participant IS NOT NULL;

-- Every earlier version of an edited note.
CREATE TABLE note_edits (
    id          INTEGER PRIMARY KEY,
    note        INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    text        TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    participant INTEGER,
    replaced_at INTEGER NOT NULL,
    editor      INTEGER REFERENCES staff (id)
);
CREATE INDEX note_edits_note ON note_edits (note, replaced_at);

-- Full-text index over the notes' text and tags (accents folded).
CREATE VIRTUAL TABLE notes_fts USING fts5(
    text, tags, content = 'notes', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
END;
CREATE TRIGGER notes_fts_update AFTER UPDATE OF text, tags ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
    INSERT INTO notes_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
