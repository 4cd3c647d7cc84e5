-- A room may keep newcomers in a lobby until a host admits them (issue 24).
ALTER TABLE rooms ADD COLUMN lobby INTEGER NOT NULL DEFAULT 0;
