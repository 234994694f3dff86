-- Searches of one or two letters. The trigram index cannot look up fewer
-- than three characters, but every piece of one or two letters is the start
-- of some trigram the index holds, once each person's text ends in two
-- U+0001 characters (which no stored text contains): a search for "zq"
-- reads the trigrams that begin with it from the index's list of terms
-- (participants_search_terms) and finds the people who hold any of them.
-- The index is rebuilt with those ends; what it is checked against, the
-- stored text, is unchanged.
INSERT INTO participants_search (participants_search) VALUES ('delete-all');
INSERT INTO participants_search (rowid, search_text)
    SELECT id, search_text || char(1, 1) FROM participants;
CREATE VIRTUAL TABLE participants_search_terms USING fts5vocab(participants_search, 'row');
