-- The sessions list counts, for every session, who attended and who did
-- not come: a seek in this index for each, where session_participants_counts
-- (session, answer, attendance) could only be walked through the whole of
-- each session's roster, twice.
CREATE INDEX session_participants_attendance ON session_participants (session, attendance);
