-- Webhook subscriptions, the deliveries of the outbox (feed events, tests and check
-- callbacks) with their attempts, and secrets the service generates for itself.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    description      TEXT,
    secret           TEXT NOT NULL,
    signing          TEXT NOT NULL,  -- hmac | token
    previous_secret  TEXT,
    previous_until   BIGINT,
    state            TEXT NOT NULL,  -- active | paused | disabled
    disabled_reason  TEXT,
    failure_streak   BIGINT NOT NULL DEFAULT 0,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- The event types a subscription wants: a type, `*`, or a prefix ending in `.`.
CREATE TABLE webhook_events (
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    pattern     TEXT NOT NULL,
    PRIMARY KEY (webhook_id, pattern)
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,     -- UUIDv7: ordered by creation
    webhook_id       TEXT REFERENCES webhooks (id) ON DELETE CASCADE,  -- NULL: a check callback
    target_url       TEXT,                 -- a callback's URL
    check_id         TEXT,                 -- a callback's check
    message_id       TEXT NOT NULL,        -- webhook-id: the same on every attempt
    event_type       TEXT NOT NULL,
    body             TEXT NOT NULL,
    state            TEXT NOT NULL,        -- pending | succeeded | failed
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, state, id);
CREATE INDEX webhook_deliveries_check ON webhook_deliveries (check_id);

CREATE TABLE webhook_attempts (
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    status       BIGINT,
    latency_ms   BIGINT NOT NULL,
    error        TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE service_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
