-- Idempotency-Key: the first response to a key, replayed to a retry for 24 hours.
CREATE TABLE idempotency_keys (
    principal     TEXT NOT NULL,   -- the API key's id (or name) that sent it
    key           TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,   -- SHA-256 of method, path and body
    state         TEXT NOT NULL,   -- running | done
    status        BIGINT,
    content_type  TEXT,
    location      TEXT,
    body          TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
