-- The chunk objects of each resumable upload, a row each, in order: one
-- insert per PATCH instead of rewriting a growing column. Parts already
-- in `uploads.parts` stay there and come first.
CREATE TABLE upload_parts (
    upload_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,  -- its place among the upload's parts, from 0
    name      TEXT    NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
