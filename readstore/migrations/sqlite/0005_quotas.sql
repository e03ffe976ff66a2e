-- Quotas and pruning. Indexes to find expired idempotency keys and old
-- processed marks without a scan, and each user's open uploads; and the
-- bytes of originals each user posted, by UTC day.
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
CREATE INDEX processed_events_age ON processed_events (processed_at);
CREATE INDEX uploads_owner ON uploads (owner, post_id);

CREATE TABLE daily_bytes (
    actor TEXT    NOT NULL,
    day   INTEGER NOT NULL,  -- days since 1970-01-01, UTC
    bytes INTEGER NOT NULL,
    PRIMARY KEY (actor, day)
);

-- Attempts at handling an event that have not ended: the handler panicked,
-- hung, or its process died mid-way. Counted here, not in memory, so the
-- event is dead-lettered after a few even when each attempt kills the
-- process.
CREATE TABLE handler_attempts (
    consumer   VARCHAR(64) NOT NULL,
    event_id   CHAR(36)    NOT NULL,
    unfinished BIGINT      NOT NULL,
    updated_at BIGINT      NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
