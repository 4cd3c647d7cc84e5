-- Room settings for outputs: record from the first join, publish HLS, HLS without a token.
ALTER TABLE rooms ADD COLUMN auto_record INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN hls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN public INTEGER NOT NULL DEFAULT 0;

-- The recordings index. A row is written before the recording's first byte and updated at each
-- change of state, so a crash leaves a row in state `recording` or `finalizing`, which the next
-- start marks `interrupted`. Times are Unix milliseconds (UTC).
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY NOT NULL,
    room_id     TEXT NOT NULL,
    state       TEXT NOT NULL,  -- recording, finalizing, complete, interrupted, failed
    reason      TEXT,           -- why it failed or was interrupted
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    duration_ms INTEGER,
    bytes       INTEGER NOT NULL DEFAULT 0,
    parts       TEXT NOT NULL DEFAULT '[]', -- JSON [{index, file, bytes, durationMs}]
    dir         TEXT NOT NULL   -- folder of the part files
);
CREATE INDEX recordings_by_room ON recordings (room_id, started_at);
CREATE INDEX recordings_by_state ON recordings (state);
