-- Rooms and their schedule. Times are Unix seconds (UTC).
CREATE TABLE rooms (
    id                    TEXT PRIMARY KEY NOT NULL,
    name                  TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    starts_at             INTEGER,
    ends_at               INTEGER,
    empty_timeout_seconds INTEGER NOT NULL,
    max_participants      INTEGER NOT NULL,
    composite             TEXT NOT NULL, -- JSON {width,height,fps,bitrateKbps}
    metadata              TEXT,          -- the calling app's JSON
    ended_at              INTEGER,
    end_reason            TEXT
);
CREATE INDEX rooms_by_start ON rooms (starts_at);
CREATE INDEX rooms_by_created ON rooms (created_at, id);

-- Server-wide settings the server generates once (e.g. the join-token signing secret).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
