-- The outbox's list, a page at a time: which messages make the page is
-- decided from this index alone (status, when a waiting one is next tried,
-- when a finished one last changed), and only the page's rows are read.
-- A message's row holds its bodies, so ordering a backlog of tens of
-- thousands of queued escalations by their rows read every one. It begins
-- with the columns of outbox_due (the worker's "what is due?" and the
-- badge's counts), which it replaces.
CREATE INDEX outbox_list ON outbox (status, next_attempt_at, updated_at, id);
DROP INDEX outbox_due;
