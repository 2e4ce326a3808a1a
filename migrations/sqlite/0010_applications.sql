-- Applications from the website's registration form, screened by a check.
CREATE TABLE applications (
    id            TEXT PRIMARY KEY,
    inn           TEXT NOT NULL,
    company_name  TEXT NOT NULL,
    contact_name  TEXT NOT NULL,
    phone         TEXT NOT NULL,   -- E.164
    email         TEXT NOT NULL,
    message       TEXT,
    stage         TEXT NOT NULL,   -- received | screened | … | rejected | spam
    spam_signals  TEXT NOT NULL,   -- JSON array of signal names
    client_ip     TEXT NOT NULL,
    check_id      TEXT,
    decision      TEXT,
    next_action   TEXT,            -- first_contact | call_again | call, while a call is due
    due_at        INTEGER,
    unanswered    INTEGER NOT NULL DEFAULT 0,  -- calls without an answer so far
    due_told      INTEGER,           -- the due_at an application.sla_due was sent for
    breach_told   INTEGER,           -- the due_at an application.sla_breached was sent for
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX applications_stage ON applications (stage, created_at);
CREATE INDEX applications_ip ON applications (client_ip, created_at);
CREATE INDEX applications_phone ON applications (phone, created_at);
CREATE INDEX applications_due ON applications (due_at);

-- What happened to an application, in order: actions and stage changes, with who.
CREATE TABLE application_timeline (
    id              TEXT PRIMARY KEY,   -- UUIDv7: ordered
    application_id  TEXT NOT NULL,
    action          TEXT NOT NULL,
    from_stage      TEXT NOT NULL,
    to_stage        TEXT NOT NULL,
    detail          TEXT,               -- JSON: outcome, comment, reason, due time
    actor           TEXT NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX application_timeline_of ON application_timeline (application_id, id);
