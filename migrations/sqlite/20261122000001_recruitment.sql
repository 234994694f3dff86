-- Recruitment: participants (with attributes and tags), screeners, contact
-- governance (history, suppression lists, rules), consent and erasure.
-- Instants are Unix milliseconds (UTC).

CREATE TABLE participants (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    email          TEXT,                    -- as entered; NULL once erased
    email_norm     TEXT,                    -- normalised, for duplicate detection (unique)
    email_hash     TEXT,                    -- sha-256 of email_norm, matched against suppression lists
    phone          TEXT,
    time_zone      TEXT,                    -- IANA name
    language       TEXT,                    -- BCP 47 tag
    source         TEXT,
    -- Canonical JSON written by the core: {"age_band":"25-34",...} with
    -- sorted keys, and ["tag",...] sorted. One row per person keeps imports
    -- fast; screeners run over the in-memory panel index, and list filters
    -- match the canonical text.
    attributes     TEXT    NOT NULL DEFAULT '{}',
    tags           TEXT    NOT NULL DEFAULT '[]',
    search_text    TEXT    NOT NULL DEFAULT '', -- lower-cased, accent-free name/email/phone
    opted_out_at   INTEGER,
    do_not_contact INTEGER NOT NULL DEFAULT 0,
    erased_at      INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- Named indexes rather than column constraints, so a bulk import can drop
-- and rebuild them (src/participants/repo.rs, bulk_load).
CREATE UNIQUE INDEX participants_email ON participants (email_norm);
-- search_text begins with the folded name, so it also gives the list order.
CREATE INDEX participants_sort ON participants (search_text, id);

-- A counter every change to recruitment data raises in its own
-- transaction, so a cached panel index knows when it is stale, even when
-- another process (the CLI beside the app) made the change.
CREATE TABLE revisions (
    domain   TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);
INSERT INTO revisions (domain, revision) VALUES ('recruitment', 0);

-- Every contact that governance reads: invitations, sessions taken part in,
-- no-shows. The sessions module writes here; researchers can log contact
-- made outside the app.
CREATE TABLE contact_history (
    id             INTEGER PRIMARY KEY,
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('invited', 'confirmed', 'declined', 'attended', 'late', 'no_show', 'cancelled')),
    at             INTEGER NOT NULL,
    session_id     INTEGER,
    detail         TEXT
);
CREATE INDEX contact_history_participant ON contact_history (participant_id, at);

CREATE TABLE suppression_lists (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
-- Only hashes of normalised emails are kept, never the addresses.
CREATE TABLE suppressions (
    hash    TEXT    NOT NULL,
    list_id INTEGER NOT NULL REFERENCES suppression_lists (id) ON DELETE CASCADE,
    PRIMARY KEY (hash, list_id)
) WITHOUT ROWID;

CREATE TABLE screeners (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    definition TEXT    NOT NULL,            -- JSON: criteria and quota cells
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE consent_texts (
    id         INTEGER PRIMARY KEY,
    topic      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (topic, version)
);

CREATE TABLE participant_consents (
    participant_id  INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    consent_text_id INTEGER NOT NULL REFERENCES consent_texts (id),
    accepted_at     INTEGER NOT NULL,
    PRIMARY KEY (participant_id, consent_text_id)
) WITHOUT ROWID;

-- The record that an erasure happened; the participant row stays, emptied,
-- so what other tables attach to it survives de-identified.
CREATE TABLE erasures (
    id             INTEGER PRIMARY KEY,
    participant_id INTEGER NOT NULL REFERENCES participants (id),
    erased_at      INTEGER NOT NULL,
    reason         TEXT
);

-- Settings as JSON values under a key (governance rules, ...).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
