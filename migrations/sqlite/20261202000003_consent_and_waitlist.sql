-- A session can require a consent (its topic; the current version of the
-- text is what must have been accepted).
ALTER TABLE sessions ADD COLUMN consent_topic TEXT;

-- The waitlist is kept in the order people joined it, and a place that
-- opens is offered to one person at a time, in that order.
ALTER TABLE session_participants ADD COLUMN waitlisted_at INTEGER;
ALTER TABLE session_participants ADD COLUMN offered_at INTEGER;
UPDATE session_participants SET waitlisted_at = updated_at WHERE rsvp = 'waitlisted';
