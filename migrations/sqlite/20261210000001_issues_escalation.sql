-- The minute tick's question, "which open promises are past due and not
-- escalated lately?", answered from this index alone, with every column the
-- question reads: without it each open issue was read from the table, a
-- few hundred bytes of text apiece, on every tick. (A partial index on the
-- open issues would be smaller, but SQLite's planner passes it over for
-- `issues_status_due` and reads the table again.)
CREATE INDEX issues_escalation
    ON issues (status, waiting_since, first_contact_due, resolution_due, last_escalated_at);
