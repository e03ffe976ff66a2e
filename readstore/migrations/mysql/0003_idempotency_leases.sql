-- A claimed idempotency key is held until `lease_until` (µs since the
-- epoch): the gateway renews it while the request's work runs, and a
-- retry may take over a claim whose holder died or vanished. Claims made
-- before this column (0) count as expired, so keys wedged by a dropped
-- connection come free.
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
