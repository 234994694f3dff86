-- A page of the outbox in its own order (waiting messages first, soonest
-- first, then the rest newest first) walked from an index holding that
-- order, so the first page reads its hundred rows and stops. PostgreSQL
-- sorted every message for it instead: 10 ms for the 5,800 escalations a
-- tick queues on the 100,000-person demo panel, 0.2 ms from this index;
-- ten times the messages on a million-person panel. A page of one status
-- still comes from outbox_list. The expressions are those of the
-- statement (mail::store::list_order), which must stay the same to use it.
CREATE INDEX outbox_list_order ON outbox (
    (status IN ('queued', 'sending')) DESC,
    (CASE WHEN status IN ('queued', 'sending') THEN next_attempt_at END),
    updated_at DESC,
    id DESC
);
