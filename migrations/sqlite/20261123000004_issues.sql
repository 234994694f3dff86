-- Issues participants raise, and the follow-up that keeps the promise:
-- an owner, due dates, a contact log, hand-offs and an audit trail.

CREATE TABLE issues (
    id                INTEGER PRIMARY KEY,
    session           INTEGER NOT NULL REFERENCES sessions (id),
    participant       INTEGER NOT NULL REFERENCES participants (id),
    note              INTEGER REFERENCES notes (id) ON DELETE SET NULL,
    summary           TEXT    NOT NULL,
    detail            TEXT    NOT NULL DEFAULT '',
    category          TEXT    NOT NULL DEFAULT '',
    severity          TEXT    NOT NULL CHECK (severity IN ('low', 'normal', 'high', 'critical')),
    owner             INTEGER REFERENCES staff (id),
    status            TEXT    NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'contacted', 'resolved', 'wont_fix', 'closed')),
    first_contact_due INTEGER NOT NULL,   -- Unix ms
    resolution_due    INTEGER NOT NULL,
    first_contact_at  INTEGER,
    resolved_at       INTEGER,
    resolution        TEXT,               -- the resolution note, or why it will not be fixed
    handoffs          INTEGER NOT NULL DEFAULT 0,
    escalations       INTEGER NOT NULL DEFAULT 0, -- sent for the current due time
    last_escalated_at INTEGER,
    raised_by         INTEGER REFERENCES staff (id),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX issues_owner ON issues (owner, status);
CREATE INDEX issues_session ON issues (session);
CREATE INDEX issues_status_due ON issues (status, first_contact_due, resolution_due);

-- Every change: who, when, what.
CREATE TABLE issue_events (
    id     INTEGER PRIMARY KEY,
    issue  INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    at     INTEGER NOT NULL,
    actor  INTEGER REFERENCES staff (id),
    kind   TEXT    NOT NULL,            -- raised, assigned, reassigned, contacted, resolved, ...
    detail TEXT    NOT NULL DEFAULT '{}' -- JSON: what changed
);
CREATE INDEX issue_events_issue ON issue_events (issue, at);

-- Each attempt to reach the participant.
CREATE TABLE issue_contacts (
    id      INTEGER PRIMARY KEY,
    issue   INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    staff   INTEGER REFERENCES staff (id),
    via     TEXT    NOT NULL CHECK (via IN ('email', 'phone', 'meeting')),
    outcome TEXT    NOT NULL
);
CREATE INDEX issue_contacts_issue ON issue_contacts (issue, at);
