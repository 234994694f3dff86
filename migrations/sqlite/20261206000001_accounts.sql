-- Team accounts: what each staff member may do on a team server, their
-- password (Argon2id, PHC string), the browsers signed in as them, and the
-- failed sign-ins that slow the next attempt. A panel file on one laptop
-- keeps the columns too, so `migrate --to` carries them to a team.
ALTER TABLE staff ADD COLUMN access TEXT NOT NULL DEFAULT 'staff'
    CHECK (access IN ('admin', 'researcher', 'staff'));
ALTER TABLE staff ADD COLUMN password_hash TEXT;

CREATE TABLE sign_ins (
    token_hash TEXT    PRIMARY KEY,          -- SHA-256 of the cookie's token
    staff      INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,             -- sent back in X-CSRF-Token on every change
    address    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sign_ins_staff ON sign_ins (staff);

CREATE TABLE sign_in_failures (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    email_norm TEXT    NOT NULL,
    address    TEXT    NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (email_norm, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at);
