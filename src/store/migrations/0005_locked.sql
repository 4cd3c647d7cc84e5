-- A room may be locked by its host: nobody new joins (issue 24).
ALTER TABLE rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
