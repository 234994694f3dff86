-- A failed message that may have reached its recipient: its delivery was
-- interrupted while the server was taking it, or the server's answer was
-- lost. A person retries it one by one, having checked with the recipient;
-- a bulk retry leaves it alone, so nothing is sent twice.
ALTER TABLE outbox ADD COLUMN maybe_delivered INTEGER NOT NULL DEFAULT 0;

UPDATE outbox SET maybe_delivered = 1
WHERE status = 'failed'
  AND (last_error LIKE '%it may have been delivered%'
       OR last_error LIKE '%check with the recipient before retrying%');
