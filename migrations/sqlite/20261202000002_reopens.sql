-- A reopened issue keeps its first contact (the follow-up report measures
-- the time to it) and counts how often it was reopened; `reopened_at` is
-- when the current round of follow-up began.
ALTER TABLE issues ADD COLUMN reopens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN reopened_at INTEGER;
