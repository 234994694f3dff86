-- An issue waiting on its participant: the owner asked them a question.
-- Its status stays 'contacted' in this column's company (a panel file's
-- CHECK on the status is kept as it is); while it is set the service-level
-- clock stands still, and the due time moves on by the wait when it ends.
ALTER TABLE issues ADD COLUMN waiting_since INTEGER;
