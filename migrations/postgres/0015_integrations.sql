-- Bitrix24 portals that installed the application, with their tokens (refreshed in place).
CREATE TABLE bitrix24_portals (
    member_id         TEXT PRIMARY KEY,
    domain            TEXT NOT NULL,
    client_endpoint   TEXT NOT NULL,
    access_token      TEXT NOT NULL,
    refresh_token     TEXT NOT NULL,
    application_token TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    installed_at      BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- Robot and activity calls, one per `event_token` (Bitrix24 may send one twice).
CREATE TABLE bitrix24_events (
    event_token TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    request     TEXT NOT NULL, -- JSON of what the call asked for
    state       TEXT NOT NULL, -- running, resumed (after a stop), answered, failed
    check_id    TEXT,
    error       TEXT,
    received_at BIGINT NOT NULL,
    finished_at BIGINT
);

-- How far a connector has followed the event feed (`events.seq`).
CREATE TABLE integration_cursors (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

-- The last verdict written back to an amoCRM entity: a webhook our own write-back fired
-- is recognised by it and not checked again.
CREATE TABLE amocrm_writes (
    account    TEXT   NOT NULL,
    entity     TEXT   NOT NULL,
    entity_id  BIGINT NOT NULL,
    inn        TEXT   NOT NULL,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (account, entity, entity_id)
);

-- amoCRM OAuth tokens per account: each refresh rotates the refresh token, so the newest
-- pair lives here (the configured refresh token only seeds it).
CREATE TABLE amocrm_tokens (
    account       TEXT PRIMARY KEY,
    access_token  TEXT   NOT NULL,
    refresh_token TEXT   NOT NULL,
    expires_at    BIGINT NOT NULL
);
