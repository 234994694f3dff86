-- The desktop's connection to a team server: the server, the sign-in (its
-- cookie, CSRF token and the person, as JSON), and the live notes typed
-- while the server could not be reached, in the order they were typed.
CREATE TABLE connection (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    server  TEXT NOT NULL,
    sign_in TEXT
);

CREATE TABLE queued_notes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id   TEXT    NOT NULL UNIQUE,
    session     INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    participant TEXT,
    typed_at    INTEGER NOT NULL,
    refused     TEXT              -- the server's reason, when it refused the note
);
