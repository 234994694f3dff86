-- A staff member who left: kept, so that what they did stays credited to
-- them, but no longer given issues or sessions and no longer signed in.
ALTER TABLE staff ADD COLUMN deactivated_at INTEGER;
