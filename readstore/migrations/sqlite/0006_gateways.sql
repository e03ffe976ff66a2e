-- Where each running gateway instance can be reached, renewed every few
-- seconds: a gateway handed a feed cursor made by another forwards the
-- page to it, since a cursor's snapshot lives in its maker's memory.
CREATE TABLE gateways (
    instance BIGINT       NOT NULL PRIMARY KEY,  -- the id its cursors carry
    address  VARCHAR(512) NOT NULL,              -- a base URL, http://host:port
    seen_at  BIGINT       NOT NULL               -- µs since the epoch
);
