-- One-time links that let a staff member an admin invited choose their
-- password. The link carries a random token; only its SHA-256 is kept.
CREATE TABLE password_links (
    token_hash TEXT    PRIMARY KEY,
    staff      INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    invited_by INTEGER REFERENCES staff (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX password_links_staff ON password_links (staff);
