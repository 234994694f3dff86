-- A team server whose certificate the company signs itself: the
-- certificate of the authority that signed it (PEM), trusted for this
-- server alone.
ALTER TABLE connection ADD COLUMN ca_certificate TEXT;
