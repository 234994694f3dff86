-- A live note typed in the desktop app while its team server could not be
-- reached is sent later with an id the app chose when it was typed; the
-- server keeps that id so a note sent twice (the answer was lost on the
-- way back) is written once. Notes written on the server itself have none.
ALTER TABLE notes ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX notes_client_id ON notes (client_id);
