-- Approved contractors and the monitoring of their work.
CREATE TABLE catalog (
    inn            TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    search         TEXT NOT NULL,  -- lower-cased name, INN and services, for text filters
    region         TEXT,
    contacts       TEXT NOT NULL,  -- JSON object
    services       TEXT NOT NULL,  -- JSON array of strings
    external_ids   TEXT NOT NULL,  -- JSON object, e.g. {"bitrix24": "123"}
    status         TEXT NOT NULL,  -- active | under_review | suspended | removed
    listed_at      BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    last_check_id  TEXT,
    next_check_at  BIGINT NOT NULL,
    passes         BIGINT NOT NULL DEFAULT 0,  -- monitoring passes recorded
    unavailable    TEXT NOT NULL DEFAULT '{}',  -- JSON: source → since when it fails, reported yet
    lease_owner    TEXT,
    lease_until    BIGINT
);
CREATE INDEX catalog_due ON catalog (next_check_at);
CREATE INDEX catalog_status ON catalog (status, inn);

-- Every status change: when, from what to what, why (rule ids or a comment) and who.
CREATE TABLE catalog_transitions (
    id           TEXT PRIMARY KEY,
    inn          TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    rule_ids     TEXT NOT NULL,  -- JSON array
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX catalog_transitions_inn ON catalog_transitions (inn, at);

-- Quality signals from the website and the CRM.
CREATE TABLE feedback (
    id           TEXT PRIMARY KEY,
    inn          TEXT NOT NULL,
    kind         TEXT NOT NULL,  -- review | complaint | sla_breach | job_completed
    rating       BIGINT,
    category     TEXT,
    text         TEXT,
    order_ref    TEXT,
    on_time      BOOLEAN,
    external_id  TEXT,
    at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX feedback_external ON feedback (inn, external_id);
CREATE INDEX feedback_inn ON feedback (inn, at);

-- The outbox: every event and status transition, in order; `seq` is the feed's cursor.
-- `seq` comes from the one row of `event_seq`, locked by the writing transaction until it
-- commits, so events become visible in `seq` order and a reader never passes one that
-- commits later.
CREATE TABLE events (
    seq         BIGINT PRIMARY KEY,
    inn         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,  -- JSON
    created_at  BIGINT NOT NULL
);
CREATE INDEX events_inn ON events (inn, seq);

CREATE TABLE event_seq (
    id    INTEGER PRIMARY KEY,
    last  BIGINT NOT NULL
);
INSERT INTO event_seq (id, last) VALUES (1, 0);
