-- The outbox: every message Panelkeeper sends is a row here first, written in
-- the same transaction as the change that caused it. The worker
-- (src/mail/worker.rs) delivers rows whose time has come and records the
-- outcome; see docs/ARCHITECTURE.md "Mail" for the delivery guarantee.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,   -- invitation, reminder, issue_assigned, ...
    recipient       TEXT    NOT NULL,   -- address
    recipient_name  TEXT    NOT NULL DEFAULT '',
    reply_to        TEXT,               -- a person's own address, when replies should reach them
    from_name       TEXT,               -- the sender's name, when a person signs the message
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    headers         TEXT    NOT NULL DEFAULT '{}', -- extra headers as a JSON object (List-Unsubscribe)
    message_id      TEXT    NOT NULL UNIQUE,        -- <...@...>, fixed at enqueue, the same on every attempt
    status          TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    not_before      INTEGER NOT NULL,   -- Unix ms: not sent before this instant
    next_attempt_at INTEGER NOT NULL,   -- Unix ms: when the worker next tries (>= not_before)
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    first_failure_at INTEGER,           -- first temporary failure, to give up after a while
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);

-- The worker's question, "what is due?", and the badge's count.
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE outbox_attachments (
    id           INTEGER PRIMARY KEY,
    message      INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    content      BLOB    NOT NULL
);
CREATE INDEX outbox_attachments_message ON outbox_attachments (message);
