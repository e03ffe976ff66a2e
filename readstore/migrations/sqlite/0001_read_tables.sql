-- Read tables of Imagegram (SQLite). Built only by projections.
CREATE TABLE posts (
    id             CHAR(36)     NOT NULL PRIMARY KEY,
    requested      BIGINT       NOT NULL,   -- 1 once UploadRequested is applied
    creator        VARCHAR(255) NOT NULL,
    caption        TEXT         NOT NULL,
    created_at     BIGINT       NOT NULL,   -- microseconds since the epoch
    status         VARCHAR(16)  NOT NULL,   -- processing | published | failed
    failure_reason TEXT         NULL,
    original_key   VARCHAR(512) NOT NULL,
    image_key      VARCHAR(512) NULL,
    width          BIGINT       NULL,
    height         BIGINT       NULL,
    comment_count  BIGINT       NOT NULL,
    last_comments  TEXT         NOT NULL,   -- JSON: at most 2 live comments, newest first
    version        BIGINT       NOT NULL    -- bumped on every change
);
CREATE INDEX posts_feed ON posts (requested, status, comment_count DESC, created_at DESC, id);

CREATE TABLE comments (
    id         CHAR(36)     NOT NULL PRIMARY KEY,
    post_id    CHAR(36)     NOT NULL,
    creator    VARCHAR(255) NOT NULL,
    content    TEXT         NOT NULL,
    created_at BIGINT       NOT NULL,
    deleted    BIGINT       NOT NULL
);
CREATE INDEX comments_recent ON comments (post_id, deleted, created_at DESC, id);

-- Where each projection has read to, written in the same transaction as its effects.
CREATE TABLE projection_positions (
    projection  VARCHAR(64)  NOT NULL,
    topic       VARCHAR(249) NOT NULL,
    part        BIGINT       NOT NULL,
    next_offset BIGINT       NOT NULL,
    PRIMARY KEY (projection, topic, part)
);

-- Events a projection refused (e.g. a comment delete by someone else), kept for audit.
CREATE TABLE rejected_events (
    event_id    CHAR(36)     NOT NULL PRIMARY KEY,
    kind        VARCHAR(64)  NOT NULL,
    post_id     CHAR(36)     NOT NULL,
    actor       VARCHAR(255) NOT NULL,
    reason      TEXT         NOT NULL,
    recorded_at BIGINT       NOT NULL
);

-- The gateway's memory of requests by idempotency key.
CREATE TABLE idempotency_keys (
    actor        VARCHAR(255) NOT NULL,
    idem_key     VARCHAR(255) NOT NULL,
    request_hash CHAR(64)     NOT NULL,
    response     TEXT         NULL,
    created_at   BIGINT       NOT NULL,
    PRIMARY KEY (actor, idem_key)
);

-- What each processor has already done, by event id, shared by all instances.
CREATE TABLE processed_events (
    consumer     VARCHAR(64) NOT NULL,
    event_id     CHAR(36)    NOT NULL,
    processed_at BIGINT      NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
