-- Batches of checks (POST /v1/checks/batch, `kontragent batch`): the INNs in input order,
-- each with its check or its error, so any instance can show progress and results.
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    requested_by  TEXT NOT NULL,
    state         TEXT NOT NULL,      -- running | done
    total         BIGINT NOT NULL,
    finished      BIGINT NOT NULL,
    items         TEXT NOT NULL,      -- JSON: [{"inn", "check_id"?, "error"?: {code, detail}}]
    callback_url  TEXT,
    created_at    BIGINT NOT NULL,    -- unix milliseconds
    updated_at    BIGINT NOT NULL
);
CREATE INDEX batches_running ON batches (state, updated_at);
