-- The chunk objects of each resumable upload, a row each, in order. They
-- were one TEXT column (64 KiB on MySQL: about 2,500 PATCHes), rewritten
-- whole on every PATCH; a row per part has no cap and costs one insert.
-- Parts already in `uploads.parts` stay there and come first.
CREATE TABLE upload_parts (
    upload_id CHAR(36)     NOT NULL,
    seq       BIGINT       NOT NULL,  -- its place among the upload's parts, from 0
    name      VARCHAR(512) NOT NULL,
    PRIMARY KEY (upload_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
