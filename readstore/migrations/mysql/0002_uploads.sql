-- Resumable (tus) uploads in progress: who owns each, how far it got, and
-- which chunk objects hold its bytes. Shared by every gateway instance.
CREATE TABLE uploads (
    id            CHAR(36)     NOT NULL PRIMARY KEY,
    owner         VARCHAR(255) NOT NULL,
    upload_length BIGINT       NULL,      -- NULL while the length is deferred
    upload_offset BIGINT       NOT NULL,
    parts         TEXT         NOT NULL,  -- its chunk objects in order, one name a line
    metadata      TEXT         NOT NULL,  -- Upload-Metadata as the client sent it
    created_at    BIGINT       NOT NULL,
    expires_at    BIGINT       NOT NULL,
    post_id       CHAR(36)     NULL,      -- the post made from it, once complete
    INDEX uploads_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
