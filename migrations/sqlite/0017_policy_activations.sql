-- Each time a policy file version became active (start-up, reload, file watch, rollback),
-- so the versions list shows when and from where every version was in force, not only its
-- first load. `pinned_over` marks a rollback the file could not take (read-only): the
-- version of the file it overrides, so the file wins again once it is edited.
CREATE TABLE policy_activations (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,      -- scoring | monitoring
    version       TEXT NOT NULL,
    path          TEXT NOT NULL,
    activated_at  BIGINT NOT NULL,    -- unix milliseconds
    author        TEXT NOT NULL,
    comment       TEXT,
    pinned_over   TEXT
);
CREATE INDEX policy_activations_kind ON policy_activations (kind, activated_at);
