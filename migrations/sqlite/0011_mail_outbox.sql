-- E-mail to the department, queued with the change that causes it and sent by a worker
-- with retries, so a dead SMTP server never blocks intake.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,   -- UUIDv7
    kind             TEXT NOT NULL,      -- application_screened | application_sla_breached
    application_id   TEXT NOT NULL,
    state            TEXT NOT NULL,      -- pending | sent | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
