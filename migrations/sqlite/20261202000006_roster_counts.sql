-- A session's roster counts (how many invited, confirmed, attended...) are
-- read from this index alone, for every session a list shows.
CREATE INDEX session_participants_counts ON session_participants (session, rsvp, attendance);
