-- What the panel index reads of the contact history and the bookings comes
-- from the indexes alone, in participant order: the kind of contact joins
-- the history's index, and a partial index holds the bookings still open.
DROP INDEX contact_history_participant;
CREATE INDEX contact_history_participant ON contact_history (participant_id, at, kind);
CREATE INDEX session_participants_booked ON session_participants (participant, invited_at, session)
    WHERE attendance IS NULL AND rsvp IN ('invited', 'confirmed', 'tentative', 'waitlisted');
