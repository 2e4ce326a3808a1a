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
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX applications_stage ON applications (stage, created_at);
CREATE INDEX applications_ip ON applications (client_ip, created_at);
CREATE INDEX applications_phone ON applications (phone, created_at);
