-- The minute tick's question, "which open promises are past due and not
-- escalated lately?", answered from this index alone, with every column the
-- question reads: without it each open issue was read from the table, a
-- few hundred bytes of text apiece, on every tick. The same index as a
-- panel file's.
CREATE INDEX issues_escalation
    ON issues (status, waiting_since, first_contact_due, resolution_due, last_escalated_at);
