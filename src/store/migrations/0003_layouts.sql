-- The room's layout (a name from pipelines/layouts.json) and whether participants without video
-- stay off the canvas.
ALTER TABLE rooms ADD COLUMN layout TEXT NOT NULL DEFAULT 'grid';
ALTER TABLE rooms ADD COLUMN hide_audio_only INTEGER NOT NULL DEFAULT 0;
