-- Registry answers per (source, INN): the L2 cache and the evidence of every check.
CREATE TABLE snapshots (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    inn         TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT,
    fetched_at  BIGINT NOT NULL, -- unix milliseconds
    findings    TEXT NOT NULL     -- JSON
);
CREATE INDEX snapshots_lookup ON snapshots (source, inn, fetched_at);

-- Raw answers (bytes + SHA-256) behind a snapshot.
CREATE TABLE evidence (
    id           TEXT PRIMARY KEY,
    snapshot_id  TEXT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    http_status  BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    body         BYTEA NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX evidence_snapshot ON evidence (snapshot_id);

-- Every check with its decision, the facts it used and the ruleset version.
CREATE TABLE checks (
    id               TEXT PRIMARY KEY,
    inn              TEXT NOT NULL,
    state            TEXT NOT NULL,
    decision         TEXT,
    score            BIGINT,
    profile          TEXT NOT NULL,
    ruleset_version  TEXT,
    created_at       BIGINT NOT NULL,
    checked_at       BIGINT,
    document         TEXT NOT NULL, -- JSON of the Check as the API shows it
    facts            TEXT           -- JSON of the facts the rules read
);
CREATE INDEX checks_inn ON checks (inn, created_at);
