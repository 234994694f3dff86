-- Staff, sessions and their rosters. Invitations, RSVPs and attendance are
-- also written to contact_history, which governance reads.

CREATE TABLE staff (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    email_norm TEXT    NOT NULL,
    role       TEXT    NOT NULL DEFAULT '',
    lead       INTEGER REFERENCES staff (id),
    time_zone  TEXT,                         -- IANA; dates in their mail are shown in it
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX staff_email ON staff (email_norm);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    uid          TEXT    NOT NULL UNIQUE,    -- the calendar UID, the same on every update
    study        TEXT    NOT NULL DEFAULT '',
    title        TEXT    NOT NULL,
    starts_at    INTEGER NOT NULL,           -- Unix ms
    ends_at      INTEGER NOT NULL,
    time_zone    TEXT    NOT NULL,           -- IANA zone the session is planned in
    place        TEXT    NOT NULL DEFAULT '', -- a room or a video link
    moderator    INTEGER NOT NULL REFERENCES staff (id),
    seats        INTEGER NOT NULL CHECK (seats > 0),
    over_recruit INTEGER NOT NULL,           -- confirmations wanted (>= seats)
    floaters     INTEGER NOT NULL DEFAULT 0, -- places on the waitlist
    screener     TEXT,                       -- the screener last invited through (its quota cells are shown)
    sequence     INTEGER NOT NULL DEFAULT 0, -- calendar SEQUENCE, raised on each update
    status       TEXT    NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    cancel_reason TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX sessions_time ON sessions (starts_at);
CREATE INDEX sessions_moderator ON sessions (moderator, starts_at);

CREATE TABLE session_observers (
    session INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    staff   INTEGER NOT NULL REFERENCES staff (id),
    PRIMARY KEY (session, staff)
);

CREATE TABLE session_participants (
    session        INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant    INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    rsvp           TEXT    NOT NULL CHECK (rsvp IN ('invited', 'confirmed', 'declined', 'tentative', 'waitlisted')),
    attendance     TEXT    CHECK (attendance IN ('attended', 'late', 'no_show', 'cancelled')),
    incentive_cents INTEGER,
    incentive_paid INTEGER NOT NULL DEFAULT 0,
    invited_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (session, participant)
);
CREATE INDEX session_participants_participant ON session_participants (participant);

-- What a queued message is about ("session/12/participant/5/reminder"), so
-- a change can cancel or replace the messages it makes obsolete.
ALTER TABLE outbox ADD COLUMN topic TEXT;
CREATE INDEX outbox_topic ON outbox (topic) WHERE topic IS NOT NULL;
