-- The panel mailbox: every message read from it, once. A message is known
-- by its folder, the folder's UIDVALIDITY and its UID; the row is written
-- in the same transaction as what the message did, so a message is never
-- acted on twice, by one reader after a crash or by two readers at once.
CREATE TABLE inbox_messages (
    id           BIGSERIAL PRIMARY KEY,
    folder       TEXT    NOT NULL,
    uid_validity BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    message_id   TEXT,                       -- its own Message-ID, without <>
    read_at      BIGINT NOT NULL,           -- Unix ms: when it was read into the record
    sent_at      BIGINT,                    -- Unix ms: its Date header
    from_address TEXT    NOT NULL DEFAULT '',
    from_name    TEXT    NOT NULL DEFAULT '',
    subject      TEXT    NOT NULL DEFAULT '',
    reply        TEXT    NOT NULL DEFAULT '', -- the text, quoted history folded away
    original     TEXT    NOT NULL DEFAULT '', -- the whole text as sent
    kind         TEXT    NOT NULL
                 CHECK (kind IN ('reply', 'calendar', 'unsubscribe', 'bounce', 'automatic', 'other')),
    issue        BIGINT REFERENCES issues (id) ON DELETE SET NULL,
    participant  BIGINT REFERENCES participants (id) ON DELETE SET NULL,
    staff        BIGINT REFERENCES staff (id) ON DELETE SET NULL, -- a staff member who wrote it
    state        TEXT    NOT NULL CHECK (state IN ('filed', 'unfiled', 'dismissed')),
    outcome      TEXT    NOT NULL DEFAULT '', -- what it did, in words
    filed_by     BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    UNIQUE (folder, uid_validity, uid)
);
CREATE INDEX inbox_messages_state ON inbox_messages (state, id);
CREATE INDEX inbox_messages_issue ON inbox_messages (issue);
CREATE INDEX inbox_messages_participant ON inbox_messages (participant);
CREATE INDEX inbox_messages_from ON inbox_messages (from_address);
CREATE INDEX inbox_messages_message_id ON inbox_messages (message_id);
