-- Whether participants may chat and share files in the room (the host can turn it off).
ALTER TABLE rooms ADD COLUMN chat_enabled INTEGER NOT NULL DEFAULT 1;
