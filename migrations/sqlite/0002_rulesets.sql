-- Every ruleset the service has loaded, by content hash: what each check's
-- `ruleset_version` points to.
CREATE TABLE rulesets (
    version    TEXT PRIMARY KEY,
    content    TEXT NOT NULL,
    path       TEXT NOT NULL,
    loaded_at  INTEGER NOT NULL,
    author     TEXT NOT NULL,
    comment    TEXT
);
CREATE INDEX checks_checked_at ON checks (checked_at);
