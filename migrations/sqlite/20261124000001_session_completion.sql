-- A session is marked complete once every issue raised in it has an owner;
-- only then does its report count as final.
ALTER TABLE sessions ADD COLUMN completed_at INTEGER;
ALTER TABLE sessions ADD COLUMN completed_by INTEGER REFERENCES staff (id);
